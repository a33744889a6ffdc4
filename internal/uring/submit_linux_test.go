package uring

import (
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pinnedTimespec returns a timespec of d that stays in place for the test,
// as PrepTimeout requires.
func pinnedTimespec(t *testing.T, d time.Duration) *unix.Timespec {
	ts := new(unix.Timespec)
	*ts = unix.NsecToTimespec(d.Nanoseconds())
	var p runtime.Pinner
	p.Pin(ts)
	t.Cleanup(p.Unpin)
	return ts
}

// socketpair returns a connected pair of UNIX stream sockets the test closes.
func socketpair(t testing.TB) (int, int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

func TestWaitTimeout(t *testing.T) {
	r := newRing(t, nil)
	const d = 20 * time.Millisecond
	start := time.Now()
	if _, err := r.SubmitAndWaitTimeout(1, d); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < d || took > waitTimeout {
		t.Fatalf("a wait of %v with nothing in flight returned after %v", d, took)
	}
	for c := range r.CQEs() {
		t.Fatalf("completion %+v with nothing in flight", *c)
	}
}

func TestTimeout(t *testing.T) {
	r := newRing(t, nil)
	const d = 10 * time.Millisecond
	start := time.Now()
	sqe(t, r).PrepTimeout(7, pinnedTimespec(t, d), 0, 0)
	c := collect(t, r, 1)[0]
	if took := time.Since(start); took < d {
		t.Errorf("the %v timeout completed after %v", d, took)
	}
	if c.UserData != 7 || !errors.Is(c.Err(), unix.ETIME) || c.More() {
		t.Fatalf("timeout completion %+v (%v), want user data 7, ETIME, no More", c, c.Err())
	}
}

// TestMultishotTimeoutCancel runs the loop's sweep timer: a multishot
// timeout fires repeatedly until a cancel by user data ends it.
func TestMultishotTimeoutCancel(t *testing.T) {
	r := newRing(t, nil)
	sqe(t, r).PrepTimeout(1, pinnedTimespec(t, 2*time.Millisecond), 0, TimeoutMultishot)
	for i, c := range collect(t, r, 3) {
		if c.UserData != 1 || !errors.Is(c.Err(), unix.ETIME) || !c.More() {
			t.Fatalf("tick %d = %+v, want user data 1, ETIME, More", i, c)
		}
	}
	sqe(t, r).PrepCancel(2, 1, 0)
	var cancelled, cancel bool
	deadline := time.Now().Add(waitTimeout)
	for !cancelled || !cancel {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for the cancel")
		}
		for _, c := range collect(t, r, 1) {
			switch {
			case c.UserData == 1 && c.More():
				// a tick that came before the cancel
			case c.UserData == 1:
				if !errors.Is(c.Err(), unix.ECANCELED) {
					t.Fatalf("the timeout ended with %v, want ECANCELED", c.Err())
				}
				cancelled = true
			case c.UserData == 2:
				if c.Res != 0 {
					t.Fatalf("the cancel completed with %v", c.Err())
				}
				cancel = true
			}
		}
	}
}

// TestCancelFD cancels a multishot recv by its descriptor, as a loop does
// before closing a connection, then closes and shuts down through the ring.
func TestCancelFD(t *testing.T) {
	r := newRing(t, nil)
	bufs, err := r.NewBufferRing(0, 8, 256)
	if err != nil {
		t.Fatal(err)
	}
	a, b := socketpair(t)
	sqe(t, r).PrepRecvMultishot(1, a, bufs.Group())
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	sqe(t, r).PrepCancelFD(2, a, CancelAll)
	got := map[uint64]CQE{}
	for _, c := range collect(t, r, 2) {
		got[c.UserData] = c
	}
	if c := got[1]; !errors.Is(c.Err(), unix.ECANCELED) || c.More() {
		t.Errorf("the recv ended with %+v (%v), want ECANCELED without More", c, c.Err())
	}
	if c := got[2]; c.Res != 1 {
		t.Errorf("the cancel completed with %+v, want 1 request cancelled", c)
	}
	sqe(t, r).PrepShutdown(3, b, unix.SHUT_WR)
	if c := collect(t, r, 1)[0]; c.UserData != 3 || c.Res != 0 {
		t.Fatalf("shutdown completed with %+v", c)
	}
	if n, err := unix.Read(a, make([]byte, 1)); n != 0 || err != nil {
		t.Fatalf("read after the peer's shutdown = %d, %v, want end of stream", n, err)
	}
	dup, err := unix.Dup(a)
	if err != nil {
		t.Fatal(err)
	}
	sqe(t, r).PrepClose(4, dup)
	if c := collect(t, r, 1)[0]; c.UserData != 4 || c.Res != 0 {
		t.Fatalf("close completed with %+v", c)
	}
	if _, err := unix.FcntlInt(uintptr(dup), unix.F_GETFD, 0); !errors.Is(err, unix.EBADF) {
		t.Fatalf("the descriptor the ring closed is still open: %v", err)
	}
}

// TestWaker wakes a ring that waits with a long timeout from another
// goroutine, then checks that Wakes before the loop re-arms coalesce.
func TestWaker(t *testing.T) {
	for _, tc := range configs {
		t.Run(tc.name, func(t *testing.T) {
			r := newRing(t, tc.cfg)
			w, err := NewWaker()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { w.Close() }) // after the ring's Close: cleanups run last first
			w.Arm(sqe(t, r), 9)
			woke := make(chan error, 1)
			time.AfterFunc(20*time.Millisecond, func() { woke <- w.Wake() })
			start := time.Now()
			c := waitOne(t, r)
			if took := time.Since(start); took >= waitTimeout {
				t.Fatalf("woken after %v", took)
			}
			if c.UserData != 9 || c.Res != 8 {
				t.Fatalf("the wake completed with %+v, want user data 9, 8 bytes read", c)
			}
			if err := <-woke; err != nil {
				t.Fatal(err)
			}

			// Two Wakes before Arm make one system call and one wake;
			// after Arm the ring waits again until the next Wake.
			if err := w.Wake(); err != nil {
				t.Fatal(err)
			}
			w.Arm(sqe(t, r), 9)
			if err := w.Wake(); err != nil {
				t.Fatal(err)
			}
			if c := waitOne(t, r); c.UserData != 9 || c.Res != 8 {
				t.Fatalf("the second wake completed with %+v", c)
			}
			w.Arm(sqe(t, r), 9)
			if _, err := r.SubmitAndWaitTimeout(1, 20*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			for c := range r.CQEs() {
				t.Fatalf("completion %+v with no Wake since Arm", *c)
			}
			if err := w.Wake(); err != nil {
				t.Fatal(err)
			}
			if c := waitOne(t, r); c.UserData != 9 {
				t.Fatalf("the third wake completed with %+v", c)
			}
		})
	}
}

// waitOne waits for exactly one completion in one long wait.
func waitOne(t *testing.T, r *Ring) CQE {
	t.Helper()
	var got []CQE
	for deadline := time.Now().Add(waitTimeout); len(got) == 0 && time.Now().Before(deadline); {
		// One wait normally; a signal may end one early.
		if _, err := r.SubmitAndWaitTimeout(1, time.Until(deadline)); err != nil {
			t.Fatal(err)
		}
		for c := range r.CQEs() {
			got = append(got, *c)
		}
	}
	if len(got) != 1 {
		t.Fatalf("%d completions after one wait, want 1: %+v", len(got), got)
	}
	return got[0]
}

// TestAcceptSendmsg accepts one connection with a one-shot accept and
// sends it two buffers gathered by one sendmsg, everything the kernel
// reads after Submit returns pinned as PrepSendmsg requires; the shutdown
// that ends the stream posts no completion (SQESkipSuccess).
func TestAcceptSendmsg(t *testing.T) {
	r := newRing(t, nil)
	lfd, port := listenTCP(t)
	sqe(t, r).PrepAccept(1, lfd, unix.SOCK_CLOEXEC)
	got := make(chan []byte, 1)
	go func() {
		b, err := dialRead(port)
		if err != nil {
			t.Error(err)
		}
		got <- b
	}()
	c := collect(t, r, 1)[0]
	if c.UserData != 1 || c.Res < 0 {
		t.Fatalf("accept completed with %+v (%v)", c, c.Err())
	}
	fd := int(c.Res)
	t.Cleanup(func() { unix.Close(fd) })

	head, body := []byte("head:"), []byte("body")
	iov := []unix.Iovec{{Base: &head[0]}, {Base: &body[0]}}
	iov[0].SetLen(len(head))
	iov[1].SetLen(len(body))
	msg := &unix.Msghdr{Iov: &iov[0]}
	msg.SetIovlen(len(iov))
	var pin runtime.Pinner
	pin.Pin(msg)
	pin.Pin(&iov[0])
	pin.Pin(&head[0])
	pin.Pin(&body[0])
	defer pin.Unpin()
	sqe(t, r).PrepSendmsg(2, fd, msg, unix.MSG_NOSIGNAL)
	s := sqe(t, r)
	s.PrepShutdown(3, fd, unix.SHUT_WR)
	s.SetFlags(SQESkipSuccess)
	if c := collect(t, r, 1)[0]; c.UserData != 2 || c.Res != int32(len(head)+len(body)) {
		t.Fatalf("sendmsg completed with %+v (%v)", c, c.Err())
	}
	if b := <-got; string(b) != "head:body" {
		t.Fatalf("the peer read %q", b)
	}
	for c := range r.CQEs() {
		t.Fatalf("completion %+v of a shutdown that skips its success", *c)
	}
}

// dialRead connects to port and reads to end of stream.
func dialRead(port int) ([]byte, error) {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), waitTimeout)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(waitTimeout))
	return io.ReadAll(c)
}

