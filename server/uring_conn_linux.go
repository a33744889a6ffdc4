//go:build linux

package server

import (
	"errors"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/sockpool/sockpool/bufs"
	"github.com/sockpool/sockpool/internal/uring"
)

// A uring connection's requests. Reading is one multishot recv, armed
// while the connection reads (loop.recvWanted) and cancelled when it stops
// (backpressure, draining, StartTLS); input that arrives between the stop
// and the cancel's effect is held and handed over when reading resumes,
// as a socket would have kept it. Each recv ends after urRecvLimit bytes
// and is armed again, which bounds what can be held. Writing is one send
// at a time, of the head of the output queue (up to maxIovecs buffers, as
// the epoll loop's writev takes): its completion consumes what the kernel
// took and sends the rest, so the bytes keep their order; a send the kernel
// ends with EAGAIN, having sent nothing, waits for room (awaitRoomLocked)
// and goes again. A file range at the head goes by sendfile(2) on the
// loop, with the same poll for room when the socket is full. A closing
// connection cancels its requests and closes its descriptor once none is
// in flight: until then completions may still name it, and the kernel may
// still read the send's buffer.

// Read buffers. A loop's recvs share one provided buffer ring of
// urBufBytes, so that an idle connection holds no buffer and the loop's
// buffer memory is the same whatever its connections do. Its buffers are
// what ReadBufferSize promises on every engine:
//
//   - ReadBufferSize n: a fixed ring of n-byte buffers, each holding one
//     completion, so no read hands the handler more than n bytes; the
//     same on every kernel.
//   - ReadBufferSize 0: buffers of MaxReadBufferSize, consumed
//     incrementally (IOU_PBUF_RING_INC, uring.NewIncrementalBufferRing):
//     a recv takes what the socket holds, up to what is left of the
//     buffer at the ring's head, and the next recv, of any connection,
//     takes the bytes after it. A bulk stream then reads up to
//     MaxReadBufferSize at once and a 64-byte message uses 64 bytes of a
//     buffer, not a buffer: the size the tuner guesses before each read
//     on the epoll loop is set after the read, by the kernel, so the loop
//     runs no tuner (MinReadBufferSize has nothing to bound). A recv that
//     meets the end of a buffer is short, once per buffer.
//
// Rejected: buffer groups by size class with the tuner choosing one
// (a ring per class, each able to run dry alone, and a recv to re-arm to
// change class); and fixed buffers of MaxReadBufferSize, where every
// small read holds 256 KiB until the turn ends, so that 16 of them
// empty a 4 MiB ring. Where the kernel refuses incremental consumption
// (before Linux 6.12), or may post completions that share a buffer out of
// order (before 6.15; see NewIncrementalBufferRing), the ring is fixed at
// the tuner's starting size (DefaultReadBufferSize within the bounds)
// and reads do not grow past it: slower for bulk input, never wrong.
func newRecvBuffers(r *uring.Ring, tuner *bufs.Tuner) (*uring.BufferRing, error) {
	size := tuner.Size()
	lo, hi := tuner.Bounds()
	if lo < hi {
		b, err := r.NewIncrementalBufferRing(0, recvBufferCount(hi), hi)
		if !errors.Is(err, uring.ErrUnsupported) {
			return b, err
		}
	}
	return r.NewBufferRing(0, recvBufferCount(size), size)
}

// recvBufferCount is how many buffers of size fit in urBufBytes: a power
// of two, at least one.
func recvBufferCount(size int) int {
	count := 1
	for count*2*size <= urBufBytes && count < 1<<15 {
		count *= 2
	}
	return count
}

// uringConn is a uring connection's request state. Loop-owned, but for
// sendPosted and the send fields, which are under evConn.mu.
type uringConn struct {
	recv       bool  // a recv is armed: its last completion is yet to come
	cancelling bool  // the armed recv is being cancelled
	eof        bool  // the peer's EOF arrived while reading was stopped
	pollFirst  bool  // the last recv ended with EAGAIN: the next waits for input before it tries
	closing    bool  // closed: its requests are being cancelled
	sendPosted bool  // a sendTask is posted for the connection (under mu)
	awaitOut   bool  // a poll for room in the socket is armed, for a file range or a refused send (under mu)
	sending    int32 // bytes of the send in flight, from the head of out (under mu); 0: none

	held *heldInput // input that arrived while reading was stopped, if any
	send *uringSend // the send in flight's state, from the loop's (uringLoop.sends)
}

// uringSend is what the kernel reads for a send in flight, until its
// completion: the queue buffers, pinned, and for a send of several, the
// sendmsg's header and vector. A loop keeps them in a free list
// (uringLoop.sends), so an idle connection holds none.
type uringSend struct {
	pin  runtime.Pinner
	bufs int // the queue buffers it reads, out[:bufs]
	msg  unix.Msghdr
	iov  [maxIovecs]unix.Iovec
}

