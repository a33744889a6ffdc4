//go:build linux

package server

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/sockpool/sockpool/bufs"
	"github.com/sockpool/sockpool/pool"
)

// Reading an evented connection and handing its input to the handler:
// inline on the loop (Evented) or through the pool, one call at a time per
// connection (EventedPool); and the backpressure that pauses reading while
// output (and, with the pool, input waiting for a worker) is above
// WriteHighWater.

// maxReadsPerTurn bounds the reads one connection gets before the loop
// serves the others: a fast sender cannot monopolise its loop.
const maxReadsPerTurn = 16

// register adds a new connection to the loop's epoll set.
func (l *loop) register(c *evConn) {
	l.pending.Add(-1)
	if c.state >= evClosed {
		l.finalize(c) // aborted before it got here: it never opened
		return
	}
	l.addConn(c)
	l.count++
	c.lastRead = l.now.UnixNano()
	c.mu.Lock()
	c.registered, c.wantIn = true, true
	var err error
	if l.ur == nil {
		c.curEvents = c.interest()
		err = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, c.fd, &unix.EpollEvent{Events: c.curEvents, Fd: c.slot})
	} // a uring connection's recv is armed below, once OnOpen has run
	c.mu.Unlock()
	if err != nil {
		l.closeConn(c, fmt.Errorf("sockpool/server: epoll_ctl add: %w", err))
		return
	}
	// OnOpen runs where OnData runs: here on the loop, or first thing in the
	// connection's pool task, so it always returns before the first OnData
	// and before OnClose.
	c.opened = true
	d := c.dialed()
	if oh, ok := l.srv.handlerOf(d).(OpenHandler); ok {
		if l.srv.Engine.inline() {
			perr := guard(l.srv, c, func() { oh.OnOpen(c) })
			if d != nil {
				d.open(perr)
			}
			if perr != nil {
				l.closeConn(c, perr)
				return
			}
		} else {
			c.pool.mu.Lock()
			c.pool.running = true
			c.pool.mu.Unlock()
			l.dispatch(c) // runHandler calls OnOpen, and tells d
		}
	} else if d != nil {
		d.open(nil)
	}
	if c.tls != nil {
		l.again = append(l.again, c) // input read ahead during the handshake
	} else if l.ur != nil && c.state < evClosed && !l.handlerPaused(c) {
		// A PauseReading in OnOpen holds from OnOpen's return, though its
		// flowTask is still posted: the recv is not armed until resumed.
		l.syncRecv(c)
	}
	if c.flag(flagStopAsked) {
		l.stopConn(c)
	}
}

