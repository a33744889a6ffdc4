//go:build linux

package server

import (
	"io"
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// TLS on a ThreadedSyscall connection: crypto/tls runs over a
// blockingTLSConn, which reads and writes the blocking descriptor as the
// plain connection does, so the worker keeps its blocking reads.

func (t *blockingTransport) tlsConn(prefix []byte) net.Conn {
	return &blockingTLSConn{t: t, prefix: prefix}
}

// setHandshakeDeadline bounds the handshake's reads (each read sets
// SO_RCVTIMEO to the time left); its writes are bounded by WriteTimeout as
// any write.
func (t *blockingTransport) setHandshakeDeadline(d time.Time) error {
	t.hsEnd = d
	if d.IsZero() {
		return t.setRcvTimeo(noReadTimeout)
	}
	return nil
}

// blockingErr is an interrupted or timed-out read of the descriptor:
// temporary, so that crypto/tls keeps the connection usable (it
// type-asserts net.Error on the error as returned).
type blockingErr struct {
	msg     string
	timeout bool
}

func (e *blockingErr) Error() string   { return e.msg }
func (e *blockingErr) Timeout() bool   { return e.timeout }
func (e *blockingErr) Temporary() bool { return true }

var (
	errReadIntr  = &blockingErr{msg: "sockpool/server: read interrupted"}
	errReadAgain = &blockingErr{msg: "sockpool/server: read timeout", timeout: true}
)

// blockingTLSConn is the net.Conn under a ThreadedSyscall connection's
// tls.Conn.
type blockingTLSConn struct {
	t      *blockingTransport
	prefix readAhead // input read before the handshake began
}

func (b *blockingTLSConn) Read(p []byte) (int, error) {
	if n, ok := b.prefix.read(p); ok {
		return n, nil
	}
	t := b.t
	for {
		if !t.hsEnd.IsZero() {
			left := time.Until(t.hsEnd)
			if left <= 0 {
				return 0, errReadAgain
			}
			if err := t.setRcvTimeo(left); err != nil {
				return 0, err
			}
		}
		n, err := t.read1(p)
		switch {
		case n > 0:
			return n, nil
		case err == nil:
			return 0, io.EOF
		case err == unix.EINTR:
			if t.c.stopping.Load() {
				return 0, errReadIntr
			}
			continue // the runtime's preemption signal
		case err == unix.EAGAIN:
			return 0, errReadAgain
		}
		return 0, t.opError("read", err)
	}
}

// Write is called by crypto/tls with the connection's wmu held (Write,
// close_notify in finish) or during the handshake, which holds it too.
func (b *blockingTLSConn) Write(p []byte) (int, error) { return b.t.write(p) }

func (b *blockingTLSConn) Close() error                     { return nil }
func (b *blockingTLSConn) LocalAddr() net.Addr              { return b.t.laddr }
func (b *blockingTLSConn) RemoteAddr() net.Addr             { return b.t.raddr }
func (b *blockingTLSConn) SetDeadline(time.Time) error      { return nil }
func (b *blockingTLSConn) SetReadDeadline(time.Time) error  { return nil }
func (b *blockingTLSConn) SetWriteDeadline(time.Time) error { return nil }
