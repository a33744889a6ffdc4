//go:build unix

package server

import (
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockpool/sockpool/bufs"
)

// rawConn returns nc's RawConn when nc is a plain socket the threaded engine
// can read and write directly, or nil.
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
// holding no buffer. It reads into the spare buffer when there is one of
// the size asked for.
func (t *pollTransport) readRaw(fd uintptr) bool {
	buf := t.spare
	t.spare = nil
	if len(buf) != t.size {
		bufs.Put(buf) // nil, or of the size asked for before
		buf = bufs.Get(t.size)
	}
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
			n, err = 0, t.opError("read", err)
		}
		if n == 0 && err == nil {
			err = io.EOF
		}
		t.rbuf, t.rn, t.rerr = buf, n, err
		return true
	}
}

func (t *pollTransport) opError(op string, err error) error {
	return opError(op, t.nc.LocalAddr(), t.nc.RemoteAddr(), err)
}

// opError describes a failed system call on a socket as net does; an error
// of ours (a file that ended early) stays as it is.
func opError(op string, laddr, raddr net.Addr, err error) error {
	if _, ok := err.(unix.Errno); !ok {
		return err
	}
	return &net.OpError{Op: op, Net: laddr.Network(), Source: laddr, Addr: raddr, Err: os.NewSyscallError(op, err)}
}

// write writes all of p to the socket. With a WriteTimeout it cuts the
// write only when the peer has taken nothing for that long, however long
// the whole Write takes: each deadline opens a window, and a window in which
// the socket accepted bytes or the peer took some of what the kernel holds
// (see took) is followed by another. The kernel's count matters because the
// poller reports a full socket writable again only once a third of its send
// buffer, auto-tuned up to megabytes, is free: a peer reading slowly but
// steadily can go seconds without the socket accepting a byte.
func (t *pollTransport) write(p []byte) (int, error) {
	if t.timeout <= 0 || t.handshaking || t.raw == nil {
		return t.writeDeadlined(p)
	}
	n, err := t.push(&source{p: p})
	return int(n), err
}

// sendFile sends r with sendfile(2), within WriteTimeout as write does.
func (t *pollTransport) sendFile(r *fileRange) (int64, bool, error) {
	if !canSendfile || t.raw == nil {
		return 0, false, nil
	}
	n, err := t.push(&source{r: r})
	return n, true, err
}

// push hands src to the socket through its RawConn, in the deadline
// windows write describes when there is a WriteTimeout.
func (t *pollTransport) push(src *source) (int64, error) {
	timed := t.timeout > 0 && !t.handshaking
	var written, window int64
	var werr error
	var mark int64 // took when the socket first refused bytes in this window
	marked := false
	write := func(fd uintptr) bool {
		for !src.empty() {
			n, err := src.push(int(fd))
			if n > 0 {
				written += int64(n)
				t.sent += int64(n)
			}
			switch err {
			case nil, unix.EINTR:
				continue
			case unix.EAGAIN:
				if timed && !marked {
					mark, marked = t.took(fd), true
				}
				return false
			}
			werr = err
			return true
		}
		return true
	}
	if timed {
		t.nc.SetWriteDeadline(time.Now().Add(t.timeout))
	}
	for {
		err := t.raw.Write(write)
		switch {
		case werr != nil:
			return written, t.opError(src.op(), werr)
		case err == nil || !isTimeout(err) || !timed:
			return written, err
		}
		var now int64
		t.raw.Control(func(fd uintptr) { now = t.took(fd) })
		if written == window && (!marked || now <= mark) {
			return written, err // a whole window without progress
		}
		window, mark, marked = written, now, true
		t.nc.SetWriteDeadline(time.Now().Add(t.timeout))
	}
}

// source is what a threaded write hands the socket: bytes, or for SendFile
// a range of a file.
type source struct {
	p []byte
	r *fileRange
}

func (s *source) empty() bool {
	if s.r != nil {
		return s.r.n == 0
	}
	return len(s.p) == 0
}

// push makes one write(2), or sendfile(2), into socket fd and consumes
// what the socket took.
func (s *source) push(fd int) (int, error) {
	if s.r != nil {
		return sendfile(fd, s.r)
	}
	n, err := unix.Write(fd, s.p)
	if n > 0 {
		s.p = s.p[n:]
	}
	return n, err
}

// op names the system call push makes, for errors.
func (s *source) op() string {
	if s.r != nil {
		return "sendfile"
	}
	return "write"
}

// took is how many of the bytes written the peer has taken, as far as the
// kernel tells (see unsent); elsewhere, every byte the socket accepted.
func (t *pollTransport) took(fd uintptr) int64 {
	n, _ := unsent(int(fd))
	return t.sent - int64(n)
}
