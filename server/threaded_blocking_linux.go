//go:build linux

package server

import (
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockpool/sockpool/bufs"
)

// syscallReads reports whether the ThreadedSyscall engine is available here.
const syscallReads = true

// noReadTimeout is the SO_RCVTIMEO of a connection without read or idle
// timeouts: long, but set, since a socket without one restarts a read
// interrupted by a signal instead of failing it with EINTR (see wake).
const noReadTimeout = time.Hour

// blockingTransport is the ThreadedSyscall engine's transport: the socket
// has left Go's netpoller (a blocking duplicate descriptor), the worker
// reads with blocking read(2) into the connection's held buffer, on its own
// OS thread, and writers make blocking write(2) calls.
//
// The descriptor is closed exactly once, by the worker in close, under both
// the connection's wmu (no write is using it) and fdmu (no cut is about to
// shut it down): a number closed while another goroutine still used it
// could be reused by a new socket, and the write would go to a stranger.
type blockingTransport struct {
	c            *threadedConn
	fd           int
	laddr, raddr net.Addr

	fdmu     sync.Mutex // guards fdClosed against shutdown(2) from cut
	fdClosed bool       // under fdmu and the connection's wmu
	tid      int        // the worker's thread, locked for the connection's life
	inRead   atomic.Bool
	reads    atomic.Uint64
	rcvTimeo time.Duration
	sent     int64     // bytes written to fd, under wmu (see write)
	hsEnd    time.Time // a TLS handshake's deadline while it runs
}

// newBlockingTransport takes nc's socket out of the netpoller. It returns
// nil, nil for a connection that is not a plain socket (a wrapper), which
// is served on the poller instead.
func newBlockingTransport(c *threadedConn, nc net.Conn) (transport, error) {
	switch socket(nc).(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		return nil, nil
	}
	fd, err := dupFD(nc, "threaded-syscall engine")
	if err != nil {
		return nil, err
	}
	t := &blockingTransport{c: c, fd: fd, laddr: nc.LocalAddr(), raddr: nc.RemoteAddr()}
	nc.Close() // the duplicate keeps the socket open
	fail := func(op string, err error) (transport, error) {
		unix.Close(fd)
		return nil, os.NewSyscallError(op, err)
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		return fail("fcntl", err)
	}
	// An SO_RCVTIMEO makes a signal interrupt a blocked read (see wake);
	// setReadDeadline sets the read and idle timeouts in its place.
	tv := unix.NsecToTimeval(noReadTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fail("setsockopt", err)
	}
	t.rcvTimeo = noReadTimeout
	if wt := c.srv.WriteTimeout; wt > 0 {
		// A blocking write that the peer does not drain returns after
		// SO_SNDTIMEO (EAGAIN, or the count written): a quarter of
		// WriteTimeout, so that write samples the peer's progress.
		tv := unix.NsecToTimeval(max(wt/4, time.Millisecond).Nanoseconds())
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); err != nil {
			return fail("setsockopt", err)
		}
	}
	return t, nil
}

func (t *blockingTransport) LocalAddr() net.Addr  { return t.laddr }
func (t *blockingTransport) RemoteAddr() net.Addr { return t.raddr }

func (t *blockingTransport) opError(op string, err error) error {
	return opError(op, t.laddr, t.raddr, err)
}

// begin locks the worker to its thread for the connection's life, so that
// wake knows which thread to signal.
func (t *blockingTransport) begin() {
	runtime.LockOSThread()
	t.tid = unix.Gettid()
}

func (t *blockingTransport) end() { runtime.UnlockOSThread() }

func (t *blockingTransport) read(c *threadedConn, size int) ([]byte, int, error) {
	if len(c.held) != size {
		bufs.Put(c.held)
		c.held = bufs.Get(size)
	}
	n, err := t.read1(c.held)
	switch {
	case n > 0:
		return c.held, n, nil // an error comes again on the next read
	case err == nil:
		return c.held, 0, io.EOF
	case err == unix.EINTR:
		return c.held, 0, errInterrupted
	case err == unix.EAGAIN:
		return c.held, 0, os.ErrDeadlineExceeded // SO_RCVTIMEO passed
	}
	return c.held, 0, t.opError("read", err)
}

func (t *blockingTransport) release([]byte) {}
func (t *blockingTransport) idle()          {}

// read1 is one read(2) into p; a stop already under way makes it fail with
// EINTR instead. stop sets stopping before it reads inRead (in wake);
// checking stopping after setting inRead means one of the two sees the
// other.
func (t *blockingTransport) read1(p []byte) (int, error) {
	t.inRead.Store(true)
	if t.c.stopping.Load() {
		t.inRead.Store(false)
		return 0, unix.EINTR
	}
	n, err := unix.Read(t.fd, p)
	t.reads.Add(1)
	t.inRead.Store(false)
	return n, err
}

// setReadDeadline sets SO_RCVTIMEO to the time left until d.
func (t *blockingTransport) setReadDeadline(d time.Time) error {
	if d.IsZero() {
		return t.setRcvTimeo(noReadTimeout)
	}
	return t.setRcvTimeo(time.Until(d))
}

