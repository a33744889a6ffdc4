//go:build linux

package server

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sockpool/sockpool/bufs"
	"github.com/sockpool/sockpool/pool"
)

// Edge-triggered registration is made once (EPOLLIN|EPOLLOUT|EPOLLRDHUP|
// EPOLLET) and never modified: output waiting for EPOLLOUT and reading paused
// by backpressure cost no epoll_ctl calls, where level-triggered needs an
// EPOLL_CTL_MOD to arm and disarm EPOLLOUT and to pause reading. A read
// shorter than the buffer proves the socket drained, so edge-triggered
// needs no extra read that ends in EAGAIN.
//
// Measured with BenchmarkEcho, rows evented and evented-level, 5 runs each
// (go test -bench 'Echo/.*/.*/server=evented(-level)?$' -count 5): on a plain
// echo the two are the same within noise (1 KiB x 1 conn 33.1 vs 29.5 us,
// p=0.22; 1 KiB x 50 12.4 vs 11.8 us, p=0.10; 64 KiB x 50 35.4 vs 35.7 us,
// p=0.55), because an echo never queues output. Edge-triggered is kept for
// the path where they differ: a slow reader, where level-triggered pays two
// epoll_ctl calls per pause and per queued burst. Level-triggered stays
// selectable (Server.levelTriggered) and in the conformance suite, so the
// comparison can be repeated.

// maxReadsPerTurn bounds the reads one connection gets before the loop
// serves the others: a fast sender cannot monopolise its loop.
const maxReadsPerTurn = 16

// loop is one event loop: an epoll instance, a goroutine that waits on it,
// a read buffer shared by all of its connections, and an eventfd that other
// goroutines use to hand it work.
type loop struct {
	e     *evented
	srv   *Server
	id    int
	epfd  int
	efd   int
	buf   []byte
	plain []byte     // TLS plaintext, allocated on first use
	tuner bufs.Tuner // picks len(buf)
	edge  bool       // edge-triggered registration (see above)

	// Owned by the loop goroutine.
	conns     []*evConn // by file descriptor
	count     int
	events    []unix.EpollEvent
	again     []*evConn // read again without waiting for an edge
	waiting   []*evConn // input waiting for a free worker (EventedPool)
	hsWaiting []*evConn // StartTLS handshakes waiting for a free worker
	lingering int
	now       time.Time
	nextSweep time.Time
	quit      bool

	pending atomic.Int64  // registrations posted but not yet run
	goid    atomic.Uint64 // the loop goroutine's id (see evented.onLoop)

	mu     sync.Mutex
	closed bool // the loop has exited
	tasks  []task
	spare  []task
	woken  atomic.Bool
	clock  atomic.Int64 // unix nanoseconds at the loop's last wake-up
}

func newLoop(e *evented, id int) (*loop, error) {
	l := &loop{e: e, srv: e.srv, id: id, epfd: -1, efd: -1, events: make([]unix.EpollEvent, 256)}
	var err error
	if l.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, fmt.Errorf("sockpool/server: epoll_create1: %w", err)
	}
	if l.efd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		l.closeFds()
		return nil, fmt.Errorf("sockpool/server: eventfd: %w", err)
	}
	if err = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, l.efd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(l.efd)}); err != nil {
		l.closeFds()
		return nil, fmt.Errorf("sockpool/server: epoll_ctl eventfd: %w", err)
	}
	// The loop's buffer is taken once at the tuner's largest size (one per
	// loop, so memory is no concern) and reads take the tuner's current
	// size of it.
	l.tuner = e.srv.tunerTemplate
	_, hi := l.tuner.Bounds()
	l.buf = bufs.Get(hi)[:l.tuner.Size()]
	l.edge = !e.srv.levelTriggered
	l.now = time.Now()
	l.clock.Store(l.now.UnixNano())
	return l, nil
}

func (l *loop) closeFds() {
	if l.efd >= 0 {
		unix.Close(l.efd)
	}
	if l.epfd >= 0 {
		unix.Close(l.epfd)
	}
}

// task is work posted to a loop: fn(l, c). A function and an argument
// rather than a closure, so that posting allocates nothing.
type task struct {
	fn func(*loop, *evConn)
	c  *evConn
}

