package server

import (
	"crypto/tls"
	"sync/atomic"
	"time"
)

// activity is what a threaded connection (either read mode) keeps to apply
// IdleTimeout and ReadTimeout: when it last wrote.
type activity struct {
	lastWrite atomic.Int64 // unix nanoseconds; kept only when IdleTimeout is set
}

// wrote records a write, when s has an IdleTimeout to keep it for.
func (a *activity) wrote(s *Server) {
	if s.IdleTimeout > 0 {
		a.lastWrite.Store(time.Now().UnixNano())
	}
}

// lastActive returns the later of readStart and the last write.
func (a *activity) lastActive(readStart time.Time) time.Time {
	if lw := a.lastWrite.Load(); lw > readStart.UnixNano() {
		return time.Unix(0, lw)
	}
	return readStart
}

// expired is the verdict on a read begun at readStart that has just timed
// out: ErrReadTimeout or ErrIdleTimeout (counted in s's Stats), or nil when
// writes since kept the connection busy and the read should go on.
func (a *activity) expired(s *Server, readStart time.Time) error {
	now := time.Now()
	if s.ReadTimeout > 0 && now.Sub(readStart) >= s.ReadTimeout {
		s.stats.timeouts.Add(1)
		return ErrReadTimeout
	}
	if s.IdleTimeout > 0 && now.Sub(a.lastActive(readStart)) >= s.IdleTimeout {
		s.stats.timeouts.Add(1)
		return ErrIdleTimeout
	}
	return nil
}

// workerTLS is the TLS state of a threaded connection (either read mode),
// whose worker runs the handshakes.
type workerTLS struct {
	tc atomic.Pointer[tls.Conn]   // the TLS connection, once its handshake is done
	up atomic.Pointer[tlsUpgrade] // a StartTLS waiting for OnData to return
	// upPending holds Writes made between StartTLS and its handshake, for
	// after it (under the connection's wmu).
	upPending []byte
}

// TLS returns the state of the TLS connection, or nil before a handshake.
func (w *workerTLS) TLS() *tls.ConnectionState {
	if tc := w.tc.Load(); tc != nil {
		st := tc.ConnectionState()
		return &st
	}
	return nil
}

// StartTLS asks the worker to run a TLS handshake once OnData returns; see
// the package's StartTLS.
func (w *workerTLS) StartTLS(config *tls.Config, rest []byte) error {
	u, err := newUpgrade(config, rest)
	if err != nil {
		return err
	}
	if w.tc.Load() != nil || !w.up.CompareAndSwap(nil, u) {
		return ErrAlreadyTLS
	}
	return nil
}
