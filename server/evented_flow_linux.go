//go:build linux

package server

import "golang.org/x/sys/unix"

// Handler-paced reading and half-close on the evented engines. The loop
// stops reading a connection for one of several reasons at once, each set
// and cleared on its own, so that the handler's PauseReading and the
// engine's backpressure never end each other's pause; the peer's EOF, kept
// open by an EOFHandler, is one more reason that nothing clears. The
// handler's requests come from any goroutine: an atomic word records them,
// read by the loop before each read (so a pause made from the
// connection's own handler holds from its return), and a posted task
// applies them to a loop that is not reading.

// pauseReason is a set of reasons the loop is not reading a connection.
// Loop-owned.
type pauseReason uint8

const (
	// pauseOutput: backpressure, the output (or with EventedPool the input
	// waiting for a worker) is above WriteHighWater; cleared below
	// WriteLowWater. Counted in Stats.Paused.
	pauseOutput pauseReason = 1 << iota
	// pauseHandler: Conn.PauseReading, until ResumeReading.
	pauseHandler
	// pauseEOF: the peer's EOF is read and an EOFHandler keeps the
	// connection open for writing. Never cleared.
	pauseEOF
)

// writeEnd is what the connection has sent of its own end. Loop-owned.
type writeEnd uint8

const (
	wendNotified writeEnd = 1 << iota // TLS: close_notify is queued
	wendFIN                           // CloseWrite's FIN is sent
)

// The bits of evConn.flags.
const (
	flagPaused          uint32 = 1 << iota // PauseReading, until ResumeReading
	flagWriteShut                          // CloseWrite: FIN once the output is flushed
	flagStopAsked                          // Close or Shutdown asked to stop
	flagDrainWanted                        // Congested reported true: OnDrain follows the drain
	flagClosedByHandler                    // Conn.Close was called: no more Writes
)

// flag reports whether f is set.
func (c *evConn) flag(f uint32) bool { return c.flags.Load()&f != 0 }

// setFlag sets f and reports whether it was set already.
func (c *evConn) setFlag(f uint32) bool { return c.flags.Or(f)&f != 0 }

// clearFlag clears f and reports whether it was set.
func (c *evConn) clearFlag(f uint32) bool { return c.flags.And(^f)&f != 0 }

func (c *evConn) PauseReading() {
	if !c.setFlag(flagPaused) {
		c.l.post(flowTask, c)
	}
}

func (c *evConn) ResumeReading() {
	if c.clearFlag(flagPaused) {
		c.l.post(flowTask, c)
	}
}

func (c *evConn) CloseWrite() error {
	c.mu.Lock()
	if c.upg != nil || c.up.Load() != nil {
		c.mu.Unlock()
		return ErrUpgradePending
	}
	if c.tls == nil {
		// A TLS connection's raw path stays open for close_notify; the
		// flow bit refuses further Writes (writesRefusedLocked).
		c.wclosed = true
	}
	first := !c.setFlag(flagWriteShut)
	c.signalSpaceLocked()
	c.mu.Unlock()
	if first {
		c.l.post(closeWriteTask, c)
	}
	return nil
}

// writesRefusedLocked reports whether Writes now fail with ErrConnClosed.
func (c *evConn) writesRefusedLocked() bool {
	return c.wclosed || c.flag(flagClosedByHandler) || c.flag(flagWriteShut)
}

var (
	// flowTask applies the handler's latest PauseReading or ResumeReading.
	flowTask = func(l *loop, c *evConn) { l.applyFlow(c) }
	// closeWriteTask begins a CloseWrite: FIN once the output is flushed,
	// or a clean close when the peer has ended its side already.
	closeWriteTask = func(l *loop, c *evConn) {
		if c.state >= evDraining {
			return // closing already: its FIN follows the output anyway
		}
		if c.paused&pauseEOF != 0 {
			l.stopReading(c)
			c.want = closeClean
		}
		l.finish(c)
	}
)

// applyFlow brings c's handler pause in line with what the handler last
// asked for.
func (l *loop) applyFlow(c *evConn) {
	if c.state >= evClosed {
		return
	}
	if c.flag(flagPaused) {
		l.pauseFor(c, pauseHandler)
		return
	}
	resumed := l.unpause(c, pauseHandler)
	l.resumePool(c) // even if the loop never saw the pause: the pool task may have
	if resumed {
		l.readAgain(c)
	}
}

