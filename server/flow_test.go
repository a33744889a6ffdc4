package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// sink is a handler that checks every byte it is given against want as it
// arrives (keeping none: under -race, growing a copy of tens of megabytes
// stalled the loop for hundreds of milliseconds), hands its connections to
// the test as they open, and can pause a connection from its own OnData
// once it has seen pauseAt bytes, or from OnOpen.
type sink struct {
	want        []byte // the stream the peer sends
	opened      chan Conn
	pauseAt     int  // 0: never pauses itself in OnData
	pauseOnOpen bool // OnOpen pauses reading before handing the connection over

	mu     sync.Mutex
	n      int // bytes given to OnData
	bad    int // the offset of the first byte that differs from want, or -1
	calls  int
	closed chan error
}

func newSink(want []byte, pauseAt int) *sink {
	return &sink{want: want, opened: make(chan Conn, 1), closed: make(chan error, 1), pauseAt: pauseAt, bad: -1}
}

func (s *sink) OnOpen(c Conn) {
	if s.pauseOnOpen {
		c.PauseReading()
	}
	s.opened <- c
}

func (s *sink) OnData(c Conn, in []byte) {
	s.mu.Lock()
	before := s.n
	if s.bad < 0 {
		exp := s.want[min(before, len(s.want)):min(before+len(in), len(s.want))]
		if i := firstDiff(in, exp); i >= 0 {
			s.bad = before + i
		}
	}
	s.n += len(in)
	s.calls++
	s.mu.Unlock()
	if s.pauseAt > 0 && before < s.pauseAt && before+len(in) >= s.pauseAt {
		c.PauseReading()
	}
}

func (s *sink) OnClose(c Conn, err error) { s.closed <- err }

func (s *sink) snapshot() (n, calls int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n, s.calls
}

// check fails t unless the sink got exactly want.
func (s *sink) check(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.bad >= 0:
		t.Fatalf("byte %d of %d differs from the one sent", s.bad, len(s.want))
	case s.n != len(s.want):
		t.Fatalf("got %d bytes, want %d", s.n, len(s.want))
	}
}

// filler writes msg to a connection from a goroutine of its own, counting
// what went, so that a test can see the server stop taking bytes without a
// write deadline (which would leave a TLS client broken for good).
type filler struct {
	sent atomic.Int64
	done chan error // the writer's end: nil once all of msg went
}

// startFill starts writing msg to c (its socket's send buffer made small,
// so that the client's side fills quickly). c's close ends the writer.
func startFill(c net.Conn, msg []byte) *filler {
	raw := c
	if tc, ok := c.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	raw.(*net.TCPConn).SetWriteBuffer(64 << 10)
	f := &filler{done: make(chan error, 1)}
	go func() {
		for off := 0; off < len(msg); {
			n, err := c.Write(msg[off:min(len(msg), off+64<<10)])
			off += n
			f.sent.Add(int64(n))
			if err != nil {
				f.done <- err
				return
			}
		}
		f.done <- nil
	}()
	return f
}

// stalled waits until no byte has gone for 300 ms, which proves the server
// has stopped reading (on loopback a reading server takes bytes in
// microseconds), and returns how many went.
func (f *filler) stalled(t *testing.T) int {
	t.Helper()
	last := f.sent.Load()
	for {
		select {
		case err := <-f.done:
			t.Fatalf("the writer ended after %d bytes (%v): the server never stopped reading", f.sent.Load(), err)
		case <-time.After(300 * time.Millisecond):
		}
		n := f.sent.Load()
		if n == last {
			return int(n)
		}
		last = n
	}
}

