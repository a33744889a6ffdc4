package server

import (
	"net"
	"syscall"
	"time"

	"github.com/sockpool/sockpool/bufs"
)

// pollTransport is the Threaded engine's transport: the socket stays on Go's
// network poller. A plain socket is read through its RawConn, so the worker
// waits for readiness holding no buffer and takes a pooled one only for the
// read itself (an idle connection holds only its goroutine); anything else
// (TLS, a wrapper) is read through the net.Conn into the connection's held
// buffer. Deadlines wake reads and bound writes.
type pollTransport struct {
	nc net.Conn
	// raw is nc's RawConn when nc is a plain socket, for reads (unless the
	// connection is TLS) and for writes; nil otherwise.
	raw     syscall.RawConn
	rawRead bool
	readFn  func(fd uintptr) bool // readRaw, bound once
	size    int                   // the size of the read readRaw makes
	// The result of the last readRaw that found data; lent marks the
	// buffer as one to give back.
	rbuf []byte
	rn   int
	rerr error
	lent bool
	// spare is the last read's buffer, given back by release: the next
	// readRaw reads into it, and one that finds nothing puts it back in
	// the pool before the goroutine parks. A busy connection then takes a
	// buffer from the pool once per wake-up, not twice per message.
	spare []byte

	// sent counts the bytes write handed to the kernel, and handshaking
	// makes it write without WriteTimeout while a handshake's own deadline
	// applies. Both under the connection's wmu, or the worker's.
	sent        int64
	handshaking bool
	timeout     time.Duration // WriteTimeout
}

func newPollTransport(c *threadedConn, nc net.Conn, rawReads bool) *pollTransport {
	t := &pollTransport{nc: nc, raw: rawConn(nc), timeout: c.srv.WriteTimeout}
	if t.raw != nil && rawReads {
		t.rawRead = true
		t.readFn = t.readRaw
	}
	return t
}

func (t *pollTransport) LocalAddr() net.Addr  { return t.nc.LocalAddr() }
func (t *pollTransport) RemoteAddr() net.Addr { return t.nc.RemoteAddr() }
func (t *pollTransport) begin()               {}
func (t *pollTransport) end()                 {}

func (t *pollTransport) read(c *threadedConn, size int) ([]byte, int, error) {
	if t.rawRead {
		t.size = size
		if err := t.raw.Read(t.readFn); err != nil {
			return nil, 0, err
		}
		buf := t.rbuf
		t.rbuf, t.lent = nil, buf != nil
		return buf, t.rn, t.rerr
	}
	if len(c.held) != size {
		bufs.Put(c.held)
		c.held = bufs.Get(size)
	}
	n, err := t.nc.Read(c.held)
	return c.held, n, err
}

func (t *pollTransport) release(buf []byte) {
	if t.lent {
		t.spare, t.lent = buf, false
	}
}

// idle puts the spare buffer back in the pool: no read takes it soon.
func (t *pollTransport) idle() {
	bufs.Put(t.spare) // nil is no buffer to put
	t.spare = nil
}

func (t *pollTransport) setReadDeadline(d time.Time) error { return t.nc.SetReadDeadline(d) }

func (t *pollTransport) setHandshakeDeadline(d time.Time) error {
	t.handshaking = !d.IsZero()
	return t.nc.SetDeadline(d)
}

func (t *pollTransport) tlsConn(prefix []byte) net.Conn {
	t.idle() // crypto/tls reads into the connection's held buffer
	var under net.Conn = timedConn{t.nc, t}
	if len(prefix) > 0 {
		under = &prefixConn{Conn: under, prefix: prefix}
	}
	return under
}

// timedConn is the socket as crypto/tls writes to it: its Write is the
// transport's.
type timedConn struct {
	net.Conn
	t *pollTransport
}

func (c timedConn) Write(p []byte) (int, error) { return c.t.write(p) }

func (t *pollTransport) wake() { t.nc.SetReadDeadline(aLongTimeAgo) }
func (t *pollTransport) cut()  { t.nc.Close() }

func (t *pollTransport) closeWrite() error {
	cw, ok := t.nc.(interface{ CloseWrite() error })
	if !ok {
		return net.ErrClosed // nothing to linger on: close at once
	}
	return cw.CloseWrite()
}

func (t *pollTransport) drain(buf []byte, d time.Time) (int, error) {
	t.nc.SetReadDeadline(d)
	return t.nc.Read(buf)
}

func (t *pollTransport) delivered() bool {
	if t.raw == nil {
		return false
	}
	ok := false
	t.raw.Control(func(fd uintptr) { ok = delivered(int(fd)) })
	return ok
}

func (t *pollTransport) close() {
	t.idle()
	t.nc.Close()
}

// writeDeadlined is write for a socket without a RawConn: each deadline
// covers one write call, and one that moved bytes before it passed is
// followed by another.
func (t *pollTransport) writeDeadlined(p []byte) (int, error) {
	if t.timeout <= 0 || t.handshaking {
		return t.nc.Write(p)
	}
	written := 0
	for {
		t.nc.SetWriteDeadline(time.Now().Add(t.timeout))
		n, err := t.nc.Write(p[written:])
		written += n
		if err == nil || !isTimeout(err) || n == 0 {
			return written, err
		}
	}
}
