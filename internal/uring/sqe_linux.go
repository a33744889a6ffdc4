package uring

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Each Prep method overwrites the whole entry, so an entry reused from an
// earlier request carries nothing over, and sets its user data: the value
// the request's completions carry back in CQE.UserData.
//
// A Prep method that takes memory (a buffer, a msghdr, a timespec) stores
// its address in the entry as an integer, which keeps nothing alive or in
// place: the caller keeps that memory reachable and unmoved for as long as
// the method says, by taking it from memory mapped outside the Go heap (a
// BufferRing's buffers) or by pinning it with runtime.Pinner.

// addr returns the address of p's first byte as the kernel takes it.
func addr(p []byte) uint64 {
	return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(p))))
}

// PrepNop prepares a request that does nothing and completes with Res 0.
func (s *SQE) PrepNop(userData uint64) {
	*s = SQE{opcode: opNop, userData: userData}
}

// PrepAccept prepares an accept4(2) on the listening socket fd with flags
// (unix.SOCK_NONBLOCK, unix.SOCK_CLOEXEC). Res is the new descriptor. The
// peer's address is not asked for: getpeername gives it.
func (s *SQE) PrepAccept(userData uint64, fd int, flags int) {
	*s = SQE{opcode: opAccept, fd: int32(fd), opFlags: uint32(flags), userData: userData}
}

// PrepAcceptMultishot is PrepAccept that stays armed: one completion per
// connection, each with More set, until one without More ends it (an
// error, or a cancel) and the caller prepares another. No address is
// asked for because every completion would write the same one (Linux
// 5.19).
func (s *SQE) PrepAcceptMultishot(userData uint64, fd int, flags int) {
	s.PrepAccept(userData, fd, flags)
	s.ioprio = acceptMultishot
}

// PrepPollAdd prepares a one-shot poll of fd for events (unix.POLLOUT,
// unix.POLLIN, ...): it completes once fd is ready for one of them, at
// once if it is already, with Res the ready events, or with an error; a
// cancel ends it with -ECANCELED. A loop that writes with a system call of
// its own (sendfile(2)) uses it to wait for room in a full socket.
func (s *SQE) PrepPollAdd(userData uint64, fd int, events uint32) {
	// The 32-bit poll mask is the union with rw_flags (poll32_events).
	*s = SQE{opcode: opPollAdd, fd: int32(fd), opFlags: events, userData: userData}
}

// PrepRecvMultishot prepares a recv on fd that stays armed and takes each
// chunk into a buffer of the provided buffer group (a BufferRing): one
// completion per chunk with Res bytes in the buffer CQE.BufferID names,
// More set while it stays armed. A completion without More ends it: Res 0
// at end of stream, -ENOBUFS when the group had no buffer left (recycle
// some and prepare it again), or another error (Linux 6.0).
func (s *SQE) PrepRecvMultishot(userData uint64, fd int, group uint16) {
	*s = SQE{
		opcode:   opRecv,
		flags:    sqeBufferSelect,
		ioprio:   recvMultishot,
		fd:       int32(fd),
		userData: userData,
		bufIndex: group,
	}
}

// SetRecvLimit makes a multishot recv end, its last completion without
// More, once it has taken n bytes in all: a loop that must stop reading a
// connection (backpressure) then has at most n bytes on their way, where
// an unlimited multishot recv takes all the socket holds in one wait. The
// limit is IORING_RECV_MULTISHOT's total length in sqe->optlen; a kernel
// without it fails the request with EINVAL (the field was reserved).
func (s *SQE) SetRecvLimit(n uint32) {
	s.spliceFDIn = int32(n) // the union's optlen
}

// SetPollFirst makes a recv (or send) wait for the socket to be ready
// before it tries, where by default it tries at once and waits only if
// that finds nothing: for a request the caller expects to wait, such as a
// recv re-armed after the kernel answered EAGAIN, which would otherwise be
// tried, and perhaps refused, again at once (IORING_RECVSEND_POLL_FIRST,
// Linux 5.19).
func (s *SQE) SetPollFirst() {
	s.ioprio |= recvsendPollFirst
}

