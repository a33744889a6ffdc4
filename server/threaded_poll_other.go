//go:build !unix

package server

import (
	"net"
	"syscall"
)

// rawConn returns nil: elsewhere the threaded engine reads and writes
// through net.Conn, into a buffer held for the connection's life.
func rawConn(net.Conn) syscall.RawConn { return nil }

func (t *pollTransport) readRaw(uintptr) bool { panic("unreachable") }

// write writes p within WriteTimeout; see the unix version.
func (t *pollTransport) write(p []byte) (int, error) { return t.writeDeadlined(p) }

// sendFile reports that it cannot: a range is read and written instead.
func (t *pollTransport) sendFile(*fileRange) (int64, bool, error) { return 0, false, nil }
