//go:build linux

package server

import (
	"errors"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockpool/sockpool/bufs"
	"golang.org/x/sys/unix"
)

// syscallReads reports whether the threaded-syscall engine is available here.
const syscallReads = true

// noReadTimeout is the SO_RCVTIMEO of a connection without read or idle
// timeouts: long, but set, since a socket without one restarts a read
// interrupted by a signal instead of failing it with EINTR (see stop).
const noReadTimeout = time.Hour

// serveSyscall starts nc on a worker with ThreadedSyscall. It reports false,
// with nothing done, for a connection that is not a plain socket (TLS, a
// wrapper), which is served as with Threaded instead.
func (e *threaded) serveSyscall(nc net.Conn) (bool, error) {
	c, err := newSyscallConn(e.srv, nc)
	if c == nil {
		return false, err
	}
	if err := e.start(c, c.serve); err != nil {
		unix.Close(c.fd)
		return true, err
	}
	return true, nil
}

// sysConn is a threaded connection with ThreadedSyscall: its socket has left
// Go's netpoller (a blocking duplicate descriptor), and its worker reads
// with blocking read(2) into a buffer it keeps for the connection's life.
// Writes are blocking write(2) calls from the writing goroutine.
//
// The descriptor is closed exactly once, by the worker in finish, under
// both wmu (no write is using it) and fdmu (no stop or abort is about to
// shut it down): a number closed while another goroutine still used it
// could be reused by a new socket, and the write would go to a stranger.
type sysConn struct {
	connState
	srv          *Server
	fd           int
	laddr, raddr net.Addr

	wmu  sync.Mutex // serializes writes, held across the write(2) calls
	fdmu sync.Mutex // guards fdClosed against shutdown(2) from stop and abort

	fdClosed bool        // under fdmu and wmu
	sent     int64       // bytes written to fd, under wmu (see writeFD)
	tid      int         // the worker's thread, locked for the connection's life
	inRead   atomic.Bool // the worker is in (or about to enter) read(2)
	reads    atomic.Uint64
	aborted  atomic.Bool // abort: close at once, no linger
	stopping atomic.Bool
	wclosed  atomic.Bool

	activity
	rcvTimeo time.Duration

	workerTLS // after StartTLS, reads and writes go through tc

	buf   []byte
	tuner bufs.Tuner
}

// newSyscallConn takes nc's socket out of the netpoller for
// ThreadedSyscall. It returns nil, nil for a connection that is not a plain socket
// (a TLS connection, a wrapper): that one is served as with Threaded.
func newSyscallConn(s *Server, nc net.Conn) (*sysConn, error) {
	switch socket(nc).(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		return nil, nil
	}
	fd, err := dupFD(nc, "syscall read mode")
	if err != nil {
		return nil, err
	}
	c := &sysConn{srv: s, fd: fd, laddr: nc.LocalAddr(), raddr: nc.RemoteAddr()}
	nc.Close() // the duplicate keeps the socket open
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("fcntl", err)
	}
	// An SO_RCVTIMEO makes a signal interrupt a blocked read (see stop);
	// armRead sets the read and idle timeouts in its place.
	tv := unix.NsecToTimeval(noReadTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("setsockopt", err)
	}
	c.rcvTimeo = noReadTimeout
	if s.WriteTimeout > 0 {
		// A blocking write that the peer does not drain returns after
		// SO_SNDTIMEO (EAGAIN, or the count written): a quarter of
		// WriteTimeout, so that writeFD samples the peer's progress.
		tv := unix.NsecToTimeval(max(s.WriteTimeout/4, time.Millisecond).Nanoseconds())
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); err != nil {
			unix.Close(fd)
			return nil, os.NewSyscallError("setsockopt", err)
		}
	}
	c.id = s.nextID.Add(1)
	c.tuner = s.tunerTemplate
	return c, nil
}

func (c *sysConn) LocalAddr() net.Addr  { return c.laddr }
func (c *sysConn) RemoteAddr() net.Addr { return c.raddr }

func (c *sysConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: c.laddr.Network(), Source: c.laddr, Addr: c.raddr, Err: os.NewSyscallError(op, err)}
}

func (c *sysConn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.wclosed.Load() {
		return 0, ErrConnClosed
	}
	if c.up.Load() != nil {
		c.upPending = append(c.upPending, p...)
		c.bytesOut.Add(uint64(len(p)))
		return len(p), nil
	}
	var written int
	var err error
	if tc := c.tc.Load(); tc != nil {
		written, err = tc.Write(p)
		if errors.Is(err, ErrWriteTimeout) {
			err = ErrWriteTimeout // unwrapped from crypto/tls's permanent error
		}
	} else {
		written, err = c.writeFD(p)
	}
	c.bytesOut.Add(uint64(written))
	c.wrote(c.srv)
	if err != nil {
		c.abort(err)
	}
	return written, err
}

