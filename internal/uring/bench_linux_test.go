package uring

import (
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkNop is one submit and completion of a NOP: the ring's own cost
// per io_uring_enter.
func BenchmarkNop(b *testing.B) {
	r := newRing(b, nil)
	b.ReportAllocs()
	for b.Loop() {
		sqe(b, r).PrepNop(1)
		if _, err := r.SubmitAndWait(1); err != nil {
			b.Fatal(err)
		}
		n := 0
		for range r.CQEs() {
			n++
		}
		if n != 1 {
			b.Fatalf("%d completions", n)
		}
	}
}

// BenchmarkEchoSocketpair is one 64-byte echo on a socketpair: the peer
// writes, the ring's multishot recv takes it into a provided buffer, a
// send from that buffer returns it and the buffer is recycled, the peer
// reads it back.
func BenchmarkEchoSocketpair(b *testing.B) {
	r := newRing(b, nil)
	bufs, err := r.NewBufferRing(0, 16, 4096)
	if err != nil {
		b.Fatal(err)
	}
	a, peer := socketpair(b)
	if err := unix.SetNonblock(peer, false); err != nil {
		b.Fatal(err)
	}
	sqe(b, r).PrepRecvMultishot(1, a, bufs.Group())
	msg, back := make([]byte, 64), make([]byte, 64)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := unix.Write(peer, msg); err != nil {
			b.Fatal(err)
		}
		for sent := false; !sent; {
			if _, err := r.SubmitAndWait(1); err != nil {
				b.Fatal(err)
			}
			for c := range r.CQEs() {
				switch c.UserData {
				case 1:
					id, ok := c.BufferID()
					if !ok || !c.More() {
						b.Fatalf("recv completion %+v", *c)
					}
					sqe(b, r).PrepSend(uint64(2)<<16|uint64(id), a, bufs.Buffer(id)[:c.Res], unix.MSG_NOSIGNAL)
				default:
					if c.Res != int32(len(msg)) {
						b.Fatalf("send completion %+v", *c)
					}
					bufs.Recycle(uint16(c.UserData))
					bufs.Publish()
					sent = true
				}
			}
		}
		if _, err := unix.Read(peer, back); err != nil {
			b.Fatal(err)
		}
	}
}
