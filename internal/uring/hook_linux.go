package uring

import "golang.org/x/sys/unix"

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
