//go:build linux

package server

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockpool/sockpool/bufs"
)

// Edge-triggered registration is made once (EPOLLIN|EPOLLOUT|EPOLLRDHUP|
// EPOLLET) and never modified: output waiting for EPOLLOUT and reading paused
// by backpressure cost no epoll_ctl calls, where level-triggered needs an
// EPOLL_CTL_MOD to arm and disarm EPOLLOUT and to pause reading. A read
// shorter than the buffer proves the socket drained, so edge-triggered
// needs no extra read that ends in EAGAIN. On a plain echo the two measure
// the same; level-triggered stays selectable (Server.levelTriggered) and in
// the conformance suite so the comparison can be repeated (docs/design.md,
// "Measurements behind choices").

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

	ur *uringLoop // a uring loop's ring; nil for epoll

	// Owned by the loop goroutine.
	// conns are the loop's connections by slot (evConn.slot), the number
	// its epoll events and ring requests carry: nil where a slot is free.
	// free holds the free slots, and freed those freed this turn, which
	// are reused only from the next (see removeConn). Slots, not
	// descriptors, so that a loop's table is as long as its own
	// connections, where one indexed by descriptor spans every loop's.
	conns     []*evConn
	free      []int32
	freed     []int32
	count     int
	events    []unix.EpollEvent
	again     []*evConn // read again without waiting for an edge
	waiting   []*evConn // input waiting for a free worker (EventedPool)
	hsWaiting []*evConn // StartTLS handshakes waiting for a free worker
	lingering int
	now       time.Time
	nextSweep time.Time
	yielded   time.Time // the loop's last yield (see yieldEvery)
	quit      bool

	pending atomic.Int64 // registrations posted but not yet run

	mu     sync.Mutex
	closed bool // the loop has exited
	tasks  []task
	spare  []task
	woken  atomic.Bool
	clock  atomic.Int64 // unix nanoseconds at the loop's last wake-up
}

func newLoop(e *evented, id int) (*loop, error) {
	l := &loop{e: e, srv: e.srv, id: id, epfd: -1, efd: -1}
	l.tuner = e.srv.tunerTemplate
	l.now = time.Now()
	l.clock.Store(l.now.UnixNano())
	if e.srv.Engine == Uring {
		// Its ring is made on the loop's own thread (startRing). Input
		// arrives in the ring's buffers, and completions need no
		// registration to change: edge is the mode whose paths fit.
		l.edge = true
		return l, nil
	}
	l.events = make([]unix.EpollEvent, 256)
	var err error
	if l.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, fmt.Errorf("sockpool/server: epoll_create1: %w", err)
	}
	if l.efd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		l.closeFds()
		return nil, fmt.Errorf("sockpool/server: eventfd: %w", err)
	}
	if err = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, l.efd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: wakeSlot}); err != nil {
		l.closeFds()
		return nil, fmt.Errorf("sockpool/server: epoll_ctl eventfd: %w", err)
	}
	// The loop's buffer is taken once at the tuner's largest size (one per
	// loop, so memory is no concern) and reads take the tuner's current
	// size of it.
	_, hi := l.tuner.Bounds()
	l.buf = bufs.Get(hi)[:l.tuner.Size()]
	l.edge = !e.srv.levelTriggered
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
	// The eventfd (the Waker's, on a uring loop) is written under mu so
	// that it cannot be closed (and its number reused) in between.
	if !l.woken.Swap(true) {
		if l.ur != nil {
			l.ur.wakeLocked()
		} else {
			signal(l.efd)
		}
	}
	return true
}

// signal adds one to eventfd efd, waking whoever waits for it in epoll.
func signal(efd int) {
	one := [8]byte{1}
	unix.Write(efd, one[:])
}

// exit closes the loop's descriptors; posts from now on are refused.
func (l *loop) exit() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	l.closeFds()
	if l.buf != nil {
		bufs.Put(l.buf)
	}
	l.buf = nil
}

