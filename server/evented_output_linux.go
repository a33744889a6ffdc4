//go:build linux

package server

import (
	"errors"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/sockpool/sockpool/bufs"
)

// An evented connection's output. A Write goes straight to the socket when
// nothing is queued, which in the common case takes it all; what the socket
// refuses is queued, in pooled buffers (or lent, see writeLending), and
// flushed with writev when the socket is writable again. WriteHighWater
// holds back writers off the loop, Conn.Congested tells a handler on it, and
// OutputLimit bounds what it can queue regardless.

// outChunk is the most bytes appended to one queued output buffer; larger
// writes get a buffer of their own.
const outChunk = 64 << 10

// maxIovecs bounds the buffers one writev hands the kernel.
const maxIovecs = 16

var (
	getOutput = bufs.GetOutput
	putOutput = bufs.PutOutput
)

// outQueue is a connection's output waiting for the socket.
type outQueue struct {
	out   []*bufs.Output
	off   int           // bytes of out[0] already written
	space chan struct{} // closed when the queue drains below low water

	// lent is the rest of a large Write made off the loop, queued without a
	// copy: the writer waits until it is written (lentDone is closed) or
	// dropped (lentLost is then what was not written). At most one Write
	// lends at a time (wmu), so its bytes stay together in the stream.
	lent     *bufs.Output
	lentDone chan struct{}
	lentLost int

	// later is output that becomes bytes for the socket only once all that
	// is before it has been written: SendFile's file ranges, and the Writes
	// made while one waits (see evented_sendfile_linux.go). Its bytes count
	// in queued; fileLen of them are in file ranges, which take no memory
	// and are not held against OutputLimit.
	later    []laterOut
	laterLen int64
	fileLen  int64
	pumping  bool // TLS: a goroutine is encrypting the head of later
}

func (c *evConn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.mu.Lock()
	if c.tls != nil || c.upg != nil || c.up.Load() != nil {
		return c.writeTLS(p) // releases mu
	}
	// Off the loop, a Write waits for space at high water, and one large
	// enough to pass it lends its rest (writeLending waits itself). The
	// cheap tests come first: most Writes never ask where they run.
	hw, q := int64(c.l.srv.highWater), c.queued.Load()
	mayWait := q >= hw && !c.wclosed
	mayLend := len(p) > outChunk && q+int64(len(p)) > hw
	if (mayWait || mayLend) && !onLoop() {
		if mayLend {
			c.mu.Unlock()
			return c.writeLending(p)
		}
		if err := c.waitSpaceLocked(); err != nil {
			c.mu.Unlock()
			return 0, err
		}
	}
	defer c.mu.Unlock()
	if c.wclosed {
		return 0, ErrConnClosed
	}
	return c.sendLocked(p)
}

// writeLending is Write for a large p off the loop: once the queue is below
// WriteHighWater, what the socket does not take at once is queued, copied
// if it fits below the mark (Write returns at once, as for a small p), and
// otherwise lent to the queue uncopied, Write returning once it has been
// written. So a goroutine's large Write to a slow peer costs no memory of
// the engine's beyond the high-water mark, as on a blocking socket.
func (c *evConn) writeLending(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.queued.Load() >= int64(c.l.srv.highWater) && !c.wclosed {
		if err := c.waitSpaceLocked(); err != nil {
			return 0, err
		}
	}
	if c.wclosed {
		return 0, ErrConnClosed
	}
	n, lent, err := c.putLocked(p, true)
	if !lent {
		return n, err
	}
	done := c.q.lentDone
	c.mu.Unlock()
	<-done
	c.mu.Lock()
	if lost := c.lentLostLocked(); lost > 0 {
		if errors.Is(c.closeReason(), ErrWriteTimeout) {
			return len(p) - lost, ErrWriteTimeout
		}
		return len(p) - lost, ErrConnClosed
	}
	return len(p), nil
}

// Congested reports whether an inline handler should stop producing output
// (see Conn.Congested). A true answer is remembered, so that the loop pauses
// reading and calls OnDrain once the queue drains.
func (c *evConn) Congested() bool {
	s := c.l.srv
	if !s.Engine.inline() || c.queued.Load() <= int64(s.highWater) {
		return false
	}
	c.setFlag(flagDrainWanted)
	return true
}

