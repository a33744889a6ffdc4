package server

import (
	"context"
	"net"
)

// threaded is the engine that gives each connection a pool worker for its
// whole life.
type threaded struct{ srv *Server }

func (e *threaded) serve(nc net.Conn, _ int) error {
	// crypto/tls reads through a net.Conn: TLS connections are read as in
	// Threaded.
	if e.srv.syscallReads && e.srv.TLSConfig == nil {
		if started, err := e.serveSyscall(nc); started || err != nil {
			return err
		}
	}
	c := newThreadedConn(e.srv, nc)
	return e.start(c, c.serve)
}

// start registers c and gives run (which serves c for its life) to a
// worker.
func (e *threaded) start(c liveConn, run func()) error {
	s := e.srv
	if !s.trackConn(c) {
		return ErrServerClosed
	}
	if err := s.pool.Submit(s.ctx, run); err != nil {
		s.untrackConn(c)
		return err
	}
	return nil
}

// close has nothing to stop: the workers belong to the pool.
func (e *threaded) close(context.Context) error { return nil }
