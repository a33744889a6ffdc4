package mmsg

import (
	"net/netip"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sockpool/sockpool/internal/sockaddr"
)

// MaxBatch is the most datagrams one Read receives: the kernel takes at
// most UIO_MAXIOV (1024) messages per recvmmsg call and quietly ignores the
// rest.
const MaxBatch = 1024

// A Reader receives datagrams on one socket with recvmmsg(2). Its message
// headers are allocated once and reused, so a Read allocates nothing. A
// Reader is not safe for concurrent use.
type Reader struct {
	rc    syscall.RawConn
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrAny

	// recv is r.recvmmsg bound once: a method value made in every Read
	// would escape to the heap through RawConn.Read.
	recv  func(fd uintptr) bool
	want  int           // headers in use by this Read
	got   int           // datagrams the last system call received
	errno syscall.Errno // its error, if it failed
}

// NewReader returns a Reader of batches of up to size datagrams (at least
// 1, at most MaxBatch) from the socket behind rc.
func NewReader(rc syscall.RawConn, size int) *Reader {
	size = min(max(size, 1), MaxBatch)
	r := &Reader{
		rc:    rc,
		hdrs:  make([]unix.Mmsghdr, size),
		iovs:  make([]unix.Iovec, size),
		names: make([]unix.RawSockaddrAny, size),
	}
	for i := range r.hdrs {
		h := &r.hdrs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		h.Iov = &r.iovs[i]
		h.SetIovlen(1)
	}
	r.recv = r.recvmmsg
	return r
}

// Read receives up to len(bufs) datagrams (at most the Reader's size), one
// into each buffer in order, and returns how many arrived. With none
// waiting it blocks on Go's network poller until one does, or until the
// socket's read deadline passes (an error wrapping os.ErrDeadlineExceeded)
// or the socket is closed (net.ErrClosed). A datagram longer than its
// buffer is cut to fit; Truncated says so. Len, Addr and Truncated describe
// the datagrams of the last Read until the next one.
func (r *Reader) Read(bufs [][]byte) (int, error) {
	r.want = min(len(bufs), len(r.hdrs))
	if r.want == 0 {
		return 0, nil
	}
	for i, b := range bufs[:r.want] {
		// The buffers may change between calls (a caller hands one on and
		// puts a fresh one in its place), so every call points at them anew.
		r.iovs[i].Base = nil
		if len(b) > 0 {
			r.iovs[i].Base = &b[0]
		}
		r.iovs[i].SetLen(len(b))
		r.hdrs[i].Hdr.Namelen = unix.SizeofSockaddrAny // the kernel overwrites it
		r.hdrs[i].Hdr.Flags = 0
		r.hdrs[i].Len = 0
	}
	if err := r.rc.Read(r.recv); err != nil {
		return 0, err
	}
	if r.errno != 0 {
		return 0, os.NewSyscallError("recvmmsg", r.errno)
	}
	return r.got, nil
}

// recvmmsg is RawConn.Read's callback: false asks the poller to wait until
// the socket is readable and call it again.
func (r *Reader) recvmmsg(fd uintptr) bool {
	for {
		// MSG_DONTWAIT: the socket is non-blocking already (Go made it so),
		// but say it anyway so that a socket handed in blocking can never
		// stall the reader's thread. Without MSG_WAITFORONE or a timeout the
		// call returns what is queued, up to want, at once.
		n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd,
			uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(r.want), unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
			r.got, r.errno = int(n), 0
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		default:
			r.got, r.errno = 0, e
			return true
		}
	}
}

// Len returns the number of bytes of datagram i in its buffer.
func (r *Reader) Len(i int) int { return int(r.hdrs[i].Len) }

// Truncated reports whether datagram i was longer than its buffer (the
// kernel set MSG_TRUNC), so that its buffer holds only the first part.
func (r *Reader) Truncated(i int) bool { return r.hdrs[i].Hdr.Flags&unix.MSG_TRUNC != 0 }

// Addr returns the sender of datagram i. An IPv4 sender on an IPv6 socket
// comes as an IPv4-mapped IPv6 address, as net's ReadFromUDPAddrPort gives
// it; an IPv6 link-local sender's zone is its interface index in decimal,
// which net accepts when sending. It returns the zero AddrPort for a family
// other than IPv4 and IPv6.
func (r *Reader) Addr(i int) netip.AddrPort { return sockaddr.AddrPort(&r.names[i]) }
