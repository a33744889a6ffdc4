package server

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sockpool/sockpool/bufs"
)

// aLongTimeAgo is a deadline in the past: setting it wakes a blocked Read.
var aLongTimeAgo = time.Unix(1, 0)

// threadedConn is a connection of the threaded engine. One pool worker runs
// serve for the connection's whole life: it reads into its buffer and calls
// the handler. Writes go straight to the socket from the calling goroutine,
// so nothing is queued and a Write that returns has handed its bytes to the
// kernel.
type threadedConn struct {
	connState
	srv *Server
	nc  net.Conn // the socket
	// rw is what reads and writes go through: nc, or the TLS connection
	// over it. Only the worker changes it, holding wmu; writers read it
	// under wmu.
	rw net.Conn
	workerTLS

	// wmu serializes writes (and their deadlines); it is held across the
	// socket write, which is what lets p be reused once Write returns.
	wmu sync.Mutex
	// rmu orders arming a read deadline against stop's wake-up, so a stop
	// that races the arming is never overwritten. Used only with timeouts.
	rmu sync.Mutex

	stopping atomic.Bool // stop reading: Close or Shutdown asked for it
	wclosed  atomic.Bool // writes fail with ErrConnClosed

	activity

	// raw lets the worker wait for readiness holding no buffer and take a
	// pooled one only for the read itself, so an idle connection holds only
	// its goroutine. Nil when nc is not a plain socket (TLS, a wrapper):
	// then the worker reads through nc into held, kept for the
	// connection's life.
	raw     syscall.RawConn
	rawRead func(fd uintptr) bool // c.readRaw, bound once
	// sock is nc's RawConn whenever nc is a plain socket, TLS or not: the
	// write path's (see writeTimed).
	sock syscall.RawConn
	// sent counts the bytes writeTimed handed to the kernel; handshaking
	// makes it write without WriteTimeout (the handshake has its own
	// deadline). Both under wmu, or the worker's before writers exist.
	sent        int64
	handshaking bool
	held        []byte
	// The result of the last readRaw that found data.
	rbuf []byte
	rn   int
	rerr error

	tuner bufs.Tuner
}

func newThreadedConn(s *Server, nc net.Conn) *threadedConn {
	c := &threadedConn{srv: s, nc: nc}
	c.rw = timedConn{nc, c}
	c.id = s.nextID.Add(1)
	c.tuner = s.tunerTemplate
	c.sock = rawConn(nc)
	if s.TLSConfig != nil {
		return c // reads go through crypto/tls, into held
	}
	if c.raw = c.sock; c.raw != nil {
		c.rawRead = c.readRaw
	}
	return c
}

// timedConn is the socket as a threaded connection writes to it, plain or
// under crypto/tls: its Write is writeTimed.
type timedConn struct {
	net.Conn
	c *threadedConn
}

func (t timedConn) Write(p []byte) (int, error) { return t.c.writeTimed(p) }

// writeDeadlined is writeTimed for a socket without a RawConn: each
// deadline covers one write call, and one that moved bytes before it
// passed is followed by another.
func (c *threadedConn) writeDeadlined(p []byte) (int, error) {
	wt := c.srv.WriteTimeout
	if wt <= 0 || c.handshaking {
		return c.nc.Write(p)
	}
	written := 0
	for {
		c.nc.SetWriteDeadline(time.Now().Add(wt))
		n, err := c.nc.Write(p[written:])
		written += n
		if err == nil || !isTimeout(err) || n == 0 {
			return written, err
		}
	}
}

// readSize is the size of the next read.
func (c *threadedConn) readSize() int {
	return c.tuner.Size()
}

// read reads once and returns the buffer it read into. With a RawConn it
// waits for readiness first and takes the buffer from bufs only when data is
// there; release gives it back.
func (c *threadedConn) read() (buf []byte, n int, err error) {
	if c.raw != nil {
		if err := c.raw.Read(c.rawRead); err != nil {
			return nil, 0, err
		}
		buf, c.rbuf = c.rbuf, nil
		return buf, c.rn, c.rerr
	}
	if size := c.readSize(); len(c.held) != size {
		bufs.Put(c.held)
		c.held = bufs.Get(size)
	}
	n, err = c.rw.Read(c.held)
	return c.held, n, err
}

