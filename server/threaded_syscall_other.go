//go:build !linux

package server

import "net"

// syscallReads reports whether the threaded-syscall engine is available here.
const syscallReads = false

// serveSyscall is never called where syscallReads is false: init falls back
// to Threaded.
func (e *threaded) serveSyscall(net.Conn) (bool, error) { return false, nil }
