package main

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/sockpool/sockpool/server"
)

// fakeConn is a server.Conn that records what the handler does with it.
// With highWater set it plays an inline handler's connection on an event
// loop: Congested reports whether more than highWater bytes were written
// since the last drain.
type fakeConn struct {
	mu        sync.Mutex
	writes    [][]byte
	closed    bool
	ctx       any
	highWater int
	queued    int // bytes written since the last drain
}

func (c *fakeConn) ID() uint64                { return 1 }
func (c *fakeConn) LocalAddr() net.Addr       { return &net.TCPAddr{} }
func (c *fakeConn) RemoteAddr() net.Addr      { return &net.TCPAddr{} }
func (c *fakeConn) SetValue(v any)            { c.ctx = v }
func (c *fakeConn) Value() any                { return c.ctx }
func (c *fakeConn) TLS() *tls.ConnectionState { return nil }
func (c *fakeConn) PauseReading()             {}
func (c *fakeConn) ResumeReading()            {}
func (c *fakeConn) CloseWrite() error         { return nil }

func (c *fakeConn) Congested() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.highWater > 0 && c.queued > c.highWater
}

// drain plays the peer reading everything queued.
func (c *fakeConn) drain() {
	c.mu.Lock()
	c.queued = 0
	c.mu.Unlock()
}

func (c *fakeConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, server.ErrConnClosed
	}
	c.writes = append(c.writes, bytes.Clone(p))
	c.queued += len(p)
	return len(p), nil
}

func (c *fakeConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return nil
}

func (c *fakeConn) CloseWithError(error) error { return c.Close() }

func (c *fakeConn) StartTLS(*tls.Config, []byte) error { return nil }
func (c *fakeConn) SendFile(*os.File, int64, int64) (int64, error) {
	return 0, errors.New("fakeConn: no SendFile")
}

func (c *fakeConn) output() string { return string(bytes.Join(c.writes, nil)) }

func newFake(h *handler) *fakeConn {
	c := &fakeConn{}
	h.OnOpen(c)
	return c
}

// resp encodes a command as a multibulk request.
func resp(args ...string) string {
	var b []byte
	b = appendArray(b, len(args))
	for _, a := range args {
		b = appendBulkString(b, a)
	}
	return string(b)
}

func TestOneWritePerRead(t *testing.T) {
	t.Parallel()
	h := &handler{store: newStore(), limits: limits{maxBulk: 1024}}
	c := newFake(h)
	var in, want strings.Builder
	for i := range 16 {
		in.WriteString(resp("SET", "k", strings.Repeat("v", i)))
		in.WriteString(resp("GET", "k"))
		want.WriteString("+OK\r\n")
		want.Write(appendBulkString(nil, strings.Repeat("v", i)))
	}
	h.OnData(c, []byte(in.String()))
	if len(c.writes) != 1 {
		t.Errorf("%d writes for one read of 32 commands, want 1", len(c.writes))
	}
	if c.output() != want.String() {
		t.Errorf("replies %q, want %q", c.output(), want.String())
	}
}

func TestHandlerCloses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in, want string
	}{
		{"quit", "PING\r\nQUIT\r\nPING\r\n", "+PONG\r\n+OK\r\n"},
		{"protocol error", "PING\r\n*1\r\n#\r\nPING\r\n", "+PONG\r\n-ERR Protocol error: expected '$', got '#'\r\n"},
		{"too long", "PING\r\n*2\r\n$3\r\nGET\r\n$1025\r\n", "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := &handler{store: newStore(), limits: limits{maxBulk: 1024}}
			c := newFake(h)
			h.OnData(c, []byte(tc.in))
			h.OnData(c, []byte("PING\r\n")) // ignored: the connection is closing
			if got := c.output(); got != tc.want || !c.closed {
				t.Errorf("output %q, closed %v; want %q, closed", got, c.closed, tc.want)
			}
		})
	}
}

