// Package bufs pools the byte buffers of a connection's read and write paths.
//
// Read buffers have a fixed size and come from a size-classed pool: Get
// rounds the requested length up to a power of two between [MinSize] and
// [MaxSize], and Put returns the buffer to its class. Larger requests are
// allocated to size and not pooled.
//
//	buf := bufs.Get(16 << 10)
//	n, err := conn.Read(buf)
//	handle(buf[:n], err)
//	bufs.Put(buf)
//
// Output queued for writing grows as it is appended to, so it uses a
// calibrating pool instead ([bytebufferpool], which sizes new buffers from
// the lengths seen at Put):
//
//	out := bufs.GetOutput()
//	out.WriteString("HTTP/1.1 200 OK\r\n")
//	_, err = out.WriteTo(conn)
//	bufs.PutOutput(out)
//
// Neither pool clears a buffer: Get returns arbitrary contents, the way a
// bufio.Reader's buffer holds whatever was read last. A buffer must not be
// used after it is put back.
//
// [bytebufferpool]: https://pkg.go.dev/github.com/valyala/bytebufferpool
package bufs
