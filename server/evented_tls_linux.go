//go:build linux

package server

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockpool/sockpool/pool"
)

// TLS on the event loops. crypto/tls has no API to process records handed
// to it; it reads from a net.Conn. So each TLS connection's *tls.Conn runs
// over a tlsTransport, a net.Conn of ours, which works in two modes:
//
//   - socket mode, for the handshake, on a pool worker: reads and writes go
//     to a real net.Conn (the accepted socket, or for StartTLS a temporary
//     duplicate of the loop's descriptor), with HandshakeTimeout as its
//     deadline. A handshake is not resumable after a transport error, so it
//     cannot be driven by the loop's non-blocking reads.
//   - memory mode, afterwards, on the loop: Read serves the ciphertext the
//     loop has just read from the socket and, when that is used up, returns
//     a temporary net.Error, which crypto/tls returns from tls.Conn.Read
//     without poisoning the connection, keeping a partial record for the
//     next call. Write sends ciphertext down the connection's ordered output
//     path (straight to the socket, or queued and flushed on EPOLLOUT).
//
// The tls.Conn is the same across the switch, so input it read ahead during
// the handshake (a client may send data right after its Finished) stays in
// its buffer; the loop drains it once the connection is registered.
//
// Chosen over the fallback, a goroutine per connection reading through
// crypto/tls (which is what the threaded engine does), because it keeps the
// evented engine's point: an idle TLS connection holds no goroutine and no
// read buffer of ours (crypto/tls keeps its own record buffers), and the
// cost is close (docs/design.md, "Measurements behind choices").

// errWouldBlock is what the transport's Read returns in memory mode when it
// has no more input: crypto/tls keeps its state across an error whose
// Temporary() is true, which os.ErrDeadlineExceeded's is (its type assertion
// to net.Error must see it unwrapped).
var errWouldBlock = os.ErrDeadlineExceeded

// Handshake phases of a tlsTransport, under its mu.
const (
	hsPending     = iota // a StartTLS handshake is waiting for a worker
	hsRunning            // on a worker, in socket mode
	hsInterrupted        // Shutdown or Close cut it short
	hsDone               // memory mode
)

// tlsTransport is the net.Conn under an evented connection's tls.Conn.
type tlsTransport struct {
	c    *evConn
	conn *tls.Conn

	mu    sync.Mutex
	phase int
	nc    net.Conn // socket mode: the socket; nil afterwards

	prefix readAhead // socket mode: input read before a StartTLS handshake
	mem    bool      // memory mode; set by the worker before the loop takes over

	// Memory mode, owned by the loop.
	in       []byte // ciphertext read by the loop, not yet taken by crypto/tls
	own      bool   // in is a private copy, not the loop's read buffer
	buffered bool   // crypto/tls may hold input not yet handed to the handler
}

func newTLSTransport(c *evConn, nc net.Conn, prefix []byte, config *tls.Config) *tlsTransport {
	t := &tlsTransport{c: c, nc: nc, prefix: prefix}
	t.conn = newTLS(t, config, c.dialed())
	if nc != nil {
		t.phase = hsRunning
	}
	return t
}

func (t *tlsTransport) Read(p []byte) (int, error) {
	if !t.mem {
		if n, ok := t.prefix.read(p); ok {
			return n, nil
		}
		return t.nc.Read(p)
	}
	if len(t.in) == 0 {
		return 0, errWouldBlock
	}
	n := copy(p, t.in)
	t.in = t.in[n:]
	if len(t.in) == 0 {
		t.in, t.own = nil, false
	}
	return n, nil
}

func (t *tlsTransport) Write(p []byte) (int, error) {
	if !t.mem {
		return t.nc.Write(p)
	}
	// crypto/tls calls this holding its output lock, so ciphertext arrives
	// here in the order of the plaintext Writes. sendLocked never waits:
	// writers wait for queue space before they take crypto/tls's lock
	// (evConn.writeTLS), or the loop could block on that lock behind a
	// writer that waits for the loop to flush.
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wclosed {
		return 0, ErrConnClosed
	}
	return c.sendLocked(p)
}

// Close does nothing: the engine closes the descriptor.
func (t *tlsTransport) Close() error { return nil }

func (t *tlsTransport) LocalAddr() net.Addr  { return t.c.LocalAddr() }
func (t *tlsTransport) RemoteAddr() net.Addr { return t.c.RemoteAddr() }

// Deadlines apply in socket mode only; crypto/tls sets one around its
// close_notify, which in memory mode never blocks.
func (t *tlsTransport) SetDeadline(d time.Time) error {
	if t.mem {
		return nil
	}
	return t.nc.SetDeadline(d)
}

func (t *tlsTransport) SetReadDeadline(d time.Time) error {
	if t.mem {
		return nil
	}
	return t.nc.SetReadDeadline(d)
}

func (t *tlsTransport) SetWriteDeadline(d time.Time) error {
	if t.mem {
		return nil
	}
	return t.nc.SetWriteDeadline(d)
}