// sendBufs is the number of queue buffers the send in flight reads.
func (u *uringConn) sendBufs() int {
	if u.send == nil {
		return 0
	}
	return u.send.bufs
}

// heldInput is input a uring connection holds while its reading is
// stopped. Apart from uringConn, which stays at 32 bytes: an idle
// connection's memory is its evConn and its uringConn (TestConnSizes).
type heldInput struct {
	b   []byte // from bufs
	off int    // bytes of b handed over so far
}

// pending reports whether h holds bytes not yet handed over.
func (h *heldInput) pending() bool { return h != nil && h.off < len(h.b) }

// dropHeld releases c's held input.
func (u *uringConn) dropHeld() {
	if u.held != nil {
		bufs.Put(u.held.b)
		u.held = nil
	}
}

// maxSend bounds one send's length, which sending counts in 32 bits; the
// rest of a longer buffer goes in the next send, as after a partial one.
const maxSend = 1 << 30

// recvWanted reports whether c should have a recv armed: it reads, or
// lingers (discarding input until the peer's EOF).
func (l *loop) recvWanted(c *evConn) bool {
	switch c.state {
	case evReading:
		return c.paused == 0 && c.upg == nil && c.up.Load() == nil
	case evLingering:
		return true
	}
	return false
}

// syncRecv arms or cancels c's recv to match recvWanted; a uring
// connection's setWantIn.
func (l *loop) syncRecv(c *evConn) {
	u := c.ur
	want := l.recvWanted(c)
	switch {
	case want && !u.recv:
		sqe, err := l.ur.ring.NextSQE()
		if err != nil {
			l.closeConn(c, err)
			return
		}
		sqe.PrepRecvMultishot(urData(urRecv, c.slot), c.fd, l.ur.bufs.Group())
		sqe.SetRecvLimit(l.ur.recvLimit)
		if u.pollFirst {
			sqe.SetPollFirst() // not tried, and refused, again at once
			u.pollFirst = false
		}
		u.recv = true
	case !want && u.recv && !u.cancelling:
		l.cancel(c, urData(urRecv, c.slot))
	}
}

// cancel asks the kernel to end the request with user data target.
func (l *loop) cancel(c *evConn, target uint64) {
	sqe, err := l.ur.ring.NextSQE()
	if err != nil {
		return // the connection closes with the ring
	}
	sqe.PrepCancel(urData(urCancel, c.slot), target, 0)
	if target == urData(urRecv, c.slot) {
		c.ur.cancelling = true
	}
}

// received handles a completion of c's recv, which brought in (taken
// from the buffer ring, valid until the turn's Publish).
func (l *loop) received(c *evConn, cqe *uring.CQE, in []byte) {
	u := c.ur
	l.input(c, in)
	more := cqe.More()
	if !more {
		u.recv, u.cancelling = false, false
	}
	switch err := cqe.Err(); {
	case c.state >= evClosed:
	case cqe.Res == 0 && !more:
		c.rdhup = true
		switch {
		case c.state == evLingering:
			l.closeConn(c, nil)
		case l.recvWanted(c):
			l.peerEOF(c)
		case c.state == evReading:
			u.eof = true // after the held input, when reading resumes
		}
	case err == unix.EAGAIN:
		// The kernel gave up waiting on the non-blocking socket (as it
		// has been seen to for a send, see sent): syncRecv below re-arms,
		// with a recv that waits for input first.
		u.pollFirst = true
	case err == unix.ECANCELED, err == unix.ENOBUFS, err == nil:
		// Cancelled because reading stopped, the buffers ran out
		// (recycled by now), or the recv took its limit: syncRecv below
		// re-arms if it should.
	case err == unix.EINVAL && l.ur.recvLimit > 0:
		// A kernel without the limit (see urRecvLimit): read without.
		l.ur.recvLimit = 0
	default:
		l.closeConn(c, err)
	}
	if c.state >= evClosed {
		l.retire(c)
		return
	}
	if !more {
		l.syncRecv(c)
		l.maybeHandshake(c) // a StartTLS waits for the recv to end
	}
}

// input handles the bytes of one recv completion, in a buffer that is
// recycled when it returns.
func (l *loop) input(c *evConn, p []byte) {
	if len(p) == 0 || c.state >= evClosed {
		return
	}
	c.lastRead = l.now.UnixNano()
	u := c.ur
	switch {
	case c.state == evLingering:
		return // discarded while the peer closes
	case c.state >= evDraining:
		return // no more input for the handler, as an epoll loop reads none
	case !l.recvWanted(c) || u.held.pending():
		// Reading stopped (backpressure, StartTLS) with this already on
		// its way: keep it for when it resumes, in order.
		if u.held == nil {
			u.held = new(heldInput)
		}
		u.held.b = appendInput(u.held.b, p)
		return
	}
	if l.handOver(c, p) {
		return
	}
	if c.state < evClosed {
		l.syncRecv(c)
	}
}

