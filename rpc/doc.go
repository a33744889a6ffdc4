// Package rpc is a small request/response layer on sockpool: a Server that
// routes calls by method name to functions, and a Client that multiplexes
// concurrent calls over one or a few connections.
//
// A server:
//
//	rs, err := rpc.NewServer(nil)
//	...
//	rs.Register("echo", func(ctx context.Context, req []byte) ([]byte, error) {
//		return req, nil
//	})
//	srv := &server.Server{Handler: rs} // any engine
//	go srv.ListenAndServe()
//	...
//	srv.Shutdown(ctx)
//	rs.Close(ctx) // wait for methods still running
//
// A client:
//
//	c, err := rpc.Dial(ctx, "tcp", "127.0.0.1:7000", nil)
//	...
//	reply, err := c.Call(ctx, "echo", []byte("hi"))
//	var rerr *rpc.Error
//	if errors.As(err, &rerr) { ... } // the server's error, with a Code
//	c.Close()
//
// Calls on one connection run concurrently on the server's worker pool, up
// to ServerConfig.MaxConcurrent per connection (more wait in a bounded
// queue; beyond it a call gets CodeOverloaded), and their replies come back
// in any order. The Server's handler never blocks, so it runs on the
// evented engine's loops as well as on the threaded engine. A call's
// deadline (from the caller's ctx) travels with it; the method's ctx has it
// and is also cancelled when the caller gives up or the connection closes.
// An unknown method, a method's error and a panic in a method all reach the
// caller as an *Error.
//
// The Client redials a connection that dropped on the next Call (at once,
// then with backoff while dials fail), fails the calls pending on a dropped
// connection with an error wrapping ErrConnLost, and those pending at Close
// with ErrClientClosed.
//
// # Wire format
//
// Each message is one frame: a 4-byte big-endian length (frame.LengthPrefixed
// with HeaderSize 4), then the message. Every message starts with
//
//	version  1 byte   1
//	kind     1 byte   1 request, 2 response, 3 error, 4 cancel
//	id       8 bytes  big-endian call id, chosen by the client
//
// and goes on by kind:
//
//	request   timeout 8 bytes   big-endian microseconds left until the
//	                            caller's deadline, 0 for none
//	          method length 1 byte (1 to 255), method name, then the
//	          request payload (the rest of the frame)
//	response  the reply payload (the rest of the frame)
//	error     code 1 byte (see Code), then the message, UTF-8 (the rest)
//	cancel    nothing: the client gave up on call id
//
// The client sends requests and cancels, the server responses and errors.
// The server answers every request with exactly one response or error,
// with the request's id, in any order; a client discards a reply whose id
// it no longer waits for. The timeout is relative, so the two clocks need
// not agree.
//
// Versioning: a peer that receives a version it does not know closes the
// connection (version 1 closes on any other). Within a version, a receiver
// ignores a kind it does not know, so kinds can be added compatibly, and a
// client maps an unknown error code to an *Error all the same. A frame
// larger than the receiver's MaxMessageSize closes the connection.
package rpc
