package frame_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockpool/sockpool/bufs"
	"github.com/sockpool/sockpool/frame"
	"github.com/sockpool/sockpool/server"
)

// closeTally echoes framed messages and counts closes by reason.
type closeTally struct {
	format             frame.Format
	frameTimeout, idle atomic.Int64
	other              atomic.Int64
	firstOther         atomic.Pointer[error]
}

func (h *closeTally) OnMessage(c server.Conn, msg []byte) {
	out := bufs.GetOutput()
	out.B, _ = h.format.AppendFrame(out.B, msg)
	c.Write(out.B)
	bufs.PutOutput(out)
}

func (h *closeTally) OnClose(c server.Conn, err error) {
	switch {
	case errors.Is(err, frame.ErrFrameTimeout):
		h.frameTimeout.Add(1)
	case errors.Is(err, server.ErrIdleTimeout):
		h.idle.Add(1)
	default:
		h.firstOther.CompareAndSwap(nil, &err)
		h.other.Add(1)
	}
}

// TestSlowloris holds 200 connections that trickle a frame in at a byte a
// second and 200 that connect and send nothing. FrameTimeout cuts the
// first group and IdleTimeout the second, and while both are connected a
// new client is served at once: it finishes its round trips before the
// server has cut any of them.
func TestSlowloris(t *testing.T) {
	const (
		group   = 200
		timeout = 3 * time.Second
	)
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		format := frame.LengthPrefixed{HeaderSize: 4, MaxFrameSize: 1024}
		tally := &closeTally{format: format}
		h, err := frame.NewHandler(format, tally, &frame.Options{FrameTimeout: timeout})
		if err != nil {
			t.Fatal(err)
		}
		srv := &server.Server{Handler: h, Engine: ec.engine, IdleTimeout: timeout}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(ln)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			srv.Shutdown(ctx)
		})
		addr := ln.Addr().String()

		var wg sync.WaitGroup
		defer wg.Wait()
		stop := make(chan struct{})
		defer close(stop)
		dialOrFail := func() net.Conn {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return c
		}
		for range group {
			c := dialOrFail()
			wg.Go(func() { // a trickler: a 100-byte frame, one byte a second
				var hdr [4]byte
				binary.BigEndian.PutUint32(hdr[:], 100)
				b := append(hdr[:], make([]byte, 100)...)
				tick := time.NewTicker(time.Second)
				defer tick.Stop()
				for i := range b {
					if _, err := c.Write(b[i : i+1]); err != nil {
						return // cut, as it should be
					}
					select {
					case <-tick.C:
					case <-stop:
						return
					}
				}
			})
		}
		for range group {
			dialOrFail() // silent
		}
		waitFor(t, "every connection to be open", func() bool { return srv.Stats().Active >= 2*group })

		// A new client, while all 400 hold their connections.
		c := dialOrFail()
		c.SetDeadline(time.Now().Add(waitTimeout))
		for i := range 20 {
			msg := make([]byte, 64+i)
			for j := range msg {
				msg[j] = byte(i + j)
			}
			req, _ := format.AppendFrame(nil, msg)
			if _, err := c.Write(req); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len(req))
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatal(err)
			}
			if string(got) != string(req) {
				t.Fatalf("round trip %d: echo differs", i)
			}
		}
		if cut := tally.frameTimeout.Load() + tally.idle.Load() + tally.other.Load(); cut != 0 {
			t.Errorf("the new client finished only after %d slow connections were cut", cut)
		}
		c.Close()

		waitFor(t, "the slow connections to be cut", func() bool {
			return tally.frameTimeout.Load() >= group && tally.idle.Load() >= group
		})
		if got := tally.frameTimeout.Load(); got != group {
			t.Errorf("%d connections closed by FrameTimeout, want %d", got, group)
		}
		if got := tally.idle.Load(); got != group {
			t.Errorf("%d connections closed by IdleTimeout, want %d", got, group)
		}
		waitFor(t, "the client's close", func() bool { return tally.other.Load() == 1 })
		if p := tally.firstOther.Load(); p != nil && *p != nil {
			t.Errorf("the client's connection closed with %v, want a clean close", *p)
		}
		if st := srv.Stats(); st.Timeouts != group {
			t.Errorf("Stats.Timeouts = %d, want %d (the idle ones)", st.Timeouts, group)
		}
	})
}

// waitFor polls cond until it holds or waitTimeout passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for wait := time.Millisecond; !cond(); wait = min(2*wait, 50*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(wait)
	}
}
