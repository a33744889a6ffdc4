//go:build !linux

package server

import (
	"context"
	"fmt"
	"net"

	"github.com/sockpool/sockpool/internal/uring"
)

func newEvented(s *Server) (engine, error) { return nil, s.Engine.eventedSupported() }

// eventedSupported is Supported for the engines on event loops: none runs
// here.
func (e Engine) eventedSupported() error {
	if e == Uring {
		return fmt.Errorf("%w: %v: %w: it needs Linux (io_uring)", ErrEngineUnsupported, e, uring.ErrUnsupported)
	}
	return fmt.Errorf("%w: %v needs Linux (epoll)", ErrEngineUnsupported, e)
}

// evented exists elsewhere only so that the server compiles; newEvented
// never returns one.
type evented struct{}

func (e *evented) serve(accepted, int, *dialState) error { return ErrEngineUnsupported }
func (e *evented) acceptor(net.Listener) acceptor        { return nil }
func (e *evented) close(context.Context) error           { return nil }
func (e *evented) listenReusePort(string, string) ([]net.Listener, error) {
	return nil, ErrEngineUnsupported
}
