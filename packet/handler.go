package packet

import (
	"net"
	"net/netip"
)

// A Handler answers datagrams.
//
// ServePacket is called once for each datagram p received from the address
// from, on a worker goroutine, with up to Workers calls running at once: it
// may block, but while it does it holds a worker, and datagrams that find
// every worker busy are dropped. Calls run in no particular order, even for
// datagrams from one sender (UDP keeps no order either).
//
// p is valid only during the call: it is a pooled buffer, reused once
// ServePacket returns, so a handler that keeps the data must copy it. w
// sends replies from the socket p arrived on; it may be kept and used from
// any goroutine.
//
// An IPv4 sender on an IPv6 socket comes as a plain IPv4 address (unmapped);
// replying to it works all the same.
type Handler interface {
	ServePacket(w Writer, p []byte, from netip.AddrPort)
}

// HandlerFunc lets an ordinary function be a Handler.
type HandlerFunc func(w Writer, p []byte, from netip.AddrPort)

// ServePacket calls f(w, p, from).
func (f HandlerFunc) ServePacket(w Writer, p []byte, from netip.AddrPort) { f(w, p, from) }

// A Writer sends datagrams from one of the server's sockets. It is safe for
// concurrent use.
type Writer interface {
	// WriteTo sends p as one datagram to addr, the sender of the datagram
	// being answered or anyone else, and returns len(p) or an error; p may
	// be reused once it returns. It waits while the socket's send buffer is
	// full. Once the server has closed the socket (after Shutdown's handler
	// calls have returned, or at Close) it returns an error wrapping
	// net.ErrClosed.
	WriteTo(p []byte, addr netip.AddrPort) (int, error)
}

// conn is one socket the server serves, and the Writer of its datagrams.
type conn struct {
	s   *Server
	pc  net.PacketConn
	udp *net.UDPConn // pc, when it is one: WriteToUDPAddrPort allocates nothing
}

func newConn(s *Server, pc net.PacketConn) *conn {
	c := &conn{s: s, pc: pc}
	c.udp, _ = pc.(*net.UDPConn)
	return c
}

// WriteTo sends one datagram with one system call (sendto). Replies are not
// gathered into sendmmsg batches: they come from independent handler calls
// on many goroutines, so a batch would need a queue and a goroutine to
// flush it, adding a hand-off and a wait to every reply and making WriteTo
// unable to report the send's own error. A reply is sent, or has failed,
// when WriteTo returns.
func (c *conn) WriteTo(p []byte, addr netip.AddrPort) (int, error) {
	var (
		n   int
		err error
	)
	if c.udp != nil {
		n, err = c.udp.WriteToUDPAddrPort(p, addr)
	} else {
		n, err = c.pc.WriteTo(p, net.UDPAddrFromAddrPort(addr))
	}
	if err != nil {
		c.s.stats.writeErrors.Add(1)
		return n, err
	}
	c.s.stats.sent.Add(1)
	c.s.stats.bytesOut.Add(uint64(n))
	return n, nil
}
