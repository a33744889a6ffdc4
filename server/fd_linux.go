//go:build linux

package server

import (
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// dupFD returns a duplicate of nc's socket descriptor (close-on-exec,
// non-blocking like the original), which the caller owns. Closing nc then
// takes the socket out of Go's netpoller while the duplicate keeps it open.
// who names the user in the error for a connection without a descriptor.
func dupFD(nc net.Conn, who string) (int, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1, &fatalError{fmt.Errorf("sockpool/server: the %s needs connections with a file descriptor (syscall.Conn), got %T", who, nc)}
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var derr error
	if err := raw.Control(func(s uintptr) { fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, fmt.Errorf("sockpool/server: dup: %w", derr)
	}
	return fd, nil
}

// delivered reports whether everything written to socket fd has reached
// the peer: TCP has it acknowledged (SIOCOUTQ counts bytes sent and not yet
// acknowledged, plus those not yet sent); for a UNIX socket, the peer has
// read it. See shutdownLingerEnds.
func delivered(fd int) bool {
	n, err := unix.IoctlGetInt(fd, unix.SIOCOUTQ)
	return err == nil && n == 0
}
