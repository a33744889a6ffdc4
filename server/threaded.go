package server

import (
	"context"
	"net"
)

// threaded is the engine that gives each connection a pool worker for its
// whole life (Threaded and ThreadedSyscall).
type threaded struct{ srv *Server }

func (e *threaded) serve(nc net.Conn, _ int) error {
	c, err := newThreadedConn(e.srv, nc)
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

// close has nothing to stop: the workers belong to the pool.
func (e *threaded) close(context.Context) error { return nil }