// sendLocked writes p to the socket or queues what it does not take, in
// order after what is queued. It never waits.
func (c *evConn) sendLocked(p []byte) (int, error) {
	n, _, err := c.putLocked(p, false)
	return n, err
}

// putLocked is sendLocked that, if lend is true, lends the rest of p to the
// queue instead of copying it when a copy would take the queue past
// WriteHighWater (see writeLending); it reports whether it lent.
func (c *evConn) putLocked(p []byte, lend bool) (int, bool, error) {
	total := len(p)
	if q := c.queued.Load() - c.fileQueued(); !lend && q > 0 && q+int64(len(p)) > int64(c.l.srv.outputLimit) {
		return 0, false, c.overLimitLocked()
	}
	count := c.tls == nil // TLS counts plaintext, in writeTLS
	if count && c.deferring() {
		// A file range is ahead: p waits behind it (TLS ciphertext never
		// does: it is made in turn, see pumpLater).
		return total, false, c.deferLocked(p)
	}
	// On a uring loop that is running a handler, output queues for the
	// turn's batch whichever of the loop's connections it is for, so a
	// relay's Write to its peer costs no write(2) of its own (see
	// uringLoop.inHandler).
	direct := c.ur == nil || !c.l.ur.inHandler.Load()
	if (c.q == nil || len(c.q.out) == 0) && direct {
		// Nothing queued: write straight to the socket, which takes it all in
		// the common case, and queue only what it refuses.
		for len(p) > 0 {
			n, err := unix.Write(c.fd, p)
			if n > 0 {
				p = p[n:]
				if count {
					c.bytesOut.Add(uint64(n))
				}
				c.sent.Add(int64(n))
				c.lastWrite.Store(c.l.clock.Load())
			}
			if err == nil || err == unix.EINTR {
				continue
			}
			if err == unix.EAGAIN {
				break
			}
			return total - len(p), false, c.failLocked(err)
		}
		if len(p) == 0 {
			return total, false, nil
		}
		if !lend && len(p) > c.l.srv.outputLimit {
			return total - len(p), false, c.overLimitLocked()
		}
		c.stallSince.Store(c.l.clock.Load())
	} else if c.q == nil || len(c.q.out) == 0 {
		// A uring loop's handler does not write here: it queues, and the
		// loop sends with the turn's other requests (scheduleSendLocked),
		// in the system call that waits.
		if !lend && len(p) > c.l.srv.outputLimit {
			return 0, false, c.overLimitLocked()
		}
		c.stallSince.Store(c.l.clock.Load())
	}
	if lend && c.queued.Load()+int64(len(p)) > int64(c.l.srv.highWater) {
		c.lendLocked(p)
	} else {
		lend = false
		c.enqueueLocked(p)
	}
	if c.l.edge {
		// The EPOLLOUT edge may have fired between our EAGAIN and the
		// enqueue, seen an empty queue and been spent. One more write
		// either makes progress or hits EAGAIN again, which re-arms it.
		if err := c.flushLocked(); err != nil {
			c.dropOutputLocked() // releases a lent p: the caller must not wait
			return total, false, c.failLocked(err)
		}
	} else if !c.outArmed {
		c.outArmed = true
		c.modifyLocked()
	}
	// The flush may have written all of a lent p, and then released the
	// emptied queue: c.q is nil, and there is nothing to wait for.
	return total, lend && c.q != nil && c.q.lent != nil, nil
}

// lendLocked queues p without copying it; see writeLending.
func (c *evConn) lendLocked(p []byte) {
	q := c.grow(int64(len(p)))
	q.lent, q.lentDone, q.lentLost = &bufs.Output{B: p}, make(chan struct{}), 0
	q.out = append(q.out, q.lent)
}

// releaseLocked gives back a buffer that has left the queue, written or not:
// a pooled one to the pool; for the lent one, the writer is told, with lost
// the bytes of it that were not written.
func (q *outQueue) releaseLocked(b *bufs.Output, lost int) {
	if b != q.lent {
		putOutput(b)
		return
	}
	q.lentLost = lost
	close(q.lentDone)
	q.lent, q.lentDone = nil, nil
}

