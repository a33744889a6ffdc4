//go:build linux

package server

import (
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockpool/sockpool/bufs"
)

// outChunk is the most bytes appended to one queued output buffer; larger
// writes get a buffer of their own.
const outChunk = 64 << 10

// maxIovecs bounds the buffers one writev hands the kernel.
const maxIovecs = 64

var (
	getOutput = bufs.GetOutput
	putOutput = bufs.PutOutput
)

// evConn is a connection of the evented engine. Fields marked "loop" belong
// to the loop goroutine; the rest are guarded as noted.
type evConn struct {
	connState
	l            *loop
	srv          *Server
	fd           int
	laddr, raddr net.Addr
	openErr      error // OnOpen panicked
	doneFn       func()

	// loop
	registered  bool
	paused      bool // backpressure: not reading until the queues drain
	readDone    bool // no more reads: EOF, Close or Shutdown
	rdhup       bool // the peer's FIN was reported
	lingering   bool
	fdClosed    bool
	finalized   bool
	want        closeKind
	lastRead    time.Time
	lingerUntil time.Time

	stopAsked  atomic.Bool  // Close or Shutdown asked to stop
	queued     atomic.Int64 // bytes in out; written under mu
	lastWrite  atomic.Int64 // unix ns of the last write progress
	stallSince atomic.Int64 // unix ns when output was last queued on an empty queue

	// mu guards the output queue and every write to fd, so that a Write from
	// any goroutine keeps order and never touches a closed descriptor.
	mu        sync.Mutex
	out       []*bufs.Output
	outOff    int // bytes of out[0] already written
	iov       [][]byte
	wclosed   bool
	wantIn    bool   // level-triggered interest in input
	outArmed  bool   // level-triggered interest in EPOLLOUT
	curEvents uint32 // the registered interest

	// inMu guards the input waiting for a pool worker (Dispatch Pool).
	inMu    sync.Mutex
	in      *bufs.Output
	running bool // a pool task is draining in
}

func newEvConn(l *loop, fd int, laddr, raddr net.Addr) *evConn {
	c := &evConn{l: l, srv: l.srv, fd: fd, laddr: laddr, raddr: raddr}
	c.id = l.srv.nextID.Add(1)
	c.doneFn = func() { l.handlerDone(c) }
	return c
}

func (c *evConn) LocalAddr() net.Addr       { return c.laddr }
func (c *evConn) RemoteAddr() net.Addr      { return c.raddr }
func (c *evConn) TLS() *tls.ConnectionState { return nil }

func (c *evConn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wclosed {
		return 0, ErrConnClosed
	}
	total := len(p)
	if len(c.out) == 0 {
		// Nothing queued: write straight to the socket, which takes it all in
		// the common case, and queue only what it refuses.
		for len(p) > 0 {
			n, err := unix.Write(c.fd, p)
			if n > 0 {
				p = p[n:]
				c.bytesOut.Add(uint64(n))
				c.lastWrite.Store(c.l.clock.Load())
			}
			if err == nil || err == unix.EINTR {
				continue
			}
			if err == unix.EAGAIN {
				break
			}
			c.wclosed = true
			c.l.post(func() { c.l.closeConn(c, err) })
			return total - len(p), err
		}
		if len(p) == 0 {
			return total, nil
		}
		c.stallSince.Store(c.l.clock.Load())
	}
	c.enqueueLocked(p)
	if !c.l.edge && !c.outArmed {
		c.outArmed = true
		c.modifyLocked()
	}
	return total, nil
}

// enqueueLocked copies p to the tail of the output queue.
func (c *evConn) enqueueLocked(p []byte) {
	c.queued.Add(int64(len(p)))
	c.srv.stats.queued.Add(int64(len(p)))
	if k := len(c.out); k > 0 {
		if t := c.out[k-1]; len(t.B)+len(p) <= outChunk {
			t.B = append(t.B, p...)
			return
		}
	}
	b := getOutput()
	b.B = append(b.B, p...)
	c.out = append(c.out, b)
}

