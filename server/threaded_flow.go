package server

import (
	"sync/atomic"
	"time"
)

// Handler-paced reading and half-close on the threaded engines. A pause
// holds the worker before its next read, so the socket is not read and the
// kernel's window closes on the peer; after the peer's EOF an EOFHandler
// holds it the same way until the handler ends the connection. Writes
// never wait for the worker, so neither hold stops output.

// flowGate is where a threaded connection's worker waits between reads.
type flowGate struct {
	paused atomic.Bool // PauseReading, until ResumeReading: read before each read
	shut   atomic.Bool // CloseWrite has sent FIN
	// wake is closed to let a waiting worker go on (resume, stop, abort,
	// CloseWrite); nil while none waits. Under the connection's rmu.
	wake chan struct{}
}

func (c *threadedConn) PauseReading() { c.gate.paused.Store(true) }

func (c *threadedConn) ResumeReading() {
	if !c.gate.paused.Swap(false) {
		return
	}
	c.rmu.Lock()
	c.openGateLocked()
	c.rmu.Unlock()
}

// openGateLocked wakes the worker if it waits in holdReads; under rmu.
func (c *threadedConn) openGateLocked() {
	if c.gate.wake != nil {
		close(c.gate.wake)
		c.gate.wake = nil
	}
}

// CloseWrite sends FIN (TLS close_notify first) under wmu, so after every
// Write that began before it: a threaded Write has handed its bytes to the
// kernel when it returns.
func (c *threadedConn) CloseWrite() error {
	c.wmu.Lock()
	if c.wclosed.Load() {
		c.wmu.Unlock()
		return nil
	}
	if c.up.Load() != nil {
		c.wmu.Unlock()
		return ErrUpgradePending
	}
	c.wclosed.Store(true)
	var err error
	if tc := c.tc.Load(); tc != nil {
		err = tc.CloseWrite()
	}
	if err == nil {
		err = c.tr.closeWrite()
	}
	c.wmu.Unlock()
	c.rmu.Lock()
	c.gate.shut.Store(true)
	c.openGateLocked()
	c.rmu.Unlock()
	if err != nil {
		c.abort(err)
	}
	return err
}

// holdReads waits while the handler has paused reading or, after the
// peer's EOF (eof), until the handler ends the connection or half-closes
// it too; it returns at once when the connection is stopping. IdleTimeout
// still applies (ReadTimeout does not: the silence is ours), and ends the
// wait with ErrIdleTimeout.
func (c *threadedConn) holdReads(eof bool) error {
	c.tr.idle()
	idle := c.srv.IdleTimeout
	start := time.Now()
	for {
		c.rmu.Lock()
		held := !c.stopping.Load() && (eof && !c.gate.shut.Load() || !eof && c.gate.paused.Load())
		if !held {
			c.rmu.Unlock()
			return nil
		}
		wake := make(chan struct{})
		c.gate.wake = wake
		c.rmu.Unlock()
		if idle <= 0 {
			<-wake
			continue
		}
		t := time.NewTimer(time.Until(c.lastActive(start).Add(idle)))
		select {
		case <-wake:
			t.Stop()
		case now := <-t.C:
			if now.Sub(c.lastActive(start)) >= idle {
				c.srv.stats.timeouts.Add(1)
				return ErrIdleTimeout
			}
		}
	}
}