// TestPauseReading pauses a connection (from the test's goroutine or from
// its own OnData), checks that the peer's writes block while OnData gets
// nothing, and resumes it: every byte arrives, in order. Pauses are
// idempotent and one ResumeReading ends them all. A dialed connection
// pauses as an accepted one does, and so does a TLS one, whose records
// the server may hold decrypted or not.
func TestPauseReading(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		tests := []struct {
			name    string
			inline  bool // paused by its own OnData rather than from outside
			repeats int  // PauseReading calls
			dialed  bool // the paused connection is one the server dialed
			secure  bool // over TLS
		}{
			{"outside", false, 1, false, false},
			{"outside-twice", false, 2, false, false},
			{"inline", true, 1, false, false},
			{"dialed", false, 1, true, false},
			{"dialed-inline", true, 1, true, false},
			{"tls-outside", false, 1, false, true},
			{"tls-inline", true, 1, false, true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				// Well over what the sockets' buffers take in before the
				// writer stalls; a TLS row needs less to show it.
				total := 32 << 20
				if tt.secure {
					total = 4 << 20
				}
				msg := pattern(11, total)
				h := newSink(msg, 0)
				if tt.inline {
					h.pauseAt = 1
				}
				const readTimeout = 500 * time.Millisecond
				srv := ec.configure(&Server{Handler: h, ReadTimeout: readTimeout})
				var cli *tls.Config
				if tt.secure {
					srv.TLSConfig, cli = tlsConfigs(t)
				}
				addr := serve(t, srv, "tcp")
				var c net.Conn
				switch {
				case tt.dialed:
					c = dialedPeer(t, srv)
				case tt.secure:
					tc := tls.Client(dial(t, addr), cli)
					if err := tc.Handshake(); err != nil {
						t.Fatal(err)
					}
					c = tc
				default:
					c = dial(t, addr)
				}
				sc := <-h.opened
				if !tt.inline {
					for range tt.repeats {
						sc.PauseReading()
					}
				}
				paused := time.Now()
				fill := startFill(c, msg)
				sent := fill.stalled(t)
				n1, calls1 := h.snapshot()
				if n1 >= sent {
					t.Fatalf("OnData got all %d bytes sent while paused", sent)
				}
				// The pause outlasting ReadTimeout is the point: it must cut
				// nothing, since the silence is the handler's.
				time.Sleep(time.Until(paused.Add(2 * readTimeout)))
				if n := srv.Stats().Timeouts; n != 0 {
					t.Fatalf("Stats.Timeouts = %d: ReadTimeout cut a connection paused by its handler", n)
				}
				// A second look, long after the write stalled: OnData stays quiet.
				if n2, calls2 := h.snapshot(); n2 != n1 || calls2 != calls1 {
					t.Fatalf("OnData ran while paused: %d bytes in %d calls, then %d in %d", n1, calls1, n2, calls2)
				}
				sc.ResumeReading()
				sc.ResumeReading()
				if err := <-fill.done; err != nil {
					why := "still open"
					select {
					case cerr := <-h.closed:
						why = fmt.Sprintf("closed: %v", cerr)
					case <-time.After(time.Second):
					}
					n, _ := h.snapshot()
					t.Fatalf("write after resume, %d of %d bytes sent, %d read: %v (server side %s, Stats %+v)",
						fill.sent.Load(), total, n, err, why, srv.Stats())
				}
				waitFor(t, "every byte", func() bool { n, _ := h.snapshot(); return n >= total })
				h.check(t)
			})
		}
	})
}

// TestPauseReadingOnOpen checks that a PauseReading made in OnOpen holds
// from OnOpen's return even when the peer's first bytes wait in the socket
// already: OnData gets nothing until ResumeReading, then every byte, in
// order. examples/proxy relies on it: it pauses a client in OnOpen until
// the client's upstream is dialed, which its OnData writes to. The bytes
// are in before the accept: MaxConns 1 holds the connection in the kernel's
// backlog (Overflow Block) until a first one closes.
func TestPauseReadingOnOpen(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		msg := pattern(17, 64<<10) // fits in loopback's socket buffers
		h := newSink(msg, 0)
		h.pauseOnOpen = true
		srv := ec.configure(&Server{Handler: h, MaxConns: 1})
		addr := serve(t, srv, "tcp")
		dial(t, addr)
		first := <-h.opened
		c := dial(t, addr)
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		first.Close()
		if err := <-h.closed; err != nil {
			t.Fatalf("first connection closed with %v", err)
		}
		sc := <-h.opened
		// A pause that does not hold shows within the loop's first turns;
		// the window is for a loaded machine.
		time.Sleep(200 * time.Millisecond)
		if n, calls := h.snapshot(); n != 0 {
			t.Fatalf("OnData got %d bytes in %d calls while paused since OnOpen", n, calls)
		}
		sc.ResumeReading()
		waitFor(t, "every byte", func() bool { n, _ := h.snapshot(); return n >= len(msg) })
		h.check(t)
	})
}

// dialedPeer has srv dial a listener and returns the far end, the peer of
// the connection srv's handler sees.
func dialedPeer(t *testing.T, srv *Server) net.Conn {
	t.Helper()
	ln := listen(t, "tcp")
	defer ln.Close()
	dialed := make(chan error, 1)
	go func() {
		_, err := (&Dialer{Server: srv, Timeout: 10 * time.Second}).Dial("tcp", ln.Addr().String())
		dialed <- err
	}()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := <-dialed; err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPausedConnEnds checks that a paused connection still ends, with
// input waiting: by Close, by Shutdown, and by IdleTimeout (with a little
// input: a fill could outlast the timeout on a loaded machine).
func TestPausedConnEnds(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		tests := []struct {
			name string
			idle time.Duration // the Server's IdleTimeout
			fill bool          // write until the client blocks, else a little
			end  func(srv *Server, c Conn)
			want error
		}{
			{"close", 0, true, func(_ *Server, c Conn) { c.Close() }, nil},
			{"shutdown", 0, true, func(srv *Server, _ Conn) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := srv.Shutdown(ctx); err != nil {
					panic(err)
				}
			}, ErrServerClosed},
			{"idle-timeout", 500 * time.Millisecond, false, func(*Server, Conn) {}, ErrIdleTimeout},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				msg := []byte("input")
				if tt.fill {
					msg = pattern(3, 32<<20)
				}
				h := newSink(msg, 0)
				srv := ec.configure(&Server{Handler: h, IdleTimeout: tt.idle})
				addr := serve(t, srv, "tcp")
				c := dial(t, addr)
				sc := <-h.opened
				sc.PauseReading()
				if tt.fill {
					startFill(c, msg).stalled(t)
				} else if _, err := c.Write(msg); err != nil {
					t.Fatal(err)
				}
				tt.end(srv, sc)
				select {
				case err := <-h.closed:
					if !errors.Is(err, tt.want) && !(tt.want == ErrServerClosed && err == nil) {
						t.Errorf("OnClose error %v, want %v", err, tt.want)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("the paused connection did not close")
				}
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, err := io.Copy(io.Discard, c); err != nil && !isReset(err) {
					t.Errorf("client read after close: %v", err)
				}
			})
		}
	})
}

