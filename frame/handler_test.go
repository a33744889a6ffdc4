package frame_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockpool/sockpool/bufs"
	"github.com/sockpool/sockpool/frame"
	"github.com/sockpool/sockpool/server"
)

// waitTimeout bounds every wait for something that should happen soon.
const waitTimeout = 10 * time.Second

// forEachEngine runs f as a parallel subtest on every engine.
func forEachEngine(t *testing.T, f func(t *testing.T, ec engineCase)) {
	t.Helper()
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			f(t, ec)
		})
	}
}

// echoer replies to each message with the same message, framed, and
// records what it saw.
type echoer struct {
	format frame.Format
	msgs   atomic.Int64
	bytes  atomic.Int64
	opened chan server.Conn
	closed chan closeEvent
}

type closeEvent struct {
	c   server.Conn
	err error
}

func newEchoer(f frame.Format) *echoer {
	return &echoer{format: f, opened: make(chan server.Conn, 100), closed: make(chan closeEvent, 100)}
}

func (e *echoer) OnOpen(c server.Conn) { e.opened <- c }

func (e *echoer) OnMessage(c server.Conn, msg []byte) {
	e.msgs.Add(1)
	e.bytes.Add(int64(len(msg)))
	out := bufs.GetOutput()
	out.B, _ = e.format.AppendFrame(out.B, msg)
	c.Write(out.B)
	bufs.PutOutput(out)
}

func (e *echoer) OnClose(c server.Conn, err error) { e.closed <- closeEvent{c, err} }

// serveFrames starts a server on loopback running h and shuts it down when
// the test ends.
func serveFrames(t *testing.T, ec engineCase, h server.Handler, readBuf int) *server.Server {
	t.Helper()
	return startFrames(t, &server.Server{Handler: h, Engine: ec.engine, ReadBufferSize: readBuf})
}

// lockedBuffer is a bytes.Buffer for a logger that several goroutines use.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// serveLogged is serveFrames with the server's debug log kept in the
// returned buffer.
func serveLogged(t *testing.T, ec engineCase, h server.Handler) (*server.Server, *lockedBuffer) {
	t.Helper()
	log := new(lockedBuffer)
	logger := slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return startFrames(t, &server.Server{Handler: h, Engine: ec.engine, Logger: logger}), log
}

// startFrames serves srv on loopback and shuts it down when the test ends.
func startFrames(t *testing.T, srv *server.Server) *server.Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-errc; !errors.Is(err, server.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	addrs.Store(srv, ln.Addr())
	return srv
}

var addrs sync.Map // *server.Server -> net.Addr

func dialServer(t *testing.T, srv *server.Server) net.Conn {
	t.Helper()
	a, _ := addrs.Load(srv)
	c, err := net.Dial("tcp", a.(net.Addr).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(waitTimeout))
	return c
}

