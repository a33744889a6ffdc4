package server

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockpool/sockpool/bufs"
)

// threadedConn is a connection of the threaded engines, Threaded and
// ThreadedSyscall. One pool worker runs serve for the connection's whole
// life: it reads and calls the handler. Writes go straight to the socket
// from the calling goroutine, so nothing is queued and a Write that returns
// has handed its bytes to the kernel. What differs between the two engines
// is the transport: how the socket is waited on, read, written, woken and
// closed.
type threadedConn struct {
	connState
	srv *Server
	tr  transport
	workerTLS

	// wmu serializes writes; it is held across the socket write, which is
	// what lets p be reused once Write returns. A StartTLS handshake and
	// finish hold it too, so no write runs under them.
	wmu sync.Mutex
	// rmu orders arming a read deadline against stop's wake-up, so a stop
	// that races the arming is never overwritten.
	rmu sync.Mutex

	stopping atomic.Bool // stop reading: Close, Shutdown or abort asked for it
	aborted  atomic.Bool // abort: close at once, without a linger
	wclosed  atomic.Bool // writes fail with ErrConnClosed

	activity
	gate  flowGate   // PauseReading, CloseWrite (threaded_flow.go)
	dial  *dialState // nil for an accepted connection
	tuner bufs.Tuner
	// held is the read buffer kept for the connection's life where the
	// transport does not lend one per read: TLS, blocking reads.
	held []byte
}

// transport is how a threaded connection uses its socket. A Write holds the
// connection's wmu around write; everything but wake, cut and the addresses
// runs on the connection's worker.
type transport interface {
	LocalAddr() net.Addr
	RemoteAddr() net.Addr

	// begin runs first on the connection's worker, end last.
	begin()
	end()

	// read waits for input and reads at most size bytes. The buffer is lent
	// for this read (release gives it back) or is c.held. A read returns
	// io.EOF at the peer's EOF, errInterrupted when a signal cut it short,
	// and an error whose Timeout is true when the read deadline passed (a
	// stop's wake-up is one).
	read(c *threadedConn, size int) (buf []byte, n int, err error)
	release(buf []byte)
	// idle gives back what the transport keeps for the next read: none
	// comes until reading resumes (holdReads).
	idle()
	// setReadDeadline bounds the reads that follow (zero: no bound).
	setReadDeadline(t time.Time) error
	// setHandshakeDeadline bounds a TLS handshake's reads and writes; zero
	// ends the handshake.
	setHandshakeDeadline(t time.Time) error
	// tlsConn is the net.Conn crypto/tls runs over; its reads return prefix
	// (input read before a StartTLS handshake) first.
	tlsConn(prefix []byte) net.Conn

	// write writes all of p, failing with a timeout only when the peer has
	// taken nothing for WriteTimeout (see pollTransport.write).
	write(p []byte) (int, error)
	// sendFile sends all of r with sendfile(2), under the same timeout; ok
	// is false, and nothing is sent, where it cannot (a socket that is not
	// plain, a system without sendfile).
	sendFile(r *fileRange) (n int64, ok bool, err error)

	// wake makes a blocked read return, leaving the socket usable (stop).
	wake()
	// cut shuts the socket down at once: blocked reads and writes return
	// (abort).
	cut()

	// closeWrite sends FIN; drain then reads and discards what arrives
	// until t, for the lingering close; delivered reports whether the peer
	// has taken everything written (see shutdownLingerEnds).
	closeWrite() error
	drain(buf []byte, t time.Time) (int, error)
	delivered() bool
	// close closes the socket: the worker's last use of it, under wmu.
	close()
}

// errInterrupted is a read that a signal cut short before any data.
var errInterrupted = errors.New("sockpool/server: read interrupted")

// newThreadedConn returns nc as a connection of the threaded engine: with
// blocking reads for ThreadedSyscall (not for TLS, which crypto/tls reads
// through a net.Conn, nor for a socket that is not plain), else on Go's
// poller.
func newThreadedConn(s *Server, nc net.Conn, d *dialState) (*threadedConn, error) {
	c := &threadedConn{srv: s, tuner: s.tunerTemplate, dial: d}
	tlsConf := c.tlsConfig()
	if s.syscallReads && tlsConf == nil {
		tr, err := newBlockingTransport(c, nc)
		if err != nil {
			return nil, err
		}
		c.tr = tr // nil for a socket that is not plain
	}
	if c.tr == nil {
		c.tr = newPollTransport(c, nc, tlsConf == nil)
	}
	c.id = s.nextID.Add(1)
	if d != nil {
		d.conn = c
	}
	return c, nil
}