// grow counts n more bytes queued and returns the queue, made on first use.
func (c *evConn) grow(n int64) *outQueue {
	c.queued.Add(n)
	c.l.srv.stats.queued.Add(n)
	if c.q == nil {
		c.q = queues.Get().(*outQueue)
	}
	return c.q
}

// lentLostLocked takes the count of a lent Write's bytes that were dropped
// unsent (0 when all were written).
func (c *evConn) lentLostLocked() int {
	if c.q == nil {
		return 0
	}
	lost := c.q.lentLost
	c.q.lentLost = 0
	return lost
}

// queues holds the output queues of connections that have emptied theirs:
// a uring connection queues every Write, so an idle one would otherwise
// keep its queue (about 120 bytes with out's array) for good.
var queues = sync.Pool{New: func() any { return new(outQueue) }}

// releaseQueueLocked gives c's queue back to queues if nothing is in it or
// waits on it. The lending writer reads lentLost after the queue let go of
// its buffer, so a queue with a loss to report stays.
func (c *evConn) releaseQueueLocked() {
	q := c.q
	if q == nil || len(q.out) > 0 || q.space != nil || q.lent != nil || q.lentLost != 0 || len(q.later) > 0 || q.pumping {
		return
	}
	c.q = nil
	*q = outQueue{out: q.out[:0]}
	queues.Put(q)
}

// overLimitLocked closes c for queueing more than OutputLimit.
func (c *evConn) overLimitLocked() error {
	c.l.srv.stats.outputLimit.Add(1)
	return c.failLocked(ErrOutputLimit)
}

// failLocked ends c's writing for err, which the loop then closes it with,
// and returns err.
func (c *evConn) failLocked(err error) error {
	c.wclosed = true
	c.setReason(err)
	c.l.post(closeTask, c)
	return err
}

// waitSpaceLocked blocks a writer that is not an event loop while the queue
// is at WriteHighWater or above: goroutines that push output to a peer that
// does not read are held back as they would be by a blocking socket, instead
// of queueing without bound. A loop never waits (it is the one that
// flushes). WriteTimeout bounds the wait: the loop's sweep closes a
// connection whose peer took nothing for that long, which wakes the writer.
func (c *evConn) waitSpaceLocked() error {
	for c.queued.Load() >= int64(c.l.srv.highWater) && !c.wclosed && !c.flag(flagClosedByHandler) {
		if c.ur != nil && c.ur.sending == 0 {
			// No send in flight: write what the socket takes now rather
			// than wait for the loop, which may be in a handler that
			// waits for this writer.
			if err := c.writevLocked(); err != nil {
				c.failLocked(err)
				break
			}
			if c.queued.Load() < int64(c.l.srv.highWater) {
				break
			}
		}
		if c.q.space == nil {
			c.q.space = make(chan struct{})
		}
		ch := c.q.space
		c.mu.Unlock()
		<-ch
		c.mu.Lock()
	}
	if c.wclosed && errors.Is(c.closeReason(), ErrWriteTimeout) {
		return ErrWriteTimeout
	}
	return nil
}

// signalSpaceLocked wakes writers waiting for the queue to drain.
func (c *evConn) signalSpaceLocked() {
	if c.q != nil && c.q.space != nil && (c.wclosed || c.flag(flagClosedByHandler) || c.queued.Load() <= int64(c.l.srv.lowWater)) {
		close(c.q.space)
		c.q.space = nil
	}
}

// enqueueLocked copies p to the tail of the output queue.
func (c *evConn) enqueueLocked(p []byte) {
	q := c.grow(int64(len(p)))
	if k := len(q.out); k > 0 {
		if t := q.out[k-1]; t != q.lent && len(t.B)+len(p) <= outChunk {
			t.B = append(t.B, p...)
			return
		}
	}
	b := getOutput()
	b.B = append(b.B, p...)
	q.out = append(q.out, b)
}

// flushLocked writes queued output with writev until the queue is empty or
// the socket is full; on a plain connection, what waits in later follows
// once everything before it is written.
func (c *evConn) flushLocked() error {
	if c.ur != nil {
		c.scheduleSendLocked() // any goroutine: the loop sends
		return nil
	}
	return c.writevLocked()
}

