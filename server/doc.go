// Package server runs socket servers: an acceptor hands each connection to a
// bounded worker pool, reads go into pooled buffers of a size you choose, and
// one Handler API runs on every engine, so that you can measure which engine
// serves your workload best and switch with one field.
//
// An echo server:
//
//	srv := &server.Server{
//		Addr:    "127.0.0.1:7000",
//		Handler: server.HandlerFunc(func(c server.Conn, in []byte) { c.Write(in) }),
//	}
//	go srv.ListenAndServe()
//	...
//	srv.Shutdown(ctx) // stop accepting, finish handlers, flush, close
//
// The handler gets the bytes of each read; in is only valid during the call.
// Conn.Write is safe from any goroutine and keeps order. A Handler may also
// implement OnOpen(Conn) and OnClose(Conn, error).
//
// # Engines
//
// The Engine field picks one of five:
//
//   - Threaded (the default, every OS) gives each connection a pool worker
//     for its life, which reads and calls the handler; writes go straight to
//     the socket. Workers default to MaxConns, so the default configuration
//     never leaves an accepted connection without a worker; a smaller pool
//     shows up as Stats.Waiting. The worker parks on Go's network poller
//     until the socket is readable, holding no buffer (it waits through
//     syscall.RawConn), and takes a pooled buffer only for the read and the
//     handler call. An idle connection costs its goroutine: about 6 KB of
//     RSS here, against 8 KB for a net goroutine with a 4 KiB buffer.
//   - ThreadedSyscall (Linux) is Threaded with the socket out of the poller:
//     the worker makes blocking read(2) calls into a buffer it keeps, on its
//     own OS thread, the recvmsg_into design. A read returns without a
//     wake-up through the poller, which pays for a few busy connections;
//     each connection blocked in a read holds a thread (about 28 KB of RSS),
//     so it is not for thousands of connections.
//   - Evented (Linux) runs Loops epoll loops and calls the handler on them:
//     it must not block. An idle connection holds no buffer and no
//     goroutine; each loop reads into one buffer of its own. Output the
//     socket does not take at once is queued and flushed with writev; above
//     WriteHighWater the loop stops reading that connection until the queue
//     drains below WriteLowWater. ReusePort gives each loop its own
//     SO_REUSEPORT listener. On other systems Serve returns
//     ErrEngineUnsupported.
//   - EventedPool (Linux) is Evented with the handler called on the worker
//     pool, in order per connection, so it may block.
//   - Uring (Linux 6.1+, new) is Evented on io_uring loops: multishot
//     receives into a buffer ring each loop shares, and the turn's sends
//     submitted with its wait. Where io_uring is refused Serve says why;
//     nothing falls back (Engine.Supported asks first, for a program that
//     chooses its own fallback). It is new: see Uring.
//
// # Read buffers
//
// ReadBufferSize fixes the size of every read. Zero (the default) lets a
// bufs.Tuner choose, per connection in the threaded engine and per loop in
// the evented one: it starts at 16 KiB, doubles while reads keep filling the
// buffer and halves while they use a quarter of it or less, between
// MinReadBufferSize and MaxReadBufferSize. A bulk workload of 64 KiB
// messages reads 64 KiB at a time within a few dozen reads instead of 16
// reads of 4 KiB, and a chatty one of small messages stops tying up 16 KiB
// per read. The Uring engine reads what the socket holds, up to
// MaxReadBufferSize, into buffers its reads share (Linux 6.15 or 6.12.29
// and later; before, at the tuner's starting size). Set a fixed size when the bench (go run
// ./bench -tune) shows one that beats the tuner for your workload.
//
// # TLS
//
// TLSConfig (build it with the tlsconf package) makes every connection
// TLS on either engine; the handshake runs on the worker pool within
// HandshakeTimeout before OnOpen, and OnData gets plaintext. The Evented
// engine decrypts records on its loops, through crypto/tls over an
// in-memory transport, so an idle TLS connection holds no goroutine.
// StartTLS upgrades a plain connection mid-stream (SMTP's or IMAP's
// STARTTLS):
//
//	if cmd == "STARTTLS" {
//		c.Write([]byte("220 Ready to start TLS\r\n"))
//		c.StartTLS(conf, rest) // rest: input after the command
//	}
//
// # Limits
//
// MaxConns bounds open connections; Overflow says what happens beyond it
// (pool.Block: stop accepting, pool.Reject: close the new connection at
// once). IdleTimeout, ReadTimeout and WriteTimeout close connections that
// stall (WriteTimeout only a peer that takes no output at all for that
// long, however long a Write lasts); running out of file descriptors, in
// accept or where an engine takes over the socket, backs off from 5 ms to
// 1 s and keeps the waiting clients; a panicking handler closes only its
// own connection. Stats reports the counters, and the Logger at debug level
// says why each connection the server cut was closed.
//
// A client that never reads costs at most WriteHighWater plus one read of
// live memory on every engine (over TLS, up to WriteHighWater more, of
// ciphertext). A handler on an event loop cannot wait for a slow peer: it
// should stop answering a pipeline while Conn.Congested is true and go on
// in OnDrain (frame.Handler does); one that does not is cut at OutputLimit.
// docs/design.md has the measurements.
//
// # Relaying between connections
//
// A Dialer opens outgoing connections on the same engine. A handler that
// writes one connection's input to another (a proxy) paces reading
// itself: Conn.PauseReading and ResumeReading stop and restart a
// connection's reading from any goroutine, a PacedHandler keeps the
// engine from pausing a connection for its own output, and an EOFHandler
// with Conn.CloseWrite passes a half-close on. examples/proxy is one.
//
// # net.Listener code
//
// Listener gives code written against net.Listener (net/http, gRPC) the
// same admission, TLS and Stats, on connections it hands to Accept:
//
//	l, err := srv.Listener(ln) // srv needs no Handler for this
//	...
//	go http.Serve(l, mux)     // *tls.Conn (HTTP/2 by ALPN), sendfile on TCP
//
// Stop the http.Server first, then the Server (see Listener).
//
// # Dialing
//
// A Dialer opens outgoing connections that run on the server's engine with
// a Handler of their own (TLS and StartTLS as the client), so a proxy or a
// client keeps its upstream connections on the same loops as the accepted
// ones:
//
//	d := &server.Dialer{Server: srv, Handler: upstream, TLSConfig: cliConf}
//	c, err := d.DialContext(ctx, "tcp", "10.0.0.2:6379") // returns after OnOpen
//
// A file goes out with Conn.SendFile: sendfile(2) on plain sockets on
// Linux, queued without a copy on the evented engines.
package server
