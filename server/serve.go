package server

import (
	"cmp"
	"context"
	"errors"
	"net"
	"runtime/debug"
	"strings"
	"time"

	"github.com/sockpool/sockpool/pool"
)

// Running a Server: listening and serving, tracking its connections, and
// shutting down.

// ListenAndServe listens on Network and Addr and then calls Serve. It always
// returns a non-nil error; after Shutdown or Close it is ErrServerClosed.
//
// To know when the server is listening (a test, a program that prints its
// address), open the listener yourself and pass it to Serve: once
// net.Listen returns, clients can connect, and the listener's Addr has the
// port a port of 0 picked. ListenAddr reports the same once serving began.
func (s *Server) ListenAndServe() error {
	if s.inShutdown.Load() {
		return ErrServerClosed
	}
	network, addr := s.Network, s.Addr
	if network == "" {
		network = DefaultNetwork
	}
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	if s.ReusePort && s.Engine.evented() && strings.HasPrefix(network, "tcp") {
		return s.listenAndServeReusePort(network, addr)
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// listenAndServeReusePort serves one SO_REUSEPORT listener per event loop,
// each feeding its own loop.
func (s *Server) listenAndServeReusePort(network, addr string) error {
	if err := s.init(); err != nil {
		return err
	}
	ev, ok := s.eng.(*evented)
	if !ok {
		return ErrEngineUnsupported
	}
	lns, err := ev.listenReusePort(network, addr)
	if err != nil {
		return err
	}
	errs := make(chan error, len(lns))
	for i, ln := range lns {
		go func() { errs <- s.serve(ln, i) }()
	}
	var first error
	for range lns {
		if err := <-errs; first == nil || errors.Is(first, ErrServerClosed) {
			first = err
		}
	}
	return first
}

// ListenAddr returns the address of the first listener the server served on,
// or nil before it listens. With a port of 0 in Addr it has the port picked.
// (The field Addr is what to listen on; this is what was bound.)
func (s *Server) ListenAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.firstAddr
}

// Serve accepts connections on ln and runs each on the server's engine until
// Shutdown or Close. It may be called for several listeners at once. Serve
// always returns a non-nil error and closes ln; after Shutdown or Close the
// error is ErrServerClosed.
func (s *Server) Serve(ln net.Listener) error {
	return s.serve(ln, -1)
}

func (s *Server) serve(ln net.Listener, hint int) error {
	// Checked before init, which builds the pool: a Server refused here
	// must not leave its goroutines behind. (Listener needs no Handler,
	// nor does a Server that only dials with a Dialer's.)
	if s.Handler == nil {
		ln.Close()
		return ErrNoHandler
	}
	if err := s.init(); err != nil {
		ln.Close()
		return err
	}
	acc := s.eng.acceptor(ln)
	if acc == nil {
		acc = &netAcceptor{ln}
	}
	return s.acceptOn(acc, route{eng: s.eng, hint: hint})
}

// acceptOn runs acc's accept loop, tracked as one of the server's
// listeners, until it ends; it closes acc.
func (s *Server) acceptOn(acc acceptor, to route) error {
	if !s.trackListener(acc, true) {
		acc.Close()
		acc.release()
		return ErrServerClosed
	}
	// Untracked last, so that Shutdown, which waits until no listener is
	// tracked, returns with every descriptor of the acceptor closed.
	defer s.trackListener(acc, false)
	defer acc.release()
	defer acc.Close()
	return s.acceptLoop(acc, to)
}

// trackListener adds or removes ln; adding fails once the server is closing.
func (s *Server) trackListener(ln acceptor, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.listeners, ln)
		return true
	}
	if s.inShutdown.Load() {
		return false
	}
	if s.firstAddr == nil {
		s.firstAddr = ln.Addr()
	}
	s.listeners[ln] = struct{}{}
	return true
}