// writeFD writes all of p with blocking write(2) calls. The caller holds
// wmu. With a WriteTimeout it fails only when the peer has taken nothing
// for that long: each time a write returns early (SO_SNDTIMEO, a quarter
// of WriteTimeout) it samples the peer's progress, bytes the socket
// accepted or bytes the peer took of what the kernel holds, for the reason
// given on threadedConn.writeTimed.
func (c *sysConn) writeFD(p []byte) (int, error) {
	srv := c.srv
	var progressed time.Time // when the peer last took bytes
	var mark int64           // what it had taken at the last sample
	marked := false
	if srv.WriteTimeout > 0 {
		progressed = time.Now()
	}
	written := 0
	for written < len(p) {
		n, werr := unix.Write(c.fd, p[written:])
		if n > 0 {
			written += n
			c.sent += int64(n)
		}
		switch {
		case werr == unix.EINTR, werr == nil && written == len(p):
			continue
		case werr == nil, werr == unix.EAGAIN:
			if srv.WriteTimeout <= 0 {
				continue // a signal cut the write short
			}
			now := time.Now()
			held, _ := unsent(c.fd)
			took := c.sent - int64(held)
			if n > 0 || marked && took > mark {
				progressed = now
			}
			mark, marked = took, true
			if now.Sub(progressed) < srv.WriteTimeout {
				continue
			}
			srv.stats.timeouts.Add(1)
			return written, ErrWriteTimeout
		case c.wclosed.Load():
			return written, ErrConnClosed
		}
		return written, c.opError("write", werr)
	}
	return written, nil
}

func (c *sysConn) CloseWithError(err error) error {
	c.setReason(err)
	return c.Close()
}

func (c *sysConn) Close() error {
	c.wclosed.Store(true)
	c.stop(nil)
	return nil
}

// stop asks the worker to finish; a worker in the handler sees stopping
// before its next read, and one blocked in read(2) is woken with a signal.
//
// shutdown(SHUT_RD) would wake it too, but cannot be undone, and once the
// read side is shut and our FIN is out, Linux answers any further data from
// the peer with RST (tcp_rcv_state_process, RFC 1122): a peer still
// sending loses the replies it has not read yet, which is what the
// lingering close is there to prevent (the conformance suite's shutdown
// test caught it). A signal instead interrupts the read with EINTR, which
// socket reads return despite SA_RESTART because the socket has an
// SO_RCVTIMEO (signal(7)). SIGURG is the runtime's own preemption signal, so
// a stray one is harmless. A signal that lands just before the thread
// enters read(2) is lost, so it is repeated until the read returns.
func (c *sysConn) stop(reason error) {
	c.setReason(reason)
	if c.stopping.Swap(true) {
		return
	}
	c.wake(c.reads.Load(), time.Millisecond)
}

// wake signals the worker's thread while it is still in the read it was in
// when stop began (the read counter has not moved), with a growing interval.
func (c *sysConn) wake(seq uint64, next time.Duration) {
	if !c.inRead.Load() || c.reads.Load() != seq {
		return
	}
	unix.Tgkill(unix.Getpid(), c.tid, unix.SIGURG)
	if next > lingerMax {
		return // the read's own SO_RCVTIMEO ends it
	}
	time.AfterFunc(next, func() { c.wake(seq, 2*next) })
}

func (c *sysConn) abort(reason error) {
	c.setReason(reason)
	c.aborted.Store(true)
	c.stopping.Store(true)
	c.wclosed.Store(true)
	c.shutdown(unix.SHUT_RDWR) // wakes the worker and any writer
}

// shutdown shuts the socket down unless the worker has closed it.
func (c *sysConn) shutdown(how int) {
	c.fdmu.Lock()
	defer c.fdmu.Unlock()
	if c.fdClosed {
		return
	}
	unix.Shutdown(c.fd, how)
}

// serve runs the connection on its worker until it closes. The worker keeps
// its thread for the connection's life, so that stop knows which thread to
// signal.
func (c *sysConn) serve() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c.tid = unix.Gettid()
	if oh, ok := c.srv.Handler.(OpenHandler); ok {
		if err := guard(c.srv, c, func() { oh.OnOpen(c) }); err != nil {
			c.setReason(err)
			c.finish(closeHard)
			return
		}
	}
	kind, err := c.readLoop()
	c.setReason(err)
	c.finish(kind)
	bufs.Put(c.buf)
	c.buf = nil
}

