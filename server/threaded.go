package server

import (
	"context"
	"net"
)

// threaded is the engine that gives each connection a pool worker for its
// whole life (Threaded and ThreadedSyscall).
type threaded struct{ srv *Server }

// serve takes over nc, a listener's net.Conn: the threaded engines accept
// nothing themselves.
func (e *threaded) serve(nc accepted, _ int, d *dialState) error {
	c, err := newThreadedConn(e.srv, nc.(net.Conn), d)
	if err != nil {
		return err
	}
	s := e.srv
	if !s.trackConn(c) {
		c.tr.close()
		return ErrServerClosed
	}
	if err := s.pool.Submit(s.ctx, c.serve); err != nil {
		s.untrackConn(c)
		c.tr.close()
		return err
	}
	return nil
}

// acceptor is nil: the connections stay on Go's network poller, as
// ln.Accept returns them.
func (e *threaded) acceptor(net.Listener) acceptor { return nil }

// close has nothing to stop: the workers belong to the pool.
func (e *threaded) close(context.Context) error { return nil }
