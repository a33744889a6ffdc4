package uring

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The echo test drives a TCP echo server purely through the ring, the way
// the engine will: one multishot accept, a multishot recv per connection
// into a buffer ring far smaller than the data in flight, each chunk sent
// back from the buffer it arrived in and the buffer recycled when its send
// completes, at most one send per connection in flight.

// Echo user data: the kind in the top byte, the descriptor below.
const (
	kindAccept = iota + 1
	kindRecv
	kindSend
	kindClose
	kindCancel
)

func tag(kind, fd int) uint64 { return uint64(kind)<<56 | uint64(uint32(fd)) }

func untag(ud uint64) (kind, fd int) { return int(ud >> 56), int(int32(uint32(ud))) }

// echoConn is one accepted connection: the chunks received and not yet
// sent back, the first of them in flight.
type echoConn struct {
	fd      int
	queue   []chunk
	sending bool
	eof     bool
	armed   bool
}

type chunk struct {
	id   uint16
	data []byte
}

type echoServer struct {
	t        *testing.T
	r        *Ring
	bufs     *BufferRing
	conns    map[int]*echoConn
	rearm    []*echoConn // recvs that ended with ENOBUFS
	closed   int
	enobufs  int
	recycled int
}

func (s *echoServer) prep() *SQE { return sqe(s.t, s.r) }

func (s *echoServer) arm(c *echoConn) {
	s.prep().PrepRecvMultishot(tag(kindRecv, c.fd), c.fd, s.bufs.Group())
	c.armed = true
}

// sendNext puts the first queued chunk in flight.
func (s *echoServer) sendNext(c *echoConn) {
	if c.sending || len(c.queue) == 0 {
		if !c.sending && c.eof && !c.armed {
			s.prep().PrepClose(tag(kindClose, c.fd), c.fd)
			delete(s.conns, c.fd)
		}
		return
	}
	s.prep().PrepSend(tag(kindSend, c.fd), c.fd, c.queue[0].data, unix.MSG_NOSIGNAL)
	c.sending = true
}

func (s *echoServer) handle(cqe *CQE) {
	t := s.t
	kind, fd := untag(cqe.UserData)
	switch kind {
	case kindAccept:
		if cqe.Res >= 0 {
			c := &echoConn{fd: int(cqe.Res)}
			s.conns[c.fd] = c
			s.arm(c)
		} else if !errors.Is(cqe.Err(), unix.ECANCELED) {
			t.Errorf("accept: %v", cqe.Err())
		}
	case kindRecv:
		c := s.conns[fd]
		if id, ok := cqe.BufferID(); ok {
			if cqe.Res <= 0 {
				t.Errorf("a buffer with Res %d", cqe.Res)
			}
			c.queue = append(c.queue, chunk{id, s.bufs.Buffer(id)[:cqe.Res]})
		}
		if cqe.More() {
			break
		}
		c.armed = false
		switch {
		case errors.Is(cqe.Err(), unix.ENOBUFS):
			s.enobufs++
			s.rearm = append(s.rearm, c)
		case cqe.Res == 0:
			c.eof = true
		case cqe.Res > 0:
			s.arm(c) // the kernel ended it for its own reasons
		default:
			t.Errorf("recv: %v", cqe.Err())
			c.eof = true
		}
	case kindSend:
		c := s.conns[fd]
		c.sending = false
		if cqe.Res < 0 {
			t.Errorf("send: %v", cqe.Err())
			return
		}
		head := &c.queue[0]
		head.data = head.data[cqe.Res:]
		if len(head.data) == 0 {
			s.bufs.Recycle(head.id)
			s.recycled++
			c.queue = c.queue[1:]
		}
	case kindClose:
		if cqe.Res != 0 {
			t.Errorf("close: %v", cqe.Err())
		}
		s.closed++
	case kindCancel:
	default:
		t.Errorf("completion with user data %#x", cqe.UserData)
	}
	if c := s.conns[fd]; c != nil && kind != kindAccept {
		s.sendNext(c)
	}
}

func TestEchoTCP(t *testing.T) {
	r := newRing(t, &Config{Entries: 64, CQEntries: 256})
	const nbuf, size = 8, 4096
	bufs, err := r.NewBufferRing(3, nbuf, size)
	if err != nil {
		t.Fatal(err)
	}
	lfd, port := listenTCP(t)

	// The sizes: under one buffer, a few buffers, and many times the
	// whole ring, so the recvs run out of buffers and are re-armed.
	sizes := []int{1, 3*size + 17, 64 * nbuf * size}
	results := make(chan error, len(sizes))
	for i, n := range sizes {
		go func() { results <- echoClient(port, pattern(n, i)) }()
	}

	s := &echoServer{t: t, r: r, bufs: bufs, conns: map[int]*echoConn{}}
	s.prep().PrepAcceptMultishot(tag(kindAccept, lfd), lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	accepted := 0
	deadline := time.Now().Add(waitTimeout)
	for s.closed < len(sizes) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out with %d of %d connections echoed and closed", s.closed, len(sizes))
		}
		bufs.Publish()
		for _, c := range s.rearm {
			s.arm(c)
		}
		s.rearm = s.rearm[:0]
		if _, err := r.SubmitAndWaitTimeout(1, 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		for cqe := range r.CQEs() {
			if kind, _ := untag(cqe.UserData); kind == kindAccept && cqe.Res >= 0 {
				if accepted++; accepted == len(sizes) {
					s.prep().PrepCancel(tag(kindCancel, 0), tag(kindAccept, lfd), 0)
				}
			}
			s.handle(cqe)
		}
	}
	for range sizes {
		if err := <-results; err != nil {
			t.Error(err)
		}
	}
	if s.enobufs == 0 {
		t.Error("no recv ran out of buffers: the ENOBUFS re-arm went untested")
	}
	t.Logf("%d buffers recycled, %d recvs re-armed after ENOBUFS", s.recycled, s.enobufs)
}

// listenTCP returns a listening socket on a loopback port, which the
// test closes.
func listenTCP(t *testing.T) (int, int) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 16); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fd, sa.(*unix.SockaddrInet4).Port
}

// echoClient sends msg, reads it back while sending, checks every byte
// and that the server then closes.
func echoClient(port int, msg []byte) error {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), waitTimeout)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(waitTimeout))
	wrote := make(chan error, 1)
	go func() {
		_, err := c.Write(msg)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		wrote <- err
	}()
	got := make([]byte, len(msg))
	_, err = io.ReadFull(c, got)
	if werr := <-wrote; werr != nil {
		return fmt.Errorf("writing %d bytes: %w", len(msg), werr)
	}
	if err != nil {
		return fmt.Errorf("reading the echo of %d bytes: %w", len(msg), err)
	}
	if i := firstDiff(got, msg); i >= 0 {
		return fmt.Errorf("the echo of %d bytes differs at byte %d", len(msg), i)
	}
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		return fmt.Errorf("after the echo: %d bytes, %v, want the server's close", n, err)
	}
	return nil
}

// pattern returns n bytes that differ from offset to offset and from
// client to client, so that a misplaced or crossed byte is seen.
func pattern(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251 + seed*31)
	}
	return b
}

// firstDiff returns the first offset where a and b differ, or -1.
func firstDiff(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