// post runs fn(l, c) on the loop goroutine soon. It is safe from any
// goroutine. It reports false, and fn never runs, once the loop has exited.
func (l *loop) post(fn func(*loop, *evConn), c *evConn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.tasks = append(l.tasks, task{fn, c})
	// The eventfd is written under mu so that it cannot be closed (and its
	// number reused) in between.
	if !l.woken.Swap(true) {
		one := [8]byte{1}
		unix.Write(l.efd, one[:])
	}
	return true
}

// exit closes the loop's descriptors; posts from now on are refused.
func (l *loop) exit() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	l.closeFds()
	bufs.Put(l.buf)
	l.buf = nil
}

func (l *loop) runTasks() {
	var b [8]byte
	unix.Read(l.efd, b[:])
	// Clear the flag before taking the tasks: a post that misses this batch
	// writes the eventfd again.
	l.woken.Store(false)
	l.mu.Lock()
	tasks := l.tasks
	l.tasks = l.spare[:0]
	l.mu.Unlock()
	for i, t := range tasks {
		t.fn(l, t.c)
		tasks[i] = task{}
	}
	l.spare = tasks[:0]
}

func (l *loop) run() {
	l.goid.Store(goid())
	defer l.e.wg.Done()
	defer l.exit()
	for {
		n, err := l.wait(l.waitMillis())
		if err != nil && !errors.Is(err, unix.EINTR) {
			// EBADF, EFAULT, EINVAL: a bug, not a network condition. Close
			// every connection so none is left waiting forever.
			l.srv.log.Error("epoll_wait failed; event loop stops", "loop", l.id, "err", err)
			for _, c := range l.conns {
				if c != nil {
					l.closeConn(c, err)
				}
			}
			l.retryHandshakes() // closes the parked ones, which closeConn left to it
			return
		}
		l.now = time.Now()
		l.clock.Store(l.now.UnixNano())
		for i := 0; i < n; i++ {
			ev := &l.events[i]
			fd := int(ev.Fd)
			if fd == l.efd {
				l.runTasks()
				continue
			}
			if fd < len(l.conns) {
				if c := l.conns[fd]; c != nil {
					l.handle(c, ev.Events)
				}
			}
		}
		if len(l.again) > 0 {
			again := l.again
			l.again = nil
			for _, c := range again {
				if !c.fdClosed {
					l.read(c, 0)
				}
			}
		}
		if len(l.waiting) > 0 {
			waiting := l.waiting
			l.waiting = nil
			for _, c := range waiting {
				if c.fdClosed {
					c.inMu.Lock()
					c.running = false
					c.inMu.Unlock()
					l.finalize(c)
					continue
				}
				l.dispatch(c)
			}
		}
		if len(l.hsWaiting) > 0 {
			l.retryHandshakes()
		}
		if !l.nextSweep.IsZero() && !l.now.Before(l.nextSweep) {
			l.sweep()
		}
		if l.quit && l.count == 0 && l.pending.Load() == 0 {
			return
		}
	}
}

// wait waits up to msec milliseconds for events. A loop that just had work
// often has more already, so it first polls without blocking: a raw system
// call, which skips the scheduler's bookkeeping for calls that may block.
func (l *loop) wait(msec int) (int, error) {
	if msec != 0 {
		if n, err := l.poll(); n > 0 || err != nil {
			return n, err
		}
	}
	return unix.EpollWait(l.epfd, l.events, msec)
}

// poll is epoll_wait with a zero timeout, as a raw system call.
func (l *loop) poll() (int, error) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(l.epfd),
		uintptr(unsafe.Pointer(&l.events[0])), uintptr(len(l.events)), 0, 0, 0)
	if e != 0 && e != syscall.EINTR {
		return 0, e
	}
	if e != 0 {
		return 0, nil
	}
	return int(r), nil
}

// waitMillis is the epoll_wait timeout: none while work is pending, else
// until the next sweep, else forever.
func (l *loop) waitMillis() int {
	if len(l.again) > 0 {
		return 0
	}
	if len(l.waiting) > 0 || len(l.hsWaiting) > 0 {
		return 1 // the pool is full: retry soon, without spinning
	}
	every := l.sweepEvery()
	if every == 0 {
		l.nextSweep = time.Time{}
		return -1
	}
	if l.nextSweep.IsZero() {
		l.nextSweep = l.now.Add(every)
	}
	return max(1, int(time.Until(l.nextSweep)/time.Millisecond)+1)
}

