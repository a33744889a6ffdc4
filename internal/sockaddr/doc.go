// Package sockaddr converts the socket addresses that system calls fill in
// (accept4, recvmmsg) to netip values without allocating, for the engines
// that make those calls themselves (server's evented acceptor, packet's
// batch reader). Linux only.
//
//	var rsa unix.RawSockaddrAny
//	// ... accept4(fd, &rsa, ...) ...
//	remote := sockaddr.AddrPort(&rsa)
package sockaddr
