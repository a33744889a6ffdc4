package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sockpool/sockpool/server"
)

// engines are the engines every socket test runs on.
func engines() []server.Engine {
	var out []server.Engine
	for _, e := range []server.Engine{server.Threaded, server.Evented, server.Uring} {
		if e.Supported() == nil {
			out = append(out, e)
		}
	}
	return out
}

// startServer runs the key-value server on a free loopback port until the
// test ends and returns its address.
func startServer(t testing.TB, eng server.Engine, l limits) string {
	t.Helper()
	return serve(t, &server.Server{
		Engine:  eng,
		Loops:   2,
		Handler: &handler{store: newStore(), limits: l},
	})
}

// serve runs srv on a free loopback port until the test ends and returns
// its address.
func serve(t testing.TB, srv *server.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, server.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c
}

// script is a session of requests and the exact replies redis gives them.
var script = []struct{ req, reply string }{
	{resp("PING"), "+PONG\r\n"},
	{"PING\r\n", "+PONG\r\n"},
	{"ping \"hello world\"\r\n", "$11\r\nhello world\r\n"},
	{resp("PING", "a", "b"), "-ERR wrong number of arguments for 'ping' command\r\n"},
	{resp("ECHO", "\r\n\x00\xff"), "$4\r\n\r\n\x00\xff\r\n"},
	{resp("SET", "k", "v a l\r\n\x00\x01\xfe"), "+OK\r\n"},
	{resp("GET", "k"), "$10\r\nv a l\r\n\x00\x01\xfe\r\n"},
	{resp("GET", "missing"), "$-1\r\n"},
	{resp("set", "k2", ""), "+OK\r\n"},
	{resp("GET", "k2"), "$0\r\n\r\n"},
	{resp("SET", "k", "x", "NX"), "$-1\r\n"},
	{resp("SET", "new", "x", "XX"), "$-1\r\n"},
	{resp("SET", "new", "x", "NX", "EX", "100"), "+OK\r\n"},
	{resp("INCR", "n"), ":1\r\n"},
	{"INCR n\r\n", ":2\r\n"},
	{resp("INCR", "k"), "-ERR value is not an integer or out of range\r\n"},
	{resp("SET", "big", "9223372036854775807"), "+OK\r\n"},
	{resp("INCR", "big"), "-ERR increment or decrement would overflow\r\n"},
	{resp("MSET", "a", "1", "b", "2"), "+OK\r\n"},
	{resp("MSET", "a", "1", "b"), "-ERR wrong number of arguments for 'mset' command\r\n"},
	{resp("MGET", "a", "missing", "b", "n"), "*4\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n$1\r\n2\r\n"},
	{resp("EXISTS", "a", "a", "missing"), ":2\r\n"},
	{resp("DEL", "a", "b", "missing"), ":2\r\n"},
	{resp("EXISTS", "a"), ":0\r\n"},
	{resp("GET"), "-ERR wrong number of arguments for 'get' command\r\n"},
	{resp("GET", "a", "b"), "-ERR wrong number of arguments for 'get' command\r\n"},
	{resp("FLUSHALL", "x\r\ny"), "-ERR unknown command 'FLUSHALL', with args beginning with: 'x  y' \r\n"},
	{"*0\r\n\r\n", ""},
	{resp("CONFIG", "GET", "save"), "*2\r\n$4\r\nsave\r\n$0\r\n\r\n"},
	{resp("config", "get", "appendonly"), "*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n"},
	{resp("CONFIG", "GET", "nothing"), "*0\r\n"},
	{resp("CONFIG", "SET", "save", ""), "-ERR unknown subcommand 'SET'. Only CONFIG GET is supported.\r\n"},
	{resp("COMMAND", "DOCS"), "*0\r\n"},
	{resp("COMMAND", "COUNT"), ":12\r\n"},
	{resp("COMMAND", "INFO", "get", "nope"), "*2\r\n*6\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*-1\r\n"},
	{resp("PING"), "+PONG\r\n"},
}

// scriptBytes returns the script's requests and replies, each concatenated.
func scriptBytes() (req, reply []byte) {
	for _, s := range script {
		req = append(req, s.req...)
		reply = append(reply, s.reply...)
	}
	return req, reply
}