// PrepSend prepares a send(2) of p on fd with flags (unix.MSG_NOSIGNAL,
// unix.MSG_WAITALL). Res is the number of bytes sent, which on a stream
// socket may be fewer than len(p): the caller sends the rest, and keeps at
// most one send per socket in flight, or links them (SQEIOLink), since
// the kernel does not order independent requests. p must stay in place
// until the completion.
func (s *SQE) PrepSend(userData uint64, fd int, p []byte, flags int) {
	*s = SQE{opcode: opSend, fd: int32(fd), addr: addr(p), len: uint32(len(p)), opFlags: uint32(flags), userData: userData}
}

// PrepSendmsg prepares a sendmsg(2) of msg on fd, for vectored output:
// msg's iovecs gather several buffers into one request. msg, its iovecs
// and their buffers must stay in place until the completion. Short sends
// are as for PrepSend.
func (s *SQE) PrepSendmsg(userData uint64, fd int, msg *unix.Msghdr, flags int) {
	*s = SQE{opcode: opSendmsg, fd: int32(fd), addr: uint64(uintptr(unsafe.Pointer(msg))), len: 1, opFlags: uint32(flags), userData: userData}
}

// PrepRead prepares a read(2) of up to len(p) bytes from fd at its
// current position. p must stay in place until the completion.
func (s *SQE) PrepRead(userData uint64, fd int, p []byte) {
	*s = SQE{opcode: opRead, fd: int32(fd), off: ^uint64(0), addr: addr(p), len: uint32(len(p)), userData: userData}
}

// PrepClose prepares a close(2) of fd. Requests still in flight on fd
// are not cancelled by it: cancel them first (PrepCancelFD) when they
// must end with the descriptor.
func (s *SQE) PrepClose(userData uint64, fd int) {
	*s = SQE{opcode: opClose, fd: int32(fd), userData: userData}
}

// PrepShutdown prepares a shutdown(2) of fd; how is unix.SHUT_WR, SHUT_RD
// or SHUT_RDWR.
func (s *SQE) PrepShutdown(userData uint64, fd int, how int) {
	*s = SQE{opcode: opShutdown, fd: int32(fd), len: uint32(how), userData: userData}
}

// PrepCancel prepares the cancellation of the request whose user data is
// target, or of every such request with CancelAll. The cancelled request
// completes with -ECANCELED (a multishot one without More); this one with
// 0, or -ENOENT when nothing matched, or -EALREADY when the request was
// already running.
func (s *SQE) PrepCancel(userData uint64, target uint64, flags uint32) {
	*s = SQE{opcode: opAsyncCancel, fd: -1, addr: target, opFlags: flags, userData: userData}
}

// PrepCancelFD is PrepCancel for the request on descriptor fd, or every
// request on it with CancelAll: what a loop does before closing a
// connection with a multishot recv armed.
func (s *SQE) PrepCancelFD(userData uint64, fd int, flags uint32) {
	*s = SQE{opcode: opAsyncCancel, fd: int32(fd), opFlags: flags | cancelFD, userData: userData}
}

// PrepTimeout prepares a timeout that completes with -ETIME when ts has
// passed, or with 0 once count other requests have completed (0: only
// the time counts). flags takes TimeoutAbs and TimeoutMultishot; a
// multishot timeout is how a loop runs a periodic sweep of its
// connections' deadlines without a timer per connection. The kernel
// reads ts when the entry is submitted, so ts must stay in place until
// the Submit that carries it returns.
func (s *SQE) PrepTimeout(userData uint64, ts *unix.Timespec, count uint32, flags uint32) {
	*s = SQE{opcode: opTimeout, fd: -1, addr: uint64(uintptr(unsafe.Pointer(ts))), len: 1, off: uint64(count), opFlags: flags, userData: userData}
}

// SetFlags adds IOSQE flags (SQEIOLink, SQEAsync, SQESkipSuccess) to a
// prepared entry.
func (s *SQE) SetFlags(flags uint8) {
	s.flags |= flags
}
