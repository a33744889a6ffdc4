package rpc_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockpool/sockpool/frame"
	"github.com/sockpool/sockpool/rpc"
	"github.com/sockpool/sockpool/server"
)

func TestThousandConcurrentCalls(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		fx := newRPCServer(t, nil)
		fx.serve(t, ec, "127.0.0.1:0")
		c := dial(t, fx.addr, nil)
		ctx := bounded(t)
		const calls = 1000
		var wg sync.WaitGroup
		errs := make(chan error, calls)
		for i := range calls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(i), 99))
				if i%2 == 0 {
					req := make([]byte, r.IntN(9000))
					for j := range req {
						req[j] = byte(r.Uint32())
					}
					resp, err := c.Call(ctx, "echo", req)
					if err != nil {
						errs <- fmt.Errorf("echo %d: %w", i, err)
					} else if !bytes.Equal(resp, req) {
						errs <- fmt.Errorf("echo %d: %d bytes back, want %d, or they differ", i, len(resp), len(req))
					}
					return
				}
				a, b := r.Uint64()>>1, r.Uint64()>>1
				req := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, a), b)
				resp, err := c.Call(ctx, "add", req)
				if err != nil {
					errs <- fmt.Errorf("add %d: %w", i, err)
				} else if len(resp) != 8 || binary.BigEndian.Uint64(resp) != a+b {
					errs <- fmt.Errorf("add %d: got %x, want %d", i, resp, a+b)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if st := fx.srv.Stats(); st.Accepted != 1 {
			t.Errorf("server accepted %d connections, want 1", st.Accepted)
		}
	})
}

func TestSlowMethodDoesNotDelayFast(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		fx := newRPCServer(t, nil)
		fx.serve(t, ec, "127.0.0.1:0")
		c := dial(t, fx.addr, nil)
		ctx := bounded(t)
		slow := make(chan error, 1)
		go func() {
			resp, err := c.Call(ctx, "block", []byte("slow"))
			if err == nil && string(resp) != "slow" {
				err = fmt.Errorf("reply %q", resp)
			}
			slow <- err
		}()
		if got := receive(t, "slow call to start", fx.started); got != "slow" {
			t.Fatalf("started %q", got)
		}
		// The slow call holds a worker; fast calls on the same connection
		// are answered while it does.
		for i := range 20 {
			req := []byte(fmt.Sprint("fast ", i))
			resp, err := c.Call(ctx, "echo", req)
			if err != nil || !bytes.Equal(resp, req) {
				t.Fatalf("fast call %d: %q, %v", i, resp, err)
			}
		}
		select {
		case err := <-slow:
			t.Fatalf("slow call returned before it was released: %v", err)
		default:
		}
		close(fx.release)
		if err := receive(t, "slow call", slow); err != nil {
			t.Fatal(err)
		}
	})
}

func TestDeadlines(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		fx := newRPCServer(t, nil)
		fx.serve(t, ec, "127.0.0.1:0")
		c := dial(t, fx.addr, nil)

		// The server sees the caller's deadline.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := c.Call(ctx, "deadline", nil)
		if err != nil {
			t.Fatal(err)
		}
		left, err := time.ParseDuration(string(resp))
		if err != nil || left <= 0 || left > 5*time.Second {
			t.Errorf("server saw %q left of a 5s deadline", resp)
		}
		if resp, err := c.Call(bounded(t), "deadline", nil); err != nil || len(resp) == 0 {
			t.Fatalf("deadline call without a short deadline: %q, %v", resp, err)
		}

		// A call that outlives its deadline returns ctx's error, and the
		// method's ctx ends too.
		ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err = c.Call(ctx, "watch", []byte("w"))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("call past its deadline: %v, want context.DeadlineExceeded", err)
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("call with a 200ms deadline returned after %v", el)
		}
		receive(t, "watch to start", fx.started)
		if err := receive(t, "method's ctx to end", fx.ctxErrs); err == nil {
			t.Errorf("method's ctx ended with nil")
		}

		// A late reply is discarded: the next call gets its own.
		ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := c.Call(ctx, "late", []byte("300ms")); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("late call: %v, want context.DeadlineExceeded", err)
		}
		for i := range 10 {
			req := []byte(fmt.Sprint("after ", i))
			resp, err := c.Call(bounded(t), "echo", req)
			if err != nil || !bytes.Equal(resp, req) {
				t.Fatalf("call after a late reply: %q, %v", resp, err)
			}
			<-time.After(50 * time.Millisecond) // spread over the late reply's arrival
		}
	})
}

