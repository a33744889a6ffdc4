package sockaddr

import (
	"net/netip"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// AddrPort converts an IPv4 or IPv6 socket address; any other family gives
// the zero AddrPort. An IPv4 sender on an IPv6 socket stays IPv4-mapped, as
// the kernel gives it. An IPv6 zone is the interface index in decimal,
// which net accepts wherever it takes a zone; naming the interface would
// cost a netlink request per address (see Zoned).
func AddrPort(rsa *unix.RawSockaddrAny) netip.AddrPort {
	switch rsa.Addr.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), port(sa.Port))
	case unix.AF_INET6:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		ip := netip.AddrFrom16(sa.Addr)
		if sa.Scope_id != 0 {
			ip = ip.WithZone(strconv.FormatUint(uint64(sa.Scope_id), 10))
		}
		return netip.AddrPortFrom(ip, port(sa.Port))
	}
	return netip.AddrPort{}
}

// Zoned returns ap with a numeric IPv6 zone replaced by the name of its
// interface, as Go's net reports addresses, when name finds one.
func Zoned(ap netip.AddrPort, name func(index int) (string, bool)) netip.AddrPort {
	z := ap.Addr().Zone()
	if z == "" {
		return ap
	}
	i, err := strconv.Atoi(z)
	if err != nil {
		return ap
	}
	if n, ok := name(i); ok {
		return netip.AddrPortFrom(ap.Addr().WithZone(n), ap.Port())
	}
	return ap
}

// port reads a port stored in network byte order.
func port(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}
