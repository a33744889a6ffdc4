package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sockpool/sockpool/server"
)

// File cells (-file): each connection asks for a file, one byte, and reads
// and checks all of it before it asks again; the server sends it with
// Conn.SendFile (sendfile(2) on Linux) or, for the comparison, with
// ReadAt and Write in 64 KiB pieces ("copy"). net sends it with
// io.Copy, which is sendfile(2) through TCPConn.ReadFrom, or copies it the
// same way. A cell's files/s are its msg/s and its msg/srv-CPU-s are files
// per server CPU-second.

// Methods of a file cell.
const (
	methodSendfile = "sendfile"
	methodCopy     = "copy"
)

// fileRequest is the byte a client sends to ask for the file.
const fileRequest = 'G'

// fileCopyChunk is what the copy method reads and writes at a time.
const fileCopyChunk = 64 << 10

// fileEngine reports whether engine serves file cells: sockpool's engines
// and net; the peers' echo servers do not.
func fileEngine(engine string) bool { return tunable(engine) || engine == "net" }

// fileLabel is the engine column of a file cell.
func fileLabel(engine, method string) string { return engine + "/" + method }

// fileSender sends the file at path, of size bytes, the way method says.
type fileSender struct {
	f      *os.File
	size   int64
	method string
}

func openFileSender(path, method string) (*fileSender, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &fileSender{f: f, size: fi.Size(), method: method}, nil
}

// copyTo writes the file to w with ReadAt and Write, fileCopyChunk at a
// time.
func (s *fileSender) copyTo(w io.Writer, buf []byte) error {
	for off := int64(0); off < s.size; {
		n, err := s.f.ReadAt(buf, off)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			off += int64(n)
		}
		if err != nil && !(errors.Is(err, io.EOF) && off == s.size) {
			return err
		}
	}
	return nil
}

// handler is the file server of a sockpool engine: every request byte
// gets the whole file. With the copy method on Evented and Uring, whose
// handlers run on an event loop and must not wait, the copy runs on a
// goroutine of its own, whose Writes wait for the queue to drain as they
// would on a blocking socket (done inline, the loop would queue the whole
// file).
func (s *fileSender) handler(engine server.Engine) server.Handler {
	bufs := sync.Pool{New: func() any { return make([]byte, fileCopyChunk) }}
	send := func(c server.Conn) {
		var err error
		if s.method == methodSendfile {
			_, err = c.SendFile(s.f, 0, s.size)
		} else {
			buf := bufs.Get().([]byte)
			err = s.copyTo(c, buf)
			bufs.Put(buf)
		}
		if err != nil {
			c.CloseWithError(err)
		}
	}
	return server.HandlerFunc(func(c server.Conn, in []byte) {
		for range bytes.Count(in, []byte{fileRequest}) {
			if (engine == server.Evented || engine == server.Uring) && s.method == methodCopy {
				go send(c)
			} else {
				send(c)
			}
		}
	})
}

// serveNet is the file server of net, on one connection.
func (s *fileSender) serveNet(c net.Conn) {
	buf := make([]byte, fileCopyChunk)
	req := make([]byte, 64)
	for {
		n, err := c.Read(req)
		for range bytes.Count(req[:n], []byte{fileRequest}) {
			var serr error
			if s.method == methodSendfile {
				// io.Copy from a SectionReader would copy; TCPConn.ReadFrom
				// takes sendfile(2) from an *os.File at its offset.
				serr = s.sendNet(c)
			} else {
				serr = s.copyTo(c, buf)
			}
			if serr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// sendNet sends the file through io.Copy from a file of the connection's
// own, whose offset is its own.
func (s *fileSender) sendNet(c net.Conn) error {
	f, err := os.Open(s.f.Name())
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(c, f)
	return err
}

// fileConn is the transport of a file cell's client: msgs are ignored; it
// asks for the file and checks every byte of it against want.
type fileConn struct {
	conn net.Conn
	want []byte
	buf  []byte
}

func newFileConn(conn net.Conn, want []byte) *fileConn {
	return &fileConn{conn: conn, want: want, buf: make([]byte, 256<<10)}
}

func (f *fileConn) exchange(_ [][]byte, done func(time.Duration)) error {
	start := time.Now()
	if _, err := f.conn.Write([]byte{fileRequest}); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	for got := 0; got < len(f.want); {
		n, err := f.conn.Read(f.buf[:min(len(f.buf), len(f.want)-got)])
		if n > 0 {
			if want := f.want[got : got+n]; !bytes.Equal(f.buf[:n], want) {
				return fmt.Errorf("file at byte %d: %w", got, mismatch(f.buf[:n], want))
			}
			got += n
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("%w: %d of %d bytes of the file, then %w", errShortRead, got, len(f.want), err)
			}
			return fmt.Errorf("read after %d of %d bytes of the file: %w", got, len(f.want), err)
		}
	}
	done(time.Since(start))
	return nil
}

// fileData returns the path and the contents of the file of file cells of
// size bytes, writing it on first use.
func (r *runner) fileData(size int) (string, []byte, error) {
	if d, ok := r.files[size]; ok {
		return filepath.Join(r.tmp, fmt.Sprintf("file-%d", size)), d, nil
	}
	p := newPattern(0x5eed, uint64(size), size)
	data := p.block[:size]
	path := filepath.Join(r.tmp, fmt.Sprintf("file-%d", size))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return "", nil, err
	}
	if r.files == nil {
		r.files = make(map[int][]byte)
	}
	r.files[size] = data
	return path, data, nil
}