// handle reacts to the readiness epoll reported for c.
func (l *loop) handle(c *evConn, events uint32) {
	if events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		l.read(c, events)
		if c.state >= evClosed {
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
	if c.state == evLingering {
		l.discard(c)
		return
	}
	if c.upg != nil || c.up.Load() != nil {
		return // input after STARTTLS is the handshake's
	}
	if c.paused != 0 || c.state >= evDraining || l.handlerPaused(c) {
		switch {
		case events&unix.EPOLLHUP != 0 && events&unix.EPOLLERR == 0 && c.wend&wendFIN != 0 && c.state < evDraining:
			// Our CloseWrite's FIN and the peer's: both directions have
			// ended, but input may still wait in the socket, read once
			// the pause ends.
			c.hushHangup()
		case events&(unix.EPOLLHUP|unix.EPOLLERR) != 0:
			l.closeConn(c, errHangup) // both directions are gone: nothing can be flushed
		}
		return
	}
	if c.tls != nil && c.tls.buffered {
		if !l.deliverTLS(c, nil) || l.readStops(c) {
			return
		}
	}
	if l.ur != nil {
		l.readRing(c) // input arrives by completion, not by read(2)
		return
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
	blocked := c.paused != 0 || c.state >= evDraining || l.handlerPaused(c)
	if !blocked && c.flag(flagStopAsked) {
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
	if l.ur != nil {
		l.syncRecv(c) // the recv's completions discard (loop.input)
		return
	}
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
	if s.Engine.inline() {
		c.bytesIn.Add(uint64(len(p)))
		if err := guard(s, c, func() { s.handlerOf(c.dialed()).OnData(c, p) }); err != nil {
			l.closeConn(c, err)
			return false
		}
		if (c.queued.Load() > int64(s.highWater) || c.flag(flagDrainWanted)) && !l.paces(c) {
			l.pause(c)
		}
		return true
	}
	c.pool.mu.Lock()
	c.pool.in = appendInput(c.pool.in, p)
	backlog := len(c.pool.in) + c.pool.inflight
	start := !c.pool.running
	c.pool.running = true
	c.pool.mu.Unlock()
	if start {
		l.dispatch(c)
	}
	// Input waiting for the handler becomes output, so the bound applies to
	// both together: queued output never passes high water plus one read.
	// A PacedHandler's output is another connection's input: it bounds
	// that itself.
	if int64(backlog) > int64(s.highWater) || int64(backlog)+c.queued.Load() > int64(s.highWater) && !l.paces(c) {
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
		c.pool.mu.Lock()
		c.pool.running = false
		c.pool.mu.Unlock()
		l.closeConn(c, err)
	}
}

// handlerDone runs on the loop after a pool worker drained c's input.
func (l *loop) handlerDone(c *evConn) {
	if c.state >= evClosed {
		l.finalize(c)
		return
	}
	if c.up.Load() != nil {
		l.beginUpgrade(c)
	}
	l.resumePool(c)
	l.maybeResume(c)
	l.finish(c)
}

// pause stops reading c until its output (or input backlog) drains.
func (l *loop) pause(c *evConn) { l.pauseFor(c, pauseOutput) }

// maybeResume resumes reading c once its queues are below the low mark,
// and calls OnDrain once they are if Congested said true: whoever asked,
// and whether or not that paused c (a PacedHandler's is not).
func (l *loop) maybeResume(c *evConn) {
	if c.paused&pauseOutput == 0 && !c.flag(flagDrainWanted) {
		return
	}
	low := int64(l.srv.lowWater)
	queued, backlog := c.queued.Load(), int64(c.inputBacklog())
	held := queued + backlog
	if l.paces(c) {
		held = backlog // a PacedHandler's connection pauses for its input alone (see deliver)
	}
	resumed := held <= low && l.unpause(c, pauseOutput)
	if queued+backlog <= low && c.clearFlag(flagDrainWanted) && !l.drain(c) {
		return
	}
	if resumed {
		l.readAgain(c)
	}
}

// drain calls OnDrain for a handler that stopped because c was Congested
// (Evented: it runs on the loop, like OnData). It reports false when
// c closed or must pause again.
func (l *loop) drain(c *evConn) bool {
	dh, ok := l.srv.handlerOf(c.dialed()).(DrainHandler)
	if !ok {
		return true
	}
	if err := guard(l.srv, c, func() { dh.OnDrain(c) }); err != nil {
		l.closeConn(c, err)
		return false
	}
	if c.state >= evClosed {
		return false
	}
	if (c.queued.Load() > int64(l.srv.highWater) || c.flag(flagDrainWanted)) && !l.paces(c) {
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
	l.flushed(c, err)
}

// flushed goes on after output left c's queue (EPOLLOUT's flush, a uring
// send's completion), err being the writing's: TLS encrypts more of what
// waits, a StartTLS may begin, reading may resume, and a closing c may
// close.
func (l *loop) flushed(c *evConn, err error) {
	if err == nil && c.tls != nil {
		err = c.pumpLater()
	}
	if err != nil {
		l.closeConn(c, err)
		return
	}
	l.maybeHandshake(c)
	l.maybeResume(c)
	l.finish(c)
}

// handlerRunning reports whether a pool task is calling (or about to call)
// OnData for c.
func (c *evConn) handlerRunning() bool {
	if c.pool == nil {
		return false
	}
	c.pool.mu.Lock()
	defer c.pool.mu.Unlock()
	return c.pool.running
}

// inputBacklog is the input waiting for a pool worker.
func (c *evConn) inputBacklog() int {
	if c.pool == nil {
		return 0
	}
	c.pool.mu.Lock()
	defer c.pool.mu.Unlock()
	n := c.pool.inflight
	n += len(c.pool.in)
	return n
}

// runHandler is the pool task of EventedPool: it calls OnData with c's
// pending input until there is none, so calls for one connection never
// overlap and keep their order.
func (c *evConn) runHandler() {
	s := c.l.srv
	if !c.openDone {
		c.openDone = true
		d := c.dialed()
		if oh, ok := s.handlerOf(d).(OpenHandler); ok {
			err := guard(s, c, func() { oh.OnOpen(c) })
			if d != nil {
				d.open(err)
			}
			if err != nil {
				c.fail(err)
				return
			}
		}
	}
	for {
		c.pool.mu.Lock()
		in := c.pool.in
		if c.flag(flagClosedByHandler) || c.up.Load() != nil || c.flag(flagPaused) {
			// After the handler's own Close no further input is handed to
			// it, as in the threaded engine; after StartTLS, the input is
			// the handshake's (the loop's beginUpgrade takes it); while
			// the handler has paused reading, the input waits for
			// ResumeReading (applyFlow starts a task for it).
			c.pool.running = false
			c.pool.mu.Unlock()
			break
		}
		if len(in) == 0 {
			eof := c.pool.eof
			c.pool.eof = false // OnEOF runs once
			c.pool.running = false
			c.pool.mu.Unlock()
			if eh, ok := s.handlerOf(c.dialed()).(EOFHandler); ok && eof {
				if err := guard(s, c, func() { eh.OnEOF(c) }); err != nil {
					c.fail(err)
					return
				}
			}
			break
		}
		c.pool.in = nil
		c.pool.inflight = len(in)
		c.pool.mu.Unlock()
		c.bytesIn.Add(uint64(len(in)))
		err := guard(s, c, func() { s.handlerOf(c.dialed()).OnData(c, in) })
		bufs.Put(in)
		c.pool.mu.Lock()
		c.pool.inflight = 0
		c.pool.mu.Unlock()
		if err != nil {
			c.fail(err)
			return
		}
	}
	c.l.post((*loop).handlerDone, c)
}
