//go:build unix

package server

import (
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/sockpool/sockpool/bufs"
	"golang.org/x/sys/unix"
)

// rawConn returns nc's RawConn when nc is a plain socket the threaded engine
// can read without holding a buffer, or nil.
func rawConn(nc net.Conn) syscall.RawConn {
	switch socket(nc).(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		return nil
	}
	rc, err := nc.(syscall.Conn).SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// readRaw is the RawConn.Read callback: the runtime calls it when the socket
// may be readable (and once before waiting, since readiness seen before the
// wait is forgotten). It takes a buffer and reads; on EAGAIN it gives the
// buffer back and returns false, so the goroutine parks on the poller
// holding no buffer.
func (c *threadedConn) readRaw(fd uintptr) bool {
	buf := bufs.Get(c.readSize())
	for {
		n, err := unix.Read(int(fd), buf)
		switch err {
		case nil:
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			bufs.Put(buf)
			return false
		default:
			n = 0
			err = &net.OpError{Op: "read", Net: c.nc.LocalAddr().Network(),
				Source: c.nc.LocalAddr(), Addr: c.nc.RemoteAddr(), Err: os.NewSyscallError("read", err)}
		}
		if n == 0 && err == nil {
			err = io.EOF
		}
		c.rbuf, c.rn, c.rerr = buf, n, err
		return true
	}
}

// writeTimed writes all of p to the socket. With a WriteTimeout it cuts the
// write only when the peer has taken nothing for that long, however long
// the whole Write takes: each deadline opens a window, and a window in which
// the socket accepted bytes or the peer took some of what the kernel holds
// (see took) is followed by another. The kernel's count matters because the
// poller reports a full socket writable again only once a third of its send
// buffer, auto-tuned up to megabytes, is free: a peer reading slowly but
// steadily can go seconds without the socket accepting a byte.
func (c *threadedConn) writeTimed(p []byte) (int, error) {
	wt := c.srv.WriteTimeout
	if wt <= 0 || c.handshaking || c.sock == nil {
		return c.writeDeadlined(p)
	}
	written, window := 0, 0
	var werr error
	var mark int64 // took when the socket first refused bytes in this window
	marked := false
	write := func(fd uintptr) bool {
		for written < len(p) {
			n, err := unix.Write(int(fd), p[written:])
			if n > 0 {
				written += n
				c.sent += int64(n)
			}
			switch err {
			case nil, unix.EINTR:
				continue
			case unix.EAGAIN:
				if !marked {
					mark, marked = c.took(fd), true
				}
				return false
			}
			werr = err
			return true
		}
		return true
	}
	c.nc.SetWriteDeadline(time.Now().Add(wt))
	for {
		err := c.sock.Write(write)
		switch {
		case werr != nil:
			return written, &net.OpError{Op: "write", Net: c.nc.LocalAddr().Network(),
				Source: c.nc.LocalAddr(), Addr: c.nc.RemoteAddr(), Err: os.NewSyscallError("write", werr)}
		case err == nil || !isTimeout(err):
			return written, err
		}
		var now int64
		c.sock.Control(func(fd uintptr) { now = c.took(fd) })
		if written == window && (!marked || now <= mark) {
			return written, err // a whole window without progress
		}
		window, mark, marked = written, now, true
		c.nc.SetWriteDeadline(time.Now().Add(wt))
	}
}

// took is how many of the bytes written the peer has taken, as far as the
// kernel tells (see unsent); elsewhere, every byte the socket accepted.
func (c *threadedConn) took(fd uintptr) int64 {
	n, _ := unsent(int(fd))
	return c.sent - int64(n)
}
