//go:build linux

package server

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/sockpool/sockpool/bufs"
	"github.com/sockpool/sockpool/internal/uring"
	"golang.org/x/sys/unix"
)

// The uring engine is the evented engine with a completion-based loop: the
// loop, its connections (evConn and its state machine), the output queue
// and its water marks, the sweep for timeouts and the close path are the
// evented engine's, and this file and uring_conn_linux.go hold only what
// differs, behind loop.ur and evConn.ur. A turn of the loop:
//
//	run the tasks posted to it (sends prepared, closes, stops)
//	run the shared end of turn (reads again, the pool, the sweep)
//	publish the buffers recycled this turn
//	io_uring_enter: submit every request prepared, and wait for a
//	    completion, the next sweep or nothing (work is pending)
//	handle each completion: input to the handler, a send's end, a wake-up
//
// so that the sends a turn's handlers ask for go to the kernel together,
// in the call that also waits: one system call per turn under load, where
// the epoll loop makes one per read and per write.
//
// Memory the kernel holds after the enter returns: the rings, the buffer
// ring and the Waker's counter are mapped by internal/uring; a send's
// bytes are the output queue's (Go heap, pooled buffers, or a lending
// Writer's own slice), pinned with runtime.Pinner from its submission to
// its completion. Pinning rather than copying into mapped memory, because
// the queue already holds the bytes in one place until they are sent, and
// a copy per send would undo what sending from the queue saves; the queue
// keeps the buffer (even through a close, see dropOutputLocked) until the
// completion says the kernel is done with it, and the pin makes the
// runtime's promise not to move it explicit for that time.
//
// Waking: other goroutines post tasks as they do to the epoll loop (post),
// and wake the loop through the Waker only when it sleeps in the enter:
// the loop says so in sleeping before it waits and looks for tasks after,
// so a Write made by a handler on the loop, which posts its connection's
// send, costs no system call.

// Request kinds, in the top half of a request's user data; the bottom half
// is the connection's slot in the loop's table, which it keeps until every
// request on it has completed (see retire), so it names one connection.
const (
	urWake uint64 = iota + 1
	urRecv
	urSend
	urRoom // a poll for room in a full socket (awaitRoomLocked)
	urCancel
)

func urData(kind uint64, slot int32) uint64 { return kind<<32 | uint64(uint32(slot)) }

// uringLoop is what a uring loop has beyond an epoll loop's fields. All of
// it belongs to the loop goroutine but sleeping.
type uringLoop struct {
	ring  *uring.Ring
	bufs  *uring.BufferRing
	waker *uring.Waker
	ready chan error // the ring's setup result, once
	// sleeping is true while the loop may be blocked in the enter: a post
	// then wakes it.
	sleeping atomic.Bool
	// inHandler is set while a handler runs on the loop: then Writes to
	// the loop's connections queue for the turn's batch, where at other
	// times Writes (from other goroutines) write(2) at once when nothing
	// is queued, as on the epoll loop, rather than wait for a loop that
	// may be busy. Atomic because any goroutine's Write reads it; a Write
	// from elsewhere during a handler call only queues, which is as
	// correct.
	inHandler atomic.Bool
	recvLimit uint32 // each recv's limit (urRecvLimit), 0 where the kernel has none
	// sends are the loop's free send states. A send takes one and gives
	// it back at its completion, so there are as many as sends once were
	// in flight together, not one per connection that ever sent: a used
	// Pinner keeps its memory (about 130 bytes with its finalizer), and a
	// sendmsg's vector is 256 bytes, which would stay with every idle
	// connection.
	sends  []*uringSend
	broken bool // the ring failed: connections close without it
}

// Ring sizes. A loop's submission queue takes a turn's requests (the
// queue submits early when full, so it bounds nothing); multishot
// requests post many completions each, so the completion queue is larger,
// and the kernel keeps any overflow (IORING_FEAT_NODROP).
const (
	urEntries   = 1024
	urCQEntries = 8192
	// urBufBytes is the memory of a loop's buffer ring: 4 MiB, mapped once
	// per loop, shared by its connections.
	urBufBytes = 4 << 20
	// urRecvLimit bounds the bytes one multishot recv takes before it
	// ends and the loop arms another: without it, one wait takes all a
	// flooding peer's socket holds (megabytes), and what arrives after
	// backpressure stopped reading is held in memory: 2.4 MB per client
	// that never reads without the limit, 0.43 MB with it, against the
	// 640 KiB TestNonReaderMemory allows. It costs a request per 64 KiB
	// read, prepared with the turn's others: no system call of its own.
	urRecvLimit = 64 << 10
)

// startRing runs l on its own locked thread and waits until its ring is
// set up, returning the setup's error.
func (l *loop) startRing() error {
	l.ur = &uringLoop{ready: make(chan error, 1)}
	l.e.wg.Add(1)
	go l.run()
	return <-l.ur.ready
}

// setupRing makes the ring, the buffer ring and the Waker, on the locked
// thread that will use them.
func (u *uringLoop) setup(tuner *bufs.Tuner) error {
	var err error
	if u.ring, err = uring.New(&uring.Config{Entries: urEntries, CQEntries: urCQEntries}); err != nil {
		return err
	}
	if u.bufs, err = newRecvBuffers(u.ring, tuner); err != nil {
		u.ring.Close()
		return err
	}
	if u.waker, err = uring.NewWaker(); err != nil {
		u.ring.Close()
		return err
	}
	u.recvLimit = uint32(max(urRecvLimit, u.bufs.Size()))
	return nil
}

