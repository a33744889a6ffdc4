package sockaddr

import (
	"net/netip"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestAddrPort(t *testing.T) {
	v4 := func(a [4]byte, p uint16) unix.RawSockaddrAny {
		var rsa unix.RawSockaddrAny
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&rsa))
		sa.Family, sa.Addr = unix.AF_INET, a
		pb := (*[2]byte)(unsafe.Pointer(&sa.Port))
		pb[0], pb[1] = byte(p>>8), byte(p)
		return rsa
	}
	v6 := func(a string, p uint16, scope uint32) unix.RawSockaddrAny {
		var rsa unix.RawSockaddrAny
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(&rsa))
		sa.Family, sa.Addr, sa.Scope_id = unix.AF_INET6, netip.MustParseAddr(a).As16(), scope
		pb := (*[2]byte)(unsafe.Pointer(&sa.Port))
		pb[0], pb[1] = byte(p>>8), byte(p)
		return rsa
	}
	var unixAddr unix.RawSockaddrAny
	unixAddr.Addr.Family = unix.AF_UNIX
	for _, tt := range []struct {
		name string
		rsa  unix.RawSockaddrAny
		want string
	}{
		{"ipv4", v4([4]byte{127, 0, 0, 1}, 7000), "127.0.0.1:7000"},
		{"ipv4 high port", v4([4]byte{10, 1, 2, 3}, 65535), "10.1.2.3:65535"},
		{"ipv6", v6("::1", 443, 0), "[::1]:443"},
		{"ipv4-mapped", v6("::ffff:192.0.2.1", 80, 0), "[::ffff:192.0.2.1]:80"},
		{"ipv6 zone", v6("fe80::1", 8080, 3), "[fe80::1%3]:8080"},
		{"unix", unixAddr, "invalid AddrPort"},
	} {
		if got := AddrPort(&tt.rsa).String(); got != tt.want {
			t.Errorf("%s: AddrPort = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestZoned(t *testing.T) {
	names := func(i int) (string, bool) { return map[int]string{3: "eth0"}[i], i == 3 }
	for _, tt := range []struct{ in, want string }{
		{"[fe80::1%3]:80", "[fe80::1%eth0]:80"},
		{"[fe80::1%9]:80", "[fe80::1%9]:80"}, // no such interface: the index stays
		{"[fe80::1%lo]:80", "[fe80::1%lo]:80"},
		{"[::1]:80", "[::1]:80"},
		{"127.0.0.1:80", "127.0.0.1:80"},
	} {
		if got := Zoned(netip.MustParseAddrPort(tt.in), names).String(); got != tt.want {
			t.Errorf("Zoned(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