// interrupt cuts a pending or running handshake short (Shutdown, Close). It
// reports false when there is none: the handshake has finished.
func (t *tlsTransport) interrupt() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch t.phase {
	case hsPending, hsRunning:
		t.phase = hsInterrupted
		if t.nc != nil {
			t.nc.SetDeadline(aLongTimeAgo)
		}
		return true
	}
	return false
}

// interrupted reports whether Shutdown or Close has cut the handshake short.
func (t *tlsTransport) interrupted() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.phase == hsInterrupted
}

// handshake runs the handshake over nc within the server's
// HandshakeTimeout and, if it succeeds, switches to memory mode. It returns
// errStopped when interrupted.
func (t *tlsTransport) handshake(s *Server, nc net.Conn) error {
	t.mu.Lock()
	if t.phase == hsInterrupted {
		t.mu.Unlock()
		return errStopped
	}
	t.phase, t.nc = hsRunning, nc
	nc.SetDeadline(time.Now().Add(s.hsTimeout))
	t.mu.Unlock()
	err := t.conn.Handshake()
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.phase == hsInterrupted:
		return errStopped
	case err != nil:
		return s.handshakeFailed(t.c, err)
	}
	s.stats.tlsOK.Add(1)
	t.mem, t.nc, t.prefix = true, nil, nil
	t.buffered = true // input read ahead during the handshake
	return nil
}

// done ends the handshake phase after a successful handshake, once the
// worker has set up what the loop needs (the descriptor). It reports false
// if the handshake was interrupted meanwhile. Until it returns true, Close
// and Shutdown interrupt rather than post to the loop.
func (t *tlsTransport) done() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.phase == hsInterrupted {
		return false
	}
	t.phase = hsDone
	return true
}

// feed hands the transport ciphertext the loop has read.
func (t *tlsTransport) feed(p []byte) {
	if len(t.in) == 0 {
		t.in, t.own = p, false
		return
	}
	t.keep()
	t.in = append(t.in, p...)
}

// keep copies unread input out of the loop's buffer, which the next read
// of another connection overwrites.
func (t *tlsTransport) keep() {
	if !t.own && len(t.in) > 0 {
		t.in, t.own = append([]byte(nil), t.in...), true
	}
}