func (c *threadedConn) dialed() *dialState { return c.dial }

// loopIndex is -1: a threaded connection has a worker, not a loop.
func (c *threadedConn) loopIndex() int { return -1 }

// tlsConfig is the configuration c begins TLS with, or nil: its Dialer's
// for a dialed connection, else the Server's.
func (c *threadedConn) tlsConfig() *tls.Config {
	if c.dial != nil {
		return c.dial.tls
	}
	return c.srv.TLSConfig
}

func (c *threadedConn) LocalAddr() net.Addr  { return c.tr.LocalAddr() }
func (c *threadedConn) RemoteAddr() net.Addr { return c.tr.RemoteAddr() }

func (c *threadedConn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked(p)
}

// writeLocked is Write under wmu.
func (c *threadedConn) writeLocked(p []byte) (int, error) {
	if c.wclosed.Load() {
		return 0, ErrConnClosed
	}
	if c.up.Load() != nil {
		c.upPending = append(c.upPending, p...)
		c.bytesOut.Add(uint64(len(p)))
		return len(p), nil
	}
	var n int
	var err error
	if tc := c.tc.Load(); tc != nil {
		n, err = tc.Write(p)
	} else {
		n, err = c.tr.write(p)
	}
	return n, c.countWrite(int64(n), err)
}

// countWrite counts n bytes written and, after a failed write, closes c: see
// writeFailed.
func (c *threadedConn) countWrite(n int64, err error) error {
	c.bytesOut.Add(uint64(n))
	c.wrote(c.srv)
	if err != nil {
		err = c.writeFailed(err)
	}
	return err
}

// writeFailed closes c after a write failed with err, and returns what the
// writer gets: ErrConnClosed if c was closing anyway, ErrWriteTimeout for a
// peer that took nothing in time, else err.
func (c *threadedConn) writeFailed(err error) error {
	switch {
	case c.wclosed.Load():
		err = ErrConnClosed
	case isTimeout(err):
		c.srv.stats.timeouts.Add(1)
		err = ErrWriteTimeout
	}
	c.abort(err)
	return err
}

// SendFile sends the range with sendfile(2) where the transport can, and
// otherwise (TLS, a StartTLS pending, another system) through writeLocked
// a chunk at a time; either way under wmu, so in order with Writes.
func (c *threadedConn) SendFile(f *os.File, offset, count int64) (int64, error) {
	r, short, err := openRange(f, offset, count)
	if err != nil {
		return 0, err
	}
	defer r.done()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.wclosed.Load() {
		return 0, ErrConnClosed
	}
	if r.n == 0 {
		return 0, short
	}
	var n int64
	ok := false
	if c.up.Load() == nil && c.tc.Load() == nil {
		n, ok, err = c.tr.sendFile(r)
	}
	if !ok {
		n, err = copyRange(c.writeLocked, r)
		if err != nil && !c.wclosed.Load() {
			c.abort(err) // the file failed, not the socket: see Conn.SendFile
		}
	} else {
		err = c.countWrite(n, err)
	}
	if err == nil {
		err = short
	}
	return n, err
}

func (c *threadedConn) CloseWithError(err error) error {
	c.setReason(err)
	return c.Close()
}

func (c *threadedConn) Close() error {
	c.wclosed.Store(true)
	c.stop(nil)
	return nil
}

func (c *threadedConn) stop(reason error) {
	c.setReason(reason)
	if c.stopping.Swap(true) {
		return
	}
	c.rmu.Lock()
	c.tr.wake()
	c.openGateLocked()
	c.rmu.Unlock()
}

func (c *threadedConn) abort(reason error) {
	c.setReason(reason)
	c.aborted.Store(true)
	c.stopping.Store(true)
	c.wclosed.Store(true)
	c.tr.cut()
	c.rmu.Lock()
	c.openGateLocked()
	c.rmu.Unlock()
}

