package uring

import (
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
