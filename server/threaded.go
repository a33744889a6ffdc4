package server

import (
	"context"
	"net"
)

// threaded is the engine that gives each connection a pool worker for its
// whole life.
type threaded struct{ srv *Server }

func (e *threaded) serve(nc net.Conn, _ int) error {
	s := e.srv
	c := newThreadedConn(s, nc)
	if !s.trackConn(c) {
		return ErrServerClosed
	}
	if err := s.pool.Submit(s.ctx, c.serve); err != nil {
		s.untrackConn(c)
		return err
	}
	return nil
}

// close has nothing to stop: the workers belong to the pool.
func (e *threaded) close(context.Context) error { return nil }