func TestCancelReachesServer(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		fx := newRPCServer(t, nil)
		fx.serve(t, ec, "127.0.0.1:0")
		c := dial(t, fx.addr, nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := c.Call(ctx, "watch", []byte("cancel me"))
			done <- err
		}()
		receive(t, "watch to start", fx.started)
		cancel()
		if err := receive(t, "call", done); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled call: %v, want context.Canceled", err)
		}
		if err := receive(t, "method's ctx", fx.ctxErrs); !errors.Is(err, context.Canceled) {
			t.Fatalf("method's ctx ended with %v, want context.Canceled", err)
		}
	})
}

func TestErrors(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		fx := newRPCServer(t, nil)
		fx.serve(t, ec, "127.0.0.1:0")
		c := dial(t, fx.addr, nil)
		ctx := bounded(t)
		cases := []struct {
			method string
			code   rpc.Code
			msg    string
		}{
			{"nosuch", rpc.CodeNotFound, "nosuch"},
			{"fail", rpc.CodeApplication, "failed: x"},
			{"coded", rpc.CodeOverloaded, "try later"},
			{"panic", rpc.CodeInternal, "boom"},
			{"add", rpc.CodeApplication, "add wants 16 bytes, got 1"},
		}
		for _, tc := range cases {
			resp, err := c.Call(ctx, tc.method, []byte("x"))
			var re *rpc.Error
			if !errors.As(err, &re) {
				t.Fatalf("%s: %q, %v; want an *rpc.Error", tc.method, resp, err)
			}
			if re.Code != tc.code || !strings.Contains(re.Message, tc.msg) {
				t.Errorf("%s: %v (code %d), want code %v and a message with %q", tc.method, err, re.Code, tc.code, tc.msg)
			}
		}
		// The connection survives them all.
		if resp, err := c.Call(ctx, "echo", []byte("still here")); err != nil || string(resp) != "still here" {
			t.Fatalf("after errors: %q, %v", resp, err)
		}
		if st := fx.srv.Stats(); st.Accepted != 1 {
			t.Errorf("server accepted %d connections, want 1", st.Accepted)
		}
		// Errors the client finds itself.
		if _, err := c.Call(ctx, "", nil); !errors.Is(err, rpc.ErrBadMethod) {
			t.Errorf("empty method: %v", err)
		}
		if _, err := c.Call(ctx, strings.Repeat("m", 256), nil); !errors.Is(err, rpc.ErrBadMethod) {
			t.Errorf("long method: %v", err)
		}
		if _, err := c.Call(ctx, "echo", make([]byte, rpc.DefaultMaxMessageSize)); !errors.Is(err, rpc.ErrMessageTooLarge) {
			t.Errorf("huge request: %v", err)
		}
	})
}

func TestOverload(t *testing.T) {
	format := frame.LengthPrefixed{HeaderSize: 4, MaxFrameSize: rpc.DefaultMaxMessageSize}
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		fx := newRPCServer(t, &rpc.ServerConfig{MaxConcurrent: 2, MaxQueued: 3})
		fx.serve(t, ec, "127.0.0.1:0")
		nc, err := net.Dial("tcp", fx.addr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(waitTimeout))
		// Six requests in one write, so the server sees them in order: two
		// run, three wait, the sixth is refused at once.
		var out []byte
		for id := range uint64(6) {
			out = append(out, mustFrame(t, format, rawRequest(id+1, "block", []byte{byte('a' + id)}))...)
		}
		nc.Write(out)
		r := newRawReader(t, nc, format)
		id, kind, body := r.next()
		if id != 6 || kind != 3 || rpc.Code(body[0]) != rpc.CodeOverloaded {
			t.Fatalf("first reply: call %d kind %d body %q; want call 6 refused with CodeOverloaded", id, kind, body)
		}
		for range 2 {
			receive(t, "block to start", fx.started)
		}
		select {
		case s := <-fx.started:
			t.Fatalf("call %q started beyond MaxConcurrent", s)
		default:
		}
		close(fx.release)
		seen := make(map[uint64]bool)
		for range 5 {
			id, kind, body := r.next()
			if kind != 2 || len(body) != 1 || body[0] != byte('a'+id-1) || seen[id] {
				t.Fatalf("reply to call %d: kind %d body %q", id, kind, body)
			}
			seen[id] = true
		}
	})
}

