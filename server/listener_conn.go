package server

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// handedState is the one state of a connection a Listener hands out,
// under its mu:
//
//	admitted ──hand──▶ out ──Close──▶ closed
//	    └──────────── Close ───────────▲
//
// admitted: tracked by the server, not yet taken by an Accept; a TLS
// connection runs its handshake here, which stop (Shutdown) wakes. out:
// its owner has it (or an Accept is about to take it); the server leaves
// it alone unless abort (Close, or Shutdown's context ending) closes it.
// closed: its socket is closed; Close gave back its MaxConns slot and
// MaxConnsPerIP count, once.
type handedState uint8

const (
	handedAdmitted handedState = iota
	handedOut
	handedClosed
)

// handedConn is a plain connection as Accept returns it, and the transport
// a TLS one's *tls.Conn runs over. It counts the bytes that pass (on the
// wire, under TLS) for Stats, and its Close gives back what admission took.
// It adds no exported methods but those of the socket that net/http looks
// for (ReadFrom, WriteTo, CloseWrite).
type handedConn struct {
	net.Conn // the socket, or a proxiedConn with the PROXY header's addresses
	srv      *Server
	rf       io.ReaderFrom // the socket's own ReadFrom (sendfile, splice), or nil
	wt       io.WriterTo   // the socket's own WriteTo (splice), or nil

	bytesIn, bytesOut atomic.Uint64

	mu        sync.Mutex
	state     handedState
	closeOnce sync.Once
}

func newHandedConn(s *Server, nc net.Conn) *handedConn {
	c := &handedConn{Conn: nc, srv: s}
	c.rf, _ = socket(nc).(io.ReaderFrom)
	c.wt, _ = socket(nc).(io.WriterTo)
	return c
}

func (c *handedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.bytesIn.Add(uint64(n))
	return n, err
}

func (c *handedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.bytesOut.Add(uint64(n))
	return n, err
}

// ReadFrom passes the copy to the socket's ReadFrom, which for a
// *net.TCPConn sends a file with sendfile(2): net/http's file responses
// take this path when the connection has it.
func (c *handedConn) ReadFrom(r io.Reader) (int64, error) {
	var n int64
	var err error
	if c.rf != nil {
		n, err = c.rf.ReadFrom(r)
		c.bytesOut.Add(uint64(n))
		return n, err
	}
	return io.Copy(writeOnly{c}, r) // counted by Write
}

// WriteTo passes the copy to the socket's WriteTo (splice(2) to another
// socket, on Linux).
func (c *handedConn) WriteTo(w io.Writer) (int64, error) {
	if c.wt != nil {
		n, err := c.wt.WriteTo(w)
		c.bytesIn.Add(uint64(n))
		return n, err
	}
	return io.Copy(w, readOnly{c}) // counted by Read
}

// errNoCloseWrite is CloseWrite's error on a connection that has no half
// close.
var errNoCloseWrite = errors.New("sockpool/server: connection cannot close for writing alone")

// CloseWrite sends FIN: net/http half-closes before it closes a
// connection, so that the peer reads the last response before the reset
// its unread input would cause.
func (c *handedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errNoCloseWrite
}

// Close closes the socket and, the first time, gives back the
// connection's MaxConns slot and MaxConnsPerIP count and counts it closed.
func (c *handedConn) Close() error {
	c.mu.Lock()
	c.state = handedClosed
	c.mu.Unlock()
	err := c.Conn.Close()
	c.closeOnce.Do(func() { c.srv.connGone(c, true) })
	return err
}

// handshake runs the server side of tc's handshake over c within
// HandshakeTimeout. A Shutdown wakes it (see stop); it then returns
// errStopped and counts nothing.
func (c *handedConn) handshake(tc *tls.Conn) error {
	s := c.srv
	// Under mu, as stop's wake-up is: a deadline set after it would
	// overwrite it.
	c.mu.Lock()
	stopped := s.inShutdown.Load()
	var err error
	if !stopped {
		err = c.Conn.SetDeadline(time.Now().Add(s.hsTimeout))
	}
	c.mu.Unlock()
	if stopped {
		return errStopped
	}
	if err == nil {
		err = tc.Handshake()
	}
	c.mu.Lock()
	stopped = s.inShutdown.Load()
	if err == nil && !stopped {
		err = c.Conn.SetDeadline(time.Time{})
	}
	c.mu.Unlock()
	switch {
	case stopped:
		return errStopped
	case err != nil:
		err = s.handshakeError(err)
		s.log.Debug("TLS handshake failed", "remote", c.RemoteAddr().String(), "err", err)
		return err
	}
	s.stats.tlsOK.Add(1)
	return nil
}

// hand moves an admitted connection out, for an Accept; it reports false
// when the connection or the server is closing, and the connection must
// then be closed instead.
func (c *handedConn) hand() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != handedAdmitted || c.srv.inShutdown.Load() {
		return false
	}
	c.state = handedOut
	return true
}

// stop is Shutdown's: an admitted connection's handshake is woken (its
// hand-off sees the server closing); one that is out is its owner's to
// close, and Shutdown waits for that.
func (c *handedConn) stop(error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == handedAdmitted {
		c.Conn.SetDeadline(aLongTimeAgo)
	}
}

// abort closes the socket at once; the release follows on a goroutine of
// its own, since the caller holds the server's mu, which it takes. An
// owner's later Close only closes again.
func (c *handedConn) abort(error) {
	c.Conn.Close()
	go c.Close()
}

func (c *handedConn) counts() (in, out uint64) { return c.bytesIn.Load(), c.bytesOut.Load() }

// closeReason is nil: a handed-out connection has no OnClose to tell.
func (c *handedConn) closeReason() error { return nil }

// writeOnly and readOnly hide a handedConn's ReadFrom and WriteTo from
// io.Copy, which would otherwise call them again.
type (
	writeOnly struct{ io.Writer }
	readOnly  struct{ io.Reader }
)
