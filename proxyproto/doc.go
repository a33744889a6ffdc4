// Package proxyproto implements the receiving side of the HAProxy PROXY
// protocol, versions 1 (text) and 2 (binary): the header a load balancer
// sends at the start of a connection to say who the client really is.
//
// The specification is
// https://www.haproxy.org/download/2.8/doc/proxy-protocol.txt.
//
// Parse is a pure function for servers that peek at a socket's first
// bytes: it never blocks and never reads past the header, and it tells a
// header that is incomplete (ErrIncomplete: peek again later) from bytes
// that are no header at all (ErrNotProxy, decided at the first byte that
// differs from both signatures) and from a bad one (ErrMalformed,
// ErrTooLarge). Accept a header only from a trusted load balancer:
//
//	policy := &proxyproto.Policy{Trusted: prefixes} // from ParsePrefixes("10.0.0.0/8,::1")
//	...
//	if !policy.Trusts(conn.RemoteAddr()) {
//		// serve as usual; a PROXY header from this peer is an error
//	}
//	n, _ := syscall.Recvfrom(fd, peek, syscall.MSG_PEEK)
//	h, hlen, err := policy.Parse(peek[:n])
//	switch {
//	case errors.Is(err, proxyproto.ErrIncomplete):
//		// wait for more bytes, within policy.HeaderTimeout()
//	case err != nil:
//		conn.Close() // malformed, too large, or no header at all
//	default:
//		discard(conn, hlen) // the application's data starts after hlen bytes
//		if h.Source != nil { // nil for LOCAL (health checks) and UNKNOWN
//			remote = h.Source
//		}
//	}
//
// Read does the same on an io.Reader, blocking, and reads exactly the
// header. Header.AppendTo and WriteTo encode headers, for clients and
// tests:
//
//	h := &proxyproto.Header{Version: 2, Command: proxyproto.Proxy,
//		Source:      &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 56324},
//		Destination: &net.TCPAddr{IP: net.IPv4(198, 51, 100, 7), Port: 443}}
//	_, err := h.WriteTo(conn)
//
// The package imports nothing of sockpool.
package proxyproto
