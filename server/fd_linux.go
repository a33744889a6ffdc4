//go:build linux

package server

import (
	"fmt"
	"net"
	"os"
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
	return dup(sc)
}

// dupFile returns a duplicate of f (close-on-exec) that the caller owns,
// and its descriptor.
func dupFile(f *os.File) (*os.File, int, error) {
	fd, err := dup(f)
	if err != nil {
		return nil, -1, err
	}
	return os.NewFile(uintptr(fd), f.Name()), fd, nil
}

// dup returns a close-on-exec duplicate of sc's descriptor.
func dup(sc syscall.Conn) (int, error) {
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

// unsent returns the bytes socket fd holds that the peer has not taken:
// for TCP, those not yet sent or not yet acknowledged (SIOCOUTQ); for a UNIX
// socket, those the peer has not read. ok is false if it cannot be told.
func unsent(fd int) (n int, ok bool) {
	n, err := unix.IoctlGetInt(fd, unix.SIOCOUTQ)
	return n, err == nil
}

// delivered reports whether the peer has taken everything written to
// socket fd. See shutdownLingerEnds.
func delivered(fd int) bool {
	n, ok := unsent(fd)
	return ok && n == 0
}
