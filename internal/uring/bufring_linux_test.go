package uring

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// newIncremental makes an incremental buffer ring, skipping the test on a
// kernel that cannot run one.
func newIncremental(t *testing.T, r *Ring, group uint16, count, size int) *BufferRing {
	t.Helper()
	b, err := r.NewIncrementalBufferRing(group, count, size)
	if errors.Is(err, ErrUnsupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !b.Incremental() {
		t.Fatal("NewIncrementalBufferRing made a ring that is not incremental")
	}
	return b
}

// TestIncrementalConsumption follows an incremental ring of two 4 KiB
// buffers through recvs on two sockets: completions of both fill one
// buffer one after another, with IORING_CQE_F_BUF_MORE while it has room;
// the one that fills it has the flag clear and is the only one that
// recycles; a recv that ends the stream consumes nothing; a recycled
// buffer is filled from its start again.
func TestIncrementalConsumption(t *testing.T) {
	const size = 4096
	r := newRing(t, nil)
	b := newIncremental(t, r, 5, 2, size)
	a, pa := socketpair(t)
	c, pc := socketpair(t)
	sqe(t, r).PrepRecvMultishot(1, a, b.Group())
	sqe(t, r).PrepRecvMultishot(2, c, b.Group())
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	type want struct {
		ud       uint64
		id       uint16
		off, n   int  // where in buffer id the bytes are, and how many
		bufMore  bool // IORING_CQE_F_BUF_MORE
		recycled bool // Take gave the buffer back
	}
	seed := 0
	for _, step := range []struct {
		name  string
		peer  int
		write int // bytes the peer writes (0: it shuts down its side)
		want  []want
	}{
		{"first bytes", pa, 1000, []want{{1, 0, 0, 1000, true, false}}},
		{"another socket's, after them", pc, 1500, []want{{2, 0, 1000, 1500, true, false}}},
		{"more than the buffer has left", pa, 3000, []want{
			{1, 0, 2500, 1596, false, true},
			{1, 1, 0, 1404, true, false},
		}},
		{"the rest of the second buffer", pc, size - 1404, []want{{2, 1, 1404, size - 1404, false, true}}},
		{"the recycled buffer, from its start", pa, 10, []want{{1, 0, 0, 10, true, false}}},
		{"end of stream", pc, 0, []want{{2, 0, 0, 0, false, false}}},
		{"after it, where the last bytes ended", pa, 5, []want{{1, 0, 10, 5, true, false}}},
	} {
		seed++
		msg := pattern(step.write, seed)
		if step.write == 0 {
			if err := unix.Shutdown(step.peer, unix.SHUT_WR); err != nil {
				t.Fatal(err)
			}
		} else if n, err := unix.Write(step.peer, msg); n != len(msg) {
			t.Fatalf("%s: wrote %d of %d bytes: %v", step.name, n, len(msg), err)
		}
		b.Publish() // as a loop does before each wait
		var got []byte
		for i, cqe := range collect(t, r, len(step.want)) {
			w := step.want[i]
			tail := b.tail
			p, err := b.Take(&cqe)
			if err != nil {
				t.Fatalf("%s: Take: %v", step.name, err)
			}
			id, hasBuf := cqe.BufferID()
			recycled := b.tail != tail
			switch {
			case cqe.UserData != w.ud:
				t.Errorf("%s: completion %d is for request %d, want %d", step.name, i, cqe.UserData, w.ud)
			case w.n == 0 && (cqe.Res != 0 || cqe.More() || len(p) != 0 || recycled):
				t.Errorf("%s: completion %+v, Take %d bytes, recycled %v; want the end of the stream, nothing taken", step.name, cqe, len(p), recycled)
			case w.n > 0 && (!hasBuf || id != w.id || int(cqe.Res) != w.n):
				t.Errorf("%s: completion %d: %d bytes in buffer %d (%v), want %d in buffer %d", step.name, i, cqe.Res, id, hasBuf, w.n, w.id)
			case w.n > 0 && cqe.Flags&cqeFBufMore != 0 != w.bufMore:
				t.Errorf("%s: completion %d: BUF_MORE %v, want %v", step.name, i, !w.bufMore, w.bufMore)
			case recycled != w.recycled:
				t.Errorf("%s: completion %d: recycled %v, want %v", step.name, i, recycled, w.recycled)
			case w.n > 0 && addr(p) != addr(b.Buffer(w.id)[w.off:]):
				t.Errorf("%s: completion %d: Take's bytes are not at byte %d of buffer %d", step.name, i, w.off, w.id)
			}
			got = append(got, p...)
		}
		if i := firstDiff(got, msg); i >= 0 {
			t.Fatalf("%s: the bytes taken differ from those written at byte %d", step.name, i)
		}
	}
}

// TestBufferRingShared runs eight streams at once through one buffer ring
// of sixteen 1 KiB buffers, every recv limited to 3000 bytes so that the
// multishot recvs keep ending (their last completion is the one the kernel
// defers) and being re-armed, and the ring keeps running out: every byte
// must arrive in order on its own stream, on a fixed ring and on an
// incremental one, where the streams' completions share buffers.
func TestBufferRingShared(t *testing.T) {
	for _, incremental := range []bool{false, true} {
		name := "fixed"
		if incremental {
			name = "incremental"
		}
		t.Run(name, func(t *testing.T) {
			const (
				streams = 8
				size    = 64 << 10
			)
			r := newRing(t, &Config{Entries: 64, CQEntries: 256})
			var b *BufferRing
			if incremental {
				b = newIncremental(t, r, 6, 16, 1024)
			} else {
				var err error
				if b, err = r.NewBufferRing(6, 16, 1024); err != nil {
					t.Fatal(err)
				}
			}
			fds := make([]int, streams)
			got := make([][]byte, streams)
			done := make([]bool, streams)
			wrote := make(chan error, streams)
			arm := func(i int) {
				s := sqe(t, r)
				s.PrepRecvMultishot(uint64(i), fds[i], b.Group())
				s.SetRecvLimit(3000)
			}
			for i := range streams {
				var peer int
				fds[i], peer = socketpair(t)
				arm(i)
				go func() { wrote <- writeAll(peer, pattern(size, i)) }()
			}
			var rearm []int
			ended, enobufs := 0, 0
			deadline := time.Now().Add(waitTimeout)
			for ended < streams {
				if time.Now().After(deadline) {
					t.Fatalf("timed out with %d of %d streams ended", ended, streams)
				}
				b.Publish()
				for _, i := range rearm {
					arm(i)
				}
				rearm = rearm[:0]
				if _, err := r.SubmitAndWaitTimeout(1, 100*time.Millisecond); err != nil {
					t.Fatal(err)
				}
				for cqe := range r.CQEs() {
					i := int(cqe.UserData)
					p, err := b.Take(cqe)
					if err != nil {
						t.Fatal(err)
					}
					got[i] = append(got[i], p...)
					if cqe.More() {
						continue
					}
					switch {
					case cqe.Res == 0:
						done[i] = true
						ended++
					case errors.Is(cqe.Err(), unix.ENOBUFS):
						enobufs++
						rearm = append(rearm, i)
					case cqe.Res > 0:
						rearm = append(rearm, i) // the limit
					default:
						t.Fatalf("stream %d: recv: %v", i, cqe.Err())
					}
				}
			}
			for i := range streams {
				if err := <-wrote; err != nil {
					t.Error(err)
				}
				if j := firstDiff(got[i], pattern(size, i)); j >= 0 {
					t.Errorf("stream %d: %d bytes received, differing from those sent at byte %d", i, len(got[i]), j)
				}
			}
			t.Logf("%d recvs re-armed after ENOBUFS", enobufs)
		})
	}
}

// writeAll writes p to the non-blocking fd, waiting while it is full, and
// then shuts down its sending side.
func writeAll(fd int, p []byte) error {
	deadline := time.Now().Add(waitTimeout)
	for i := 0; len(p) > 0; i++ {
		// Writes of many sizes, so recvs find partial chunks.
		n, err := unix.Write(fd, p[:min(len(p), 1+i*677%4000)])
		switch {
		case err == unix.EAGAIN:
			if time.Now().After(deadline) {
				return fmt.Errorf("writing: timed out with %d bytes left", len(p))
			}
			unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}, 100)
		case err != nil:
			return err
		default:
			p = p[n:]
		}
	}
	return unix.Shutdown(fd, unix.SHUT_WR)
}

