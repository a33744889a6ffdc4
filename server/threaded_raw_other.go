//go:build !unix

package server

import (
	"net"
	"syscall"
)

// rawConn returns nil: elsewhere the threaded engine reads through net.Conn
// into a buffer held for the connection's life.
func rawConn(net.Conn) syscall.RawConn { return nil }

func (c *threadedConn) readRaw(uintptr) bool { panic("unreachable") }

// writeTimed writes p within WriteTimeout; see the unix version.
func (c *threadedConn) writeTimed(p []byte) (int, error) { return c.writeDeadlined(p) }