// release ends a read: it tells the tuner what the read returned and gives
// back a buffer taken for one read.
func (c *threadedConn) release(buf []byte, n int) {
	c.tuner.Observe(n)
	if c.raw != nil && buf != nil {
		bufs.Put(buf)
	}
}

func (c *threadedConn) LocalAddr() net.Addr  { return c.nc.LocalAddr() }
func (c *threadedConn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// handshake runs the server side of a TLS handshake over the socket (after
// prefix, input already read), within HandshakeTimeout, and makes the
// connection read and write through TLS. Writers must be held off (wmu)
// for a StartTLS. A stop (Shutdown) wakes it with its past read deadline;
// then it returns errStopped and counts nothing.
func (c *threadedConn) handshake(config *tls.Config, prefix []byte) error {
	srv := c.srv
	var under net.Conn = timedConn{c.nc, c}
	if len(prefix) > 0 {
		under = &prefixConn{Conn: under, prefix: prefix}
	}
	tc := tls.Server(under, config)
	c.handshaking = true
	defer func() { c.handshaking = false }()
	c.rmu.Lock()
	if c.stopping.Load() {
		c.rmu.Unlock()
		return errStopped
	}
	c.nc.SetDeadline(time.Now().Add(srv.hsTimeout))
	c.rmu.Unlock()
	err := tc.Handshake()
	c.rmu.Lock()
	stopped := c.stopping.Load()
	if !stopped {
		c.nc.SetDeadline(time.Time{})
	}
	c.rmu.Unlock()
	switch {
	case stopped:
		return errStopped
	case err != nil:
		return srv.handshakeFailed(c, err)
	}
	srv.stats.tlsOK.Add(1)
	c.rw, c.raw = tc, nil
	c.tc.Store(tc)
	return nil
}

func (c *threadedConn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.wclosed.Load() {
		return 0, ErrConnClosed
	}
	srv := c.srv
	if c.up.Load() != nil {
		c.upPending = append(c.upPending, p...)
		c.bytesOut.Add(uint64(len(p)))
		return len(p), nil
	}
	n, err := c.rw.Write(p)
	c.bytesOut.Add(uint64(n))
	c.wrote(srv)
	if err != nil {
		switch {
		case c.wclosed.Load():
			err = ErrConnClosed
		case isTimeout(err):
			srv.stats.timeouts.Add(1)
			err = ErrWriteTimeout
		}
		c.abort(err)
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
	c.nc.SetReadDeadline(aLongTimeAgo)
	c.rmu.Unlock()
}

func (c *threadedConn) abort(reason error) {
	c.setReason(reason)
	c.stopping.Store(true)
	c.wclosed.Store(true)
	c.nc.Close()
}

// closeKind says how the worker closes the socket when the read loop ends.
type closeKind uint8

const (
	closeNone      closeKind = iota // not closing
	closeHard                       // close at once (error, timeout, panic)
	closeClean                      // the peer sent EOF: flush writes, close
	closeLingering                  // we chose to close: flush, FIN, drain, close
)

// serve runs the connection on its worker until it closes.
func (c *threadedConn) serve() {
	srv := c.srv
	kind := closeHard
	if srv.TLSConfig != nil {
		// The handler never sees a connection whose handshake failed.
		if err := c.handshake(srv.TLSConfig, nil); err != nil {
			c.stopping.Store(true)
			c.wclosed.Store(true)
			c.nc.Close()
			srv.connDone(c, false)
			return
		}
	}
	if oh, ok := srv.Handler.(OpenHandler); ok {
		if err := c.guard(func() { oh.OnOpen(c) }); err != nil {
			c.setReason(err)
			c.finish(closeHard)
			return
		}
	}
	var err error
	kind, err = c.readLoop()
	c.setReason(err)
	c.finish(kind)
	bufs.Put(c.held)
	c.held = nil
}

// readLoop reads and calls the handler until the connection must close, and
// says how to close it and why.
func (c *threadedConn) readLoop() (closeKind, error) {
	srv := c.srv
	h := srv.Handler
	timeouts := srv.IdleTimeout > 0 || srv.ReadTimeout > 0
	var readStart time.Time
	for {
		if timeouts {
			readStart = time.Now()
			if c.armRead(readStart) {
				return closeLingering, nil
			}
		} else if c.stopping.Load() {
			return closeLingering, nil
		}
		buf, n, err := c.read()
		if n > 0 {
			c.bytesIn.Add(uint64(n))
			perr := c.guard(func() { h.OnData(c, buf[:n]) })
			c.release(buf, n)
			if perr != nil {
				return closeHard, perr
			}
			if u := c.up.Load(); u != nil {
				c.wmu.Lock() // writes made meanwhile go out encrypted, after it
				c.up.Store(nil)
				herr := c.handshake(u.config, u.rest)
				if herr == nil && len(c.upPending) > 0 {
					_, herr = c.rw.Write(c.upPending)
				}
				c.upPending = nil
				c.wmu.Unlock()
				if herr == errStopped {
					return closeHard, nil
				}
				if herr != nil {
					return closeHard, herr
				}
			}
		} else {
			c.release(buf, 0)
		}
		if err == nil {
			continue
		}
		if c.stopping.Load() {
			// stop wakes the read with a past deadline (a timeout); abort
			// closes the socket (any other error).
			if c.wclosed.Load() && !isTimeout(err) {
				return closeHard, nil // aborted
			}
			return closeLingering, nil
		}
		if errors.Is(err, io.EOF) {
			return closeClean, nil
		}
		if timeouts && isTimeout(err) {
			if terr := c.expired(srv, readStart); terr != nil {
				return closeHard, terr
			}
			continue // writes kept the connection busy: not idle yet
		}
		return closeHard, tlsReadError(err)
	}
}

// armRead sets the read deadline for the next read; it reports true when the
// connection is stopping instead.
func (c *threadedConn) armRead(now time.Time) (stopping bool) {
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
		return true
	}
	c.nc.SetReadDeadline(d)
	return false
}

// guard calls f, turning a panic into a *PanicError.
func (c *threadedConn) guard(f func()) error { return guard(c.srv, c, f) }

// finish closes the socket the way kind says, runs OnClose and releases the
// connection's slot.
func (c *threadedConn) finish(kind closeKind) {
	c.stopping.Store(true)
	c.wclosed.Store(true)
	switch kind {
	case closeHard:
		c.nc.Close()
	case closeClean:
		c.wmu.Lock() // a Write in progress completes first
		if tc := c.tc.Load(); tc != nil {
			tc.Close() // close_notify first
		} else {
			c.nc.Close()
		}
		c.wmu.Unlock()
	case closeLingering:
		c.wmu.Lock()
		c.lingerClose()
		c.wmu.Unlock()
	}
	c.srv.connDone(c, true)
}

// lingerClose sends FIN, then reads and discards until the peer closes too,
// goes quiet, or the linger time passes (see lingerQuiet), then closes. Closing with unread input would send
// RST and could destroy replies the peer has not read yet. The bound is time,
// not bytes: a peer with megabytes of echoes still to read keeps sending
// until it reads our FIN, and cutting it off early is exactly the RST we
// want to avoid.
func (c *threadedConn) lingerClose() {
	defer c.nc.Close()
	if tc := c.tc.Load(); tc != nil {
		// close_notify, then FIN below. The drain reads the socket, not
		// TLS: what the peer still sends is discarded unread.
		tc.CloseWrite()
	}
	cw, ok := c.nc.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	buf := bufs.Get(drainSize)
	defer bufs.Put(buf)
	early := shutdownLingerEnds(c.closeReason())
	now := time.Now()
	end := now.Add(lingerFor(c.closeReason()))
	quiet := now.Add(lingerQuiet)
	for now.Before(quiet) && now.Before(end) {
		if early && c.delivered() {
			return
		}
		d := quiet
		if end.Before(d) {
			d = end
		}
		if poll := now.Add(lingerPoll); early && poll.Before(d) {
			d = poll
		}
		c.rmu.Lock()
		c.nc.SetReadDeadline(d)
		c.rmu.Unlock()
		n, err := c.nc.Read(buf)
		now = time.Now()
		if n > 0 {
			quiet = now.Add(lingerQuiet)
		}
		if err != nil && !isTimeout(err) {
			return // the peer's EOF, or the socket failed
		}
	}
}

// delivered reports whether the peer has everything written to the socket
// (false when that cannot be told).
func (c *threadedConn) delivered() bool {
	raw := rawConn(c.nc)
	if raw == nil {
		return false
	}
	ok := false
	raw.Control(func(fd uintptr) { ok = delivered(int(fd)) })
	return ok
}