// TestIncrementalRefused: a kernel that refuses IOU_PBUF_RING_INC makes
// NewIncrementalBufferRing fail with ErrUnsupported and the flag named,
// leaving the group free for a fixed ring.
func TestIncrementalRefused(t *testing.T) {
	restore := RefuseIncremental()
	defer restore()
	r := newRing(t, nil)
	_, err := r.NewIncrementalBufferRing(3, 8, 4096)
	if !errors.Is(err, ErrUnsupported) || !errors.Is(err, unix.EINVAL) || !strings.Contains(err.Error(), "IOU_PBUF_RING_INC") {
		t.Fatalf("NewIncrementalBufferRing = %v, want ErrUnsupported and EINVAL, naming IOU_PBUF_RING_INC", err)
	}
	b, err := r.NewBufferRing(3, 8, 4096)
	if err != nil {
		t.Fatalf("a fixed ring after the refusal: %v", err)
	}
	if b.Incremental() {
		t.Fatal("NewBufferRing made an incremental ring")
	}
}

// TestCompletionsOrdered: incremental rings are used from the kernels
// that post the completions of requests sharing a ring in order.
func TestCompletionsOrdered(t *testing.T) {
	for _, tc := range []struct {
		release string
		want    bool
	}{
		{"6.18.44-fc-v857", true},
		{"6.15.0", true},
		{"6.15-rc1", true},
		{"7.0.1", true},
		{"6.14.11-300.fc42.x86_64", false},
		{"6.13.2", false},
		{"6.12.29", true},
		{"6.12.28", false},
		{"6.12.0-29-generic", false}, // Ubuntu's ABI number is not the stable release
		{"6.12", false},
		{"6.1.0-28-amd64", false},
		{"5.19.0", false},
		{"unknown", false},
		{"", false},
	} {
		if got := completionsOrdered(tc.release); got != tc.want {
			t.Errorf("completionsOrdered(%q) = %v, want %v", tc.release, got, tc.want)
		}
	}
}