// readPlain fills p with plaintext, record after record, until p is full or
// crypto/tls needs more input (errWouldBlock) or fails.
func (t *tlsTransport) readPlain(p []byte) (n int, err error) {
	for n < len(p) {
		var m int
		m, err = t.conn.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// serveTLS starts a TLS connection with config: its handshake runs on a
// pool worker over the socket, which the loop takes over when it
// succeeds. d is the dial of a dialed connection (the handshake's client
// side), or nil.
func (e *evented) serveTLS(nc net.Conn, hint int, config *tls.Config, d *dialState) error {
	s := e.srv
	// The loop's duplicate of the descriptor is taken here, on the
	// acceptor, as for a plain connection: out of descriptors, the acceptor
	// backs off and stops accepting (Server.start), while the handshakes
	// under way, each holding what it needs, finish and free theirs. Taken
	// after the handshake, every handshake could find none left.
	fd, err := dupFD(nc, "evented engine")
	if err != nil {
		return err
	}
	l := e.pick(hint)
	c := newEvConn(l, fd)
	c.setAddrs(nc.LocalAddr(), nc.RemoteAddr())
	c.setDial(d)
	c.tls = newTLSTransport(c, nil, nil, config)
	c.hs.Store(c.tls)
	if !s.trackConn(c) {
		unix.Close(fd)
		return ErrServerClosed
	}
	// The loop must not exit while the handshake may still post to it.
	l.pending.Add(1)
	if err := s.submitWait(func() { c.acceptHandshake(nc) }); err != nil {
		l.pending.Add(-1)
		s.untrackConn(c)
		unix.Close(fd)
		return err
	}
	return nil
}

// acceptHandshake is the pool task of a new TLS connection: the handshake
// runs over nc, which is then closed, leaving the loop its duplicate.
func (c *evConn) acceptHandshake(nc net.Conn) {
	l, s, t := c.l, c.l.srv, c.tls
	err := t.handshake(s, nc)
	nc.Close() // the duplicate keeps the socket open
	if err == nil && !t.done() {
		err = errStopped
	}
	c.hs.Store(nil)
	if err != nil {
		if d := c.dialed(); d != nil {
			d.open(err)
		}
		unix.Close(c.fd)
		s.connDone(c, false) // never opened: no OnClose
		if !l.post(unpendTask, nil) {
			l.pending.Add(-1)
		}
		return
	}
	if !l.post((*loop).register, c) {
		l.pending.Add(-1)
		l.closeConn(c, ErrServerClosed)
		l.finalize(c)
	}
}

// unpendTask ends a registration that will not happen (a failed
// handshake); posting it also wakes a loop waiting to quit.
var unpendTask = func(l *loop, _ *evConn) { l.pending.Add(-1) }

// deliverTLS feeds ciphertext to c's TLS connection and hands the
// plaintext to the handler. It reports false when the connection was closed
// or has no more input (the peer's close_notify).
func (l *loop) deliverTLS(c *evConn, cipher []byte) bool {
	t := c.tls
	t.feed(cipher)
	if l.plain == nil {
		l.plain = make([]byte, max(cap(l.buf), maxPlaintext))
	}
	plain := l.plain[:max(len(l.buf), maxPlaintext)]
	for {
		n, err := t.readPlain(plain)
		if n > 0 {
			if !l.deliver(c, plain[:n]) {
				return false
			}
			if c.paused != 0 || c.state >= evDraining || c.flag(flagStopAsked) || c.up.Load() != nil {
				// More may wait in crypto/tls and in the transport: take
				// it up when reading resumes.
				t.keep()
				t.buffered = true
				return true
			}
		}
		switch {
		case err == nil:
			continue // plain was full
		case err == errWouldBlock:
			t.buffered = false
			return true
		case errors.Is(err, io.EOF): // close_notify: no more input
			t.in, t.buffered = nil, false
			l.peerEOF(c)
			return false
		}
		l.closeConn(c, tlsReadError(err))
		return false
	}
}

// maxPlaintext is the most plaintext one TLS record carries.
const maxPlaintext = 16 << 10

// writeTLS encrypts p through c's TLS connection. It is called with c.mu
// held and returns with it released.
func (c *evConn) writeTLS(p []byte) (int, error) {
	if c.upg != nil || c.up.Load() != nil {
		// StartTLS has been called: keep the plaintext, which the loop
		// encrypts once the handshake is done, before any later Write.
		defer c.mu.Unlock()
		if c.writesRefusedLocked() {
			return 0, ErrConnClosed
		}
		if c.upg != nil {
			c.upg.pending = append(c.upg.pending, p...)
		} else {
			u := c.up.Load()
			u.pending = append(u.pending, p...)
		}
		c.bytesOut.Add(uint64(len(p)))
		return len(p), nil
	}
	// As in Write: off the loop, wait at high water, and with EventedPool
	// encrypt a large p a record at a time; the cheap tests first.
	hw, q := int64(c.l.srv.highWater), c.queued.Load()
	mayWait := q >= hw && !c.wclosed && !c.flag(flagClosedByHandler)
	inRecords := c.l.srv.Engine == EventedPool && len(p) > maxPlaintext && q+int64(len(p)) > hw
	if (mayWait || inRecords) && !onLoop() {
		if inRecords {
			c.mu.Unlock()
			return c.writeTLSInRecords(p)
		}
		// Wait here, before crypto/tls's output lock (see
		// tlsTransport.Write). Writers that wait together may each add one
		// Write above the high mark.
		if err := c.waitSpaceLocked(); err != nil {
			c.mu.Unlock()
			return 0, err
		}
	}
	closed := c.writesRefusedLocked()
	if !closed && c.deferring() {
		// A file range waits ahead: p waits behind it as plaintext, to be
		// encrypted in turn (see pumpLater).
		defer c.mu.Unlock()
		if err := c.deferLocked(p); err != nil {
			return 0, err
		}
		c.bytesOut.Add(uint64(len(p)))
		return len(p), nil
	}
	t := c.tls
	c.mu.Unlock()
	if closed {
		return 0, ErrConnClosed
	}
	n, err := t.conn.Write(p)
	c.bytesOut.Add(uint64(n))
	if err != nil && !errors.Is(err, ErrOutputLimit) {
		// The socket failed (the loop closes it), or close_notify is out.
		err = ErrConnClosed
	}
	return n, err
}

// writeTLSInRecords is writeTLS for a large p off the loop with
// EventedPool: it encrypts one record's worth at a time, waiting for queue space
// before each, so that the ciphertext queued stays within WriteHighWater
// plus one record instead of growing by all of p. wmu keeps the Write's
// records together against other writers off the loop; with EventedPool
// nothing else writes data from the loop.
func (c *evConn) writeTLSInRecords(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	written := 0
	for written < len(p) {
		c.mu.Lock()
		n, err := c.writeTLS(p[written : written+min(maxPlaintext, len(p)-written)]) // releases mu
		written += n
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// submitWait submits a handshake task to the pool. The evented engine's
// pool rejects when full (its loops must never wait), but the acceptor may:
// under Overflow Block it retries until a worker is free, so excess clients
// wait in the listen backlog as they do for a free connection slot.
func (s *Server) submitWait(task func()) error {
	err := s.pool.Submit(s.ctx, task)
	if s.Overflow != pool.Block {
		return err
	}
	for delay := time.Millisecond; errors.Is(err, pool.ErrOverload); delay = min(2*delay, 50*time.Millisecond) {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-s.done:
			t.Stop()
			return ErrServerClosed
		}
		err = s.pool.Submit(s.ctx, task)
	}
	return err
}
