//go:build linux

package server

import (
	"errors"

	"golang.org/x/sys/unix"

	"github.com/sockpool/sockpool/bufs"
)

// How an evented connection ends. Three things start an end, in one
// vocabulary used by both engines:
//
//	stop     Close or Shutdown (any goroutine): flush, then close gracefully
//	abort    Server.Close, a write error, a timeout: close at once
//	peerEOF  the peer's FIN: flush, then close
//
// and a connection's state (evConn.state) moves, on its loop, like this:
//
//	evReading    entered at accept     left by peerEOF, stop
//	evDraining   peerEOF (want =       left by finish, once output is
//	             closeClean), stop     flushed and no handler runs
//	             (want = closeLingering)
//	evLingering  finish, for      left by closeConn: the peer's EOF, quiet
//	             closeLingering: FIN   for lingerQuiet, lingerFor, or Shutdown
//	             sent, input dropped   and all output delivered (sweep)
//	evClosed     closeConn, from any   left by finalize, once no pool handler
//	             state (abort, errors, is running
//	             timeouts too)
//	evFinalized  finalize: OnClose,    -
//	             connDone
//
// Independent of the state: registered (in the loop's table), paused
// (backpressure, the handler's PauseReading, the peer's EOF kept open by an
// EOFHandler: evented_flow_linux.go), wend (CloseWrite's FIN), rdhup (the peer has half-closed), want (how a draining
// connection closes) and a StartTLS in progress (upg, see
// evented_starttls_linux.go), which holds the end back until its handshake
// is over.

// stopConn stops reading c and closes it gracefully once its output is
// flushed: Conn.Close and Shutdown.
func (l *loop) stopConn(c *evConn) {
	if c.state >= evClosed || !c.registered || c.upg != nil {
		return // a StartTLS handshake's end sees flagStopAsked
	}
	l.stopReading(c)
	if c.want == closeNone {
		c.want = closeLingering
	}
	l.finish(c)
}

func (l *loop) stopReading(c *evConn) {
	if c.state >= evDraining {
		return
	}
	c.setState(evDraining)
	c.setWantIn(false)
}

// finish closes c if it is to close and nothing is owed: no queued
// output and no handler call pending; a connection that is not closing but
// has called CloseWrite gets its FIN then.
func (l *loop) finish(c *evConn) {
	if c.state >= evLingering || c.upg != nil || c.handlerRunning() {
		return
	}
	if c.want == closeNone {
		if c.flag(flagWriteShut) {
			l.halfClose(c)
		}
		return
	}
	if !l.flushedForFIN(c) {
		return
	}
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
	c.setState(evLingering)
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
	if c.state >= evClosed {
		return
	}
	if c.upg != nil && c.upg.submitted {
		// A worker runs c's StartTLS handshake on a duplicate of the
		// descriptor, or it is parked for one: cut it short; endUpgrade
		// closes c (posted by the worker, or from retryHandshakes).
		c.setReason(reason)
		c.upg.closeAfter = true
		if t := c.hs.Load(); t != nil {
			t.interrupt()
		}
		return
	}
	c.setReason(reason)
	if c.state == evLingering {
		l.lingering--
	}
	c.mu.Lock()
	c.wclosed = true
	c.dropOutputLocked()
	if c.ur == nil || !c.registered {
		unix.Close(c.fd) // also removes it from the epoll set
		if c.ur != nil {
			c.fd = -1 // retired: no request was made on it
		}
	}
	c.state = evClosed
	c.mu.Unlock()
	if c.paused&pauseOutput != 0 {
		l.srv.stats.paused.Add(-1)
	}
	c.paused = 0
	if c.ur != nil && c.registered {
		l.retire(c) // closes the descriptor, and finalizes, once its requests end
		return
	}
	if c.registered {
		l.removeConn(c)
	}
	if !c.registered {
		return // OnOpen may still be running: register finalizes
	}
	l.finalize(c)
}

// finalize runs OnClose and releases the connection once its socket is
// closed and no handler call is running.
func (l *loop) finalize(c *evConn) {
	if c.state == evFinalized || c.handlerRunning() || !c.retired() {
		return
	}
	c.setState(evFinalized)
	if c.registered {
		l.count-- // only now may the loop quit: no task of c's is pending
	}
	bufs.Put(c.pool.take())
	l.srv.connDone(c, c.opened)
}

// Tasks posted from other goroutines.
var (
	// closeTask closes c with the reason already recorded by setReason.
	closeTask = func(l *loop, c *evConn) { l.closeConn(c, c.closeReason()) }
	// failTask closes c after its handler panicked on a pool worker.
	failTask = func(l *loop, c *evConn) {
		c.pool.mu.Lock()
		c.pool.running = false
		c.pool.mu.Unlock()
		l.closeConn(c, c.closeReason())
		l.finalize(c) // closeConn skips it if the fd was already closed
	}
	quitTask = func(l *loop, _ *evConn) { l.quit = true }
)

// errHangup closes a connection whose peer hung up while we were not reading.
var errHangup = errors.New("sockpool/server: connection hung up")

func (c *evConn) CloseWithError(err error) error {
	c.setReason(err)
	return c.Close()
}

func (c *evConn) Close() error {
	c.setReason(nil)
	c.setFlag(flagClosedByHandler)
	c.mu.Lock()
	if c.tls == nil && c.upg == nil {
		// A TLS connection's raw path stays open for close_notify;
		// flagClosedByHandler refuses further Writes.
		c.wclosed = true
	}
	c.signalSpaceLocked()
	c.mu.Unlock()
	c.stop(nil)
	return nil
}

func (c *evConn) stop(reason error) {
	c.setReason(reason)
	if t := c.hs.Load(); t != nil && t.interrupt() {
		// The handshake's end closes the connection: its worker, or the
		// loop's retryHandshakes if it is parked for one.
		c.setFlag(flagStopAsked)
		return
	}
	if c.setFlag(flagStopAsked) {
		return
	}
	c.l.post((*loop).stopConn, c)
}

func (c *evConn) abort(reason error) {
	c.setReason(reason)
	if t := c.hs.Load(); t != nil && t.interrupt() {
		return // the handshake's end closes the connection (see stop)
	}
	c.mu.Lock()
	c.wclosed = true
	c.signalSpaceLocked()
	c.mu.Unlock()
	c.l.post(closeTask, c)
}

// fail closes c after its handler panicked on a pool worker. running stays
// true until the loop has closed the connection, so no new task can call the
// handler that just panicked.
func (c *evConn) fail(err error) {
	c.setReason(err)
	c.l.post(failTask, c)
}
