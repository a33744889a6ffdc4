//go:build !linux

package packet

import "net"

// newReader reads with ReadFrom, one datagram at a time: recvmmsg is
// Linux's.
func (s *Server) newReader(pc net.PacketConn) reader {
	return newPortableReader(pc, s.maxSize)
}
