//go:build !linux

package server

import "net"

// syscallReads reports whether the ThreadedSyscall engine is available here.
const syscallReads = false

// newBlockingTransport is never called where syscallReads is false: init
// falls back to Threaded.
func newBlockingTransport(*threadedConn, net.Conn) (transport, error) { return nil, nil }
