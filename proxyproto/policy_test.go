package proxyproto_test

import (
	"errors"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sockpool/sockpool/proxyproto"
)

func TestParsePrefixes(t *testing.T) {
	t.Parallel()
	pp := func(ss ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, s := range ss {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	tests := []struct {
		in      string
		want    []netip.Prefix
		wantErr string
	}{
		{in: "", want: nil},
		{in: "  ", want: nil},
		{in: "10.0.0.0/8,127.0.0.1,::1", want: pp("10.0.0.0/8", "127.0.0.1/32", "::1/128")},
		{in: " 192.0.2.0/24 , fd00::/8 ", want: pp("192.0.2.0/24", "fd00::/8")},
		{in: "10.1.2.3/8", want: pp("10.0.0.0/8")},
		{in: "::ffff:10.0.0.0/104", want: pp("10.0.0.0/8")},
		{in: "::ffff:10.0.0.1", want: pp("10.0.0.1/32")},
		{in: "0.0.0.0/0,::/0", want: pp("0.0.0.0/0", "::/0")},
		{in: "10.0.0.0/8,", wantErr: `entry 2 "": empty (a stray comma?)`},
		{in: "10.0.0.0/33", wantErr: `entry 1 "10.0.0.0/33": not a CIDR prefix`},
		{in: "127.0.0.1,localhost", wantErr: `entry 2 "localhost": not an IP address or a CIDR prefix`},
		{in: "10.0.0.0/8/8", wantErr: "not a CIDR prefix"},
		{in: "fe80::1%eth0", wantErr: "zones are not allowed"},
		{in: "010.0.0.1", wantErr: "not an IP address"},
		{in: "unix", wantErr: `entry 1 "unix"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := proxyproto.ParsePrefixes(tt.in)
			if tt.wantErr != "" {
				if !errors.Is(err, proxyproto.ErrInvalidPrefix) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParsePrefixes(%q) = %v, %v; want ErrInvalidPrefix saying %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParsePrefixes(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

// otherAddr is a net.Addr of a type Trusts does not know.
type otherAddr struct{ network, s string }

func (a otherAddr) Network() string { return a.network }
func (a otherAddr) String() string  { return a.s }

func TestPolicyTrusts(t *testing.T) {
	t.Parallel()
	prefixes, err := proxyproto.ParsePrefixes("10.0.0.0/8,192.0.2.7,2001:db8::/32")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxyproto.Policy{Trusted: prefixes}
	pu := &proxyproto.Policy{Trusted: prefixes, TrustUnix: true}
	tests := []struct {
		name      string
		addr      net.Addr
		want      bool
		wantUnix  bool // with TrustUnix
		wantEmpty bool // the zero Policy
	}{
		{name: "in prefix", addr: tcp("10.200.0.1", 1), want: true, wantUnix: true},
		{name: "single address", addr: tcp("192.0.2.7", 1), want: true, wantUnix: true},
		{name: "next address", addr: tcp("192.0.2.8", 1)},
		{name: "4-byte IP", addr: &net.TCPAddr{IP: net.IP{10, 0, 0, 1}}, want: true, wantUnix: true},
		{name: "v4-mapped", addr: tcp("::ffff:10.0.0.1", 1), want: true, wantUnix: true},
		{name: "ipv6", addr: tcp("2001:db8::5", 1), want: true, wantUnix: true},
		{name: "ipv6 zone", addr: &net.TCPAddr{IP: net.ParseIP("2001:db8::5"), Zone: "eth0"}, want: true, wantUnix: true},
		{name: "ipv6 outside", addr: tcp("2001:db9::5", 1)},
		{name: "loopback", addr: tcp("127.0.0.1", 1)},
		{name: "udp", addr: udp("10.0.0.1", 1), want: true, wantUnix: true},
		{name: "ip", addr: &net.IPAddr{IP: net.ParseIP("10.0.0.1")}, want: true, wantUnix: true},
		{name: "bad ip", addr: &net.TCPAddr{IP: net.IP{1, 2}}},
		{name: "unix", addr: &net.UnixAddr{Net: "unix"}, wantUnix: true},
		{name: "other unix", addr: otherAddr{"unixpacket", "@x"}, wantUnix: true},
		{name: "other ip", addr: otherAddr{"tcp", "10.0.0.1:80"}, want: true, wantUnix: true},
		{name: "other garbage", addr: otherAddr{"tcp", "garbage"}},
		{name: "nil", addr: nil},
		{name: "nil TCPAddr", addr: (*net.TCPAddr)(nil)},
		{name: "nil UDPAddr", addr: (*net.UDPAddr)(nil)},
		{name: "nil IPAddr", addr: (*net.IPAddr)(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := p.Trusts(tt.addr); got != tt.want {
				t.Errorf("Trusts(%v) = %v, want %v", tt.addr, got, tt.want)
			}
			if got := pu.Trusts(tt.addr); got != tt.wantUnix {
				t.Errorf("with TrustUnix: Trusts(%v) = %v, want %v", tt.addr, got, tt.wantUnix)
			}
			if (&proxyproto.Policy{}).Trusts(tt.addr) || (*proxyproto.Policy)(nil).Trusts(tt.addr) {
				t.Errorf("the zero Policy trusts %v", tt.addr)
			}
		})
	}
}

func TestPolicyDefaults(t *testing.T) {
	t.Parallel()
	if got := (*proxyproto.Policy)(nil).HeaderTimeout(); got != proxyproto.DefaultTimeout {
		t.Errorf("nil HeaderTimeout() = %v", got)
	}
	if got := (&proxyproto.Policy{}).HeaderTimeout(); got != 5*time.Second {
		t.Errorf("zero HeaderTimeout() = %v, want 5s", got)
	}
	if got := (&proxyproto.Policy{Timeout: time.Second}).HeaderTimeout(); got != time.Second {
		t.Errorf("HeaderTimeout() = %v, want 1s", got)
	}
	// Policy's Parse is its Parser's, with its MaxHeaderSize.
	p := &proxyproto.Policy{Parser: proxyproto.Parser{MaxHeaderSize: 20}}
	if _, _, err := p.Parse(v2(0x21, 0x11, make([]byte, 12))); !errors.Is(err, proxyproto.ErrTooLarge) {
		t.Errorf("Parse with MaxHeaderSize 20: %v", err)
	}
}
