package packet

// UsePortableReader makes s read with ReadFrom where recvmmsg is available
// too, so that tests run both readers on Linux.
func UsePortableReader(s *Server) { s.portable = true }