func receive[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// frameReader decodes the replies on a client connection, keeping any it
// read beyond those asked for.
type frameReader struct {
	c    net.Conn
	d    *frame.Decoder
	got  [][]byte
	buf  []byte
	keep func([]byte) error
}

var readers sync.Map // net.Conn -> *frameReader

// readFrames returns the next n messages on c, decoded with f.
func readFrames(t *testing.T, c net.Conn, f frame.Format, n int) [][]byte {
	t.Helper()
	v, ok := readers.Load(c)
	if !ok {
		d, err := frame.NewDecoder(f, nil)
		if err != nil {
			t.Fatal(err)
		}
		r := &frameReader{c: c, d: d, buf: make([]byte, 32<<10)}
		r.keep = func(m []byte) error { r.got = append(r.got, bytes.Clone(m)); return nil }
		v, _ = readers.LoadOrStore(c, r)
		t.Cleanup(func() { readers.Delete(c) })
	}
	r := v.(*frameReader)
	for len(r.got) < n {
		k, err := c.Read(r.buf)
		if ferr := r.d.Feed(r.buf[:k], r.keep); ferr != nil {
			t.Fatalf("decoding replies: %v", ferr)
		}
		if err != nil && len(r.got) < n {
			t.Fatalf("after %d of %d replies: %v", len(r.got), n, err)
		}
	}
	got := r.got[:n:n]
	r.got = r.got[n:]
	return got
}

func TestHandlerEcho(t *testing.T) {
	formats := []struct {
		name string
		f    frame.Format
	}{
		{"lp1", frame.LengthPrefixed{HeaderSize: 1, MaxFrameSize: 255}},
		{"lp2", frame.LengthPrefixed{HeaderSize: 2, MaxFrameSize: 9000}},
		{"lp4", frame.LengthPrefixed{MaxFrameSize: 100_000}},
		{"lp8", frame.LengthPrefixed{HeaderSize: 8, MaxFrameSize: 100_000}},
		{"nl", frame.Delimited{MaxFrameSize: 9000}},
		{"crlf", frame.Delimited{Delim: []byte("\r\n"), MaxFrameSize: 9000}},
	}
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		for _, ft := range formats {
			t.Run(ft.name, func(t *testing.T) {
				e := newEchoer(ft.f)
				h, err := frame.NewHandler(ft.f, e, nil)
				if err != nil {
					t.Fatal(err)
				}
				// A 512-byte read buffer splits the larger frames across reads.
				srv := serveFrames(t, ec, h, 512)
				c := dialServer(t, srv)

				// Messages of many sizes, none containing a delimiter byte.
				var msgs [][]byte
				var stream []byte
				for i := range 200 {
					size := []int{0, 1, 7, 100, 255, 511, 512, 513, 3000, 9000}[i%10]
					if size > ft.f.MaxFrameLen()-8 {
						size %= 200
					}
					m := bytes.Repeat([]byte{byte('a' + i%26)}, size)
					copy(m, fmt.Sprint(i))
					msgs = append(msgs, m)
					if stream, err = ft.f.AppendFrame(stream, m); err != nil {
						t.Fatal(err)
					}
				}
				// Many frames in one write, then the same stream a byte at a
				// time for its first frames (every frame split across reads).
				werr := make(chan error, 1)
				go func() {
					if _, err := c.Write(stream); err != nil {
						werr <- err
						return
					}
					for i := range min(len(stream), 2000) {
						if _, err := c.Write(stream[i : i+1]); err != nil {
							werr <- err
							return
						}
					}
					werr <- nil
				}()
				got := readFrames(t, c, ft.f, len(msgs))
				for i := range msgs {
					if !bytes.Equal(got[i], msgs[i]) {
						t.Fatalf("reply %d: %d bytes %.20q, want %d bytes %.20q", i, len(got[i]), got[i], len(msgs[i]), msgs[i])
					}
				}
				if err := <-werr; err != nil {
					t.Fatal(err)
				}
				// The byte-wise copy: count the frames it holds.
				var tailMsgs int
				d, _ := frame.NewDecoder(ft.f, nil)
				d.Feed(stream[:min(len(stream), 2000)], func([]byte) error { tailMsgs++; return nil })
				got = readFrames(t, c, ft.f, tailMsgs)
				for i := range tailMsgs {
					if !bytes.Equal(got[i], msgs[i]) {
						t.Fatalf("byte-wise reply %d differs", i)
					}
				}
				if n := e.msgs.Load(); n != int64(len(msgs)+tailMsgs) {
					t.Errorf("handler saw %d messages, want %d", n, len(msgs)+tailMsgs)
				}
				c.Close()
				if ev := receive(t, "OnClose", e.closed); ev.err != nil {
					t.Errorf("OnClose after a clean close: %v", ev.err)
				}
			})
		}
	})
}

func TestHandlerTooLarge(t *testing.T) {
	cases := []struct {
		name string
		f    frame.Format
		good []byte
		bad  []byte
	}{
		{"lp4 header", frame.LengthPrefixed{MaxFrameSize: 1000}, []byte("\x00\x00\x00\x02hi"), []byte("\x00\x00\x03\xe9")},
		{"lp8 2^64-1", frame.LengthPrefixed{HeaderSize: 8, MaxFrameSize: 1000}, []byte("\x00\x00\x00\x00\x00\x00\x00\x02hi"), bytes.Repeat([]byte{0xff}, 8)},
		{"line", frame.Delimited{MaxFrameSize: 1000}, []byte("hi\n"), bytes.Repeat([]byte("x"), 1001)},
	}
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				e := newEchoer(tc.f)
				h, err := frame.NewHandler(tc.f, e, nil)
				if err != nil {
					t.Fatal(err)
				}
				srv, log := serveLogged(t, ec, h)
				c := dialServer(t, srv)
				// A good frame and the bad header in one write: the good one
				// is answered, then the connection closes.
				c.Write(append(append([]byte(nil), tc.good...), tc.bad...))
				if got := readFrames(t, c, tc.f, 1); string(got[0]) != "hi" {
					t.Fatalf("reply %q, want hi", got[0])
				}
				if n, err := io.Copy(io.Discard, c); err != nil || n != 0 {
					t.Errorf("after the bad frame the client read %d bytes, %v; want EOF", n, err)
				}
				c.Close() // ends the server's lingering close at once
				ev := receive(t, "OnClose", e.closed)
				if !errors.Is(ev.err, frame.ErrFrameTooLarge) {
					t.Fatalf("OnClose got %v, want an error wrapping ErrFrameTooLarge", ev.err)
				}
				if e.msgs.Load() != 1 {
					t.Errorf("handler saw %d messages, want 1", e.msgs.Load())
				}
				// The server's debug log says why the client got EOF.
				if got := log.String(); !strings.Contains(got, "connection closed") || !strings.Contains(got, "too large") {
					t.Errorf("debug log %q does not say the connection was closed for its frame", got)
				}
			})
		}
	})
}

func TestHandlerFrameTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	f := frame.LengthPrefixed{MaxFrameSize: 1000}
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		e := newEchoer(f)
		h, err := frame.NewHandler(f, e, &frame.Options{FrameTimeout: timeout})
		if err != nil {
			t.Fatal(err)
		}
		srv := serveFrames(t, ec, h, 0)

		// A polite client: whole frames, idle for longer than the timeout
		// between them, and one frame split over two writes within it.
		polite := dialServer(t, srv)
		polite.Write([]byte("\x00\x00\x00\x01a"))
		readFrames(t, polite, f, 1)
		<-time.After(2 * timeout) // idle between frames is not counted
		polite.Write([]byte("\x00\x00\x00\x02b"))
		<-time.After(timeout / 3)
		polite.Write([]byte("c"))
		if got := readFrames(t, polite, f, 1); string(got[0]) != "bc" {
			t.Fatalf("polite reply %q", got[0])
		}

		// A trickling client: one byte every 50 ms is cut after FrameTimeout.
		slow := dialServer(t, srv)
		receive(t, "OnOpen", e.opened)
		receive(t, "OnOpen", e.opened)
		start := time.Now()
		cut := make(chan error, 1)
		go func() {
			_, err := io.Copy(io.Discard, slow)
			cut <- err
		}()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		var readErr error
	trickle:
		for _, b := range []byte("\x00\x00\x03\xe8trickle, trickle, trickle, trickle...") {
			if _, err := slow.Write([]byte{b}); err != nil {
				break
			}
			select {
			case readErr = <-cut:
				break trickle
			case <-tick.C:
			}
		}
		elapsed := time.Since(start)
		if readErr != nil {
			t.Errorf("trickling client read: %v, want EOF", readErr)
		}
		if elapsed < timeout {
			t.Errorf("trickling client cut after %v, before FrameTimeout %v", elapsed, timeout)
		}
		if elapsed > timeout+time.Second {
			t.Errorf("trickling client cut only after %v (FrameTimeout %v)", elapsed, timeout)
		}
		slow.Close()
		ev := receive(t, "OnClose of the trickling client", e.closed)
		if !errors.Is(ev.err, frame.ErrFrameTimeout) {
			t.Fatalf("OnClose got %v, want ErrFrameTimeout", ev.err)
		}
		var ne net.Error
		if !errors.As(ev.err, &ne) || !ne.Timeout() {
			t.Errorf("ErrFrameTimeout is not a net.Error timeout")
		}

		// The polite client is still served.
		polite.Write([]byte("\x00\x00\x00\x01d"))
		if got := readFrames(t, polite, f, 1); string(got[0]) != "d" {
			t.Fatalf("polite reply %q", got[0])
		}
	})
}

// ctxHandler checks that the MessageHandler's context is its own.
type ctxHandler struct {
	closed chan any
}

func (h *ctxHandler) OnOpen(c server.Conn) { c.SetValue("mine") }

func (h *ctxHandler) OnMessage(c server.Conn, msg []byte) {
	n, _ := c.Value().(int)
	if c.Value() == "mine" {
		n = 0
	}
	n++
	c.SetValue(n)
	if string(msg) == "close" {
		// Close stops delivery: the message after it in the same read is
		// not handled.
		c.Close()
	}
}

func (h *ctxHandler) OnClose(c server.Conn, err error) { h.closed <- c.Value() }

func TestHandlerContextAndClose(t *testing.T) {
	f := frame.Delimited{MaxFrameSize: 100}
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		ch := &ctxHandler{closed: make(chan any, 1)}
		h, err := frame.NewHandler(f, ch, nil)
		if err != nil {
			t.Fatal(err)
		}
		srv := serveFrames(t, ec, h, 0)
		c := dialServer(t, srv)
		c.Write([]byte("a\nb\nclose\nafter\n"))
		if got := receive(t, "OnClose", ch.closed); got != 3 {
			t.Errorf("context at OnClose = %v, want 3 (three messages, nothing after close)", got)
		}
		if n, err := io.Copy(io.Discard, c); err != nil || n != 0 {
			t.Errorf("client read %d, %v; want EOF", n, err)
		}
	})
}

func TestNewHandlerErrors(t *testing.T) {
	f := frame.LengthPrefixed{MaxFrameSize: 10}
	h := frame.MessageFunc(func(server.Conn, []byte) {})
	for _, tc := range []struct {
		name string
		f    frame.Format
		h    frame.MessageHandler
		o    *frame.Options
	}{
		{"nil format", nil, h, nil},
		{"zero max", frame.LengthPrefixed{}, h, nil},
		{"nil handler", f, nil, nil},
		{"negative timeout", f, h, &frame.Options{FrameTimeout: -1}},
	} {
		if _, err := frame.NewHandler(tc.f, tc.h, tc.o); !errors.Is(err, frame.ErrInvalidConfig) {
			t.Errorf("%s: NewHandler error = %v, want ErrInvalidConfig", tc.name, err)
		}
	}
}
