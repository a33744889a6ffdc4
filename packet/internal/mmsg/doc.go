// Package mmsg receives UDP datagrams in batches with recvmmsg(2), through a
// socket's syscall.RawConn, so that a reader with nothing to read waits on
// Go's network poller instead of holding a thread in a blocking system call.
//
// It is Linux-only; elsewhere the package is empty and the packet server
// reads one datagram at a time with ReadFrom.
//
//	r := mmsg.NewReader(rc, 32)
//	n, err := r.Read(bufs) // waits until at least one datagram is there
//	for i := range n {
//		handle(bufs[i][:r.Len(i)], r.Addr(i), r.Truncated(i))
//	}
package mmsg