// flushLocked writes queued output with writev until the queue is empty or
// the socket is full.
func (c *evConn) flushLocked() error {
	for len(c.out) > 0 {
		iov := c.iov[:0]
		for i, b := range c.out {
			if i == maxIovecs {
				break
			}
			if i == 0 {
				iov = append(iov, b.B[c.outOff:])
			} else {
				iov = append(iov, b.B)
			}
		}
		n, err := unix.Writev(c.fd, iov)
		clear(iov)
		c.iov = iov[:0]
		if n > 0 {
			c.consumeLocked(n)
		}
		if err == unix.EAGAIN {
			return nil
		}
		if err != nil && err != unix.EINTR {
			return err
		}
	}
	if !c.l.edge && c.outArmed {
		c.outArmed = false
		c.modifyLocked()
	}
	return nil
}

// consumeLocked drops n written bytes from the front of the queue.
func (c *evConn) consumeLocked(n int) {
	c.queued.Add(-int64(n))
	c.srv.stats.queued.Add(-int64(n))
	c.bytesOut.Add(uint64(n))
	c.lastWrite.Store(c.l.clock.Load())
	for n > 0 {
		b := c.out[0]
		rest := len(b.B) - c.outOff
		if n < rest {
			c.outOff += n
			return
		}
		n -= rest
		c.outOff = 0
		putOutput(b)
		c.out[0] = nil
		c.out = c.out[1:]
	}
	if len(c.out) == 0 {
		c.out = nil
	}
}

// dropOutputLocked releases queued output that will never be sent.
func (c *evConn) dropOutputLocked() {
	for _, b := range c.out {
		putOutput(b)
	}
	q := c.queued.Swap(0)
	c.srv.stats.queued.Add(-q)
	c.out, c.outOff = nil, 0
}

// interest is the epoll event set c should be registered with.
func (c *evConn) interest() uint32 {
	if c.l.edge {
		return unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET
	}
	var ev uint32
	if c.wantIn {
		ev |= unix.EPOLLIN | unix.EPOLLRDHUP
	}
	if c.outArmed {
		ev |= unix.EPOLLOUT
	}
	return ev
}

// modifyLocked updates a level-triggered registration to c's interest.
func (c *evConn) modifyLocked() {
	if c.l.edge || !c.registered || c.fdClosed {
		return
	}
	ev := c.interest()
	if ev == c.curEvents {
		return
	}
	c.curEvents = ev
	unix.EpollCtl(c.l.epfd, unix.EPOLL_CTL_MOD, c.fd, &unix.EpollEvent{Events: ev, Fd: int32(c.fd)})
}

func (c *evConn) Close() error {
	c.setReason(nil)
	c.mu.Lock()
	c.wclosed = true
	c.mu.Unlock()
	c.stop(nil)
	return nil
}

func (c *evConn) stop(reason error) {
	c.setReason(reason)
	if c.stopAsked.Swap(true) {
		return
	}
	c.l.post(func() { c.l.stopConn(c) })
}

func (c *evConn) abort(reason error) {
	c.setReason(reason)
	c.mu.Lock()
	c.wclosed = true
	c.mu.Unlock()
	c.l.post(func() { c.l.closeConn(c, reason) })
}

// handlerRunning reports whether a pool task is calling (or about to call)
// OnData for c.
func (c *evConn) handlerRunning() bool {
	if c.srv.Dispatch == Inline {
		return false
	}
	c.inMu.Lock()
	defer c.inMu.Unlock()
	return c.running
}

// inputBacklog is the input waiting for a pool worker.
func (c *evConn) inputBacklog() int {
	if c.srv.Dispatch == Inline {
		return 0
	}
	c.inMu.Lock()
	defer c.inMu.Unlock()
	if c.in == nil {
		return 0
	}
	return len(c.in.B)
}

// runHandler is the pool task of Dispatch Pool: it calls OnData with c's
// pending input until there is none, so calls for one connection never
// overlap and keep their order.
func (c *evConn) runHandler() {
	s := c.srv
	for {
		c.inMu.Lock()
		in := c.in
		if in == nil || len(in.B) == 0 {
			c.running = false
			c.inMu.Unlock()
			break
		}
		c.in = nil
		c.inMu.Unlock()
		err := guard(s, c, func() { s.Handler.OnData(c, in.B) })
		putOutput(in)
		if err != nil {
			c.inMu.Lock()
			c.running = false
			c.inMu.Unlock()
			c.l.post(func() {
				c.l.closeConn(c, err)
				c.l.finalize(c)
			})
			return
		}
	}
	c.l.post(c.doneFn)
}
