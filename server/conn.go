package server

import (
	"sync/atomic"
	"time"
)

// connState is what every engine's connection keeps alike: its identity,
// the user's value, byte counts and why it closed.
type connState struct {
	id       uint64
	user     atomic.Pointer[any]
	bytesIn  atomic.Uint64
	bytesOut atomic.Uint64
	reason   atomic.Pointer[error] // why it closes; set once
}

func (c *connState) ID() uint64     { return c.id }
func (c *connState) SetValue(v any) { c.user.Store(&v) }

func (c *connState) Value() any {
	if p := c.user.Load(); p != nil {
		return *p
	}
	return nil
}

// Congested is false unless the engine's connection says otherwise: the
// threaded engines write synchronously and queue nothing.
func (c *connState) Congested() bool { return false }

func (c *connState) counts() (in, out uint64) { return c.bytesIn.Load(), c.bytesOut.Load() }

// setReason records why the connection closes; the first reason wins.
func (c *connState) setReason(err error) {
	if c.reason.Load() == nil {
		c.reason.CompareAndSwap(nil, &err)
	}
}

func (c *connState) closeReason() error {
	if p := c.reason.Load(); p != nil {
		return *p
	}
	return nil
}

// ended logs, at debug level, why the server closed a connection; a clean
// close (nil) is not logged.
func (s *Server) ended(c Conn, reason error) {
	if reason != nil {
		s.log.Debug("connection closed", "conn", c.ID(), "remote", c.RemoteAddr().String(), "reason", reason)
	}
}

// guard calls f, turning a panic into a *PanicError counted by s.
func guard(s *Server, c Conn, f func()) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = s.handlerPanic(c, v)
		}
	}()
	f()
	return nil
}

// closeKind says how a connection closes when its reading ends, on every
// engine.
type closeKind uint8

const (
	closeNone      closeKind = iota // not closing
	closeHard                       // close at once (error, timeout, panic)
	closeClean                      // the peer sent EOF: flush writes, close
	closeLingering                  // we chose to close: flush, FIN, drain, close
)

// aLongTimeAgo is a deadline in the past: setting it wakes a blocked Read.
var aLongTimeAgo = time.Unix(1, 0)
