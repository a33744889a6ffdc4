package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sockpool/sockpool/proxyproto"
	"github.com/sockpool/sockpool/server"
)

// A relayed pair is two connections on one Server: the client's, accepted,
// whose handler is the proxy, and the upstream's, dialed, whose handler is
// an upstream bound to that client. Each side's OnData writes to the other
// (relay), each side's EOF half-closes the other, and each side's close
// closes the other. Both handlers pace their reading (server.PacedHandler):
// one side's output is the other's input, and relay bounds it.

// proxy is the client side's handler.
type proxy struct {
	srv         *server.Server
	upstream    string
	sendProxy   bool
	dialTimeout time.Duration
	log         *slog.Logger // nil: silent
}

// link is a client connection's value: its upstream, once dialed.
type link struct {
	mu     sync.Mutex
	up     server.Conn // set by connect before the client's reading resumes
	closed bool        // the client has closed: connect closes what it dials
}

// upConn returns the upstream. OnData and OnEOF may read it without the
// lock: connect sets it before ResumeReading, which happens before any
// OnData (the client is paused from OnOpen on).
func (l *link) upConn() server.Conn { return l.up }

// OnOpen pauses the client until its upstream is connected, off the loop:
// DialContext waits for the upstream's OnOpen, which may have to run on
// this very loop.
func (p *proxy) OnOpen(c server.Conn) {
	c.PauseReading()
	l := new(link)
	c.SetValue(l)
	go p.connect(c, l)
}

// connect dials c's upstream onto the server's engine, sends the PROXY
// header when asked, and lets the client's bytes flow.
func (p *proxy) connect(c server.Conn, l *link) {
	// Beside: on the evented engines the upstream runs on the client's
	// loop, so one thread serves the pair.
	d := &server.Dialer{Server: p.srv, Handler: &upstream{client: c}, Timeout: p.dialTimeout, Beside: c}
	up, err := d.DialContext(context.Background(), "tcp", p.upstream)
	if err != nil {
		if p.log != nil {
			p.log.Debug("upstream dial failed", "client", c.RemoteAddr().String(), "upstream", p.upstream, "err", err)
		}
		c.CloseWithError(fmt.Errorf("proxy: dial upstream %s: %w", p.upstream, err))
		return
	}
	if p.sendProxy {
		h := proxyproto.Header{Version: 2, Command: proxyproto.Proxy, Source: c.RemoteAddr(), Destination: c.LocalAddr()}
		b, err := h.AppendTo(nil)
		if err == nil {
			_, err = up.Write(b)
		}
		if err != nil {
			c.CloseWithError(fmt.Errorf("proxy: PROXY header: %w", err))
			up.Close()
			return
		}
	}
	l.mu.Lock()
	closed := l.closed
	l.up = up
	l.mu.Unlock()
	if closed {
		up.Close()
		return
	}
	c.ResumeReading()
}

func (p *proxy) OnData(c server.Conn, in []byte) { relay(c, c.Value().(*link).upConn(), in) }

// OnEOF passes the client's half-close on: FIN to the upstream after the
// client's last byte.
func (p *proxy) OnEOF(c server.Conn) { c.Value().(*link).upConn().CloseWrite() }

// OnDrain resumes the upstream, paused by relay while the client's output
// was above WriteHighWater.
func (p *proxy) OnDrain(c server.Conn) { c.Value().(*link).upConn().ResumeReading() }

func (p *proxy) OnClose(c server.Conn, err error) {
	l, _ := c.Value().(*link)
	if l == nil {
		return // closed before OnOpen ran
	}
	l.mu.Lock()
	l.closed = true
	up := l.up
	l.mu.Unlock()
	if up != nil {
		up.Close()
	}
}

// PacesReading is true: relay pauses the client while the upstream is
// Congested.
func (p *proxy) PacesReading() bool { return true }

// upstream is the handler of the connection dialed for client.
type upstream struct{ client server.Conn }

func (u *upstream) OnData(c server.Conn, in []byte) { relay(c, u.client, in) }
func (u *upstream) OnEOF(c server.Conn)             { u.client.CloseWrite() }
func (u *upstream) OnDrain(c server.Conn)           { u.client.ResumeReading() }
func (u *upstream) PacesReading() bool              { return true }

// OnClose closes the client, after what it is owed is flushed; the reason
// an upstream failed is the client's too, for the debug log.
func (u *upstream) OnClose(c server.Conn, err error) {
	if err != nil {
		u.client.CloseWithError(fmt.Errorf("proxy: upstream: %w", err))
		return
	}
	u.client.Close()
}

// relay writes what from read to to. On the threaded engines and
// EventedPool a Write waits while to's output is above WriteHighWater,
// which holds from's handler and so its reading: backpressure for free. On
// Evented, where a handler on the loop never waits, relay pauses from
// instead while to is Congested, and to's OnDrain resumes it. Pause, then
// ask again: a drain between the first answer and the pause would have
// called OnDrain too early to resume, and the second answer, false once
// drained, resumes here instead (true asks for another OnDrain).
func relay(from, to server.Conn, in []byte) {
	if _, err := to.Write(in); err != nil {
		return // to is closing, and its OnClose closes from
	}
	if to.Congested() {
		from.PauseReading()
		if !to.Congested() {
			from.ResumeReading()
		}
	}
}