// TestLargeRepliesAreFlushed checks that a read whose replies run past
// flushAt is written in pieces rather than gathered whole.
func TestLargeRepliesAreFlushed(t *testing.T) {
	t.Parallel()
	h := &handler{store: newStore(), limits: limits{maxBulk: 1 << 20}}
	c := newFake(h)
	val := strings.Repeat("x", 300<<10)
	h.OnData(c, []byte(resp("SET", "big", val)))
	h.OnData(c, []byte(strings.Repeat(resp("GET", "big"), 8)))
	if len(c.writes) < 3 {
		t.Errorf("%d writes; want the 2.4 MB of replies split", len(c.writes))
	}
	want := "+OK\r\n" + strings.Repeat(string(appendBulkString(nil, val)), 8)
	if c.output() != want {
		t.Error("replies differ")
	}
}

// TestCongestedPipeline checks that the handler stops a pipeline when its
// connection is Congested and goes on in OnDrain: the queue never passes
// high water plus flushAt plus one reply, every reply comes out once, in
// order, and whatever ends the pipeline (a protocol error, QUIT, a command
// split over reads) still does so in its place. Each case is a list of
// reads; after each, the test drains and calls OnDrain as long as the
// connection is congested, as the engine does, before the next read.
func TestCongestedPipeline(t *testing.T) {
	t.Parallel()
	val := strings.Repeat("0123456789abcdef", 32<<10) // 512 KiB
	reply := string(appendBulkString(nil, val))
	get := resp("GET", "v")
	gets := strings.Repeat(get, 40)
	small := strings.Repeat("s", 10<<10) // several replies to a Write
	smallReply := string(appendBulkString(nil, small))
	cases := []struct {
		name   string
		reads  []string
		want   string
		closed bool
	}{
		{"GETs of a large value", []string{gets}, strings.Repeat(reply, 40), false},
		{"GETs of a 10 KiB value", []string{strings.Repeat(resp("GET", "w"), 500)}, strings.Repeat(smallReply, 500), false},
		{"then a protocol error", []string{gets + "*1\r\n#\r\n" + get}, strings.Repeat(reply, 40) + "-ERR Protocol error: expected '$', got '#'\r\n", true},
		{"then QUIT", []string{gets + resp("QUIT") + get}, strings.Repeat(reply, 40) + "+OK\r\n", true},
		{"a command split over reads", []string{gets + get[:5], get[5:] + resp("PING")}, strings.Repeat(reply, 41) + "+PONG\r\n", false},
		{"small replies", []string{strings.Repeat(resp("PING"), 1000)}, strings.Repeat("+PONG\r\n", 1000), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := &handler{store: newStore()}
			c := newFake(h)
			h.OnData(c, []byte(resp("SET", "v", val)+resp("SET", "w", small)))
			c.writes = nil
			c.highWater = 256 << 10
			bound := c.highWater + flushAt + len(reply)
			drains := 0
			for _, in := range tc.reads {
				h.OnData(c, []byte(in))
				for c.Congested() {
					if c.queued > bound {
						t.Fatalf("%d bytes queued, over high water + flushAt + one reply (%d)", c.queued, bound)
					}
					c.drain()
					h.OnDrain(c)
					if drains++; drains > 1000 {
						t.Fatal("OnDrain makes no progress")
					}
				}
			}
			if got := c.output(); got != tc.want {
				t.Errorf("output of %d bytes differs from the %d expected", len(got), len(tc.want))
			}
			if c.closed != tc.closed {
				t.Errorf("closed %v, want %v", c.closed, tc.closed)
			}
			t.Logf("%d writes, %d drains", len(c.writes), drains)
		})
	}
}

func BenchmarkOnData(b *testing.B) {
	h := &handler{store: newStore(), limits: limits{}}
	c := &fakeConn{}
	h.OnOpen(c)
	// What redis-benchmark -P 16 sends: 16 commands per read.
	in := []byte(strings.Repeat(resp("SET", "key:__rand_int__", "xxx"), 8) + strings.Repeat(resp("GET", "key:__rand_int__"), 8))
	discard := &discardConn{fakeConn: c}
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		h.OnData(discard, in)
	}
}

// discardConn drops writes, so the benchmark measures the handler alone.
type discardConn struct{ *fakeConn }

func (discardConn) Write(p []byte) (int, error) { return len(p), nil }
