package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests. The
// goroutines that exist at start are ants' default pool, started when ants is
// imported (sockpool never uses it); ignoring them by function name instead
// would also hide our own pools' goroutines, which have the same names.
func TestMain(m *testing.M) {
	if childMain != nil {
		childMain() // returns unless this process is a test's child
	}
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}

// childMain, when set (by a test file's init), runs before the tests and
// exits the process when it is a child that a test started.
var childMain func()

// engineCase is one row of the conformance suite: every server test runs
// once per row, so a new engine or read mode joins by adding a row.
type engineCase struct {
	name   string
	engine Engine
	level  bool // evented: level-triggered
}

var engineCases = []engineCase{
	{name: "threaded-netpoll", engine: Threaded},
}

// forEachEngine runs f as a parallel subtest for every engine case.
func forEachEngine(t *testing.T, f func(t *testing.T, ec engineCase)) {
	t.Helper()
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			f(t, ec)
		})
	}
}

// forEachSecurity runs f for every engine case, plain and over TLS, as
// subtests named after the case and the case with "-tls". They run one
// after another: callers that may run in parallel say so in f.
func forEachSecurity(t *testing.T, f func(t *testing.T, ec engineCase, secure bool)) {
	t.Helper()
	for _, ec := range engineCases {
		for _, secure := range []bool{false, true} {
			name := ec.name
			if secure {
				name += "-tls"
			}
			t.Run(name, func(t *testing.T) { f(t, ec, secure) })
		}
	}
}

// configure sets the engine fields of s for ec.
func (ec engineCase) configure(s *Server) *Server {
	s.Engine, s.levelTriggered = ec.engine, ec.level
	return s
}

func echoHandler() Handler {
	return HandlerFunc(func(c Conn, in []byte) { c.Write(in) })
}

// listen opens a listener on loopback TCP or on a UNIX socket in a
// temporary directory.
func listen(t testing.TB, network string) net.Listener {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "s.sock")
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// serve starts s on a new listener of network and shuts it down when the test
// ends, checking that Serve returned ErrServerClosed.
func serve(t testing.TB, s *Server, network string) net.Addr {
	t.Helper()
	ln := listen(t, network)
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-errc; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return ln.Addr()
}

func dial(t testing.TB, addr net.Addr) net.Conn {
	t.Helper()
	c, err := net.Dial(addr.Network(), addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// pattern returns n pseudo-random bytes determined by seed.
func pattern(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// roundTrip writes msg on c (from another goroutine, so that messages larger
// than the socket buffers cannot deadlock) and reads back len(msg) bytes.
func roundTrip(t testing.TB, c net.Conn, msg []byte) []byte {
	t.Helper()
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(msg)
		werr <- err
	}()
	got := make([]byte, len(msg))
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read echo of %d bytes: %v", len(msg), err)
	}
	if err := <-werr; err != nil {
		t.Fatalf("write %d bytes: %v", len(msg), err)
	}
	return got
}

// checkEcho fails the test unless got equals want, naming the first
// difference.
func checkEcho(t testing.TB, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	if len(got) != len(want) {
		t.Fatalf("echo has %d bytes, want %d", len(got), len(want))
	}
	i := firstDiff(got, want)
	t.Fatalf("echo differs at byte %d of %d: got %#x want %#x", i, len(want), got[i], want[i])
}

// firstDiff is the index of the first byte where got and want differ,
// counting a byte beyond want's end as different, or -1.
func firstDiff(got, want []byte) int {
	if bytes.Equal(got, want) {
		return -1
	}
	for i := range got {
		if i >= len(want) || got[i] != want[i] {
			return i
		}
	}
	return len(got)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for wait := time.Millisecond; !cond(); wait = min(2*wait, 50*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(wait)
	}
}

// recorder is a Handler that echoes and records OnOpen and OnClose calls.
type recorder struct {
	Handler
	mu     sync.Mutex
	opened int
	closed map[uint64][]error
}

func newRecorder(h Handler) *recorder {
	return &recorder{Handler: h, closed: make(map[uint64][]error)}
}

func (r *recorder) OnOpen(c Conn) {
	r.mu.Lock()
	r.opened++
	r.mu.Unlock()
}

func (r *recorder) OnClose(c Conn, err error) {
	r.mu.Lock()
	r.closed[c.ID()] = append(r.closed[c.ID()], err)
	r.mu.Unlock()
}

// closes returns the OnClose errors of every closed connection, in no order.
func (r *recorder) closes() [][]error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out [][]error
	for _, errs := range r.closed {
		out = append(out, append([]error(nil), errs...))
	}
	return out
}