// TestPipelined sends the script in one write, and again one byte per write,
// on each engine, and checks every reply byte.
func TestPipelined(t *testing.T) {
	t.Parallel()
	req, want := scriptBytes()
	for _, eng := range engines() {
		for _, mode := range []string{"one write", "byte at a time"} {
			t.Run(eng.String()+"/"+mode, func(t *testing.T) {
				t.Parallel()
				c := dial(t, startServer(t, eng, limits{maxBulk: 1 << 20}))
				if mode == "one write" {
					if _, err := c.Write(req); err != nil {
						t.Fatal(err)
					}
				} else {
					for i := range req {
						if _, err := c.Write(req[i : i+1]); err != nil {
							t.Fatal(err)
						}
					}
				}
				got := make([]byte, len(want))
				if _, err := io.ReadFull(c, got); err != nil {
					t.Fatalf("read: %v; got %q", err, got)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("replies differ:\n got %q\nwant %q", got, want)
				}
			})
		}
	}
}

// TestLargeValues round-trips a value larger than the read buffer and many
// pipelined GETs of it (more reply than one flush), with reads and writes
// running at once as a real client's would.
func TestLargeValues(t *testing.T) {
	t.Parallel()
	val := strings.Repeat("0123456789abcdef", 20<<10) // 320 KiB
	const gets = 10
	req := resp("SET", "v", val) + strings.Repeat(resp("GET", "v"), gets)
	want := "+OK\r\n" + strings.Repeat(string(appendBulkString(nil, val)), gets)
	for _, eng := range engines() {
		t.Run(eng.String(), func(t *testing.T) {
			t.Parallel()
			c := dial(t, startServer(t, eng, limits{maxBulk: 1 << 20}))
			werr := make(chan error, 1)
			go func() { _, err := io.WriteString(c, req); werr <- err }()
			got := make([]byte, len(want))
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatal(err)
			}
			if err := <-werr; err != nil {
				t.Fatal(err)
			}
			if string(got) != want {
				t.Error("replies differ")
			}
		})
	}
}

// TestClosesConnection checks the inputs after which the server answers and
// then closes the connection: QUIT, malformed requests, and lengths over the
// limits (which must not be allocated: the request announces far more than
// it sends).
func TestClosesConnection(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, req, reply string }{
		{"quit", "QUIT\r\nPING\r\n", "+OK\r\n"},
		{"bad type byte", "*1\r\n+PING\r\n", "-ERR Protocol error: expected '$', got '+'\r\n"},
		{"bad count", "*two\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
		{"bad length", "*1\r\n$four\r\nPING\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"negative length", "*1\r\n$-4\r\nPING\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"missing CRLF", "*1\r\n$4\r\nPINGPONG\r\n", "-ERR Protocol error: expected CRLF after bulk string\r\n"},
		{"CR without LF", "*1\rx", "-ERR Protocol error: invalid multibulk length\r\n"},
		{"unbalanced quotes", "SET k \"v\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"},
		{"bulk over the limit", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\nsome bytes", "-ERR Protocol error: invalid bulk length\r\n"},
		{"huge bulk", "*2\r\n$4\r\nECHO\r\n$9223372036854775807\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"count over the limit", "*1048577\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
		{"inline too long", strings.Repeat("A", maxInline+10), "-ERR Protocol error: too big inline request\r\n"},
	}
	for _, eng := range engines() {
		t.Run(eng.String(), func(t *testing.T) {
			t.Parallel()
			addr := startServer(t, eng, limits{maxBulk: 1 << 20})
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					c := dial(t, addr)
					go io.WriteString(c, "PING\r\n"+tc.req) // the server may close before it takes it all
					got, err := io.ReadAll(c)
					if err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) {
						t.Fatalf("read: %v (got %q)", err, got)
					}
					if want := "+PONG\r\n" + tc.reply; string(got) != want {
						t.Errorf("got %q, want %q and the connection closed", got, want)
					}
				})
			}
		})
	}
}