// rawRequest is a request message, built by hand from the wire format.
func rawRequest(id uint64, method string, payload []byte) []byte {
	b := []byte{1, 1}
	b = binary.BigEndian.AppendUint64(b, id)
	b = binary.BigEndian.AppendUint64(b, 0) // no timeout
	b = append(b, byte(len(method)))
	b = append(b, method...)
	return append(b, payload...)
}

// rawReader decodes replies from a connection driven by hand.
type rawReader struct {
	t    *testing.T
	nc   net.Conn
	d    *frame.Decoder
	msgs [][]byte
}

func newRawReader(t *testing.T, nc net.Conn, f frame.Format) *rawReader {
	d, err := frame.NewDecoder(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &rawReader{t: t, nc: nc, d: d}
}

// next returns the next reply's call id, kind and body.
func (r *rawReader) next() (id uint64, kind byte, body []byte) {
	r.t.Helper()
	buf := make([]byte, 4096)
	for len(r.msgs) == 0 {
		n, err := r.nc.Read(buf)
		r.d.Feed(buf[:n], func(m []byte) error { r.msgs = append(r.msgs, bytes.Clone(m)); return nil })
		if err != nil && len(r.msgs) == 0 {
			r.t.Fatalf("reading replies: %v", err)
		}
	}
	m := r.msgs[0]
	r.msgs = r.msgs[1:]
	if len(m) < 10 || m[0] != 1 {
		r.t.Fatalf("bad reply %x", m)
	}
	return binary.BigEndian.Uint64(m[2:]), m[1], m[10:]
}

func TestServerRestart(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		fx := newRPCServer(t, nil)
		stop := fx.serve(t, ec, "127.0.0.1:0")
		addr := fx.addr
		c := dial(t, addr, &rpc.ClientConfig{MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond})
		ctx := bounded(t)
		const pending = 10
		errs := make(chan error, pending)
		for i := range pending {
			go func() {
				_, err := c.Call(ctx, "watch", []byte(fmt.Sprint(i)))
				errs <- err
			}()
		}
		for range pending {
			receive(t, "calls to start", fx.started)
		}
		stop() // the server goes away with the calls running
		for range pending {
			if err := receive(t, "pending call", errs); !errors.Is(err, rpc.ErrConnLost) {
				t.Fatalf("pending call across a restart: %v, want ErrConnLost", err)
			}
		}
		for range pending {
			receive(t, "methods' ctx", fx.ctxErrs)
		}
		// While it is down, calls fail (with the dial error) instead of
		// hanging.
		short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if _, err := c.Call(short, "echo", []byte("down")); err == nil {
			t.Fatalf("call with the server down succeeded")
		}
		// A new server on the same address: the client recovers.
		fx.serve(t, ec, addr.String())
		deadline := time.Now().Add(waitTimeout)
		for {
			resp, err := c.Call(ctx, "echo", []byte("back"))
			if err == nil {
				if string(resp) != "back" {
					t.Fatalf("after restart: %q", resp)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("client did not recover: %v", err)
			}
		}
		for i := range 20 {
			req := []byte(fmt.Sprint(i))
			if resp, err := c.Call(ctx, "echo", req); err != nil || !bytes.Equal(resp, req) {
				t.Fatalf("call %d after restart: %q, %v", i, resp, err)
			}
		}
	})
}