// sweepEvery is how often the loop checks its connections' timeouts: a
// quarter of the shortest timeout (a periodic sweep per loop, not a timer per
// connection), or 0 when nothing needs checking.
func (l *loop) sweepEvery() time.Duration {
	s := l.srv
	var d time.Duration
	for _, t := range []time.Duration{s.IdleTimeout, s.ReadTimeout, s.WriteTimeout} {
		if t > 0 && (d == 0 || t < d) {
			d = t
		}
	}
	if l.lingering > 0 && s.inShutdown.Load() {
		return lingerPoll // see shutdownLingerEnds
	}
	if l.lingering > 0 && (d == 0 || d > lingerQuiet) {
		d = lingerQuiet
	}
	if d == 0 {
		return 0
	}
	return min(max(d/4, 5*time.Millisecond), time.Second)
}

// sweep closes connections whose timeouts have passed.
func (l *loop) sweep() {
	s, nowNs := l.srv, l.now.UnixNano()
	since := func(t int64) time.Duration { return time.Duration(nowNs - t) }
	l.nextSweep = time.Time{}
	for _, c := range l.conns {
		if c == nil {
			continue
		}
		if c.upSubmitted {
			// A StartTLS handshake, running or parked for a worker:
			// HandshakeTimeout bounds it once it runs.
			continue
		}
		if c.lingering {
			// While lingering, lastRead is the last input discarded.
			if nowNs > c.lingerUntil || since(c.lastRead) >= lingerQuiet ||
				shutdownLingerEnds(c.closeReason()) && delivered(c.fd) {
				l.closeConn(c, nil)
			}
			continue
		}
		stalled := s.WriteTimeout > 0 && c.queued.Load() > 0
		if stalled {
			l.sampleDelivery(c)
		}
		// As in the threaded engine, a handler call is not idleness; but a
		// pool handler waiting for queue space is bounded by WriteTimeout.
		running := c.handlerRunning()
		lastWrite := c.lastWrite.Load()
		var why error
		switch {
		case stalled && since(max(lastWrite, c.stallSince.Load())) >= s.WriteTimeout:
			why = ErrWriteTimeout
		case running:
		case s.ReadTimeout > 0 && !c.readDone && !c.paused && since(c.lastRead) >= s.ReadTimeout:
			why = ErrReadTimeout
		case s.IdleTimeout > 0 && since(max(c.lastRead, lastWrite)) >= s.IdleTimeout:
			why = ErrIdleTimeout
		}
		if why != nil {
			s.stats.timeouts.Add(1)
			l.closeConn(c, why)
		}
	}
}

// sampleDelivery counts the peer's progress on c's output for WriteTimeout.
// Bytes leave the queue in large steps: an edge-triggered EPOLLOUT fires
// only once a third of a send buffer (auto-tuned up to megabytes) is free,
// so a peer reading slowly but steadily can go seconds without one. What it
// takes shows sooner in the socket: bytes handed to the kernel less those
// it still holds (SIOCOUTQ). The first sample of a stall only sets the mark.
func (l *loop) sampleDelivery(c *evConn) {
	sent := c.sent.Load() // before the ioctl: a Write in between cannot pass for progress
	held, ok := unsent(c.fd)
	if !ok {
		return
	}
	took := sent - int64(held)
	if st := c.stallSince.Load(); st != c.stallMark {
		c.stallMark, c.took = st, took
		return
	}
	if took > c.took {
		c.took = took
		c.lastWrite.Store(l.now.UnixNano())
	}
}

