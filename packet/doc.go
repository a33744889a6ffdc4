// Package packet runs UDP servers on a bounded worker pool: a reader per
// socket takes datagrams in batches into pooled buffers, and each datagram
// goes to a Handler on a worker, or is dropped and counted when every
// worker is busy, so that a flood costs a fixed amount of memory.
//
// An echo server:
//
//	srv := &packet.Server{
//		Addr: "127.0.0.1:7000",
//		Handler: packet.HandlerFunc(func(w packet.Writer, p []byte, from netip.AddrPort) {
//			w.WriteTo(p, from)
//		}),
//	}
//	go srv.ListenAndServe()
//	...
//	srv.Shutdown(ctx) // stop reading, let handler calls reply, close
//
// p is valid only during the call; Writer.WriteTo is safe from any
// goroutine. Serve(pc) serves a socket you opened, so you know it is bound
// before the first datagram comes.
//
// # Reading
//
// On Linux the reader receives up to BatchSize datagrams per recvmmsg(2)
// call, waiting on Go's network poller (through syscall.RawConn) while
// nothing arrives, so an idle server holds no thread. Elsewhere, and for a
// net.PacketConn that is not a socket, it reads one datagram at a time with
// ReadFrom. A datagram longer than MaxPacketSize is dropped and counted in
// Stats.Oversize; the handler never sees part of one.
//
// # Limits
//
// Workers bounds the handler calls running at once. A datagram that finds
// them all busy is dropped and counted in Stats.Dropped; nothing is queued
// beyond the socket's own receive buffer, so a burst the handler cannot
// keep up with is shed at once instead of being answered late, and memory
// stays within Workers datagrams plus the readers' buffers (BatchSize ×
// MaxPacketSize per socket). A panicking handler call is recovered, logged
// and counted in Stats.Panics; the server goes on serving.
package packet
