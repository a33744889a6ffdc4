package uring

import (
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// RefuseSetup makes New fail as on a kernel whose io_uring_setup returns
// errno (unix.EPERM for kernel.io_uring_disabled, unix.ENOSYS for a
// seccomp filter), until restore puts the real system call back. It is for
// the tests of packages built on this one, which must show what their
// callers get where io_uring is refused; it must not be called while
// another goroutine may call New.
func RefuseSetup(errno unix.Errno) (restore func()) {
	real := sysSetup
	sysSetup = func(uint32, *params) (int, error) { return -1, errno }
	return func() { sysSetup = real }
}

// RefuseIncremental makes NewIncrementalBufferRing fail as on a kernel
// without IOU_PBUF_RING_INC (IORING_REGISTER_PBUF_RING returns EINVAL for
// the flag), until restore puts the real system call back: for the tests
// of a caller's fallback to fixed-size buffers. Like RefuseSetup, it must
// not be called while another goroutine may use a Ring.
func RefuseIncremental() (restore func()) {
	real := sysRegister
	sysRegister = func(fd int, op uint32, arg unsafe.Pointer, n uint32) (int, error) {
		if op == registerPbufRing && (*bufReg)(arg).flags&pbufRingInc != 0 {
			return -1, unix.EINVAL
		}
		return real(fd, op, arg, n)
	}
	return func() { sysRegister = real }
}

// faultsInForce is FailSends' or FailRecvs' state while it is in force, else
// nil.
var faultsInForce atomic.Pointer[faults]

// faults are the requests FailSends or FailRecvs is still to fail (those
// of opcodes ops), and the user data of those it has turned into no-ops,
// whose completions are yet to carry the error.
type faults struct {
	ops    []uint8
	mu     sync.Mutex
	left   int
	res    int32
	posted map[uint64]int
}

// FailSends makes the next n sends submitted (PrepSend, PrepSendmsg), on
// any Ring, send nothing and complete with -errno, as the kernel's own have
// been seen to on a full non-blocking socket (unix.EAGAIN), until
// restore, which reports how many it failed. Each such send is submitted
// as a no-op whose completion's Res is then rewritten. It is for the tests
// of packages built on this one, which must show that they survive what
// the kernel may answer; it costs a Ring nothing while it is not in force.
// A no-op's completion is found by its user data (and a Res of 0), so the
// caller's user data must tell these requests from others in flight; the
// entry's flags (a link) are dropped with it.
func FailSends(n int, errno unix.Errno) (restore func() (failed int)) {
	return fail([]uint8{opSend, opSendmsg}, n, errno)
}

// FailRecvs is FailSends for recvs (PrepRecvMultishot): each of the next
// n takes nothing and ends, its one completion carrying -errno and no
// More, as a multishot recv the kernel gave up on would.
func FailRecvs(n int, errno unix.Errno) (restore func() (failed int)) {
	return fail([]uint8{opRecv}, n, errno)
}

func fail(ops []uint8, n int, errno unix.Errno) func() int {
	f := &faults{ops: ops, left: n, res: -int32(errno), posted: map[uint64]int{}}
	faultsInForce.Store(f)
	return func() int {
		faultsInForce.Store(nil)
		f.mu.Lock()
		defer f.mu.Unlock()
		return n - f.left
	}
}

// beforeEnter turns the requests of f's opcodes among the entries about to
// be submitted, up to the count left, into no-ops.
func (f *faults) beforeEnter(r *Ring, toSubmit uint32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := r.sq.next - toSubmit; i != r.sq.next && f.left > 0; i++ {
		s := &r.sq.sqes[i&r.sq.mask]
		if slices.Contains(f.ops, s.opcode) {
			*s = SQE{opcode: opNop, userData: s.userData}
			f.posted[s.userData]++
			f.left--
		}
	}
}

// afterEnter gives the no-ops' completions, which a no-op posts within the
// enter that submits it, the error.
func (f *faults) afterEnter(r *Ring) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.posted) == 0 {
		return
	}
	for i := *r.cq.head; i != atomic.LoadUint32(r.cq.tail); i++ {
		c := &r.cq.cqes[i&r.cq.mask]
		if f.posted[c.UserData] > 0 && c.Res == 0 {
			c.Res = f.res
			if f.posted[c.UserData]--; f.posted[c.UserData] == 0 {
				delete(f.posted, c.UserData)
			}
		}
	}
}