// eventedSupported is Supported for the engines on event loops: epoll is
// always there; a ring is set up and closed, on a locked thread as a
// loop's would be (see runRing), to see whether this system runs one.
func (e Engine) eventedSupported() error {
	if e != Uring {
		return nil
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var u uringLoop
	if err := u.setup(&bufs.Tuner{Start: DefaultReadBufferSize}); err != nil {
		return newRingError(err)
	}
	u.ring.Close()
	u.waker.Close()
	return nil
}

// runRing is loop.run for a uring loop.
func (l *loop) runRing() {
	u := l.ur
	// The ring is single-issuer: every call on it must come from this
	// thread, from setup to Close.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := u.setup(&l.tuner); err != nil {
		l.mu.Lock()
		l.closed = true // nothing was posted: the engine is not running yet
		l.mu.Unlock()
		u.ready <- err
		return
	}
	u.ready <- nil
	defer func() {
		// Refuse posts first: post wakes through the Waker under mu.
		l.mu.Lock()
		l.closed = true
		u.ring.Close() // cancels what is still in flight
		u.waker.Close()
		l.mu.Unlock()
	}()
	if err := l.armWaker(); err != nil {
		l.ringFailed(err)
		return
	}
	for {
		if l.woken.Load() {
			l.runTasks()
		}
		if l.endTurn() {
			return
		}
		wait := l.waitMillis()
		u.bufs.Publish()
		u.sleeping.Store(true)
		if l.woken.Load() {
			wait = 0 // posted since runTasks: no sleeping through it
		}
		var err error
		switch {
		case wait == 0:
			_, err = u.ring.Submit()
		case wait < 0:
			l.yield()
			_, err = u.ring.SubmitAndWait(1)
		default:
			l.yield()
			_, err = u.ring.SubmitAndWaitTimeout(1, time.Duration(wait)*time.Millisecond)
		}
		u.sleeping.Store(false)
		if err != nil {
			l.ringFailed(err)
			return
		}
		l.now = time.Now()
		l.clock.Store(l.now.UnixNano())
		for cqe := range u.ring.CQEs() {
			if err := l.complete(cqe); err != nil {
				l.ringFailed(err)
				return
			}
		}
	}
}

// armWaker prepares the read that a Wake completes.
func (l *loop) armWaker() error {
	sqe, err := l.ur.ring.NextSQE()
	if err != nil {
		return err
	}
	l.ur.waker.Arm(sqe, urData(urWake, 0))
	return nil
}

// complete handles one completion.
func (l *loop) complete(cqe *uring.CQE) error {
	kind, slot := cqe.UserData>>32, int32(uint32(cqe.UserData))
	if kind == urWake {
		// The tasks it announces run at the top of the turn.
		return l.armWaker()
	}
	var in []byte
	if kind == urRecv {
		// Every recv completion is taken, whoever it was for: on an
		// incremental ring the next one's bytes follow this one's.
		var err error
		if in, err = l.ur.bufs.Take(cqe); err != nil {
			return err
		}
	}
	c := l.conns[slot]
	if kind == urCancel || c == nil {
		return nil
	}
	switch kind {
	case urRecv:
		l.received(c, cqe, in)
	case urSend:
		l.sent(c, cqe)
	case urRoom:
		l.writable(c, cqe)
	}
	return nil
}

// ringFailed ends a loop whose ring failed (a bug, not a network
// condition): every connection closes without it, so that none is left
// waiting forever.
func (l *loop) ringFailed(err error) {
	l.srv.log.Error("io_uring failed; event loop stops", "loop", l.id, "err", err)
	u := l.ur
	u.ring.Close() // ends every request, so buffers are free to go
	u.broken = true
	for _, c := range l.conns {
		if c != nil {
			l.closeConn(c, err)
		}
	}
	l.retryHandshakes()
}

// maxFreeSends bounds a loop's free send states: after a burst of sends
// from many connections at once, the rest go to the collector rather than
// stay (about 400 bytes each, with the Pinner's record) for good.
const maxFreeSends = 64

// newSend returns a free send state.
func (u *uringLoop) newSend() *uringSend {
	if n := len(u.sends); n > 0 {
		s := u.sends[n-1]
		u.sends = u.sends[:n-1]
		return s
	}
	return new(uringSend)
}

// endSend ends the pin of c's send, if it has one, and frees its state.
func (u *uringLoop) endSend(c *uringConn) {
	s := c.send
	if s == nil {
		return
	}
	s.pin.Unpin()
	if s.bufs > 1 {
		clear(s.iov[:s.bufs]) // or they keep the buffers alive once released
	}
	s.bufs, s.msg = 0, unix.Msghdr{}
	if len(u.sends) < maxFreeSends {
		u.sends = append(u.sends, s)
	}
	c.send = nil
}

// wakeLocked wakes a uring loop for a task just posted, if it sleeps; l.mu
// is held, so the Waker is not closed in between.
func (u *uringLoop) wakeLocked() {
	if u.sleeping.Load() {
		u.waker.Wake()
	}
}

// newRingError explains a ring that could not be set up.
func newRingError(err error) error {
	if errors.Is(err, uring.ErrUnsupported) {
		return fmt.Errorf("%w: %v: %w", ErrEngineUnsupported, Uring, err)
	}
	return fmt.Errorf("sockpool/server: %v engine: %w", Uring, err)
}