// register adds a new connection to the loop's epoll set.
func (l *loop) register(c *evConn) {
	l.pending.Add(-1)
	if c.fdClosed {
		l.finalize(c) // aborted before it got here: it never opened
		return
	}
	for c.fd >= len(l.conns) {
		l.conns = append(l.conns, make([]*evConn, len(l.conns)+64)...)
	}
	l.conns[c.fd] = c
	l.count++
	c.lastRead = l.now.UnixNano()
	c.mu.Lock()
	c.registered, c.wantIn = true, true
	c.curEvents = c.interest()
	err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, c.fd, &unix.EpollEvent{Events: c.curEvents, Fd: int32(c.fd)})
	c.mu.Unlock()
	if err != nil {
		l.closeConn(c, fmt.Errorf("sockpool/server: epoll_ctl add: %w", err))
		return
	}
	// OnOpen runs where OnData runs: here on the loop, or first thing in the
	// connection's pool task, so it always returns before the first OnData
	// and before OnClose.
	c.opened = true
	if oh, ok := l.srv.Handler.(OpenHandler); ok {
		if l.srv.Engine == Evented {
			if perr := guard(l.srv, c, func() { oh.OnOpen(c) }); perr != nil {
				l.closeConn(c, perr)
				return
			}
		} else {
			c.inMu.Lock()
			c.running = true
			c.inMu.Unlock()
			l.dispatch(c)
		}
	}
	if c.tls != nil {
		l.again = append(l.again, c) // input read ahead during the handshake
	}
	if c.stopAsked.Load() {
		l.stopConn(c)
	}
}

// handle reacts to the readiness epoll reported for c.
func (l *loop) handle(c *evConn, events uint32) {
	if events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		l.read(c, events)
		if c.fdClosed {
			return
		}
	}
	if events&unix.EPOLLOUT != 0 && c.queued.Load() > 0 {
		l.flush(c)
	}
}

// read reads what c has and hands it to the handler.
func (l *loop) read(c *evConn, events uint32) {
	if events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		c.rdhup = true // read to EOF: no further edge will announce it
	}
	if c.lingering {
		l.discard(c)
		return
	}
	if c.upgrading || c.up.Load() != nil {
		return // input after STARTTLS is the handshake's
	}
	if c.paused || c.readDone {
		if events&(unix.EPOLLHUP|unix.EPOLLERR) != 0 {
			l.closeConn(c, errHangup) // both directions are gone: nothing can be flushed
		}
		return
	}
	if c.tls != nil && c.tls.buffered {
		if !l.deliverTLS(c, nil) || l.readStops(c) {
			return
		}
	}
	for i := 1; ; i++ {
		n, err := unix.Read(c.fd, l.buf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return
		case err != nil:
			l.closeConn(c, err)
			return
		case n == 0:
			l.peerEOF(c)
			return
		}
		c.lastRead = l.now.UnixNano()
		full := n == len(l.buf)
		if l.tuner.Observe(n) {
			l.buf = l.buf[:l.tuner.Size()]
		}
		var ok bool
		if c.tls != nil {
			ok = l.deliverTLS(c, l.buf[:n])
		} else {
			ok = l.deliver(c, l.buf[:n])
		}
		if !ok || l.readStops(c) {
			return
		}
		if !l.edge || (!full && !c.rdhup) {
			return // level-triggered reports the rest; a short read drained the socket
		}
		if i == maxReadsPerTurn {
			l.again = append(l.again, c)
			return
		}
	}
}

// readStops reports whether reading c must stop after handing input to the
// handler: backpressure, EOF, Close or Shutdown, or StartTLS. A StartTLS
// begins whenever reading stops with one asked for, paused or not: read
// does not come back here until the upgrade is over.
func (l *loop) readStops(c *evConn) bool {
	blocked := c.paused || c.readDone
	if !blocked && c.stopAsked.Load() {
		l.stopConn(c) // Close or Shutdown: no further input for the handler
		return true
	}
	if c.up.Load() != nil {
		if !c.handlerRunning() {
			l.beginUpgrade(c)
		} // else handlerDone begins it
		return true
	}
	return blocked
}

// discard reads and drops input while a closing connection lingers, and
// closes it when the peer's EOF arrives.
func (l *loop) discard(c *evConn) {
	for i := 1; ; i++ {
		if i > maxReadsPerTurn {
			l.again = append(l.again, c) // a flooding peer must not hold the loop
			return
		}
		n, err := unix.Read(c.fd, l.buf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return
		case err != nil || n == 0:
			l.closeConn(c, nil)
			return
		}
		c.lastRead = l.now.UnixNano()
	}
}