func (l *loop) runTasks() {
	if l.ur == nil {
		var b [8]byte
		unix.Read(l.efd, b[:])
	} // a uring loop's Waker read is re-armed when it completes
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

// run is the loop goroutine, where every loop starts (see onLoop).
func (l *loop) run() {
	defer l.e.wg.Done()
	defer l.exit()
	if l.ur != nil {
		l.runRing()
		return
	}
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
			if ev.Fd == wakeSlot {
				l.runTasks()
				continue
			}
			if c := l.conns[ev.Fd]; c != nil {
				l.handle(c, ev.Events)
			}
		}
		if l.endTurn() {
			return
		}
	}
}

// endTurn is the end of a loop's turn, after the events (or completions)
// it woke for: the slots freed during them, reads to make again, input
// waiting for a pool worker, handshakes waiting for one, and the sweep. It
// reports whether the loop is to exit.
func (l *loop) endTurn() bool {
	l.reuseFreed()
	if len(l.again) > 0 {
		again := l.again
		l.again = nil
		for _, c := range again {
			if c.state < evClosed {
				l.read(c, 0)
			}
		}
	}
	if len(l.waiting) > 0 {
		waiting := l.waiting
		l.waiting = nil
		for _, c := range waiting {
			if c.state >= evClosed {
				c.pool.mu.Lock()
				c.pool.running = false
				c.pool.mu.Unlock()
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
	return l.quit && l.count == 0 && l.pending.Load() == 0
}

// yieldEvery is how often, at most, a loop yields to the scheduler before
// a wait that may block. A goroutine that has not been through the
// scheduler for 10 ms is one sysmon preempts, and the loop sleeps in
// epoll_wait still holding its P, so sysmon takes the P instead: the loop,
// woken, finds no P and parks its thread for another, and sysmon, having
// taken one, keeps waking at its shortest period (20 µs) and takes the P of
// every wait that spans two of its wakes. A yield each millisecond keeps
// the loop clear of that; a yield before every wait costs a thread wake-up
// of its own when another P is idle. Both measured in docs/design.md,
// "Measurements behind choices".
const yieldEvery = time.Millisecond

// wait waits up to msec milliseconds for events.
func (l *loop) wait(msec int) (int, error) {
	if msec != 0 {
		l.yield()
	}
	return unix.EpollWait(l.epfd, l.events, msec)
}

// yield yields to the scheduler before a wait that may block, at most
// every yieldEvery.
func (l *loop) yield() {
	if l.now.Sub(l.yielded) >= yieldEvery {
		runtime.Gosched()
		l.yielded = l.now
	}
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
		if c == nil || c.state >= evClosed {
			continue // a uring connection stays until its requests end
		}
		if c.upg != nil && c.upg.submitted {
			// A StartTLS handshake, running or parked for a worker:
			// HandshakeTimeout bounds it once it runs.
			continue
		}
		if c.state == evLingering {
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
		case s.ReadTimeout > 0 && c.state < evDraining && c.paused == 0 && !c.flag(flagPaused) && since(c.lastRead) >= s.ReadTimeout:
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

// wakeSlot is the slot the loop's eventfd is registered with: no
// connection's.
const wakeSlot = -1

// addConn gives c a slot in the loop's table: a free one if any.
func (l *loop) addConn(c *evConn) {
	if n := len(l.free); n > 0 {
		c.slot, l.free = l.free[n-1], l.free[:n-1]
		l.conns[c.slot] = c
		return
	}
	c.slot = int32(len(l.conns))
	l.conns = append(l.conns, c)
}

// removeConn frees c's slot, for reuse from the next turn: an event for
// c later in this turn's epoll batch then finds nil, where a connection
// registered in between (by a task the same batch ran) would take c's
// hang-up for its own. A ring request names the slot until its
// completion, and a uring connection is removed only after its last.
func (l *loop) removeConn(c *evConn) {
	l.conns[c.slot] = nil
	l.freed = append(l.freed, c.slot)
}

// reuseFreed makes the slots freed this turn free for the next.
func (l *loop) reuseFreed() {
	l.free = append(l.free, l.freed...)
	l.freed = l.freed[:0]
}
