// Package frame cuts a connection's byte stream into messages and frames
// messages for it.
//
// Two formats are built in: LengthPrefixed (a 1, 2, 4 or 8-byte big-endian
// length, then the message) and Delimited (the message, then a delimiter
// such as "\n"). Each needs a MaxFrameSize: a frame that would be larger
// fails with ErrFrameTooLarge as soon as its header (or MaxFrameSize bytes
// with no delimiter) arrives, before anything that size is buffered.
//
// A Handler turns a per-message handler into a server.Handler:
//
//	format := frame.LengthPrefixed{HeaderSize: 4, MaxFrameSize: 1 << 20}
//	h, err := frame.NewHandler(format,
//		frame.MessageFunc(func(c server.Conn, msg []byte) {
//			// msg is one whole message, valid only during the call.
//			out := bufs.GetOutput()
//			out.B, _ = format.AppendFrame(out.B, msg)
//			c.Write(out.B)
//			bufs.PutOutput(out)
//		}),
//		&frame.Options{FrameTimeout: 10 * time.Second},
//	)
//	if err != nil {
//		return err // a zero MaxFrameSize, say
//	}
//	srv := &server.Server{Handler: h}
//
// Messages that lie whole inside one read are passed on straight from the
// server's read buffer, without a copy or an allocation; a frame that spans
// reads is gathered in a buffer from the bufs pool, which goes back to the
// pool when the frame is complete or the connection closes. A frame the
// format rejects closes the connection, and the handler's OnClose receives
// the error. FrameTimeout closes a connection whose frame does not arrive
// whole in time (ErrFrameTimeout), without a goroutine per connection.
//
// A Decoder does the same for any stream, such as a client's net.Conn:
//
//	d, err := frame.NewDecoder(frame.Delimited{MaxFrameSize: 4096}, new(bufs.Pool))
//	...
//	n, err := conn.Read(buf)
//	err = d.Feed(buf[:n], func(line []byte) error { ...; return nil })
//
// The encoders append to a caller's buffer (AppendFrame, and AppendHeader
// for a message written in pieces), so output can be built in a pooled
// buffer without allocating.
//
// The formats, the Decoder and the encoders import nothing of sockpool;
// Handler imports server, whose Handler interface it implements, and takes
// its buffers from bufs.
package frame