// deliver hands one read's bytes to the handler, inline or through the pool.
// It reports false when the connection was closed.
func (l *loop) deliver(c *evConn, p []byte) bool {
	s := l.srv
	if s.Engine == Evented {
		c.bytesIn.Add(uint64(len(p)))
		if err := guard(s, c, func() { s.Handler.OnData(c, p) }); err != nil {
			l.closeConn(c, err)
			return false
		}
		if c.queued.Load() > int64(s.highWater) || c.drainWanted.Load() {
			l.pause(c)
		}
		return true
	}
	c.inMu.Lock()
	c.in = appendInput(c.in, p)
	backlog := len(c.in) + c.inflight
	start := !c.running
	c.running = true
	c.inMu.Unlock()
	if start {
		l.dispatch(c)
	}
	// Input waiting for the handler becomes output, so the bound applies to
	// both together: queued output never passes high water plus one read.
	if int64(backlog)+c.queued.Load() > int64(s.highWater) {
		l.pause(c)
	}
	return true
}

// appendInput appends p to in, input waiting for a pool worker, growing it
// from one bufs size class to the next: a pooled buffer of output's kind
// keeps the capacity of its largest use, which made idle input buffers of a
// megabyte common under a flood.
func appendInput(in, p []byte) []byte {
	if len(in)+len(p) > cap(in) {
		grown := bufs.Get(len(in) + len(p))[:len(in)]
		copy(grown, in)
		bufs.Put(in)
		in = grown
	}
	return append(in, p...)
}

// dispatch submits c's pending input to the pool; a full pool is retried on
// the loop's next turn, never waited for.
func (l *loop) dispatch(c *evConn) {
	err := l.srv.pool.Submit(l.srv.ctx, c.runHandler)
	switch {
	case err == nil:
	case errors.Is(err, pool.ErrOverload):
		l.waiting = append(l.waiting, c)
	default:
		c.inMu.Lock()
		c.running = false
		c.inMu.Unlock()
		l.closeConn(c, err)
	}
}

// handlerDone runs on the loop after a pool worker drained c's input.
func (l *loop) handlerDone(c *evConn) {
	if c.fdClosed {
		l.finalize(c)
		return
	}
	if c.up.Load() != nil {
		l.beginUpgrade(c)
	}
	l.maybeResume(c)
	l.maybeFinish(c)
}

// pause stops reading c until its output (or input backlog) drains.
func (l *loop) pause(c *evConn) {
	if c.paused {
		return
	}
	c.paused = true
	l.srv.stats.paused.Add(1)
	c.setWantIn(false)
}

// maybeResume resumes reading c once its queues are below the low mark.
func (l *loop) maybeResume(c *evConn) {
	low := l.srv.lowWater
	if !c.paused || c.queued.Load()+int64(c.inputBacklog()) > int64(low) {
		return
	}
	c.paused = false
	c.lastRead = l.now.UnixNano() // the pause was ours, not the peer's silence
	l.srv.stats.paused.Add(-1)
	if c.drainWanted.Swap(false) && !l.drain(c) {
		return
	}
	if c.readDone {
		return
	}
	if l.edge {
		l.again = append(l.again, c) // input that arrived meanwhile raised no new edge
		return
	}
	c.setWantIn(true)
}

// drain calls OnDrain for a handler that stopped because c was Congested
// (Evented: it runs on the loop, like OnData). It reports false when
// c closed or must pause again.
func (l *loop) drain(c *evConn) bool {
	dh, ok := l.srv.Handler.(DrainHandler)
	if !ok {
		return true
	}
	if err := guard(l.srv, c, func() { dh.OnDrain(c) }); err != nil {
		l.closeConn(c, err)
		return false
	}
	if c.fdClosed {
		return false
	}
	if c.queued.Load() > int64(l.srv.highWater) || c.drainWanted.Load() {
		l.pause(c)
		return false
	}
	return true
}

// flush writes queued output; it runs on EPOLLOUT.
func (l *loop) flush(c *evConn) {
	c.mu.Lock()
	err := c.flushLocked()
	c.mu.Unlock()
	if err != nil {
		l.closeConn(c, err)
		return
	}
	l.maybeHandshake(c)
	l.maybeResume(c)
	l.maybeFinish(c)
}

// peerEOF handles the peer's FIN: no more input; close once output is flushed
// and the handler is done.
func (l *loop) peerEOF(c *evConn) {
	l.stopReading(c)
	c.want = closeClean
	l.maybeFinish(c)
}