// handOver gives p to the handler and reports whether reading goes on.
// While the handler runs on the loop, its Writes to the loop's connections
// queue for the turn's batch instead of writing (see putLocked).
func (l *loop) handOver(c *evConn, p []byte) bool {
	l.ur.inHandler.Store(true)
	var ok bool
	if c.tls != nil {
		ok = l.deliverTLS(c, p)
	} else {
		ok = l.deliver(c, p)
	}
	l.ur.inHandler.Store(false)
	return ok && !l.readStops(c)
}

// readRing is loop.read for a uring connection whose reading resumes:
// the input held meanwhile goes to the handler a buffer's worth at a
// time, as reads would have brought it, so that backpressure stops it
// where it would have stopped them; then the recv is armed.
func (l *loop) readRing(c *evConn) {
	u := c.ur
	for h := u.held; h.pending(); {
		if c.state >= evClosed || !l.recvWanted(c) {
			return
		}
		p := h.b[h.off:min(len(h.b), h.off+l.ur.bufs.Size())]
		h.off += len(p)
		c.lastRead = l.now.UnixNano()
		if !l.handOver(c, p) {
			return // closed or stopped: the rest waits, or goes with c
		}
	}
	u.dropHeld()
	if u.eof {
		u.eof = false
		l.peerEOF(c)
		return
	}
	l.syncRecv(c)
}

// scheduleSendLocked has the loop send c's queued output on its turn; any
// goroutine, under c.mu. A uring connection's flushLocked.
func (c *evConn) scheduleSendLocked() {
	if c.ur.sendPosted || c.ur.sending > 0 {
		return // the task, or the send's completion, sends what is queued
	}
	c.ur.sendPosted = true
	c.l.post(sendTask, c)
}

// sendTask prepares c's next send. A file range may go out meanwhile, by
// sendfile(2) (sendLocked), so it ends as a send's completion does: with
// the water marks checked (flushed).
var sendTask = func(l *loop, c *evConn) {
	c.mu.Lock()
	c.ur.sendPosted = false
	err := l.sendLocked(c)
	c.mu.Unlock()
	if c.state < evClosed {
		l.flushed(c, err)
	}
}

// sendLocked prepares a send of the head of c's queue, unless one is in
// flight, the queue is empty or c is closed.
func (l *loop) sendLocked(c *evConn) error {
	u, q := c.ur, c.q
	if u.sending > 0 || u.awaitOut || q == nil || c.state >= evClosed || l.ur.broken {
		return nil
	}
	for len(q.out) == 0 && c.tls == nil && len(q.later) > 0 {
		// Bytes move to out; a file range goes by sendfile(2) from the
		// loop, as on the epoll loop, until the socket is full.
		full, err := c.advanceLaterLocked()
		if err != nil {
			return err
		}
		if full {
			return l.awaitRoomLocked(c)
		}
	}
	if len(q.out) == 0 {
		return nil
	}
	sqe, err := l.ur.ring.NextSQE()
	if err != nil {
		return err
	}
	s := l.ur.newSend()
	u.send = s
	if len(q.out) == 1 {
		p := q.out[0].B[q.off:]
		p = p[:min(len(p), maxSend)]
		s.pin.Pin(&p[0]) // the kernel reads p until the completion
		s.bufs, u.sending = 1, int32(len(p))
		sqe.PrepSend(urData(urSend, c.slot), c.fd, p, unix.MSG_NOSIGNAL)
		return nil
	}
	// Several buffers go in one sendmsg. With one buffer per send, a full
	// socket was refilled a buffer per loop turn: TLS output (three 16 KiB
	// records to a 64 KiB buffer) went in sends of 48 KiB and remainders
	// of a few hundred bytes, and under load a slow peer's TCP then sat at
	// a zero window past WriteTimeout though the peer read steadily:
	// TestWriteTimeoutSlowReader's former 300 ms TCP form over TLS under
	// -race, pinned to one CPU (taskset -c 1), failed 14 of 40 runs; with
	// the gather 1 of 220, and the epoll loop's writev 0 of 100.
	s.pin.Pin(s) // msg and iov
	total := 0
	for i, b := range q.out[:min(len(q.out), maxIovecs)] {
		p := b.B
		if i == 0 {
			p = p[q.off:]
		}
		p = p[:min(len(p), maxSend-total)]
		s.pin.Pin(&p[0])
		s.iov[i] = unix.Iovec{Base: &p[0]}
		s.iov[i].SetLen(len(p))
		total += len(p)
		s.bufs = i + 1
		if total == maxSend {
			break
		}
	}
	u.sending = int32(total)
	s.msg = unix.Msghdr{Iov: &s.iov[0]}
	s.msg.SetIovlen(s.bufs)
	sqe.PrepSendmsg(urData(urSend, c.slot), c.fd, &s.msg, unix.MSG_NOSIGNAL)
	return nil
}

