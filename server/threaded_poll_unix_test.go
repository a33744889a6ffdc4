//go:build unix

package server

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// TestPollTransportSpare: the threaded engine's raw reads take a buffer
// from the pool once per wake-up. A read's buffer, released, is the next
// read's; a read that finds nothing gives it back before the goroutine
// parks, and so does idle (reading paused), so a waiting connection holds
// none. A read of another size takes a buffer of that size.
func TestPollTransportSpare(t *testing.T) {
	ln := listen(t, "tcp")
	peer := dial(t, ln.Addr())
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := &threadedConn{srv: &Server{}}
	tr := newPollTransport(c, nc, true)
	if !tr.rawRead {
		t.Fatal("a TCP connection is not read raw")
	}
	read := func(msg string, size int) []byte {
		t.Helper()
		if _, err := peer.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		buf, n, err := tr.read(c, size)
		if err != nil || string(buf[:n]) != msg || len(buf) != size {
			t.Fatalf("read = %q (buffer of %d), %v; want %q in a buffer of %d", buf[:n], len(buf), err, msg, size)
		}
		tr.release(buf)
		if tr.spare == nil || &tr.spare[0] != &buf[0] {
			t.Fatal("release did not keep the buffer for the next read")
		}
		return buf
	}

	first := read("abc", 4096)
	if again := read("defg", 4096); &again[0] != &first[0] {
		t.Error("the next read took a buffer from the pool, not the spare")
	}
	tr.setReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, _, err := tr.read(c, 4096); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read with nothing to read = %v, want the deadline", err)
	}
	if tr.spare != nil {
		t.Error("the read that found nothing parked holding the spare")
	}
	tr.setReadDeadline(time.Time{})
	read("hij", 4096)
	if small := read("k", 512); len(small) != 512 {
		t.Errorf("a 512-byte read used a buffer of %d", len(small))
	}
	tr.idle()
	if tr.spare != nil {
		t.Error("idle kept the spare")
	}
	read("lmn", 512)
	tr.close()
	if tr.spare != nil {
		t.Error("close kept the spare")
	}
	if _, err := nc.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after close = %v, want net.ErrClosed", err)
	}
}