// setRcvTimeo sets SO_RCVTIMEO to d, unless it is that already: each
// setsockopt is a system call, and after a read both timeouts start afresh,
// so the value rarely changes.
func (t *blockingTransport) setRcvTimeo(d time.Duration) error {
	d = max(d, time.Millisecond) // zero would mean no timeout
	if diff := d - t.rcvTimeo; diff > -time.Millisecond && diff < time.Millisecond {
		return nil
	}
	tv := unix.NsecToTimeval(d.Nanoseconds())
	if err := unix.SetsockoptTimeval(t.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return t.opError("setsockopt", err)
	}
	t.rcvTimeo = d
	return nil
}

// write writes all of p with blocking write(2) calls. With a WriteTimeout
// it fails only when the peer has taken nothing for that long: each time a
// write returns early (SO_SNDTIMEO, a quarter of WriteTimeout) it samples
// the peer's progress, bytes the socket accepted or bytes the peer took of
// what the kernel holds, for the reason given on pollTransport.write.
func (t *blockingTransport) write(p []byte) (int, error) {
	n, err := t.push(&source{p: p})
	return int(n), err
}

// sendFile sends r with blocking sendfile(2) calls, within WriteTimeout as
// write does.
func (t *blockingTransport) sendFile(r *fileRange) (int64, bool, error) {
	n, err := t.push(&source{r: r})
	return n, true, err
}

// push hands all of src to the socket; see write.
func (t *blockingTransport) push(src *source) (int64, error) {
	wt := t.c.srv.WriteTimeout
	var progressed time.Time // when the peer last took bytes
	var mark int64           // what it had taken at the last sample
	marked := false
	if wt > 0 {
		progressed = time.Now()
	}
	var written int64
	for !src.empty() {
		n, werr := src.push(t.fd)
		if n > 0 {
			written += int64(n)
			t.sent += int64(n)
		}
		switch {
		case werr == unix.EINTR, werr == nil && src.empty():
			continue
		case werr == nil, werr == unix.EAGAIN:
			if wt <= 0 {
				continue // a signal cut the write short
			}
			now := time.Now()
			held, _ := unsent(t.fd)
			took := t.sent - int64(held)
			if n > 0 || marked && took > mark {
				progressed = now
			}
			mark, marked = took, true
			if now.Sub(progressed) < wt {
				continue
			}
			return written, ErrWriteTimeout
		}
		return written, t.opError(src.op(), werr)
	}
	return written, nil
}

// wake makes a blocked read return: a signal interrupts it with EINTR,
// which socket reads return despite SA_RESTART because the socket has an
// SO_RCVTIMEO (signal(7)). SIGURG is the runtime's own preemption signal, so
// a stray one is harmless. A signal that lands just before the thread
// enters read(2) is lost, so it is repeated, at a growing interval, while
// the thread is still in the read it was in when stop began.
//
// shutdown(SHUT_RD) would wake it too, but cannot be undone, and once the
// read side is shut and our FIN is out, Linux answers any further data from
// the peer with RST (tcp_rcv_state_process, RFC 1122): a peer still sending
// loses the replies it has not read yet, which is what the lingering close
// is there to prevent (the conformance suite's shutdown test caught it).
func (t *blockingTransport) wake() { t.signal(t.reads.Load(), time.Millisecond) }

func (t *blockingTransport) signal(seq uint64, next time.Duration) {
	if !t.inRead.Load() || t.reads.Load() != seq {
		return
	}
	unix.Tgkill(unix.Getpid(), t.tid, unix.SIGURG)
	if next > lingerMax {
		return // the read's own SO_RCVTIMEO ends it
	}
	time.AfterFunc(next, func() { t.signal(seq, 2*next) })
}

// cut shuts the socket down, unless the worker has closed it: the worker
// and any writer return.
func (t *blockingTransport) cut() {
	t.fdmu.Lock()
	defer t.fdmu.Unlock()
	if !t.fdClosed {
		unix.Shutdown(t.fd, unix.SHUT_RDWR)
	}
}

func (t *blockingTransport) closeWrite() error { return unix.Shutdown(t.fd, unix.SHUT_WR) }

// drain waits until d for input and discards what one read returns.
func (t *blockingTransport) drain(buf []byte, d time.Time) (int, error) {
	fds := []unix.PollFd{{Fd: int32(t.fd), Events: unix.POLLIN}}
	ready, err := unix.Poll(fds, int(time.Until(d).Milliseconds())+1)
	switch {
	case err == unix.EINTR:
		return 0, nil
	case err != nil:
		return 0, err
	case ready == 0:
		return 0, os.ErrDeadlineExceeded
	}
	n, _, err := unix.Recvfrom(t.fd, buf, unix.MSG_DONTWAIT)
	switch {
	case n > 0:
		return n, nil
	case err == unix.EAGAIN || err == unix.EINTR:
		return 0, nil
	case err != nil:
		return 0, err
	}
	return 0, io.EOF
}

func (t *blockingTransport) delivered() bool { return delivered(t.fd) }

func (t *blockingTransport) close() {
	t.fdmu.Lock()
	defer t.fdmu.Unlock()
	if !t.fdClosed {
		t.fdClosed = true
		unix.Close(t.fd)
	}
}