// writevLocked is flushLocked's writing: the epoll engine's flush, and a
// uring writer's that would otherwise wait for its loop (waitSpaceLocked).
func (c *evConn) writevLocked() error {
	var scratch [maxIovecs][]byte
	for c.q != nil && (len(c.q.out) > 0 || c.tls == nil && len(c.q.later) > 0) {
		if len(c.q.out) == 0 {
			full, err := c.advanceLaterLocked()
			if full || err != nil {
				return err
			}
			continue
		}
		iov := scratch[:0]
		for i, b := range c.q.out {
			if i == maxIovecs {
				break
			}
			if i == 0 {
				iov = append(iov, b.B[c.q.off:])
			} else {
				iov = append(iov, b.B)
			}
		}
		n, err := unix.Writev(c.fd, iov)
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
	c.wroteLocked(n)
	q := c.q
	for n > 0 {
		b := q.out[0]
		rest := len(b.B) - q.off
		if n < rest {
			q.off += n
			return
		}
		n -= rest
		q.off = 0
		q.releaseLocked(b, 0)
		q.out[0] = nil
		q.out = q.out[1:]
	}
	c.signalSpaceLocked()
	c.releaseQueueLocked()
}

// wroteLocked counts n queued bytes as handed to the kernel.
func (c *evConn) wroteLocked(n int) {
	c.unqueueLocked(n)
	if c.tls == nil { // TLS counts plaintext, in writeTLS
		c.bytesOut.Add(uint64(n))
	}
	c.sent.Add(int64(n))
	c.lastWrite.Store(c.l.clock.Load())
}

// unqueueLocked counts n bytes as gone from the queue.
func (c *evConn) unqueueLocked(n int) {
	c.queued.Add(-int64(n))
	c.l.srv.stats.queued.Add(-int64(n))
}

// dropOutputLocked releases queued output that will never be sent.
func (c *evConn) dropOutputLocked() {
	if c.q == nil {
		return
	}
	// A uring send in flight still reads the head buffers: they stay,
	// uncounted, and its completion releases them (loop.sent).
	keep := 0
	if c.ur != nil {
		keep = c.ur.sendBufs()
	}
	for i, b := range c.q.out[min(keep, len(c.q.out)):] {
		lost := len(b.B)
		if i+keep == 0 {
			lost -= c.q.off
		}
		c.q.releaseLocked(b, lost)
	}
	c.q.dropLater()
	q := c.queued.Swap(0)
	c.l.srv.stats.queued.Add(-q)
	c.q.out = c.q.out[:min(keep, len(c.q.out))]
	if len(c.q.out) == 0 {
		c.q.out, c.q.off = nil, 0
	}
	c.signalSpaceLocked()
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

// setWantIn turns level-triggered interest in input on or off; with
// edge-triggered registration there is nothing to change.
func (c *evConn) setWantIn(on bool) {
	if c.ur != nil {
		c.l.syncRecv(c) // on the loop: arm or cancel the recv
		return
	}
	if c.l.edge {
		return
	}
	c.mu.Lock()
	c.wantIn = on
	c.modifyLocked()
	c.mu.Unlock()
}

// hushHangup keeps a level-triggered registration from reporting a
// hang-up on every wait while c is paused: epoll reports EPOLLHUP whatever
// the interest, so c is registered edge-triggered with none, and reports
// it once. The next modifyLocked (reading resumes, output is armed)
// restores the level-triggered interest.
func (c *evConn) hushHangup() {
	if c.l.edge {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.registered || c.state >= evClosed || c.curEvents == unix.EPOLLET {
		return
	}
	c.curEvents = unix.EPOLLET
	unix.EpollCtl(c.l.epfd, unix.EPOLL_CTL_MOD, c.fd, &unix.EpollEvent{Events: c.curEvents, Fd: c.slot})
}

// modifyLocked updates a level-triggered registration to c's interest.
func (c *evConn) modifyLocked() {
	if c.l.edge || !c.registered || c.state >= evClosed {
		return
	}
	ev := c.interest()
	if ev == c.curEvents {
		return
	}
	c.curEvents = ev
	unix.EpollCtl(c.l.epfd, unix.EPOLL_CTL_MOD, c.fd, &unix.EpollEvent{Events: ev, Fd: c.slot})
}