// resumePool starts a pool task for the input (or OnEOF) that the last one
// left because the handler had paused reading. A task still running when
// the pause ended leaves it to handlerDone, which calls this again.
func (l *loop) resumePool(c *evConn) {
	if c.pool == nil || c.flag(flagPaused) || c.flag(flagClosedByHandler) || c.up.Load() != nil {
		return
	}
	c.pool.mu.Lock()
	owed := len(c.pool.in) > 0 || c.pool.eof
	c.pool.mu.Unlock()
	if owed {
		l.kickPool(c)
	}
}

// handlerPaused reports whether c's handler has paused reading, and
// records it in paused: the loop calls it before reading.
func (l *loop) handlerPaused(c *evConn) bool {
	if !c.flag(flagPaused) {
		return false
	}
	l.pauseFor(c, pauseHandler)
	return true
}

// pauseFor stops reading c for why.
func (l *loop) pauseFor(c *evConn, why pauseReason) {
	if c.paused&why != 0 {
		return
	}
	was := c.paused
	c.paused |= why
	if why == pauseOutput {
		l.srv.stats.paused.Add(1)
	}
	if was == 0 {
		c.setWantIn(false)
	}
}

// unpause clears why and reports whether that leaves c with no reason to
// stay paused.
func (l *loop) unpause(c *evConn, why pauseReason) bool {
	if c.paused&why == 0 {
		return false
	}
	c.paused &^= why
	if why == pauseOutput {
		l.srv.stats.paused.Add(-1)
	}
	c.lastRead = l.now.UnixNano() // the pause was ours, not the peer's silence
	return c.paused == 0
}

// readAgain resumes reading c after its last pause ended.
func (l *loop) readAgain(c *evConn) {
	if c.state >= evDraining || c.paused != 0 {
		return
	}
	if l.edge {
		l.again = append(l.again, c) // input that arrived meanwhile raised no new edge
		return
	}
	c.setWantIn(true)
}

// paces reports whether c's handler paces its reading (PacedHandler).
func (l *loop) paces(c *evConn) bool {
	p, ok := l.srv.handlerOf(c.dialed()).(PacedHandler)
	return ok && p.PacesReading()
}

// peerEOF handles the peer's FIN: no more input. An EOFHandler's OnEOF runs
// after the last OnData; the connection then stays open for writing until
// the handler ends it, unless it has half-closed already. Otherwise it
// closes once output is flushed and the handler is done.
func (l *loop) peerEOF(c *evConn) {
	if eh, ok := l.srv.handlerOf(c.dialed()).(EOFHandler); ok {
		if c.pool != nil {
			c.pool.mu.Lock()
			c.pool.eof = true
			c.pool.mu.Unlock()
			l.kickPool(c) // OnEOF follows the input waiting, on the pool
		} else if err := guard(l.srv, c, func() { eh.OnEOF(c) }); err != nil {
			l.closeConn(c, err)
			return
		}
		if c.state >= evDraining {
			return // OnEOF closed it
		}
		if !c.flag(flagWriteShut) {
			l.pauseFor(c, pauseEOF)
			return
		}
	}
	l.stopReading(c)
	c.want = closeClean
	l.finish(c)
}

// kickPool starts c's pool task unless one runs.
func (l *loop) kickPool(c *evConn) {
	c.pool.mu.Lock()
	start := !c.pool.running
	c.pool.running = true
	c.pool.mu.Unlock()
	if start {
		l.dispatch(c)
	}
}

// halfClose sends CloseWrite's FIN once c's output is flushed: finish
// calls it for a connection that is not closing.
func (l *loop) halfClose(c *evConn) {
	if c.wend&wendFIN != 0 || !l.flushedForFIN(c) {
		return
	}
	c.wend |= wendFIN
	if err := unix.Shutdown(c.fd, unix.SHUT_WR); err != nil {
		l.closeConn(c, err)
	}
}

// flushedForFIN reports whether all of c's output is written, a TLS
// connection's close_notify last, so that FIN may follow; the raw path
// then closes to Writes.
func (l *loop) flushedForFIN(c *evConn) bool {
	if !l.notify(c) {
		return false // close_notify goes after what waits in later, and FIN after it
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.queued.Load() > 0 {
		return false
	}
	c.wclosed = true
	return true
}

// notify queues a TLS connection's close_notify, after what the handler
// wrote; it reports false while output that waits in later must go first.
func (l *loop) notify(c *evConn) bool {
	if c.tls == nil || c.wend&wendNotified != 0 {
		return true
	}
	c.mu.Lock()
	waiting := c.deferring()
	c.mu.Unlock()
	if waiting {
		return false
	}
	// The raw path stays open until the queue is flushed.
	c.wend |= wendNotified
	c.tls.conn.CloseWrite()
	return true
}
