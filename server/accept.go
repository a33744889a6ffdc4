package server

import (
	"errors"
	"net"
	"syscall"
	"time"

	"github.com/sockpool/sockpool/pool"
)

// Accept back-off bounds, as in net/http: a temporary error (out of file
// descriptors, say) must not turn the accept loop into a busy spin.
const (
	minAcceptDelay = 5 * time.Millisecond
	maxAcceptDelay = time.Second
)

// acceptLoop accepts connections on ln and hands each to the engine; hint
// names the event loop for ln's connections, or is -1.
func (s *Server) acceptLoop(ln net.Listener, hint int) error {
	var delay time.Duration
	for {
		// Under Block, wait for a connection slot before accepting, so that
		// excess clients queue in the kernel's backlog, not in our memory.
		if s.Overflow == pool.Block {
			select {
			case s.slots <- struct{}{}:
			case <-s.done:
				return ErrServerClosed
			}
		}
		nc, err := ln.Accept()
		if err != nil {
			if s.Overflow == pool.Block {
				<-s.slots
			}
			if s.inShutdown.Load() {
				return ErrServerClosed
			}
			if !isTemporary(err) {
				return err
			}
			s.stats.acceptErrors.Add(1)
			delay = max(minAcceptDelay, min(2*delay, maxAcceptDelay))
			s.log.Warn("accept error; retrying", "addr", ln.Addr().String(), "err", err, "delay", delay)
			select {
			case <-time.After(delay):
			case <-s.done:
				return ErrServerClosed
			}
			continue
		}
		delay = 0
		if s.Overflow == pool.Reject {
			select {
			case s.slots <- struct{}{}:
			default:
				s.reject(nc, rejectOverload, nil)
				continue
			}
		}
		if err := s.admit(nc, hint); err != nil {
			return err
		}
	}
}

// start hands a new connection to the engine. It owns nc and the
// connection slot taken for it. It returns an error only when Serve must
// end; a connection the engine has no room for is rejected and counted.
func (s *Server) start(nc net.Conn, hint int) error {
	err := s.eng.serve(nc, hint)
	if err == nil {
		s.stats.accepted.Add(1)
		return nil
	}
	<-s.slots
	s.releaseClient(nc.RemoteAddr())
	var fatal *fatalError
	switch {
	case s.inShutdown.Load():
		nc.Close()
		return ErrServerClosed
	case errors.As(err, &fatal):
		nc.Close()
		return fatal.err
	}
	s.reject(nc, rejectOverload, err)
	return nil
}

// fatalError marks an engine error that ends Serve: the listener gives
// connections the engine cannot run.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }

// reject closes a connection refused before it started and counts it
// under why (one of the reject constants); err, if not nil, is the detail
// logged.
func (s *Server) reject(nc net.Conn, why int, err error) {
	s.stats.rejected.Add(1)
	s.stats.rejections[why].Add(1)
	if err != nil {
		s.log.Debug("connection rejected", "remote", nc.RemoteAddr().String(), "reason", rejectNames[why], "err", err)
	} else {
		s.log.Debug("connection rejected", "remote", nc.RemoteAddr().String(), "reason", rejectNames[why])
	}
	nc.Close()
}

// isTemporary reports whether an accept error is worth retrying after a
// pause: resource exhaustion that frees up when connections close, and a peer
// that went away between SYN and accept.
func isTemporary(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EINTR} {
		if errors.Is(err, e) {
			return true
		}
	}
	return isTimeout(err)
}
