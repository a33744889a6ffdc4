//go:build linux

package server

import (
	"crypto/tls"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// evConn is a connection of the evented engine. Fields marked "loop" belong
// to the loop goroutine; the rest are guarded as noted.
type evConn struct {
	connState
	l  *loop
	fd int
	// TCP addresses are kept as values (no allocation per connection) and
	// turned into net.Addr on demand; other networks keep theirs.
	lap, rap netip.AddrPort
	ext      *evExtra // nil for an accepted TCP connection

	// loop (state and registered are written under mu too, and read under
	// it by Write)
	state       evState     // where it is in its life (see evented_close_linux.go)
	registered  bool        // in the loop's table and count
	paused      pauseReason // why reading is paused, if it is (see evented_flow_linux.go)
	rdhup       bool        // the peer's FIN was reported
	opened      bool        // OnOpen was (or is being) called; OnClose will be
	openDone    bool        // the pool task has called OnOpen (EventedPool; owned by the running task)
	wend        writeEnd    // what this side has sent of its end (see evented_flow_linux.go)
	want        closeKind
	lastRead    int64 // unix ns
	lingerUntil int64 // unix ns

	// flags are what any goroutine may set: Close, Shutdown, Congested,
	// PauseReading and CloseWrite (flagStopAsked and the others, in
	// evented_flow_linux.go). One word, not a Bool each, keeps evConn in
	// its 288-byte size class.
	flags      atomic.Uint32
	slot       int32        // its index in the loop's conns, once registered (loop-owned)
	queued     atomic.Int64 // bytes in out; written under mu
	lastWrite  atomic.Int64 // unix ns of the last write progress
	stallSince atomic.Int64 // unix ns when output was last queued on an empty queue
	sent       atomic.Int64 // bytes handed to the kernel (ciphertext, for TLS); written under mu
	// The peer's progress for WriteTimeout (see loop.sampleDelivery): the
	// stall it was sampled in and the bytes it had taken then. Loop-owned.
	stallMark int64
	took      int64

	// wmu serializes the Writes made off the loop that may wait in pieces:
	// a lending Write, and a TLS Write under EventedPool (see writeTLS).
	wmu sync.Mutex
	// mu guards the output queue and every write to fd, so that a Write from
	// any goroutine keeps order and never touches a closed descriptor.
	mu        sync.Mutex
	q         *outQueue // allocated on first use: most connections never queue
	wclosed   bool
	wantIn    bool   // level-triggered interest in input
	outArmed  bool   // level-triggered interest in EPOLLOUT
	curEvents uint32 // the registered interest

	// TLS. tls is set before the connection is registered (TLSConfig), or
	// by the loop under mu when a StartTLS handshake is done; hs is the
	// transport while a handshake may run on a worker (Close and Shutdown
	// interrupt it); up is a StartTLS waiting for its OnData to return, and
	// upg the upgrade it became (set by the loop under mu).
	tls *tlsTransport
	hs  atomic.Pointer[tlsTransport]
	up  atomic.Pointer[tlsUpgrade]
	upg *evUpgrade

	pool *poolInput // EventedPool only: the input waiting for a worker
	ur   *uringConn // the uring engine only: its requests in flight
}

// poolInput is the input of an EventedPool connection waiting for a pool
// worker. Evented connections call the handler on the loop and have none,
// which keeps them smaller: an idle connection's memory is mostly its evConn.
type poolInput struct {
	mu       sync.Mutex
	in       []byte // from bufs, in its size classes: no slack beyond the class
	inflight int    // bytes a pool worker has taken from in and not yet handled
	running  bool   // a pool task is draining in (or is about to)
	eof      bool   // the peer's EOF follows in: OnEOF is owed (EOFHandler)
}

// take removes and returns the input waiting, if any (nil p: none).
func (p *poolInput) take() []byte {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	in := p.in
	p.in = nil
	return in
}

// evState is where an evented connection is in its life; the close path in
// evented_close_linux.go opens with how it moves from one to the next.
type evState uint8

const (
	evReading   evState = iota // accepted or registered: input goes to the handler
	evDraining                 // no more input (the peer's EOF, Close, Shutdown): flushing, then closing
	evLingering                // FIN sent: discarding input until the peer closes too
	evClosed                   // the socket is closed; finalize waits for a pool handler to return
	evFinalized                // OnClose has run: the connection is gone
)

// setState moves c to s; under mu, since Write reads the state under it.
func (c *evConn) setState(s evState) {
	c.mu.Lock()
	c.state = s
	c.mu.Unlock()
}

// evUpgrade is a StartTLS from the moment its handler call returned
// (beginUpgrade) to the end of its handshake (endUpgrade). Loop-owned but
// for pending (under mu) and err (the worker's, handed over by post).
type evUpgrade struct {
	t       *tlsTransport
	pending []byte // Writes made since StartTLS, encrypted once it is done
	err     error  // the handshake's result
	// submitted: out of epoll, a worker may be using the descriptor, or one
	// is awaited (loop.hsWaiting).
	submitted  bool
	closeAfter bool // closeConn asked for a close while submitted
}

func newEvConn(l *loop, fd int) *evConn {
	c := &evConn{l: l, fd: fd}
	switch l.srv.Engine {
	case EventedPool:
		c.pool = new(poolInput)
	case Uring:
		c.ur = new(uringConn)
	}
	c.id = l.srv.nextID.Add(1)
	return c
}

// evExtra is what few evented connections need, kept out of evConn, which
// is most of an idle connection's memory.
type evExtra struct {
	local, remote net.Addr   // a connection that is not TCP's; nil for TCP (lap, rap)
	dial          *dialState // a dialed connection's
}

// extra returns c's evExtra, made on first use (before c is shared).
func (c *evConn) extra() *evExtra {
	if c.ext == nil {
		c.ext = new(evExtra)
	}
	return c.ext
}

// setAddrs records the connection's addresses.
func (c *evConn) setAddrs(laddr, raddr net.Addr) {
	lt, lok := laddr.(*net.TCPAddr)
	rt, rok := raddr.(*net.TCPAddr)
	if lok && rok {
		c.lap, c.rap = lt.AddrPort(), rt.AddrPort()
	} else {
		c.extra().local, c.extra().remote = laddr, raddr
	}
}

// setDial makes c a dialed connection, if d is not nil.
func (c *evConn) setDial(d *dialState) {
	if d != nil {
		c.extra().dial = d
		d.conn = c
	}
}

func (c *evConn) loopIndex() int { return c.l.id }

func (c *evConn) dialed() *dialState {
	if c.ext == nil {
		return nil
	}
	return c.ext.dial
}

func (c *evConn) LocalAddr() net.Addr {
	if c.ext != nil && c.ext.local != nil {
		return c.ext.local
	}
	return net.TCPAddrFromAddrPort(c.lap)
}

func (c *evConn) RemoteAddr() net.Addr {
	if c.ext != nil && c.ext.remote != nil {
		return c.ext.remote
	}
	return net.TCPAddrFromAddrPort(c.rap)
}

func (c *evConn) TLS() *tls.ConnectionState {
	c.mu.Lock()
	t := c.tls
	c.mu.Unlock()
	if t == nil {
		return nil
	}
	st := t.conn.ConnectionState()
	return &st
}
