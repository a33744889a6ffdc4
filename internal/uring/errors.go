package uring

import "errors"

// ErrUnsupported is wrapped by the error New returns when this system
// cannot run the rings the package makes: a kernel without io_uring or
// without a setup flag, feature or opcode the package needs, io_uring
// refused by kernel.io_uring_disabled or a seccomp filter, or a system
// other than Linux. The message names the cause; errors.Is with the
// errno (unix.ENOSYS, unix.EPERM, unix.EINVAL) finds it where there is one.
var ErrUnsupported = errors.New("sockpool/uring: io_uring unsupported")