func TestClientClose(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		fx := newRPCServer(t, nil)
		fx.serve(t, ec, "127.0.0.1:0")
		c := dial(t, fx.addr, &rpc.ClientConfig{Conns: 3})
		ctx := bounded(t)
		errs := make(chan error, 6)
		for i := range 6 {
			go func() {
				_, err := c.Call(ctx, "watch", []byte(fmt.Sprint(i)))
				errs <- err
			}()
		}
		for range 6 {
			receive(t, "calls to start", fx.started)
		}
		if st := fx.srv.Stats(); st.Accepted != 3 {
			t.Errorf("server accepted %d connections, want Conns = 3", st.Accepted)
		}
		c.Close()
		for range 6 {
			if err := receive(t, "pending call", errs); !errors.Is(err, rpc.ErrClientClosed) {
				t.Errorf("pending call at Close: %v, want ErrClientClosed", err)
			}
		}
		if _, err := c.Call(ctx, "echo", nil); !errors.Is(err, rpc.ErrClientClosed) {
			t.Errorf("Call after Close: %v, want ErrClientClosed", err)
		}
		// The server cancels the calls of the connections that closed.
		for range 6 {
			receive(t, "methods' ctx", fx.ctxErrs)
		}
	})
}

func TestProtocolErrorsCloseConnection(t *testing.T) {
	format := frame.LengthPrefixed{HeaderSize: 4, MaxFrameSize: 1 << 20}
	bad := map[string][]byte{
		"version 2":    mustFrame(t, format, []byte{2, 1, 0, 0, 0, 0, 0, 0, 0, 1}),
		"short header": mustFrame(t, format, []byte{1, 1}),
		"huge frame":   {0x7f, 0xff, 0xff, 0xff},
	}
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		fx := newRPCServer(t, nil)
		fx.serve(t, ec, "127.0.0.1:0")
		for name, msg := range bad {
			nc, err := net.Dial("tcp", fx.addr.String())
			if err != nil {
				t.Fatal(err)
			}
			nc.SetDeadline(time.Now().Add(waitTimeout))
			nc.Write(msg)
			if n, err := io.Copy(io.Discard, nc); err != nil || n != 0 {
				t.Errorf("%s: read %d bytes, %v; want the connection closed", name, n, err)
			}
			nc.Close()
		}
		// A malformed request (method length past the end) gets an error
		// reply and the connection stays.
		nc, err := net.Dial("tcp", fx.addr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(waitTimeout))
		req := []byte{1, 1, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 9, 'x'}
		nc.Write(mustFrame(t, format, req))
		reply := make([]byte, 4+10+1)
		if _, err := io.ReadFull(nc, reply); err != nil {
			t.Fatal(err)
		}
		if reply[4+1] != 3 || reply[4+9] != 7 || rpc.Code(reply[4+10]) != rpc.CodeBadRequest {
			t.Errorf("reply to a malformed request: %x, want an error for call 7 with CodeBadRequest", reply)
		}
	})
}

func mustFrame(t *testing.T, f frame.LengthPrefixed, msg []byte) []byte {
	b, err := f.AppendFrame(nil, msg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []*rpc.ServerConfig{
		{MaxMessageSize: 100},
		{Workers: -1},
		{MaxConcurrent: -1},
		{FrameTimeout: -1},
	} {
		if _, err := rpc.NewServer(cfg); !errors.Is(err, rpc.ErrInvalidConfig) {
			t.Errorf("NewServer(%+v) = %v, want ErrInvalidConfig", cfg, err)
		}
	}
	for _, cfg := range []*rpc.ClientConfig{
		{MaxMessageSize: 100},
		{Conns: -1},
		{MinBackoff: time.Second, MaxBackoff: time.Millisecond},
	} {
		if _, err := rpc.Dial(context.Background(), "tcp", "127.0.0.1:1", cfg); !errors.Is(err, rpc.ErrInvalidConfig) {
			t.Errorf("Dial(%+v) = %v, want ErrInvalidConfig", cfg, err)
		}
	}
	rs, err := rpc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close(context.Background())
	for name, f := range map[string]func(){
		"empty": func() { rs.Register("", func(context.Context, []byte) ([]byte, error) { return nil, nil }) },
		"nil":   func() { rs.Register("m", nil) },
		"twice": func() {
			fn := func(context.Context, []byte) ([]byte, error) { return nil, nil }
			rs.Register("dup", fn)
			rs.Register("dup", fn)
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register %s did not panic", name)
				}
			}()
			f()
		}()
	}
}

