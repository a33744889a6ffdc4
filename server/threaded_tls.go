package server

import (
	"crypto/tls"
	"sync/atomic"
	"time"
)

// TLS on the threaded engines: the connection's worker runs the handshake
// over its transport and then reads and writes through crypto/tls.

// workerTLS is the TLS state of a threaded connection.
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

// handshake runs a TLS handshake over the transport, the client side for a
// dialed connection and the server side otherwise
// (after prefix, input already read), within HandshakeTimeout, and makes
// the connection read and write through TLS. Writers must be held off
// (wmu) for a StartTLS. A stop (Shutdown) wakes it; then it returns
// errStopped and counts nothing.
func (c *threadedConn) handshake(config *tls.Config, prefix []byte) error {
	srv := c.srv
	tc := newTLS(c.tr.tlsConn(prefix), config, c.dial)
	c.rmu.Lock()
	if c.stopping.Load() {
		c.rmu.Unlock()
		return errStopped
	}
	err := c.tr.setHandshakeDeadline(time.Now().Add(srv.hsTimeout))
	c.rmu.Unlock()
	if err == nil {
		err = tc.Handshake()
	}
	c.rmu.Lock()
	stopped := c.stopping.Load()
	if !stopped {
		if derr := c.tr.setHandshakeDeadline(time.Time{}); err == nil {
			err = derr
		}
	}
	c.rmu.Unlock()
	switch {
	case stopped:
		return errStopped
	case err != nil:
		return srv.handshakeFailed(c, err)
	}
	srv.stats.tlsOK.Add(1)
	c.tc.Store(tc)
	return nil
}

// upgrade runs the handshake of a StartTLS once its OnData has returned,
// then sends the Writes made meanwhile, encrypted. It returns errStopped
// when a stop cut the handshake short.
func (c *threadedConn) upgrade(u *tlsUpgrade) error {
	c.wmu.Lock() // writes made meanwhile go out encrypted, after it
	defer c.wmu.Unlock()
	c.up.Store(nil)
	err := c.handshake(u.config, u.rest)
	if err == nil && len(c.upPending) > 0 {
		_, err = c.tc.Load().Write(c.upPending)
	}
	c.upPending = nil
	return err
}