// awaitRoomLocked arms a poll for room in c's full socket: for the file
// range at the head of later (sendfile(2) has no request of its own on the
// ring that waits for room, a splice through a pipe would, so the range
// goes as on the epoll loop, with the poll in place of EPOLLOUT), and for
// a send the kernel refused with EAGAIN (see sent). Its completion
// (loop.writable) sends on.
func (l *loop) awaitRoomLocked(c *evConn) error {
	sqe, err := l.ur.ring.NextSQE()
	if err != nil {
		return err
	}
	sqe.PrepPollAdd(urData(urRoom, c.slot), c.fd, unix.POLLOUT)
	c.ur.awaitOut = true
	return nil
}

// writable handles the completion of c's poll for room.
func (l *loop) writable(c *evConn, cqe *uring.CQE) {
	c.mu.Lock()
	c.ur.awaitOut = false
	if c.state >= evClosed {
		c.mu.Unlock()
		l.retire(c)
		return
	}
	l.sendOn(c, cqe) // an error or hang-up in Res shows in sendfile's
}

// sendOn ends the completion of a request that wrote to open c (a send, a
// poll for room), under c.mu, which it releases: a failed one closes c,
// else what is queued goes next, in order.
func (l *loop) sendOn(c *evConn, cqe *uring.CQE) {
	if cqe.Res < 0 {
		c.mu.Unlock()
		l.closeConn(c, cqe.Err())
		return
	}
	err := l.sendLocked(c)
	c.mu.Unlock()
	l.flushed(c, err)
}

// sent handles the completion of c's send.
func (l *loop) sent(c *evConn, cqe *uring.CQE) {
	u := c.ur
	c.mu.Lock()
	k := u.sendBufs()
	l.ur.endSend(u)
	u.sending = 0
	if c.state >= evClosed {
		// The queue was dropped but for the k buffers the send read,
		// kept for the kernel (dropOutputLocked): they go now, less what
		// it took.
		if q := c.q; q != nil {
			took := max(int(cqe.Res), 0)
			for i, b := range q.out[:min(k, len(q.out))] {
				n := len(b.B)
				if i == 0 {
					n -= q.off
				}
				q.releaseLocked(b, n-min(n, took))
				took -= min(n, took)
			}
			q.out, q.off = nil, 0
		}
		c.mu.Unlock()
		l.retire(c)
		return
	}
	if cqe.Res >= 0 {
		c.consumeLocked(int(cqe.Res))
	} else if cqe.Err() == unix.EAGAIN {
		// Nothing was sent: the kernel can end a send on a full
		// non-blocking socket with EAGAIN instead of waiting for room
		// (seen under load, in the proxy's relay test). The bytes stay
		// queued and go, in order, once the socket has room (writable);
		// closing here lost them.
		err := l.awaitRoomLocked(c)
		c.mu.Unlock()
		if err != nil {
			l.closeConn(c, err)
		}
		return
	}
	l.sendOn(c, cqe) // the rest, in order
}

// retire closes a closed connection's descriptor and finalizes it once no
// request on it is in flight, cancelling those that are.
func (l *loop) retire(c *evConn) {
	u := c.ur
	c.mu.Lock()
	sending := u.sending > 0 || u.awaitOut
	c.mu.Unlock()
	if !l.ur.broken && (u.recv || sending) {
		if !u.closing {
			// One cancel ends both: the recv, and a send that waits
			// for a peer that does not read.
			u.closing = true
			if sqe, err := l.ur.ring.NextSQE(); err == nil {
				sqe.PrepCancelFD(urData(urCancel, c.slot), c.fd, uring.CancelAll)
			}
		}
		return // their completions call retire again
	}
	if c.fd < 0 {
		return // retired already
	}
	u.dropHeld()
	unix.Close(c.fd)
	if c.registered {
		l.removeConn(c)
	}
	c.mu.Lock()
	l.ur.endSend(u) // a send left by a broken ring, whose close ended it
	c.fd = -1
	c.mu.Unlock()
	l.finalize(c)
}

// retired reports whether c has no request in flight and its descriptor
// is closed: a uring connection is finalized only then.
func (c *evConn) retired() bool { return c.ur == nil || c.fd < 0 }