// trackConn registers c; it fails once the server is closing, so that
// Shutdown never misses a connection accepted while it ran.
func (s *Server) trackConn(c liveConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inShutdown.Load() {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

// untrackConn unregisters a connection that never started.
func (s *Server) untrackConn(c liveConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// connDone ends a connection on any engine: OnClose (if OnOpen ran, or
// would have), then connGone.
func (s *Server) connDone(c engineConn, opened bool) {
	s.ended(c, c.closeReason())
	d := c.dialed()
	if ch, ok := s.handlerOf(d).(CloseHandler); ok && opened {
		reason := c.closeReason()
		guard(s, c, func() { ch.OnClose(c, reason) })
	}
	if d != nil && !opened {
		d.open(cmp.Or(c.closeReason(), ErrConnClosed))
	}
	s.connGone(c, d == nil)
}

// connGone gives back what a connection held, once, when it has closed:
// removeConn, then (for a client's connection, accepted) its client's
// MaxConnsPerIP count, then its MaxConns slot.
func (s *Server) connGone(c liveConn, client bool) {
	s.removeConn(c)
	if client {
		s.releaseClient(c)
	}
	<-s.slots
}

// removeConn unregisters c and moves its byte counts into the totals.
func (s *Server) removeConn(c liveConn) {
	s.mu.Lock()
	delete(s.conns, c)
	in, out := c.counts()
	s.stats.bytesIn.Add(in)
	s.stats.bytesOut.Add(out)
	s.mu.Unlock()
	s.stats.closed.Add(1)
}

// beginClose marks the server closing and closes its listeners. It reports
// whether this call was the first.
func (s *Server) beginClose() (first bool, err error) {
	first = !s.inShutdown.Swap(true)
	if s.init() != nil {
		return first, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if first {
		close(s.done)
		s.cancel()
	}
	for ln := range s.listeners {
		if cerr := ln.Close(); cerr != nil && err == nil && !errors.Is(cerr, net.ErrClosed) {
			err = cerr
		}
	}
	return first, err
}

// Shutdown stops the server gracefully: it closes the listeners, lets every
// running handler call return, flushes written output, closes each
// connection (OnClose gets ErrServerClosed) and waits for them all. Input
// that arrives after Shutdown began is not passed to the handler.
//
// A connection is done once its handler has returned and its peer has
// everything written to it; a peer that goes on sending does not hold
// Shutdown up beyond that (its further input is discarded, and its
// connection is closed). So Shutdown returns nil unless something was really
// cut short: if ctx ends first, because a handler call is still running or a
// peer has not taken its output (it does not read), Shutdown closes the
// remaining connections at once and returns ctx.Err(). Serve returns
// ErrServerClosed as soon as Shutdown is called.
func (s *Server) Shutdown(ctx context.Context) error {
	_, err := s.beginClose()
	if s.init() != nil {
		return err
	}
	s.mu.Lock()
	for c := range s.conns {
		c.stop(ErrServerClosed)
	}
	s.closePendingLocked()
	s.mu.Unlock()

	// Poll, as net/http does: connections finish on their own goroutines and
	// a poll with back-off costs nothing while they do.
	wait := time.Millisecond
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for !s.drained() {
		select {
		case <-ctx.Done():
			s.closeConns()
			s.releaseAsync()
			return ctx.Err()
		case <-timer.C:
			wait = min(wait*2, 100*time.Millisecond)
			timer.Reset(wait)
		}
	}
	if eerr := s.eng.close(ctx); eerr != nil {
		return eerr
	}
	if perr := s.pool.Close(ctx); perr != nil && !errors.Is(perr, pool.ErrClosed) {
		return perr
	}
	return err
}

// drained reports whether every Serve loop and connection has finished.
func (s *Server) drained() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.listeners) == 0 && len(s.conns) == 0 && len(s.pending) == 0
}

// Close closes the listeners and every connection at once, without flushing.
// It does not wait for running handler calls to return; use Shutdown for a
// graceful stop. It returns the first error from closing a listener.
func (s *Server) Close() error {
	_, err := s.beginClose()
	if s.init() != nil {
		return err
	}
	s.closeConns()
	s.releaseAsync()
	return err
}

func (s *Server) closeConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.abort(ErrServerClosed)
	}
	s.closePendingLocked()
}

// closePendingLocked interrupts the PROXY header reads in progress: their
// connections have no handler yet, so there is nothing to let finish.
func (s *Server) closePendingLocked() {
	for nc := range s.pending {
		nc.SetReadDeadline(aLongTimeAgo)
	}
}

// releaseAsync stops the engine and releases the pool once the last
// connection has finished, without making the caller wait for handlers that
// may never return.
func (s *Server) releaseAsync() {
	go func() {
		s.eng.close(context.Background())
		s.pool.Close(context.Background())
	}()
}

// liveConn is what the server needs of a connection to track it: an
// engine's connection (engineConn), or one a Listener hands out.
type liveConn interface {
	RemoteAddr() net.Addr
	// closeReason is the error OnClose gets.
	closeReason() error
	// stop closes the connection gracefully: the handler call in progress
	// returns, written output is flushed, then the connection closes.
	stop(reason error)
	// abort closes the connection at once.
	abort(reason error)
	// counts returns the bytes read and written so far.
	counts() (in, out uint64)
}

// engineConn is a connection an engine runs for the Handler.
type engineConn interface {
	Conn
	liveConn
	// dialed is the dial of a connection a Dialer opened, nil for one
	// accepted.
	dialed() *dialState
	// loopIndex is the index of the event loop the connection runs on, or
	// -1 for an engine without loops (see Dialer.Beside).
	loopIndex() int
}

// handlerPanic counts and logs a recovered handler panic and returns the
// error the connection closes with.
func (s *Server) handlerPanic(c Conn, v any) error {
	s.stats.panics.Add(1)
	err := &PanicError{Value: v, Stack: debug.Stack()}
	s.log.Error("handler panicked; closing its connection", "conn", c.ID(), "remote", c.RemoteAddr().String(), "panic", v, "stack", string(err.Stack))
	return err
}

// engine runs accepted connections.
type engine interface {
	// serve takes over nc, or returns an error (a *fatalError to end
	// Serve). hint is the index of the listener's event loop, or -1. d is
	// the dial of a connection a Dialer opened, nil for an accepted one.
	serve(nc accepted, hint int, d *dialState) error
	// acceptor returns the engine's own acceptor for ln, or nil: the
	// accept loop then calls ln.Accept.
	acceptor(ln net.Listener) acceptor
	// close stops the engine's own goroutines once its connections are gone,
	// waiting for them until ctx ends.
	close(ctx context.Context) error
}
