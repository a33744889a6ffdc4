package proxyproto

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// DefaultTimeout is a Policy's HeaderTimeout when its Timeout is zero.
const DefaultTimeout = 5 * time.Second

// Policy says which peers of a listener may send a PROXY header and how
// long the server waits for it. A header is worth only as much as the
// trust in whoever sent it: a client that can send one chooses the address
// the server sees. So a server accepts a header only from its load
// balancers (Trusts), and treats one from anyone else as a protocol error.
//
// The zero Policy trusts no one.
type Policy struct {
	// Trusted lists the load balancers' addresses. IPv4-mapped IPv6 peers
	// match IPv4 prefixes. ParsePrefixes builds it from a flag's value.
	Trusted []netip.Prefix
	// TrustUnix trusts every peer of a UNIX-socket listener (its file
	// permissions say who may connect).
	TrustUnix bool

	// Timeout bounds the wait for a trusted peer's whole header; zero means
	// DefaultTimeout (see HeaderTimeout). A load balancer sends the header
	// with its first segment, so a header that is slow to come is an attack
	// or a misconfiguration.
	Timeout time.Duration

	// Parser holds MaxHeaderSize; Policy's Parse and Read are its.
	Parser
}

// Trusts reports whether addr, a connection's remote address, is a peer
// whose PROXY header p accepts. A nil Policy trusts no one.
func (p *Policy) Trusts(addr net.Addr) bool {
	if p == nil || addr == nil {
		return false
	}
	var ip net.IP
	switch a := addr.(type) {
	case *net.TCPAddr:
		if a == nil {
			return false
		}
		ip = a.IP
	case *net.UDPAddr:
		if a == nil {
			return false
		}
		ip = a.IP
	case *net.IPAddr:
		if a == nil {
			return false
		}
		ip = a.IP
	case *net.UnixAddr:
		return p.TrustUnix
	default:
		if strings.HasPrefix(addr.Network(), "unix") {
			return p.TrustUnix
		}
		ap, err := netip.ParseAddrPort(addr.String())
		if err != nil {
			return false
		}
		return p.trustsIP(ap.Addr())
	}
	a, ok := netip.AddrFromSlice(ip)
	return ok && p.trustsIP(a)
}

func (p *Policy) trustsIP(a netip.Addr) bool {
	a = a.WithZone("")
	u := a.Unmap()
	for _, pfx := range p.Trusted {
		if pfx.Contains(a) || pfx.Contains(u) {
			return true
		}
	}
	return false
}

// HeaderTimeout returns p.Timeout, or DefaultTimeout when that is zero or
// p is nil.
func (p *Policy) HeaderTimeout() time.Duration {
	if p == nil || p.Timeout <= 0 {
		return DefaultTimeout
	}
	return p.Timeout
}

// ParsePrefixes parses a comma-separated list of CIDR prefixes and bare IP
// addresses, such as "10.0.0.0/8, 192.0.2.7, ::1", the value of a flag like
// -trusted-proxies. A bare address is a prefix of one address (/32 or
// /128); a prefix's host bits are cleared ("10.1.2.3/8" is 10.0.0.0/8);
// IPv4-mapped IPv6 prefixes become IPv4 ones. An empty or blank s gives
// none. Errors wrap ErrInvalidPrefix and name the bad entry.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []netip.Prefix
	for i, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		pfx, err := parsePrefix(entry)
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d %q: %s", ErrInvalidPrefix, i+1, entry, err)
		}
		out = append(out, pfx)
	}
	return out, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, fmt.Errorf("empty (a stray comma?)")
	}
	if strings.Contains(s, "%") {
		return netip.Prefix{}, fmt.Errorf("IPv6 zones are not allowed")
	}
	var pfx netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if pfx, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, fmt.Errorf("not a CIDR prefix such as 10.0.0.0/8 or fd00::/8")
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("not an IP address or a CIDR prefix such as 10.0.0.0/8")
		}
		pfx = netip.PrefixFrom(a, a.BitLen())
	}
	if a := pfx.Addr(); a.Is4In6() && pfx.Bits() >= 96 {
		pfx = netip.PrefixFrom(a.Unmap(), pfx.Bits()-96)
	}
	return pfx.Masked(), nil
}