// serve runs the connection on its worker until it closes.
func (c *threadedConn) serve() {
	c.tr.begin()
	defer c.tr.end()
	srv := c.srv
	if conf := c.tlsConfig(); conf != nil {
		// The handler never sees a connection whose handshake failed.
		if err := c.handshake(conf, nil); err != nil {
			if c.dial != nil {
				c.dial.open(err)
			}
			c.stopping.Store(true)
			c.wclosed.Store(true)
			c.tr.close()
			srv.connDone(c, false)
			return
		}
	}
	kind := closeHard
	var err error
	if oh, ok := srv.handlerOf(c.dial).(OpenHandler); ok {
		err = guard(srv, c, func() { oh.OnOpen(c) })
	}
	if c.dial != nil {
		c.dial.open(err)
	}
	if err == nil {
		kind, err = c.readLoop()
	}
	c.setReason(err)
	c.finish(kind)
	bufs.Put(c.held)
	c.held = nil
}

// read reads once, through crypto/tls once the connection is TLS.
func (c *threadedConn) read() (buf []byte, n int, err error) {
	size := c.tuner.Size()
	tc := c.tc.Load()
	if tc == nil {
		return c.tr.read(c, size)
	}
	if len(c.held) != size {
		bufs.Put(c.held)
		c.held = bufs.Get(size)
	}
	n, err = tc.Read(c.held)
	return c.held, n, err
}

// readLoop reads and calls the handler until the connection must close, and
// says how to close it and why.
func (c *threadedConn) readLoop() (closeKind, error) {
	srv := c.srv
	h := srv.handlerOf(c.dial)
	timeouts := srv.IdleTimeout > 0 || srv.ReadTimeout > 0
	var readStart time.Time
	for {
		if c.gate.paused.Load() {
			if err := c.holdReads(false); err != nil {
				return closeHard, err
			}
		}
		if timeouts {
			readStart = time.Now()
			stopping, err := c.armRead(readStart)
			if err != nil {
				return closeHard, err
			}
			if stopping {
				return closeLingering, nil
			}
		} else if c.stopping.Load() {
			return closeLingering, nil
		}
		lent := c.tc.Load() == nil // read through the transport, not TLS
		buf, n, err := c.read()
		if n > 0 {
			c.bytesIn.Add(uint64(n))
			perr := guard(srv, c, func() { h.OnData(c, buf[:n]) })
			c.tuner.Observe(n)
			if lent {
				c.tr.release(buf) // even if OnData began a StartTLS
			}
			if perr != nil {
				return closeHard, perr
			}
			if u := c.up.Load(); u != nil {
				switch herr := c.upgrade(u); {
				case herr == errStopped:
					return closeHard, nil // Shutdown or Close: its reason stands
				case herr != nil:
					return closeHard, herr
				}
			}
		} else if lent {
			c.tr.release(buf)
		}
		switch {
		case err == nil:
			continue
		case c.aborted.Load():
			return closeHard, nil
		case c.stopping.Load():
			return closeLingering, nil // a stop's wake-up, or the read's own end
		case errors.Is(err, io.EOF):
			return c.peerEOF(h)
		case err == errInterrupted:
			continue // a signal that was not a stop: the runtime's own
		case isTimeout(err):
			if !timeouts {
				continue // the blocking transport's long default timeout
			}
			if terr := c.expired(srv, readStart); terr != nil {
				return closeHard, terr
			}
			continue // writes kept the connection busy: not idle yet
		}
		return closeHard, tlsReadError(err)
	}
}

// peerEOF ends reading at the peer's EOF: the connection closes cleanly,
// after OnEOF and the handler's end of it when the handler is an
// EOFHandler.
func (c *threadedConn) peerEOF(h Handler) (closeKind, error) {
	eh, ok := h.(EOFHandler)
	if !ok {
		return closeClean, nil
	}
	if err := guard(c.srv, c, func() { eh.OnEOF(c) }); err != nil {
		return closeHard, err
	}
	if err := c.holdReads(true); err != nil {
		return closeHard, err
	}
	if c.aborted.Load() {
		return closeHard, nil
	}
	return closeClean, nil
}

