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
// Threaded (the default, every OS) gives each connection a pool worker for
// its life, which reads with blocking reads into a buffer of ReadBufferSize
// and calls the handler; writes go straight to the socket. Workers default to
// MaxConns, so the default configuration never leaves an accepted connection
// without a worker; a smaller pool shows up as Stats.Waiting.
//
// # Limits
//
// MaxConns bounds open connections; Overflow says what happens beyond it
// (pool.Block: stop accepting, pool.Reject: close the new connection at
// once). IdleTimeout, ReadTimeout and WriteTimeout close connections that
// stall; accept errors such as EMFILE back off from 5 ms to 1 s instead of
// spinning; a panicking handler closes only its own connection. Stats reports
// the counters.
package server