// isReset reports whether err is a connection reset, which a client that
// wrote more than the server read before closing may see.
func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && strings.Contains(op.Err.Error(), "reset")
}

// TestConnectionsShareStore checks that keys written on one connection are
// read on others (the store is one for all loops and workers).
func TestConnectionsShareStore(t *testing.T) {
	t.Parallel()
	for _, eng := range engines() {
		t.Run(eng.String(), func(t *testing.T) {
			t.Parallel()
			addr := startServer(t, eng, limits{maxBulk: 1 << 20})
			conns := make([]net.Conn, 4)
			for i := range conns {
				conns[i] = dial(t, addr)
			}
			for i, c := range conns {
				io.WriteString(c, resp("INCR", "shared"))
				got := make([]byte, 4)
				if _, err := io.ReadFull(c, got); err != nil {
					t.Fatal(err)
				}
				if want := ":" + string(rune('1'+i)) + "\r\n"; string(got) != want {
					t.Errorf("conn %d: %q, want %q", i, got, want)
				}
			}
		})
	}
}

// TestLimits checks each limit on each engine: a request within it is
// served, and one past it is answered as redis answers it (nothing, for the
// query buffer limit) and the connection is closed. A case sends its
// requests in steps and reads each step's replies before the next, so that
// the query buffer limit is met by bytes kept between reads.
func TestLimits(t *testing.T) {
	t.Parallel()
	type step struct{ send, reply string }
	fits := resp("SET", "k", strings.Repeat("v", 4000)) // 4029 bytes
	big := resp("SET", "k", strings.Repeat("v", 5000))
	cases := []struct {
		name   string
		limits limits
		steps  []step
		closed bool
	}{
		{"bulk at the limit", limits{maxBulk: 5}, []step{{resp("SET", "k", "12345") + resp("GET", "k"), "+OK\r\n$5\r\n12345\r\n"}}, false},
		{"bulk over the limit", limits{maxBulk: 5}, []step{{resp("SET", "k", "123456") + resp("PING"), "-ERR Protocol error: invalid bulk length\r\n"}}, true},
		{"name over the limit", limits{maxBulk: 3}, []step{{resp("PING"), "-ERR Protocol error: invalid bulk length\r\n"}}, true},
		{"count at the limit", limits{maxArgs: 3}, []step{{resp("MSET", "a", "1") + resp("EXISTS", "a", "b"), "+OK\r\n:1\r\n"}}, false},
		{"count over the limit", limits{maxArgs: 3}, []step{{resp("PING") + resp("EXISTS", "a", "b", "c") + resp("PING"), "+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n"}}, true},
		{"count over INT_MAX", limits{}, []step{{"*2147483648\r\n", "-ERR Protocol error: invalid multibulk length\r\n"}}, true},
		{"query buffer at the limit", limits{maxQuery: 4096}, []step{{resp("PING") + fits[:3000], "+PONG\r\n"}, {fits[3000:] + resp("PING"), "+OK\r\n+PONG\r\n"}}, false},
		{"query buffer over the limit", limits{maxQuery: 4096}, []step{{resp("PING") + big[:3000], "+PONG\r\n"}, {big[3000:], ""}}, true},
	}
	for _, eng := range engines() {
		for _, tc := range cases {
			t.Run(eng.String()+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				c := dial(t, startServer(t, eng, tc.limits))
				for _, st := range tc.steps {
					go io.WriteString(c, st.send) // the server may close before it takes it all
					got := make([]byte, len(st.reply))
					if _, err := io.ReadFull(c, got); err != nil || string(got) != st.reply {
						t.Fatalf("got %q, %v; want %q", got, err, st.reply)
					}
				}
				if !tc.closed {
					io.WriteString(c, "PING\r\n")
					got := make([]byte, 7)
					if _, err := io.ReadFull(c, got); err != nil || string(got) != "+PONG\r\n" {
						t.Fatalf("after the limit: %q, %v; want the connection open", got, err)
					}
					return
				}
				if rest, err := io.ReadAll(c); len(rest) > 0 || err != nil && !isReset(err) {
					t.Errorf("after the reply: %q, %v; want the connection closed", rest, err)
				}
			})
		}
	}
}