// armRead sets the read deadline for the next read; it reports true when the
// connection is stopping instead.
func (c *threadedConn) armRead(now time.Time) (stopping bool, err error) {
	srv := c.srv
	var d time.Time
	if srv.ReadTimeout > 0 {
		d = now.Add(srv.ReadTimeout)
	}
	if srv.IdleTimeout > 0 {
		if id := c.lastActive(now).Add(srv.IdleTimeout); d.IsZero() || id.Before(d) {
			d = id
		}
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.stopping.Load() {
		return true, nil
	}
	return false, c.tr.setReadDeadline(d)
}

// finish closes the socket the way kind says, runs OnClose and releases the
// connection's slot.
func (c *threadedConn) finish(kind closeKind) {
	c.stopping.Store(true)
	c.wclosed.Store(true)
	if kind == closeHard {
		c.tr.cut() // a Write blocked in the socket returns
	}
	c.wmu.Lock() // a Write in progress completes first
	if tc := c.tc.Load(); tc != nil && kind != closeHard {
		tc.CloseWrite() // close_notify before FIN
	}
	if kind == closeLingering {
		c.linger()
	}
	c.tr.close()
	c.wmu.Unlock()
	c.srv.connDone(c, true)
}

// linger sends FIN, then reads and discards until the peer closes too, goes
// quiet, or the linger time passes (see lingerQuiet), and during Shutdown
// until the peer has all output (see shutdownLingerEnds). Closing with unread
// input would send RST and could destroy replies the peer has not read yet.
// The bound is time, not bytes: a peer with megabytes of echoes still to
// read keeps sending until it reads our FIN, and cutting it off early is
// exactly the RST to avoid. The drain reads the socket, not TLS: what the
// peer still sends is discarded unread.
func (c *threadedConn) linger() {
	if c.tr.closeWrite() != nil {
		return
	}
	buf := bufs.Get(drainSize)
	defer bufs.Put(buf)
	early := shutdownLingerEnds(c.closeReason())
	now := time.Now()
	end := now.Add(lingerFor(c.closeReason()))
	quiet := now.Add(lingerQuiet)
	for now.Before(quiet) && now.Before(end) {
		if early && c.tr.delivered() {
			return
		}
		d := quiet
		if end.Before(d) {
			d = end
		}
		if poll := now.Add(lingerPoll); early && poll.Before(d) {
			d = poll
		}
		n, err := c.tr.drain(buf, d)
		now = time.Now()
		if n > 0 {
			quiet = now.Add(lingerQuiet)
		}
		if err != nil && !isTimeout(err) || c.aborted.Load() {
			return // the peer's EOF, the socket failed, or Close cut it short
		}
	}
}

// activity is what a threaded connection keeps to apply IdleTimeout and
// ReadTimeout: when it last wrote.
type activity struct {
	lastWrite atomic.Int64 // unix nanoseconds; kept only when IdleTimeout is set
}

// wrote records a write, when s has an IdleTimeout to keep it for.
func (a *activity) wrote(s *Server) {
	if s.IdleTimeout > 0 {
		a.lastWrite.Store(time.Now().UnixNano())
	}
}

// lastActive returns the later of readStart and the last write.
func (a *activity) lastActive(readStart time.Time) time.Time {
	if lw := a.lastWrite.Load(); lw > readStart.UnixNano() {
		return time.Unix(0, lw)
	}
	return readStart
}

// expired is the verdict on a read begun at readStart that has just timed
// out: ErrReadTimeout or ErrIdleTimeout (counted in s's Stats), or nil when
// writes since kept the connection busy and the read should go on.
func (a *activity) expired(s *Server, readStart time.Time) error {
	now := time.Now()
	if s.ReadTimeout > 0 && now.Sub(readStart) >= s.ReadTimeout {
		s.stats.timeouts.Add(1)
		return ErrReadTimeout
	}
	if s.IdleTimeout > 0 && now.Sub(a.lastActive(readStart)) >= s.IdleTimeout {
		s.stats.timeouts.Add(1)
		return ErrIdleTimeout
	}
	return nil
}