func (c *sysConn) readLoop() (closeKind, error) {
	srv := c.srv
	h := srv.Handler
	timeouts := srv.IdleTimeout > 0 || srv.ReadTimeout > 0
	var readStart time.Time
	for {
		size := c.tuner.Size()
		if len(c.buf) != size {
			bufs.Put(c.buf)
			c.buf = bufs.Get(size)
		}
		if timeouts {
			readStart = time.Now()
			if err := c.armRead(readStart); err != nil {
				return closeHard, err
			}
		}
		var n int
		var err error
		tc := c.tc.Load()
		if tc != nil {
			n, err = c.readTLS(tc)
		} else {
			n, err = c.read1(c.buf)
		}
		if n > 0 {
			c.bytesIn.Add(uint64(n))
			buf := c.buf[:n]
			if perr := guard(srv, c, func() { h.OnData(c, buf) }); perr != nil {
				return closeHard, perr
			}
			c.tuner.Observe(n)
			if u := c.up.Load(); u != nil {
				c.wmu.Lock() // writes made meanwhile go out encrypted, after it
				c.up.Store(nil)
				herr := c.handshake(u)
				if herr == nil && len(c.upPending) > 0 {
					_, herr = c.tc.Load().Write(c.upPending)
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
			continue
		}
		if c.aborted.Load() {
			return closeHard, nil
		}
		if c.stopping.Load() {
			return closeLingering, nil
		}
		switch err {
		case nil: // n == 0: the peer's EOF
			return closeClean, nil
		case unix.EINTR:
			continue
		case unix.EAGAIN: // SO_RCVTIMEO passed
			if !timeouts {
				continue
			}
			if terr := c.expired(srv, readStart); terr != nil {
				return closeHard, terr
			}
			continue // writes kept the connection busy: not idle yet
		}
		if tc != nil {
			return closeHard, tlsReadError(err)
		}
		return closeHard, c.opError("read", err)
	}
}

// read1 is one read(2) into p; a stop already under way makes it fail with
// EINTR instead. stop reads inRead after setting stopping; checking
// stopping after setting inRead means one of the two sees the other.
func (c *sysConn) read1(p []byte) (int, error) {
	c.inRead.Store(true)
	if c.stopping.Load() {
		c.inRead.Store(false)
		return 0, unix.EINTR
	}
	n, err := unix.Read(c.fd, p)
	c.reads.Add(1)
	c.inRead.Store(false)
	return n, err
}

// armRead sets SO_RCVTIMEO to the time left before the read or idle
// timeout. Each setsockopt is a syscall, so it is skipped when the value is
// unchanged, which is the common case: after a read, both timeouts start
// afresh.
func (c *sysConn) armRead(now time.Time) error {
	srv := c.srv
	var d time.Duration
	if srv.ReadTimeout > 0 {
		d = srv.ReadTimeout
	}
	if srv.IdleTimeout > 0 {
		if id := c.lastActive(now).Add(srv.IdleTimeout).Sub(now); d == 0 || id < d {
			d = id
		}
	}
	if d == 0 {
		d = noReadTimeout
	}
	return c.setRcvTimeo(d)
}

// setRcvTimeo sets SO_RCVTIMEO to d, unless it is that already.
func (c *sysConn) setRcvTimeo(d time.Duration) error {
	d = max(d, time.Millisecond) // zero would mean no timeout
	if diff := d - c.rcvTimeo; diff > -time.Millisecond && diff < time.Millisecond {
		return nil
	}
	tv := unix.NsecToTimeval(d.Nanoseconds())
	if err := unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return c.opError("setsockopt", err)
	}
	c.rcvTimeo = d
	return nil
}

// finish closes the socket the way kind says, runs OnClose and releases the
// connection's slot.
func (c *sysConn) finish(kind closeKind) {
	c.stopping.Store(true)
	c.wclosed.Store(true)
	if kind == closeHard {
		c.shutdown(unix.SHUT_RDWR) // a writer blocked in write(2) returns
	}
	c.wmu.Lock()
	if tc := c.tc.Load(); tc != nil && kind != closeHard {
		tc.CloseWrite() // close_notify before FIN
	}
	if kind == closeLingering {
		c.linger()
	}
	c.fdmu.Lock()
	c.fdClosed = true
	unix.Close(c.fd)
	c.fdmu.Unlock()
	c.wmu.Unlock()
	c.srv.connDone(c, true)
}

// linger sends FIN, then reads and discards until the peer closes too or
// goes quiet, as threadedConn.lingerClose does and for the same reason.
func (c *sysConn) linger() {
	if unix.Shutdown(c.fd, unix.SHUT_WR) != nil {
		return
	}
	buf := bufs.Get(drainSize)
	defer bufs.Put(buf)
	early := shutdownLingerEnds(c.closeReason())
	now := time.Now()
	end := now.Add(lingerFor(c.closeReason()))
	quietEnd := now.Add(lingerQuiet)
	fds := []unix.PollFd{{Fd: int32(c.fd), Events: unix.POLLIN}}
	for now.Before(end) && now.Before(quietEnd) {
		if early && delivered(c.fd) {
			return
		}
		wait := min(quietEnd.Sub(now), end.Sub(now))
		if early {
			wait = min(wait, lingerPoll)
		}
		if _, err := unix.Poll(fds, int(wait.Milliseconds())+1); err != nil && err != unix.EINTR {
			return
		}
		n, _, err := unix.Recvfrom(c.fd, buf, unix.MSG_DONTWAIT)
		now = time.Now()
		switch {
		case n > 0:
			quietEnd = now.Add(lingerQuiet)
		case err == unix.EAGAIN || err == unix.EINTR:
		case err != nil || c.aborted.Load():
			return
		default:
			return // the peer's EOF
		}
	}
}