func TestCloseEndsBackoff(t *testing.T) {
	fx := newRPCServer(t, nil)
	stop := fx.serve(t, engineCases[0], "127.0.0.1:0")
	c := dial(t, fx.addr, &rpc.ClientConfig{MinBackoff: time.Minute, MaxBackoff: time.Minute})
	stop()
	ctx := bounded(t)
	// The connection dropped: the next call redials at once and fails,
	// which starts a minute of backoff for the call after it.
	for {
		_, err := c.Call(ctx, "echo", nil)
		if err != nil && !errors.Is(err, rpc.ErrConnLost) {
			break // the dial error
		}
	}
	// A call whose ctx outlasts the backoff waits it out (one with an
	// earlier deadline would fail at once with the dial error).
	nodeadline, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := c.Call(nodeadline, "echo", nil)
		done <- err
	}()
	c.Close()
	if err := receive(t, "call waiting out the backoff", done); !errors.Is(err, rpc.ErrClientClosed) {
		t.Fatalf("call during backoff, after Close: %v, want ErrClientClosed", err)
	}
}

// TestSaturatedPoolQueues: when every worker is busy, a call whose
// connection has calls running waits in the connection's queue and runs
// when one of them returns, instead of being refused; a connection with
// none running is refused at once (CodeOverloaded). Here a blocked call
// holds one of 4 workers while a client keeps 2 connections x 2 slots busy.
func TestSaturatedPoolQueues(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		fx := newRPCServer(t, &rpc.ServerConfig{Workers: 4, MaxConcurrent: 2})
		fx.serve(t, ec, "127.0.0.1:0")
		ctx := bounded(t)
		holder := dial(t, fx.addr, nil)
		blocked := make(chan error, 1)
		go func() {
			_, err := holder.Call(ctx, "block", []byte("hold"))
			blocked <- err
		}()
		receive(t, "the blocking call to start", fx.started)

		c := dial(t, fx.addr, &rpc.ClientConfig{Conns: 2})
		const calls, concurrency = 2000, 32
		var wg sync.WaitGroup
		errs := make(chan error, calls)
		for g := range concurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := g; i < calls; i += concurrency {
					req := []byte(strconv.Itoa(i))
					resp, err := c.Call(ctx, "echo", req)
					if err == nil && string(resp) != string(req) {
						err = fmt.Errorf("call %d: echo %q", i, resp)
					}
					if err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		n := 0
		for err := range errs {
			if n++; n <= 3 {
				t.Error(err)
			}
		}
		if n > 0 {
			t.Errorf("%d of %d calls failed", n, calls)
		}
		close(fx.release)
		if err := receive(t, "the blocking call's reply", blocked); err != nil {
			t.Errorf("blocked call: %v", err)
		}
	})
}

// TestRequestsAfterCongestion sends a burst of calls whose replies pass a
// low WriteHighWater, then waits for them all: on the inline engines the
// frame.Handler stops decoding a read full of requests once the connection
// is Congested and goes on in OnDrain, which the Server must pass on. It
// once did not, and the requests after the pause waited for input that a
// client waiting for their replies never sends.
func TestRequestsAfterCongestion(t *testing.T) {
	var _ server.DrainHandler = (*rpc.Server)(nil)
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		fx := newRPCServer(t, nil)
		fx.configure = func(s *server.Server) { s.WriteHighWater = 4 << 10 }
		fx.serve(t, ec, "127.0.0.1:0")
		c := dial(t, fx.addr, nil)
		ctx := bounded(t)
		const calls, size = 200, 16 << 10
		errs := make(chan error, calls)
		for i := range calls {
			go func() {
				req := make([]byte, size)
				r := rand.New(rand.NewPCG(uint64(i), 7))
				for j := range req {
					req[j] = byte(r.Uint32())
				}
				resp, err := c.Call(ctx, "echo", req)
				switch {
				case err != nil:
					errs <- fmt.Errorf("call %d: %w", i, err)
				case !bytes.Equal(resp, req):
					errs <- fmt.Errorf("call %d: %d bytes back, want %d, or they differ", i, len(resp), len(req))
				default:
					errs <- nil
				}
			}()
		}
		for range calls {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
	})
}
