package server

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/sockpool/sockpool/bufs"
)

// SendFile, on every engine: a range of a regular file goes to the socket
// with sendfile(2) where the kernel can do it (plain TCP and UNIX
// sockets on Linux: no copy through user space), and is read and written
// in chunks elsewhere (TLS, which must encrypt it, other systems).

// ErrNotRegularFile is returned by Conn.SendFile for a file that is not a
// regular file (a pipe, a directory, a device): only a regular file has
// byte offsets to send from.
var ErrNotRegularFile = errors.New("sockpool/server: SendFile needs a regular file")

// fileChunk is the most bytes read from a file at a time where it cannot
// be sent with sendfile(2): one TLS record's worth of plaintext.
const fileChunk = 16 << 10

// fileRange is the rest of a range of a file that SendFile is sending.
// Where an engine queues it beyond the call (the evented engines), f is a
// duplicate of the caller's file, so the caller may close its own as soon
// as SendFile returns.
type fileRange struct {
	f    *os.File
	fd   int   // f's descriptor, for sendfile(2)
	own  bool  // f is our duplicate, closed by done
	off  int64 // where the next byte comes from
	n    int64 // bytes left to send
	size int64 // bytes the range had at the call
}

// openRange checks f and the range SendFile was asked for (count < 0: to
// the end of the file) and returns it, clipped to the file's size at the
// call; short is then an error wrapping io.ErrUnexpectedEOF. Where
// sendfile(2) exists, the range has a duplicate of f: its descriptor is
// used without touching f's blocking mode, and an engine may send it after
// SendFile returned and the caller closed f.
func openRange(f *os.File, off, count int64) (r *fileRange, short error, err error) {
	if f == nil {
		return nil, nil, errors.New("sockpool/server: SendFile of a nil file")
	}
	if off < 0 {
		return nil, nil, fmt.Errorf("sockpool/server: SendFile at negative offset %d", off)
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%w: %s is %v", ErrNotRegularFile, f.Name(), fi.Mode().Type())
	}
	avail := max(fi.Size()-off, 0)
	switch {
	case count < 0:
		count = avail
	case count > avail:
		short = fmt.Errorf("sockpool/server: SendFile of %d bytes at %d: %s holds %d there: %w", count, off, f.Name(), avail, io.ErrUnexpectedEOF)
		count = avail
	}
	r = &fileRange{f: f, fd: -1, off: off, n: count, size: count}
	if canSendfile && count > 0 {
		if r.f, r.fd, err = dupFile(f); err != nil {
			return nil, nil, err
		}
		r.own = true
	}
	return r, short, nil
}

// sent is how many bytes of the range have gone.
func (r *fileRange) sent() int64 { return r.size - r.n }

// done releases the range's duplicate, if it has one.
func (r *fileRange) done() {
	if r.own {
		r.f.Close()
		r.own = false
	}
}

// errFileShrank closes a connection whose file ended before the range
// SendFile accepted: the peer expects bytes that cannot be sent, so the
// stream cannot go on.
func errFileShrank(r *fileRange) error {
	return fmt.Errorf("sockpool/server: %s ended %d bytes short of the range SendFile was given: %w", r.f.Name(), r.n, io.ErrUnexpectedEOF)
}

// readChunk reads the next chunk of r into buf (fileChunk bytes or fewer)
// and advances r; a file that ends early is errFileShrank.
func (r *fileRange) readChunk(buf []byte) ([]byte, error) {
	buf = buf[:min(int64(len(buf)), r.n)]
	n, err := r.f.ReadAt(buf, r.off)
	if n == 0 && (err == nil || err == io.EOF) {
		return nil, errFileShrank(r)
	}
	if n < len(buf) && err != io.EOF && err != nil {
		return nil, err
	}
	r.off += int64(n)
	r.n -= int64(n)
	return buf[:n], nil
}

// copyRange sends r through write a chunk at a time: the way a file goes
// where sendfile(2) cannot take it.
func copyRange(write func([]byte) (int, error), r *fileRange) (int64, error) {
	buf := bufs.Get(fileChunk)
	defer bufs.Put(buf)
	start := r.sent()
	for r.n > 0 {
		chunk, err := r.readChunk(buf)
		if err != nil {
			return r.sent() - start, err
		}
		if n, err := write(chunk); err != nil {
			return r.sent() - start - int64(len(chunk)-n), err
		}
	}
	return r.sent() - start, nil
}
