package server

import (
	"errors"
	"net"
	"syscall"
	"time"

	"github.com/sockpool/sockpool/proxyproto"
)

// The PROXY protocol on the server side: a trusted load balancer's header
// is read off the acceptor, on a goroutine per connection (bounded by the
// connection slots and by the header timeout), and the connection goes on
// with the client the header names.

// readProxyHeader reads the PROXY header of a trusted peer's connection
// and goes on with the client's address in place of the peer's.
func (s *Server) readProxyHeader(nc net.Conn, to route) {
	defer s.untrackPending(nc)
	p := s.ProxyProtocol
	// Under s.mu, so that Shutdown's wake-up (a past deadline) cannot come
	// before this deadline and be overwritten by it.
	s.mu.Lock()
	closing := s.inShutdown.Load()
	if !closing {
		nc.SetReadDeadline(time.Now().Add(p.HeaderTimeout()))
	}
	s.mu.Unlock()
	if closing {
		<-s.slots
		nc.Close()
		return
	}
	h, err := p.Read(nc)
	if err == nil {
		err = nc.SetReadDeadline(time.Time{})
	}
	if err != nil {
		if s.inShutdown.Load() {
			<-s.slots
			nc.Close()
			return
		}
		s.refuse(nc, rejectProxy, err)
		return
	}
	if h.Command == proxyproto.Proxy && h.Source != nil {
		nc = &proxiedConn{Conn: nc, remote: h.Source, local: h.Destination}
	}
	if err := s.admitClient(nc, to); err != nil && !errors.Is(err, ErrServerClosed) {
		s.log.Error("sockpool/server: connection after its PROXY header", "err", err)
	}
}

// trackPending registers a connection whose PROXY header is being read,
// so that Shutdown and Close can interrupt the read and wait for it; it
// fails once the server is closing.
func (s *Server) trackPending(nc net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inShutdown.Load() {
		return false
	}
	s.pending[nc] = struct{}{}
	return true
}

func (s *Server) untrackPending(nc net.Conn) {
	s.mu.Lock()
	delete(s.pending, nc)
	s.mu.Unlock()
}

// proxiedConn is a connection whose client is known from its PROXY header:
// RemoteAddr and LocalAddr report the header's addresses. It passes on the
// methods the engines need of the socket beneath.
type proxiedConn struct {
	net.Conn
	remote, local net.Addr
}

func (c *proxiedConn) RemoteAddr() net.Addr { return c.remote }

func (c *proxiedConn) LocalAddr() net.Addr {
	if c.local != nil {
		return c.local
	}
	return c.Conn.LocalAddr()
}

// SyscallConn gives the engines the socket's descriptor.
func (c *proxiedConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.New("sockpool/server: connection has no descriptor")
	}
	return sc.SyscallConn()
}

// CloseWrite sends FIN, for the lingering close.
func (c *proxiedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}

// socket returns the connection beneath a proxiedConn, or nc itself.
func socket(nc net.Conn) net.Conn {
	if pc, ok := nc.(*proxiedConn); ok {
		return pc.Conn
	}
	return nc
}
