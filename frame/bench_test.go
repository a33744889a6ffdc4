package frame_test

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/sockpool/sockpool/frame"
	"github.com/sockpool/sockpool/server"
)

// fakeConn is a server.Conn with no socket, for driving a Handler directly.
type fakeConn struct {
	ctx     any
	written int
	closed  bool
}

func (c *fakeConn) ID() uint64                         { return 1 }
func (c *fakeConn) LocalAddr() net.Addr                { return &net.TCPAddr{} }
func (c *fakeConn) RemoteAddr() net.Addr               { return &net.TCPAddr{} }
func (c *fakeConn) Write(p []byte) (int, error)        { c.written += len(p); return len(p), nil }
func (c *fakeConn) Close() error                       { c.closed = true; return nil }
func (c *fakeConn) CloseWithError(error) error         { return c.Close() }
func (c *fakeConn) StartTLS(*tls.Config, []byte) error { return nil }
func (c *fakeConn) SendFile(*os.File, int64, int64) (int64, error) {
	return 0, errors.New("fakeConn: no SendFile")
}
func (c *fakeConn) SetValue(v any)            { c.ctx = v }
func (c *fakeConn) Value() any                { return c.ctx }
func (c *fakeConn) TLS() *tls.ConnectionState { return nil }
func (c *fakeConn) Congested() bool           { return false }
func (c *fakeConn) PauseReading()             {}
func (c *fakeConn) ResumeReading()            {}
func (c *fakeConn) CloseWrite() error         { return nil }

// stream64 is 64 frames of 100 bytes in f.
func stream64(b testing.TB, f frame.Format) []byte {
	var out []byte
	msg := make([]byte, 100)
	for i := range msg {
		msg[i] = 'a' + byte(i%26)
	}
	for range 64 {
		var err error
		if out, err = f.AppendFrame(out, msg); err != nil {
			b.Fatal(err)
		}
	}
	return out
}

// TestHandlerCompleteFramesAllocFree checks the promise of the fast path:
// frames whole inside one read cost no allocation, whatever the format.
func TestHandlerCompleteFramesAllocFree(t *testing.T) {
	for _, f := range []frame.Format{
		frame.LengthPrefixed{MaxFrameSize: 1 << 16},
		frame.Delimited{MaxFrameSize: 1 << 16},
	} {
		var n int
		h, err := frame.NewHandler(f, frame.MessageFunc(func(c server.Conn, msg []byte) { n += len(msg) }),
			&frame.Options{FrameTimeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		c := new(fakeConn)
		h.OnOpen(c)
		in := stream64(t, f)
		if allocs := testing.AllocsPerRun(100, func() { h.OnData(c, in) }); allocs != 0 {
			t.Errorf("%T: %v allocs per read of 64 whole frames, want 0", f, allocs)
		}
		if n != 101*64*100 {
			t.Errorf("%T: handler saw %d bytes, want %d", f, n, 101*64*100)
		}
		h.OnClose(c, nil)
	}
}

// BenchmarkHandlerWholeFrames is the adapter's hot path: 64 frames of 100
// bytes, whole inside one read.
func BenchmarkHandlerWholeFrames(b *testing.B) {
	for _, bc := range []struct {
		name string
		f    frame.Format
	}{
		{"lp4", frame.LengthPrefixed{MaxFrameSize: 1 << 16}},
		{"nl", frame.Delimited{MaxFrameSize: 1 << 16}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h, _ := frame.NewHandler(bc.f, frame.MessageFunc(func(server.Conn, []byte) {}), nil)
			c := new(fakeConn)
			h.OnOpen(c)
			in := stream64(b, bc.f)
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				h.OnData(c, in)
			}
			h.OnClose(c, nil)
		})
	}
}

// BenchmarkHandlerSplitFrames feeds the same stream in 37-byte reads, so
// most frames are gathered in a pooled buffer.
func BenchmarkHandlerSplitFrames(b *testing.B) {
	f := frame.LengthPrefixed{MaxFrameSize: 1 << 16}
	h, _ := frame.NewHandler(f, frame.MessageFunc(func(server.Conn, []byte) {}), nil)
	c := new(fakeConn)
	h.OnOpen(c)
	in := stream64(b, f)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		for p := in; len(p) > 0; {
			n := min(37, len(p))
			h.OnData(c, p[:n])
			p = p[n:]
		}
	}
	h.OnClose(c, nil)
}