// stopConn stops reading c and closes it gracefully once its output is
// flushed: Conn.Close and Shutdown.
func (l *loop) stopConn(c *evConn) {
	if c.fdClosed || !c.registered || c.upgrading {
		return // a StartTLS handshake's end sees stopAsked
	}
	l.stopReading(c)
	if c.want == closeNone {
		c.want = closeLingering
	}
	l.maybeFinish(c)
}

func (l *loop) stopReading(c *evConn) {
	if c.readDone {
		return
	}
	c.readDone = true
	c.setWantIn(false)
}

// maybeFinish closes c if it is to close and nothing is owed: no queued
// output and no handler call pending.
func (l *loop) maybeFinish(c *evConn) {
	if c.want == closeNone || c.fdClosed || c.lingering || c.upgrading || c.handlerRunning() {
		return
	}
	if c.tls != nil && !c.notified {
		// close_notify before FIN: queued (or written) like any output,
		// after what the handler wrote. The raw path is open until the
		// queue is flushed below.
		c.notified = true
		c.tls.conn.CloseWrite()
	}
	c.mu.Lock()
	if c.queued.Load() > 0 {
		c.mu.Unlock()
		return
	}
	c.wclosed = true
	c.mu.Unlock()
	if c.want == closeClean {
		l.closeConn(c, nil)
		return
	}
	// Lingering close: FIN now, then drain until the peer closes, so that
	// unread input does not turn our close into an RST that destroys the
	// replies the peer has not read yet.
	if err := unix.Shutdown(c.fd, unix.SHUT_WR); err != nil {
		l.closeConn(c, nil)
		return
	}
	c.lingering = true
	c.lastRead = l.now.UnixNano()
	c.lingerUntil = l.now.Add(lingerFor(c.closeReason())).UnixNano()
	l.lingering++
	if until := l.now.Add(l.sweepEvery()); l.nextSweep.IsZero() || l.nextSweep.After(until) {
		l.nextSweep = until
	}
	c.setWantIn(true)
	l.discard(c)
}

// closeConn closes c's socket at once, drops its queued output and, unless
// a handler call is still running on the pool, finishes the connection.
func (l *loop) closeConn(c *evConn, reason error) {
	if c.fdClosed {
		return
	}
	if c.upSubmitted {
		// A worker runs c's StartTLS handshake on a duplicate of the
		// descriptor, or it is parked for one: cut it short; endUpgrade
		// closes c (posted by the worker, or from retryHandshakes).
		c.setReason(reason)
		c.closeAfterUpgrade = true
		if t := c.hs.Load(); t != nil {
			t.interrupt()
		}
		return
	}
	c.setReason(reason)
	c.mu.Lock()
	c.wclosed = true
	c.dropOutputLocked()
	unix.Close(c.fd) // also removes it from the epoll set
	c.fdClosed = true
	c.mu.Unlock()
	if c.registered {
		l.conns[c.fd] = nil
	}
	if c.lingering {
		l.lingering--
	}
	if c.paused {
		c.paused = false
		l.srv.stats.paused.Add(-1)
	}
	if !c.registered {
		return // OnOpen may still be running: register finalizes
	}
	l.finalize(c)
}

// finalize runs OnClose and releases the connection once its socket is
// closed and no handler call is running.
func (l *loop) finalize(c *evConn) {
	if c.finalized || c.handlerRunning() {
		return
	}
	c.finalized = true
	if c.registered {
		l.count-- // only now may the loop quit: no task of c's is pending
	}
	c.inMu.Lock()
	bufs.Put(c.in)
	c.in = nil
	c.inMu.Unlock()
	l.srv.connDone(c, c.opened)
}

// Tasks posted from other goroutines.
var (
	// closeTask closes c with the reason already recorded by setReason.
	closeTask = func(l *loop, c *evConn) { l.closeConn(c, c.closeReason()) }
	// failTask closes c after its handler panicked on a pool worker.
	failTask = func(l *loop, c *evConn) {
		c.inMu.Lock()
		c.running = false
		c.inMu.Unlock()
		l.closeConn(c, c.closeReason())
		l.finalize(c) // closeConn skips it if the fd was already closed
	}
	quitTask = func(l *loop, _ *evConn) { l.quit = true }
)

// errHangup closes a connection whose peer hung up while we were not reading.
var errHangup = errors.New("sockpool/server: connection hung up")
