//go:build unix

package server

import (
	"io"
	"net"
	"os"
	"syscall"

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
