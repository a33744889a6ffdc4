package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/sockpool/sockpool/pool"
)

// A Dialer opens outgoing connections that run on a Server's engine with the
// same Handler API as the connections it accepts: OnOpen, OnData, OnDrain
// and OnClose, Conn.Write from any goroutine, the engine's backpressure and
// output bounds, the Server's timeouts, TLS (this side the client) and
// StartTLS (a dialed connection's StartTLS runs the client side of the
// handshake). A dialed connection counts against MaxConns like an accepted
// one (and waits for a free slot, or is refused, as Overflow says); Shutdown
// and Close end it with the rest. MaxConnsPerIP, Access and ProxyProtocol
// are about clients and do not apply.
//
// A Server that only dials needs no listener: DialContext starts its
// engine on first use.
//
//	d := &server.Dialer{Server: srv, Handler: upstream, Timeout: 5 * time.Second}
//	c, err := d.DialContext(ctx, "tcp", "127.0.0.1:6379")
//	if err != nil { ... }
//	c.Write([]byte("PING\r\n")) // the reply arrives in upstream's OnData
type Dialer struct {
	// Server is the server whose engine, pool, limits and Stats the
	// connections join. Required.
	Server *Server

	// Handler handles the data of the connections this Dialer opens. Nil
	// means the Server's Handler: one handler then sees accepted and dialed
	// connections alike, and can tell them apart by their values.
	Handler Handler

	// Timeout bounds the connect and, with TLSConfig, the handshake, on top
	// of the context's deadline. Zero means no bound but the context's (and
	// HandshakeTimeout for the handshake).
	Timeout time.Duration

	// TLSConfig, if not nil, makes every connection TLS, this side the
	// client: build it with tlsconf.Client. An empty ServerName is taken
	// from the address dialed, as crypto/tls's Dial does.
	TLSConfig *tls.Config

	// LocalAddr is the local address to dial from; nil lets the system
	// choose.
	LocalAddr net.Addr

	// Beside, if not nil, is a connection of the same Server that the
	// dialed one should run beside: on the evented engines, on the same
	// event loop, so that a proxy's client and upstream are served by one
	// thread and neither's events wake another loop. Nil, or on the
	// threaded engines, the connection goes where an accepted one would.
	Beside Conn
}

// ErrNoServer is returned by a Dialer without a Server.
var ErrNoServer = errors.New("sockpool/server: Dialer has no Server")

// dialState is what a dialed connection keeps of its Dialer.
type dialState struct {
	h    Handler
	tls  *tls.Config // nil: plain
	conn engineConn  // set by the engine as it takes the connection over
	// opened gets nil once OnOpen has returned (or would have, for a
	// handler without one), or the reason the connection never opened.
	opened chan error
}

// open reports the connection's opening to the dialer, once.
func (d *dialState) open(err error) {
	select {
	case d.opened <- err:
	default:
	}
}

// Dial is DialContext with context.Background().
func (d *Dialer) Dial(network, address string) (Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

// DialContext connects to address on network ("tcp", "tcp4", "tcp6" or
// "unix", as net.Dial takes them) and hands the connection to the Server's
// engine. It returns once the connection is open: connected, with
// TLSConfig the handshake done, and OnOpen returned, so that data can
// arrive in OnData as soon as it returns. Errors are testable with
// errors.Is: the connect's own (syscall.ECONNREFUSED, a context error when
// ctx ends or Timeout passes), ErrTLSHandshake or ErrHandshakeTimeout,
// pool.ErrOverload when MaxConns connections are open under Overflow
// Reject, ErrServerClosed after Shutdown or Close.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (Conn, error) {
	s := d.Server
	if s == nil {
		return nil, ErrNoServer
	}
	h := d.Handler
	if h == nil {
		h = s.Handler
	}
	if h == nil {
		return nil, ErrNoHandler
	}
	if err := s.init(); err != nil {
		return nil, err
	}
	if d.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.Timeout)
		defer cancel()
	}
	if err := s.takeSlot(ctx); err != nil {
		return nil, err
	}
	nd := net.Dialer{LocalAddr: d.LocalAddr}
	nc, err := nd.DialContext(ctx, network, address)
	if err != nil {
		<-s.slots
		return nil, err
	}
	ds := &dialState{h: h, opened: make(chan error, 1)}
	if d.TLSConfig != nil {
		ds.tls = withServerName(d.TLSConfig, address)
	}
	hint := -1
	if b, ok := d.Beside.(engineConn); ok {
		hint = b.loopIndex()
	}
	if err := s.eng.serve(nc, hint, ds); err != nil {
		<-s.slots
		nc.Close()
		return nil, err
	}
	s.stats.dialed.Add(1)
	select {
	case err := <-ds.opened:
		if err != nil {
			return nil, err
		}
		return ds.conn, nil
	case <-ctx.Done():
		// Not open yet: a handshake under way. The close interrupts it,
		// and the connection ends without OnOpen or OnClose.
		ds.conn.CloseWithError(ctx.Err())
		return nil, fmt.Errorf("sockpool/server: dial %s %s: %w", network, address, ctx.Err())
	}
}

// takeSlot takes a MaxConns slot for a dialed connection: at once, or as
// Overflow says when all are taken.
func (s *Server) takeSlot(ctx context.Context) error {
	select {
	case s.slots <- struct{}{}:
		return nil
	default:
	}
	if s.Overflow == pool.Reject {
		return fmt.Errorf("sockpool/server: dial: MaxConns connections are open: %w", pool.ErrOverload)
	}
	select {
	case s.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return ErrServerClosed
	}
}

// withServerName is conf with ServerName taken from address when it has
// none, as tls.Dial does.
func withServerName(conf *tls.Config, address string) *tls.Config {
	if conf.ServerName != "" || conf.InsecureSkipVerify {
		return conf
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		host = address
	}
	conf = conf.Clone()
	conf.ServerName = host
	return conf
}

// handlerOf returns the handler of c: its Dialer's, or the Server's.
func (s *Server) handlerOf(d *dialState) Handler {
	if d != nil {
		return d.h
	}
	return s.Handler
}

// newTLS returns the TLS side of a connection over conn: the client for a
// dialed connection, the server otherwise.
func newTLS(conn net.Conn, config *tls.Config, d *dialState) *tls.Conn {
	if d != nil {
		return tls.Client(conn, config)
	}
	return tls.Server(conn, config)
}
