package server

import (
	"errors"
	"net"
	"net/netip"
	"sync"
)

// Access says which clients may connect. It is checked when a connection
// is accepted (after its PROXY header, on a PROXY protocol server), before
// any handler runs; a refused connection is closed at once and counted in
// Stats.Rejections.Access.
//
// Only loopback and UNIX-socket clients, for example:
//
//	&server.Access{
//		Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
//		Unix:  true,
//	}
type Access struct {
	// Allow lists the prefixes IP clients may connect from. Empty allows
	// every IP address that Deny does not refuse. IPv4-mapped IPv6 clients
	// match IPv4 prefixes.
	Allow []netip.Prefix
	// Deny lists prefixes refused even when Allow lists them.
	Deny []netip.Prefix
	// Unix admits UNIX-socket clients when Allow is not empty (with an
	// empty Allow they are admitted anyway: there is no allow-list).
	Unix bool
}

// admits reports whether a client at addr may connect.
func (a *Access) admits(addr net.Addr) bool {
	if a == nil {
		return true
	}
	ip, ok := ipOf(addr)
	if !ok {
		return len(a.Allow) == 0 || a.Unix
	}
	for _, p := range a.Deny {
		if p.Contains(ip) {
			return false
		}
	}
	if len(a.Allow) == 0 {
		return true
	}
	for _, p := range a.Allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// ipOf returns the IP address of a TCP or UDP address, IPv4-mapped
// addresses unmapped; ok is false for other addresses (UNIX sockets).
func ipOf(addr net.Addr) (ip netip.Addr, ok bool) {
	switch a := addr.(type) {
	case *net.TCPAddr:
		ip, ok = netip.AddrFromSlice(a.IP)
	case *net.UDPAddr:
		ip, ok = netip.AddrFromSlice(a.IP)
	}
	return ip.Unmap(), ok
}

// Reasons a connection is refused before it starts, counted in
// Stats.Rejections.
const (
	rejectOverload = iota // MaxConns, or no worker under Reject
	rejectPerIP           // MaxConnsPerIP
	rejectAccess          // Access
	rejectProxy           // PROXY protocol: untrusted peer, bad, truncated or slow header
	numRejectReasons
)

var rejectNames = [numRejectReasons]string{"overload", "max conns per IP", "access rules", "PROXY protocol"}

// refuse closes a connection refused before it started, gives back its
// connection slot and counts it.
func (s *Server) refuse(nc accepted, why int, err error) {
	<-s.slots
	s.reject(nc, why, err)
}

// admit runs the checks a new connection must pass before the engine gets
// it. On a PROXY protocol server the header is read first, on a goroutine
// of its own (bounded by the connection slots and by the header timeout),
// so that a slow peer cannot hold up the acceptor. admit owns nc and its
// slot; like start, it returns an error only when Serve must end.
func (s *Server) admit(a accepted, to route) error {
	p := s.ProxyProtocol
	if p == nil {
		return s.admitClient(a, to)
	}
	// An engine accepts sockets itself only on servers without PROXY
	// protocol (engine.acceptor): here a is a listener's net.Conn, which
	// reads the header.
	nc := a.(net.Conn)
	if !p.Trusts(nc.RemoteAddr()) {
		// A PROXY listener's peers all speak PROXY first, and a header is
		// believed only from a trusted load balancer.
		s.refuse(nc, rejectProxy, errors.New("peer is not a trusted proxy"))
		return nil
	}
	if !s.trackPending(nc) {
		<-s.slots
		nc.Close()
		return ErrServerClosed
	}
	go s.readProxyHeader(nc, to)
	return nil
}

// admitClient applies Access and MaxConnsPerIP to the client's address and
// starts the connection. The address is asked for only when a check needs
// it: a sockConn makes its net.Addr on demand.
func (s *Server) admitClient(nc accepted, to route) error {
	if s.Access == nil && s.MaxConnsPerIP == 0 {
		return s.start(nc, to)
	}
	remote := nc.RemoteAddr()
	if !s.Access.admits(remote) { // a nil Access admits everyone
		s.refuse(nc, rejectAccess, nil)
		return nil
	}
	if s.MaxConnsPerIP > 0 {
		if ip, ok := ipOf(remote); ok && !s.perIP.take(ip, s.MaxConnsPerIP) {
			s.refuse(nc, rejectPerIP, nil)
			return nil
		}
	}
	return s.start(nc, to)
}

// releaseClient gives back what admitClient took for c once it has ended.
func (s *Server) releaseClient(c interface{ RemoteAddr() net.Addr }) {
	if s.MaxConnsPerIP > 0 {
		if ip, ok := ipOf(c.RemoteAddr()); ok {
			s.perIP.give(ip)
		}
	}
}

// ipCounts counts the open connections per client IP address.
type ipCounts struct {
	mu sync.Mutex
	m  map[netip.Addr]int
}

func (c *ipCounts) take(ip netip.Addr, limit int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[ip] >= limit {
		return false
	}
	if c.m == nil {
		c.m = make(map[netip.Addr]int)
	}
	c.m[ip]++
	return true
}

func (c *ipCounts) give(ip netip.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[ip] <= 1 {
		delete(c.m, ip) // the map holds only addresses with connections open
	} else {
		c.m[ip]--
	}
}
