//go:build linux

package server

import (
	"crypto/tls"
	"io"
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// StartTLS on a ThreadedSyscall connection: crypto/tls runs over a
// sysTransport, which reads and writes the blocking descriptor as the
// plain connection does, so the worker keeps its blocking reads.

// handshake runs the server side of a TLS handshake on the worker within
// HandshakeTimeout; the caller holds wmu. A stop makes it return
// errStopped.
func (c *sysConn) handshake(u *tlsUpgrade) error {
	srv := c.srv
	t := &sysTransport{c: c, prefix: u.rest, deadline: time.Now().Add(srv.hsTimeout)}
	tc := tls.Server(t, u.config)
	err := tc.Handshake()
	t.deadline = time.Time{}
	if serr := c.setRcvTimeo(noReadTimeout); serr != nil && err == nil {
		err = serr
	}
	switch {
	case c.stopping.Load():
		return errStopped
	case err != nil:
		return srv.handshakeFailed(c, err)
	}
	srv.stats.tlsOK.Add(1)
	c.tc.Store(tc)
	return nil
}

// readTLS reads plaintext into c.buf and returns what the plain read path
// would: EOF as (0, nil), EINTR and EAGAIN as themselves.
func (c *sysConn) readTLS(tc *tls.Conn) (int, error) {
	n, err := tc.Read(c.buf)
	switch {
	case n > 0:
		return n, nil // an error comes again on the next read
	case err == io.EOF:
		return 0, nil
	case err == errReadIntr:
		return 0, unix.EINTR
	case err == errReadAgain:
		return 0, unix.EAGAIN
	}
	return 0, err
}

// sysErr is an interrupted or timed-out read of the transport: temporary,
// so that crypto/tls keeps the connection usable (it type-asserts
// net.Error on the error as returned).
type sysErr struct {
	msg     string
	timeout bool
}

func (e *sysErr) Error() string   { return e.msg }
func (e *sysErr) Timeout() bool   { return e.timeout }
func (e *sysErr) Temporary() bool { return true }

var (
	errReadIntr  = &sysErr{msg: "sockpool/server: read interrupted"}
	errReadAgain = &sysErr{msg: "sockpool/server: read timeout", timeout: true}
)

// sysTransport is the net.Conn under a syscall-mode connection's tls.Conn.
type sysTransport struct {
	c        *sysConn
	prefix   []byte    // input read before the handshake began
	deadline time.Time // the handshake's, while it runs
}

func (t *sysTransport) Read(p []byte) (int, error) {
	if len(t.prefix) > 0 {
		n := copy(p, t.prefix)
		t.prefix = t.prefix[n:]
		return n, nil
	}
	c := t.c
	for {
		if !t.deadline.IsZero() {
			left := time.Until(t.deadline)
			if left <= 0 {
				return 0, errReadAgain
			}
			if err := c.setRcvTimeo(left); err != nil {
				return 0, err
			}
		}
		n, err := c.read1(p)
		switch {
		case n > 0:
			return n, nil
		case err == nil:
			return 0, io.EOF
		case err == unix.EINTR:
			if c.stopping.Load() {
				return 0, errReadIntr
			}
			continue // the runtime's preemption signal
		case err == unix.EAGAIN:
			return 0, errReadAgain
		}
		return 0, c.opError("read", err)
	}
}

// Write is called by crypto/tls with wmu held (Write, close_notify in
// finish) or during the handshake, which holds it too.
func (t *sysTransport) Write(p []byte) (int, error) { return t.c.writeFD(p) }

func (t *sysTransport) Close() error                     { return nil }
func (t *sysTransport) LocalAddr() net.Addr              { return t.c.laddr }
func (t *sysTransport) RemoteAddr() net.Addr             { return t.c.raddr }
func (t *sysTransport) SetDeadline(time.Time) error      { return nil }
func (t *sysTransport) SetReadDeadline(time.Time) error  { return nil }
func (t *sysTransport) SetWriteDeadline(time.Time) error { return nil }
