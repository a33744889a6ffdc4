//go:build linux

package server

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// listenSmallSndbuf listens on loopback with a fixed 128 KiB SO_SNDBUF,
// which accepted sockets inherit, so that most of a large reply waits in
// the engine's queue rather than in an auto-tuned send buffer of megabytes.
func listenSmallSndbuf(t *testing.T) net.Listener {
	t.Helper()
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, 128<<10) })
		return serr
	}}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// slowReaderCase is one network's setting for TestWriteTimeoutSlowReader.
type slowReaderCase struct {
	network string
	timeout time.Duration
	size    int           // the reply, taking well over timeout to read
	every   time.Duration // the slow client reads 16 KiB this often
	rcvbuf  int           // the slow client's SO_RCVBUF; 0: the default
}

// slowReaderCases are the networks TestWriteTimeoutSlowReader runs on, each
// with a WriteTimeout, a reply size and a reading pace that suit how its
// sockets show a peer's progress to the writer.
var slowReaderCases = []slowReaderCase{
	// On a UNIX socket the writer's socket shows each read at once
	// (SIOCOUTQ counts what the reader has not taken), while it reports
	// room only once three quarters of its send buffer are free: at 270
	// KB/s that is over half a second between the moments the queue can
	// move, against a 350 ms timeout. So this row fails unless progress
	// is sampled from the socket, not only counted at writes.
	{network: "unix", timeout: 350 * time.Millisecond, size: 512 << 10, every: 60 * time.Millisecond},
	// Over loopback TCP the peer's progress reaches the writer in steps:
	// the receiver reopens a closed window only once a whole 64 KiB
	// segment fits (its memory is freed a coalesced buffer at a time),
	// and a segment it drops for want of memory waits for the 200 ms
	// retransmit timer. With the client's receive buffer auto-tuned to
	// hundreds of KB, a steady reader of 540 KB/s left the writer's
	// queue unmoved past a 300 ms timeout (uring over TLS in about one
	// run in five under -race; every engine in every run with the
	// client's buffer fixed at 256 KiB). A fixed 128 KiB buffer read at
	// 1.6 MB/s keeps the steps near 100 ms, plus a retransmit, well
	// inside the one-second timeout; the whole reply still takes twice
	// that.
	{network: "tcp", timeout: time.Second, size: 3 << 20, every: 10 * time.Millisecond, rcvbuf: 128 << 10},
}

// TestWriteTimeoutSlowReader: WriteTimeout cuts a peer that takes nothing
// for that long, not one that reads slowly but steadily, however long the
// whole Write takes; on every engine, plain and TLS, over UNIX sockets and
// TCP (see slowReaderCases). One client reads 16 KiB at a steady pace and
// must get every byte; another never reads and must be cut with
// ErrWriteTimeout.
func TestWriteTimeoutSlowReader(t *testing.T) {
	for _, rc := range slowReaderCases {
		t.Run(rc.network, func(t *testing.T) { testWriteTimeoutSlowReader(t, rc) })
	}
}

func testWriteTimeoutSlowReader(t *testing.T, rc slowReaderCase) {
	size := rc.size
	reply := pattern(77, size)
	forEachSecurity(t, func(t *testing.T, ec engineCase, secure bool) {
		t.Parallel()
		rec := newRecorder(HandlerFunc(func(c Conn, in []byte) { c.Write(reply) }))
		srv := ec.configure(&Server{Handler: rec, WriteTimeout: rc.timeout})
		var cli *tls.Config
		if secure {
			srv.TLSConfig, cli = tlsConfigs(t)
		}
		var ln net.Listener
		if rc.network == "tcp" {
			ln = listenSmallSndbuf(t)
		} else {
			ln = listen(t, rc.network)
		}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		dialSmall := func() net.Conn {
			nc, err := net.Dial(rc.network, ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { nc.Close() })
			if tc, ok := nc.(*net.TCPConn); ok && rc.rcvbuf > 0 {
				if err := tc.SetReadBuffer(rc.rcvbuf); err != nil {
					t.Fatal(err)
				}
			}
			if !secure {
				return nc
			}
			tc := tls.Client(nc, cli)
			if err := tc.Handshake(); err != nil {
				t.Fatal(err)
			}
			return tc
		}
		slow, idle := dialSmall(), dialSmall()
		idle.Write([]byte("x"))
		slow.Write([]byte("x"))
		slow.SetDeadline(time.Now().Add(30 * time.Second))
		got := make([]byte, 0, size)
		buf := make([]byte, 16<<10)
		for len(got) < size {
			time.Sleep(rc.every)
			n, err := io.ReadFull(slow, buf[:min(len(buf), size-len(got))])
			got = append(got, buf[:n]...)
			if err != nil {
				t.Fatalf("slow reader cut after %d of %d bytes: %v (closes %v)", len(got), size, err, rec.closes())
			}
		}
		if err := checkPrefix(got, reply, 0); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the client that never reads to be cut", func() bool { return srv.Stats().Timeouts > 0 })
		idle.Close()
		slow.Close()
		waitFor(t, "both connections to close", func() bool { return srv.Stats().Closed == 2 })
		cut := 0
		for _, errs := range rec.closes() {
			if len(errs) == 1 && errors.Is(errs[0], ErrWriteTimeout) {
				cut++
			}
		}
		if st := srv.Stats(); cut != 1 || st.Timeouts != 1 {
			t.Errorf("%d connections closed with ErrWriteTimeout and %d timeouts counted, want 1 and 1 (the one that never reads): %v", cut, st.Timeouts, rec.closes())
		}
	})
}