// TestRecvLimit: a multishot recv with a limit ends, More clear, once it
// has taken that many bytes, while the socket still holds more; without
// one it takes everything.
func TestRecvLimit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		limit uint32
		want  int // bytes taken before the recv stops posting
	}{
		{"none", 0, 8192},
		{"2KiB", 2048, 2048},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRing(t, nil)
			b, err := r.NewBufferRing(1, 16, 1024)
			if err != nil {
				t.Fatal(err)
			}
			a, peer := socketpair(t)
			if _, err := unix.Write(peer, make([]byte, 8192)); err != nil {
				t.Fatal(err)
			}
			s := sqe(t, r)
			s.PrepRecvMultishot(7, a, b.Group())
			s.SetRecvLimit(tc.limit)
			got, ended := 0, false
			for _, c := range collect(t, r, tc.want/1024) {
				if c.Res < 0 {
					t.Fatalf("recv: %v", c.Err())
				}
				got += int(c.Res)
				ended = !c.More()
			}
			if got != tc.want || ended != (tc.limit != 0) {
				t.Errorf("took %d bytes, ended %v; want %d, ended %v", got, ended, tc.want, tc.limit != 0)
			}
		})
	}
}

// TestPollAdd: a poll for POLLOUT on a socket with room completes at once;
// one on a full socket completes only once the peer has read, and a poll
// for POLLIN once the peer has written; a cancel ends a poll with
// ECANCELED.
func TestPollAdd(t *testing.T) {
	r := newRing(t, nil)
	a, b := socketpair(t)
	sqe(t, r).PrepPollAdd(1, a, unix.POLLOUT)
	if c := collect(t, r, 1)[0]; c.UserData != 1 || c.Res < 0 || c.Res&unix.POLLOUT == 0 {
		t.Fatalf("POLLOUT on an empty socket completed with %+v (%v)", c, c.Err())
	}
	fill := make([]byte, 64<<10)
	filled := 0
	for {
		n, err := unix.Write(a, fill)
		if err == unix.EAGAIN {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		filled += n
	}
	sqe(t, r).PrepPollAdd(2, a, unix.POLLOUT)
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.SubmitAndWaitTimeout(1, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	for c := range r.CQEs() {
		t.Fatalf("POLLOUT on a full socket completed before the peer read: %+v", *c)
	}
	buf := make([]byte, 64<<10)
	for drained := 0; drained < filled; {
		n, err := unix.Read(b, buf)
		if err != nil {
			t.Fatalf("draining %d of %d bytes: %v", drained, filled, err)
		}
		drained += n
	}
	if c := collect(t, r, 1)[0]; c.UserData != 2 || c.Res < 0 || c.Res&unix.POLLOUT == 0 {
		t.Fatalf("POLLOUT after the peer read completed with %+v (%v)", c, c.Err())
	}
	sqe(t, r).PrepPollAdd(3, a, unix.POLLIN)
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Write(b, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if c := collect(t, r, 1)[0]; c.UserData != 3 || c.Res < 0 || c.Res&unix.POLLIN == 0 {
		t.Fatalf("POLLIN after the peer wrote completed with %+v (%v)", c, c.Err())
	}
	sqe(t, r).PrepPollAdd(4, b, unix.POLLIN)
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	sqe(t, r).PrepCancelFD(5, b, CancelAll)
	got := map[uint64]CQE{}
	for _, c := range collect(t, r, 2) {
		got[c.UserData] = c
	}
	if c := got[4]; !errors.Is(c.Err(), unix.ECANCELED) {
		t.Errorf("the cancelled poll ended with %+v (%v), want ECANCELED", c, c.Err())
	}
}

// TestFailSends: while FailSends is in force, its count of sends complete
// with the error having sent nothing, and the sends after them, and every
// other request, run as usual.
func TestFailSends(t *testing.T) {
	r := newRing(t, nil)
	a, b := socketpair(t)
	restore := FailSends(2, unix.EAGAIN)
	defer func() {
		if n := restore(); n != 2 {
			t.Errorf("FailSends failed %d sends, want 2", n)
		}
	}()
	msg := []byte("hello")
	vec := []byte("world")
	pin := new(runtime.Pinner)
	defer pin.Unpin()
	pin.Pin(&vec[0])
	iov := []unix.Iovec{{Base: &vec[0]}}
	iov[0].SetLen(len(vec))
	pin.Pin(&iov[0])
	hdr := &unix.Msghdr{Iov: &iov[0]}
	hdr.SetIovlen(1)
	pin.Pin(hdr)
	for i, want := range []int32{-int32(unix.EAGAIN), -int32(unix.EAGAIN), int32(len(msg)), int32(len(vec))} {
		if i%2 == 0 {
			sqe(t, r).PrepSend(uint64(i), a, msg, unix.MSG_NOSIGNAL)
		} else {
			sqe(t, r).PrepSendmsg(uint64(i), a, hdr, unix.MSG_NOSIGNAL)
		}
		if c := waitOne(t, r); c.UserData != uint64(i) || c.Res != want {
			t.Fatalf("send %d completed with %+v, want Res %d", i, c, want)
		}
	}
	sqe(t, r).PrepNop(9) // not a send: untouched, though the count is spent
	if c := waitOne(t, r); c.UserData != 9 || c.Res != 0 {
		t.Fatalf("a nop completed with %+v", c)
	}
	buf := make([]byte, 64)
	n, err := unix.Read(b, buf)
	if err != nil || string(buf[:n]) != "helloworld" {
		t.Fatalf("the peer read %q, %v; want only the two sends that ran", buf[:n], err)
	}
}

// TestRecvPollFirst: a multishot recv that polls first waits on an empty
// socket, then takes what arrives, and one on a socket that already holds
// data takes it at once: the same completions as without the flag.
func TestRecvPollFirst(t *testing.T) {
	for _, early := range []bool{false, true} {
		t.Run(fmt.Sprintf("data-first=%v", early), func(t *testing.T) {
			r := newRing(t, nil)
			b, err := r.NewBufferRing(1, 16, 1024)
			if err != nil {
				t.Fatal(err)
			}
			a, peer := socketpair(t)
			msg := []byte("polled first")
			if early {
				if _, err := unix.Write(peer, msg); err != nil {
					t.Fatal(err)
				}
			}
			s := sqe(t, r)
			s.PrepRecvMultishot(7, a, b.Group())
			s.SetPollFirst()
			if !early {
				if _, err := r.SubmitAndWaitTimeout(1, 20*time.Millisecond); err != nil {
					t.Fatal(err)
				}
				for c := range r.CQEs() {
					t.Fatalf("a recv on an empty socket completed: %+v (%v)", *c, c.Err())
				}
				if _, err := unix.Write(peer, msg); err != nil {
					t.Fatal(err)
				}
			}
			c := waitOne(t, r)
			if c.UserData != 7 || c.Res != int32(len(msg)) || !c.More() {
				t.Fatalf("recv completed with %+v (%v), want %d bytes and More", c, c.Err(), len(msg))
			}
			got, err := b.Take(&c)
			if err != nil || string(got) != string(msg) {
				t.Fatalf("took %q, %v; want %q", got, err, msg)
			}
		})
	}
}
