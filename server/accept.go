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

// accepted is a connection from its accept until an engine takes it over,
// as admission sees it: a net.Conn from a listener's Accept, or a sockConn,
// a socket an engine accepted itself (see engine.acceptor). A sockConn is
// valid only until the next accept: admission and the engine's serve copy
// what they keep of it.
type accepted interface {
	LocalAddr() net.Addr
	RemoteAddr() net.Addr
	Close() error
}

// An acceptor accepts the connections of one listener for the accept loop.
type acceptor interface {
	accept() (accepted, error)
	// Close closes the listener; an accept waiting returns an error. It is
	// safe from any goroutine, more than once.
	Close() error
	Addr() net.Addr
	// release frees what the acceptor holds besides the listener, once the
	// accept loop is done with it; Close stays safe to call after it.
	release()
}

// netAcceptor accepts through the listener's own Accept. (A pointer, so
// that a listener of any type can be a key of Server.listeners.)
type netAcceptor struct{ net.Listener }

func (a *netAcceptor) accept() (accepted, error) { return a.Accept() }
func (a *netAcceptor) release()                  {}

// A route is where an accept loop's connections go once admitted: the
// engine that takes them (the Server's, or a Listener's hand-off) and, for
// the evented engine, the index of the listener's event loop, or -1.
type route struct {
	eng  engine
	hint int
}

// acceptLoop accepts connections from ln and hands each admitted one to
// to's engine.
func (s *Server) acceptLoop(ln acceptor, to route) error {
	var pause backoff
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
		nc, err := ln.accept()
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
			if !pause.wait(s, "accept error; retrying", ln.Addr(), err) {
				return ErrServerClosed
			}
			continue
		}
		pause = backoff{}
		if s.Overflow == pool.Reject {
			select {
			case s.slots <- struct{}{}:
			default:
				s.reject(nc, rejectOverload, nil)
				continue
			}
		}
		if err := s.admit(nc, to); err != nil {
			return err
		}
	}
}

// backoff is the growing pause after a temporary accept error, as in
// net/http: out of file descriptors, say, the acceptor must not spin.
type backoff struct{ delay time.Duration }

// wait counts and logs err and pauses; it reports false when the server
// began closing meanwhile.
func (b *backoff) wait(s *Server, msg string, addr net.Addr, err error) bool {
	s.stats.acceptErrors.Add(1)
	b.delay = max(minAcceptDelay, min(2*b.delay, maxAcceptDelay))
	s.log.Warn(msg, "addr", addr.String(), "err", err, "delay", b.delay)
	t := time.NewTimer(b.delay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.done:
		return false
	}
}

// start hands a new connection to to's engine. It owns nc and the
// connection slot taken for it. It returns an error only when Serve must
// end; a connection the engine has no room for is rejected and counted.
//
// An engine that takes the socket over (a duplicate descriptor for the
// event loops or for blocking reads) can run out of descriptors as accept
// itself can; the connection is kept and the take-over retried after the
// same back-off, so clients wait instead of being dropped.
func (s *Server) start(nc accepted, to route) error {
	var pause backoff
	err := to.eng.serve(nc, to.hint, nil)
	for err != nil && isOutOfFiles(err) && !s.inShutdown.Load() {
		if !pause.wait(s, "out of file descriptors for a new connection; retrying", nc.RemoteAddr(), err) {
			break
		}
		err = to.eng.serve(nc, to.hint, nil)
	}
	if err == nil {
		s.stats.accepted.Add(1)
		return nil
	}
	<-s.slots
	s.releaseClient(nc)
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

// reject closes a connection refused before it started and counts it
// under why (one of the reject constants); err, if not nil, is the detail
// logged.
func (s *Server) reject(nc accepted, why int, err error) {
	s.stats.rejected.Add(1)
	s.stats.rejections[why].Add(1)
	if err != nil {
		s.log.Debug("connection rejected", "remote", nc.RemoteAddr().String(), "reason", rejectNames[why], "err", err)
	} else {
		s.log.Debug("connection rejected", "remote", nc.RemoteAddr().String(), "reason", rejectNames[why])
	}
	nc.Close()
}

// isOutOfFiles reports whether err is the lack of a file descriptor, of the
// process's or the system's, or of the memory for one.
func isOutOfFiles(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) || errors.Is(err, syscall.ENOMEM)
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
