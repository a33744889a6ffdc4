package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
)

// errListenerServerClosed is what a Listener's Accept returns once the
// Server has shut down: both net.ErrClosed, which code written against
// net.Listener tests for, and ErrServerClosed match it.
var errListenerServerClosed = fmt.Errorf("%w: %w", ErrServerClosed, net.ErrClosed)

// Listener returns a net.Listener that gives code written against
// net.Listener (net/http, gRPC, a protocol of your own) the server's
// admission. Its Accept returns the connections of ln that passed
// MaxConns (with Overflow), Access, MaxConnsPerIP and, on a PROXY
// protocol server, the header of a trusted peer; with TLSConfig set, only
// once their handshake has succeeded. Connections refused on the way are
// closed and counted in Stats, as for Serve; the ones returned are
// counted too (Accepted, Active, Closed, bytes), so the metrics package's
// collector reports them.
//
// The accept loop runs from the call on, on a goroutine of its own, and
// hands connections to Accept one at a time: like ln, it accepts only as
// fast as Accept is called. TLS handshakes run on the server's worker
// pool, off the accept path, within HandshakeTimeout, so a client that
// sends nothing holds up no other client.
//
// What Accept returns keeps what net/http relies on: a TLS connection is
// crypto/tls's own *tls.Conn (net/http serves HTTP/2 on it when ALPN
// chose "h2": list "h2" and "http/1.1" in TLSConfig.NextProtos and leave
// http.Server's TLSConfig nil), and a plain TCP connection passes
// io.ReaderFrom and io.WriterTo through to the *net.TCPConn, so that
// net/http's file responses still go out by sendfile. RemoteAddr and
// LocalAddr are the PROXY header's addresses when there is one.
//
// Closing a returned connection frees its MaxConns slot and its
// MaxConnsPerIP count, once; its owner must close it, as any net.Conn.
// The server does not apply IdleTimeout, ReadTimeout or WriteTimeout to
// these connections: their protocol's server sets its own deadlines (an
// http.Server's ReadTimeout, IdleTimeout and WriteTimeout, per request),
// and deadlines the listener set would be overwritten by them or cut them
// short. Handler, Engine and the read-buffer and output fields concern
// only connections that Serve runs. A Server may Serve some listeners and
// hand out others' connections at once: MaxConns, MaxConnsPerIP and Stats
// are then shared.
//
// Close stops accepting and closes ln; Accept then returns an error that
// wraps net.ErrClosed. Connections already handed out stay open. Shutdown
// closes the Listener too (Accept's error then also matches
// ErrServerClosed) and waits until every connection handed out has been
// closed by its owner, so stop the protocol's server first: with net/http,
// http.Server.Shutdown, then Server.Shutdown. If Shutdown's context ends
// first, or on Close, the server closes them itself.
//
// Listener returns an error only for a configuration that Serve would
// refuse too (a negative field, say); ln is then closed.
func (s *Server) Listener(ln net.Listener) (net.Listener, error) {
	if err := s.init(); err != nil {
		ln.Close()
		return nil, err
	}
	l := &listener{
		srv:     s,
		ln:      ln,
		conns:   make(chan net.Conn),
		stopped: make(chan struct{}),
	}
	go func() { l.stop(s.acceptOn(&netAcceptor{ln}, route{eng: l, hint: -1})) }()
	return l, nil
}

// listener is what Server.Listener returns, and the engine of its accept
// loop: serve hands each admitted connection to Accept.
type listener struct {
	srv *Server
	ln  net.Listener
	// conns is unbuffered: a connection is handed over only to an Accept
	// that takes it, so none is left in between when the listener stops.
	conns chan net.Conn

	stopOnce sync.Once
	stopped  chan struct{} // closed by Close, or when the accept loop ends
	err      error         // what Accept returns once stopped; set before
}

// Accept waits for the next admitted connection (see Server.Listener).
func (l *listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.stopped:
		return nil, l.err
	}
}

// Close stops accepting and closes the listener beneath. Only the first
// call closes it; closing a listener that Shutdown closed already is no
// error.
func (l *listener) Close() error {
	var err error
	l.stopOnce.Do(func() {
		l.err = &net.OpError{Op: "accept", Net: l.ln.Addr().Network(), Addr: l.ln.Addr(), Err: net.ErrClosed}
		close(l.stopped)
		if err = l.ln.Close(); errors.Is(err, net.ErrClosed) {
			err = nil
		}
	})
	return err
}

// Addr returns the address of the listener beneath.
func (l *listener) Addr() net.Addr { return l.ln.Addr() }

// stop ends Accept once the accept loop has ended with err, unless Close
// came first.
func (l *listener) stop(err error) {
	l.stopOnce.Do(func() {
		if errors.Is(err, ErrServerClosed) {
			err = &net.OpError{Op: "accept", Net: l.ln.Addr().Network(), Addr: l.ln.Addr(), Err: errListenerServerClosed}
		}
		l.err = err
		close(l.stopped)
	})
}

// serve takes over an admitted connection, a listener's net.Conn: a plain
// one is handed to Accept from here, which holds up the accept loop as
// ln's own Accept would; a TLS one goes to a pool worker for its
// handshake first.
func (l *listener) serve(a accepted, _ int, _ *dialState) error {
	s := l.srv
	c := newHandedConn(s, a.(net.Conn))
	if !s.trackConn(c) {
		c.Conn.Close()
		return ErrServerClosed
	}
	if s.TLSConfig == nil {
		l.handOff(c, c)
		return nil
	}
	if err := s.pool.Submit(s.ctx, func() { l.handshake(c) }); err != nil {
		s.untrackConn(c)
		return err // start closes the connection and frees what it took
	}
	return nil
}

// handshake runs on a pool worker: the server side of c's TLS handshake,
// then the hand-off of the *tls.Conn.
func (l *listener) handshake(c *handedConn) {
	tc := tls.Server(c, l.srv.TLSConfig)
	if err := c.handshake(tc); err != nil {
		c.Close()
		return
	}
	l.handOff(c, tc)
}

// handOff gives nc, c as its owner will use it, to an Accept; once the
// listener or the server has stopped it closes c instead.
func (l *listener) handOff(c *handedConn, nc net.Conn) {
	s := l.srv
	if !c.hand() {
		c.Close()
		return
	}
	select {
	case l.conns <- nc:
	case <-l.stopped:
		c.Close()
	case <-s.done:
		c.Close()
	}
}

// acceptor is nil: the listener's connections are the net.Conns ln.Accept
// returns.
func (l *listener) acceptor(net.Listener) acceptor { return nil }

// close has nothing to stop: handed-out connections belong to their owner.
func (l *listener) close(context.Context) error { return nil }