// halfCloser passes a half-close on as a proxy does: at the peer's EOF it
// writes what it got and a trailer, then half-closes; with first it
// half-closes at open, before any input, and with paused it also pauses
// reading then, handing the connection to opened for the test to resume.
type halfCloser struct {
	first  bool
	paused bool
	opened chan Conn
	mu     sync.Mutex
	got    []byte
	eofs   int
	done   chan error
}

func (h *halfCloser) OnOpen(c Conn) {
	if h.paused {
		c.PauseReading()
		h.opened <- c
	}
	if h.first {
		c.Write([]byte("hello"))
		if err := c.CloseWrite(); err != nil {
			panic(err)
		}
		if _, err := c.Write([]byte("late")); !errors.Is(err, ErrConnClosed) {
			panic("Write after CloseWrite: " + errString(err))
		}
	}
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

func (h *halfCloser) OnData(c Conn, in []byte) {
	h.mu.Lock()
	h.got = append(h.got, in...)
	h.mu.Unlock()
}

func (h *halfCloser) OnEOF(c Conn) {
	h.mu.Lock()
	h.eofs++
	got := h.got
	h.mu.Unlock()
	if !h.first {
		c.Write(got)
		c.Write([]byte("trailer"))
		c.CloseWrite()
	}
}

func (h *halfCloser) OnClose(c Conn, err error) { h.done <- err }

// TestCloseWrite checks the half-close both ways with an EOFHandler: the
// client's FIN reaches OnEOF after all its data and the server goes on
// writing until its own CloseWrite; and a server that half-closes first
// goes on reading until the client's FIN, also when it had paused reading
// and both FINs are in before it resumes (epoll then reports a hang-up,
// with the input still unread). Either way OnClose gets nil. Over TLS a
// half-close is close_notify (and FIN from the server).
func TestCloseWrite(t *testing.T) {
	forEachSecurity(t, func(t *testing.T, ec engineCase, secure bool) {
		tests := []struct {
			name          string
			first, paused bool
			size          int
		}{
			{"client-first", false, false, 1 << 20},
			{"server-first", true, false, 1 << 20},
			{"server-first-paused", true, true, 32 << 10}, // fits in the socket buffers
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				h := &halfCloser{first: tt.first, paused: tt.paused, opened: make(chan Conn, 1), done: make(chan error, 1)}
				srv := ec.configure(&Server{Handler: h})
				var cli *tls.Config
				if secure {
					srv.TLSConfig, cli = tlsConfigs(t)
				}
				addr := serve(t, srv, "tcp")
				var c halfConn
				if secure {
					c = dialTLS(t, addr, cli)
				} else {
					c = dial(t, addr).(*net.TCPConn)
				}
				c.SetDeadline(time.Now().Add(20 * time.Second))
				msg := pattern(5, tt.size)
				var want []byte
				if tt.first {
					got, err := io.ReadAll(c) // the server's FIN comes while we have sent nothing
					if err != nil || string(got) != "hello" {
						t.Fatalf("before writing: %q, %v; want \"hello\" then EOF", got, err)
					}
					if tt.paused {
						c.Write(msg)
						c.CloseWrite()
						(<-h.opened).ResumeReading()
					} else {
						go func() { c.Write(msg); c.CloseWrite() }()
					}
				} else {
					go func() { c.Write(msg); c.CloseWrite() }()
					want = append(append(want, msg...), "trailer"...)
					got, err := io.ReadAll(c)
					if err != nil {
						t.Fatalf("read until EOF: %v", err)
					}
					checkEcho(t, got, want)
				}
				select {
				case err := <-h.done:
					if err != nil {
						t.Errorf("OnClose error %v, want nil", err)
					}
				case <-time.After(20 * time.Second):
					t.Fatal("no OnClose after both sides half-closed")
				}
				h.mu.Lock()
				defer h.mu.Unlock()
				if h.eofs != 1 || !bytes.Equal(h.got, msg) {
					t.Errorf("OnEOF ran %d times after %d of %d bytes, want once after all", h.eofs, len(h.got), len(msg))
				}
			})
		}
	})
}

// halfConn is a client connection that can half-close: *net.TCPConn, or
// *tls.Conn (close_notify).
type halfConn interface {
	net.Conn
	CloseWrite() error
}
