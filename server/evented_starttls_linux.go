//go:build linux

package server

// StartTLS on the event loops: a connection asks for it from its handler;
// once that call has returned and the plaintext reply has been flushed,
// the descriptor leaves the loop's epoll set and a pool worker runs the
// handshake over a duplicate of it in Go's netpoller (see tlsTransport for
// why a handshake cannot run on the loop). A full pool parks the
// handshake on the loop, retried each turn. When it is over, endUpgrade
// puts the connection back on its loop, in memory mode.

import (
	"crypto/tls"
	"errors"
	"net"
	"os"

	"golang.org/x/sys/unix"

	"github.com/sockpool/sockpool/bufs"

	"github.com/sockpool/sockpool/pool"
)

// StartTLS asks for a TLS handshake once the current OnData returns; see the
// package's StartTLS.
func (c *evConn) StartTLS(config *tls.Config, rest []byte) error {
	u, err := newUpgrade(config, rest)
	if err != nil {
		return err
	}
	c.mu.Lock()
	isTLS := c.tls != nil || c.upg != nil
	c.mu.Unlock()
	if isTLS || !c.up.CompareAndSwap(nil, u) {
		return ErrAlreadyTLS
	}
	return nil
}

// beginUpgrade starts a StartTLS handshake, on the loop, once the handler
// call that asked for it has returned: no more input is read or handed to
// the handler, Writes are kept for after the handshake, and once the
// plaintext output already queued (the "go ahead" reply) has been flushed
// the descriptor leaves the epoll set and a pool worker runs the handshake.
func (l *loop) beginUpgrade(c *evConn) {
	if c.state >= evClosed || c.upg != nil || c.flag(flagStopAsked) {
		return // closing: the upgrade is moot
	}
	// up and upg change together under mu, so that a Write sees one or the
	// other (see writeTLS), and the Writes kept move with them.
	c.mu.Lock()
	u := c.up.Swap(nil)
	if u != nil {
		c.upg = &evUpgrade{pending: u.pending}
	}
	c.mu.Unlock()
	if u == nil {
		return
	}
	prefix := u.rest
	if in := c.pool.take(); in != nil {
		// Input read after the command (EventedPool): the handshake's.
		prefix = append(prefix, in...)
		bufs.Put(in)
	}
	t := newTLSTransport(c, nil, prefix, u.config)
	c.setWantIn(false) // level-triggered: the ClientHello must not spin the loop
	c.hs.Store(t)
	c.upg.t = t
	l.maybeHandshake(c)
}

// maybeHandshake submits c's StartTLS handshake once its plaintext output
// has been flushed. The descriptor leaves the epoll set here, for as long as
// the handshake is parked or runs: the worker reads it through a duplicate
// in Go's netpoller.
func (l *loop) maybeHandshake(c *evConn) {
	if c.upg == nil || c.upg.submitted || c.state >= evClosed || c.queued.Load() > 0 {
		return
	}
	if c.ur != nil {
		if c.ur.recv {
			return // the recv's cancel completes first (loop.received)
		}
		// What the recv brought after the command is the handshake's.
		if h := c.ur.held; h.pending() {
			c.upg.t.prefix = append(c.upg.t.prefix, h.b[h.off:]...)
		}
		c.ur.dropHeld()
	} else {
		unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	}
	c.upg.submitted = true
	l.submitHandshake(c)
}

// submitHandshake hands c's StartTLS handshake to a pool worker. A full pool
// parks it in l.hsWaiting, resubmitted on the loop's next turn as dispatch
// does with handler calls, never waited for. A parked connection keeps
// submitted, so closeConn, Close and Shutdown interrupt it and leave the
// close to endUpgrade, which retryHandshakes calls in the worker's stead.
func (l *loop) submitHandshake(c *evConn) {
	err := l.srv.pool.Submit(l.srv.ctx, c.upgradeHandshake)
	switch {
	case err == nil:
	case errors.Is(err, pool.ErrOverload):
		l.hsWaiting = append(l.hsWaiting, c)
	default: // a closing server
		c.hs.Store(nil)
		c.upg.err = err
		l.endUpgrade(c)
	}
}

// retryHandshakes resubmits the parked StartTLS handshakes, and closes
// those interrupted meanwhile: no worker will run them to see it.
func (l *loop) retryHandshakes() {
	parked := l.hsWaiting
	l.hsWaiting = nil
	for _, c := range parked {
		if c.upg.closeAfter || c.upg.t.interrupted() {
			c.hs.Store(nil)
			c.upg.err = errStopped
			l.endUpgrade(c)
			continue
		}
		l.submitHandshake(c)
	}
}

// upgradeHandshake is the pool task of a StartTLS handshake: it runs over a
// duplicate of the descriptor in Go's netpoller, then hands back to the loop.
func (c *evConn) upgradeHandshake() {
	t := c.upg.t
	nc, err := fileConn(c.fd)
	if err == nil {
		err = t.handshake(c.l.srv, nc)
		nc.Close()
	}
	if err == nil && !t.done() {
		err = errStopped
	}
	c.hs.Store(nil)
	c.upg.err = err
	c.l.post((*loop).endUpgrade, c)
}

// endUpgrade puts c back on the loop after its StartTLS handshake: closed if
// it failed; else registered again, with the output written meanwhile
// encrypted ahead of any later Write, and its input read.
func (l *loop) endUpgrade(c *evConn) {
	u := c.upg
	t, err := u.t, u.err
	if err != nil || u.closeAfter {
		c.mu.Lock()
		c.upg = nil
		c.mu.Unlock()
		if err == errStopped {
			err = nil // the reason is Shutdown's or Close's, already set
		}
		l.closeConn(c, err)
		return
	}
	c.mu.Lock()
	c.wantIn = true
	c.curEvents = c.interest()
	c.mu.Unlock()
	// A uring connection's recv is armed again by the read below (again).
	if err := l.reregister(c); err != nil {
		c.mu.Lock()
		c.upg = nil
		c.mu.Unlock()
		l.closeConn(c, err)
		return
	}
	for {
		c.mu.Lock()
		pending := u.pending
		u.pending = nil
		if len(pending) == 0 {
			c.tls, c.upg = t, nil
			c.mu.Unlock()
			break
		}
		c.mu.Unlock()
		// Writes that arrive meanwhile append to u.pending: order holds.
		if _, err := t.conn.Write(pending); err != nil {
			c.mu.Lock()
			c.upg = nil
			c.mu.Unlock()
			l.closeConn(c, err)
			return
		}
	}
	if c.flag(flagStopAsked) {
		l.stopConn(c)
		return
	}
	l.again = append(l.again, c)
}

// reregister puts c back in the epoll set after its handshake; a uring
// connection has nothing to put back.
func (l *loop) reregister(c *evConn) error {
	if l.ur != nil {
		return nil
	}
	return unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, c.fd, &unix.EpollEvent{Events: c.curEvents, Fd: c.slot})
}

// fileConn returns a net.Conn on a duplicate of fd, in Go's netpoller.
func fileConn(fd int) (net.Conn, error) {
	d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("fcntl", err)
	}
	f := os.NewFile(uintptr(d), "")
	defer f.Close()
	return net.FileConn(f)
}
