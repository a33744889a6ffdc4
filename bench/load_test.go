package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// testServer runs an in-process TCP server on loopback whose connections
// are handled by handle(i, c), i counting from 0 in accept order. Every
// connection and the listener are closed, and the goroutines waited for,
// when the test ends.
func testServer(t *testing.T, handle func(i int, c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(i, c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// echo writes back what it reads; corrupt, when set, may change the bytes
// read, given the offset in the stream of their first byte.
func echo(c net.Conn, corrupt func(off int64, b []byte)) {
	buf := make([]byte, 32<<10)
	var off int64
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if corrupt != nil {
				corrupt(off, buf[:n])
			}
			off += int64(n)
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// flipAt returns a corrupter that flips one bit of the stream's byte at.
func flipAt(at int64) func(int64, []byte) {
	return func(off int64, b []byte) {
		if at >= off && at < off+int64(len(b)) {
			b[at-off] ^= 0x10
		}
	}
}

func TestLoadChecksEveryByte(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		size    int
		handle  func(i int, c net.Conn)
		wantErr error // nil: the cell must pass
	}{
		{"good", 100, func(_ int, c net.Conn) { echo(c, nil) }, nil},
		{"good-large", 200 << 10, func(_ int, c net.Conn) { echo(c, nil) }, nil},
		{"flipped-byte", 100, func(i int, c net.Conn) {
			// One byte in the middle of the 31st message of connection 1.
			if i == 1 {
				echo(c, flipAt(30*100+57))
				return
			}
			echo(c, nil)
		}, errMismatch},
		{"flipped-byte-large", 200 << 10, func(i int, c net.Conn) { echo(c, flipAt(3*200<<10+123_456)) }, errMismatch},
		{"short-read", 100, func(_ int, c net.Conn) {
			buf := make([]byte, 100)
			io.ReadFull(c, buf)
			c.Write(buf[:40]) // and close
		}, errShortRead},
		{"stale-echo", 100, func(_ int, c net.Conn) {
			// Echo the first message for ever.
			first := make([]byte, 100)
			io.ReadFull(c, first)
			buf := make([]byte, 100)
			for {
				if _, err := c.Write(first); err != nil {
					return
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					return
				}
			}
		}, errMismatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := testServer(t, tc.handle)
			lr := runLoad(context.Background(), loadSpec{Addr: addr, Size: tc.size, Conns: 3,
				Warmup: 50 * time.Millisecond, Duration: 300 * time.Millisecond, Seed: 7})
			res := result{Kind: kindEcho, Engine: "test", Size: tc.size, Conns: 3}
			res.fillEcho(lr)
			if tc.wantErr == nil {
				if lr.FirstErr != nil || res.Status != statusOK || res.MsgsPerSec <= 0 || res.MinPerConn == 0 {
					t.Fatalf("good server: %v, result %+v", lr.FirstErr, res)
				}
				return
			}
			if !errors.Is(lr.FirstErr, tc.wantErr) || lr.Errors < 1 {
				t.Fatalf("errors = %d, first %v; want %v", lr.Errors, lr.FirstErr, tc.wantErr)
			}
			if res.Status != statusFailed || res.MsgsPerSec != 0 || res.MBPerSec != 0 || res.P50us != 0 || res.RoundTrips != 0 {
				t.Errorf("a failed cell shows figures: %+v", res)
			}
			var table bytes.Buffer
			writeMarkdown(&table, &report{Results: []result{res}})
			if !strings.Contains(table.String(), "FAILED: ") {
				t.Errorf("table does not flag the failure:\n%s", table.String())
			}
		})
	}
}

func TestLoadFlagsStarvedConnections(t *testing.T) {
	t.Parallel()
	// Like a pool of one worker: only the first connection is served.
	addr := testServer(t, func(i int, c net.Conn) {
		if i == 0 {
			echo(c, nil)
			return
		}
		io.Copy(io.Discard, c)
	})
	lr := runLoad(context.Background(), loadSpec{Addr: addr, Size: 64, Conns: 5,
		Warmup: 20 * time.Millisecond, Duration: 200 * time.Millisecond, Seed: 1})
	res := result{Kind: kindEcho, Engine: "one-worker", Size: 64, Conns: 5}
	res.fillEcho(lr)
	if lr.FirstErr != nil {
		t.Fatalf("starved connections counted as errors: %v", lr.FirstErr)
	}
	if res.Status != statusStarved || res.Starved != 4 || res.MinPerConn != 0 || res.MaxPerConn == 0 {
		t.Fatalf("result %+v, want 4 of 5 starved", res)
	}
	var table bytes.Buffer
	writeMarkdown(&table, &report{Results: []result{res}})
	if !strings.Contains(table.String(), "STARVED 4/5") {
		t.Errorf("table does not flag starvation:\n%s", table.String())
	}
}

func TestLoadDialError(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	lr := runLoad(context.Background(), loadSpec{Addr: addr, Size: 64, Conns: 2, Duration: time.Second})
	if lr.FirstErr == nil || lr.Errors != 2 {
		t.Fatalf("errors = %d, first %v; want 2 failed dials", lr.Errors, lr.FirstErr)
	}
}

func TestPercentiles(t *testing.T) {
	t.Parallel()
	// 1..10000 µs, once each, spread over shards as the generator does.
	shards := []*hdrhistogram.Histogram{
		hdrhistogram.New(histMin, histMax, histSigFigs),
		hdrhistogram.New(histMin, histMax, histSigFigs),
	}
	for v := int64(1); v <= 10000; v++ {
		shards[v%2].RecordValue(v * 1000)
	}
	lr := &loadResult{Window: time.Second, PerConn: []int64{5000, 5000}, Hist: hdrhistogram.New(histMin, histMax, histSigFigs)}
	for _, h := range shards {
		lr.Hist.Merge(h)
	}
	res := result{Size: 1000}
	res.fillEcho(lr)
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"p50", res.P50us, 5000},
		{"p99", res.P99us, 9900},
		{"p99.9", res.P999us, 9990},
		{"msgs/s", res.MsgsPerSec, 10000},
		{"MB/s", res.MBPerSec, 10},
	} {
		// Three significant digits: within 0.1%.
		if d := c.got/c.want - 1; d > 0.001 || d < -0.001 {
			t.Errorf("%s = %v, want %v within 0.1%%", c.name, c.got, c.want)
		}
	}
}

func TestPattern(t *testing.T) {
	t.Parallel()
	a, b := newPattern(1, 0, 64), newPattern(1, 1, 64)
	prev := append([]byte(nil), a.next()...)
	if bytes.Equal(prev, b.next()) {
		t.Error("two connections send the same first message")
	}
	for range 1000 {
		m := a.next()
		if len(m) != 64 {
			t.Fatalf("message of %d bytes, want 64", len(m))
		}
		if bytes.Equal(m, prev) {
			t.Fatal("a message equals the one before it")
		}
		prev = append(prev[:0], m...)
	}
	if !bytes.Equal(newPattern(1, 0, 64).next(), newPattern(1, 0, 64).next()) {
		t.Error("the same seed and id give different messages")
	}
}

func TestIdle(t *testing.T) {
	t.Parallel()
	addr := testServer(t, func(_ int, c net.Conn) { echo(c, nil) })
	rss := int64(1 << 20)
	ir := runIdle(context.Background(), addr, 40, 3, func() (int64, error) {
		rss += 1 << 20
		return rss, nil
	})
	if ir.FirstErr != nil || ir.RSSAfter-ir.RSSBefore != 1<<20 {
		t.Fatalf("idle result %+v", ir)
	}
	res := result{Kind: kindIdle, Conns: 40}
	res.fillIdle(ir)
	if res.RSSPerConn != (1<<20)/40.0 {
		t.Errorf("RSS per conn = %v, want %v", res.RSSPerConn, (1<<20)/40.0)
	}

	bad := testServer(t, func(_ int, c net.Conn) { echo(c, flipAt(3)) })
	ir = runIdle(context.Background(), bad, 10, 3, func() (int64, error) { return 1, nil })
	if !errors.Is(ir.FirstErr, errMismatch) {
		t.Errorf("corrupting server: first error %v, want a mismatch", ir.FirstErr)
	}
}

// TestLoadPipeline runs cells with several messages in flight per
// connection: a good server passes, and a flipped byte anywhere in a batch,
// small (one writev) or large (written from a goroutine), fails the cell.
func TestLoadPipeline(t *testing.T) {
	t.Parallel()
	good := func(_ int, c net.Conn) { echo(c, nil) }
	cases := []struct {
		name     string
		size     int
		pipeline int
		handle   func(i int, c net.Conn)
		wantErr  error
	}{
		{"good", 100, 4, good, nil},
		{"good-large", 40 << 10, 4, good, nil},
		// The third message of the eighth batch of connection 0.
		{"flipped-byte", 100, 4, func(i int, c net.Conn) {
			if i == 0 {
				echo(c, flipAt((7*4+2)*100+9))
				return
			}
			echo(c, nil)
		}, errMismatch},
		{"flipped-byte-large", 40 << 10, 4, func(_ int, c net.Conn) { echo(c, flipAt((4+3)*40<<10+77)) }, errMismatch},
		{"short-read", 100, 4, func(_ int, c net.Conn) {
			buf := make([]byte, 400)
			io.ReadFull(c, buf)
			c.Write(buf[:250]) // and close
		}, errShortRead},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := testServer(t, tc.handle)
			lr := runLoad(context.Background(), loadSpec{Addr: addr, Size: tc.size, Conns: 2, Pipeline: tc.pipeline,
				Warmup: 50 * time.Millisecond, Duration: 300 * time.Millisecond, Seed: 11})
			res := result{Kind: kindEcho, Engine: "test", Size: tc.size, Conns: 2, Pipeline: tc.pipeline}
			res.fillEcho(lr)
			if tc.wantErr == nil {
				if lr.FirstErr != nil || res.Status != statusOK || res.MinPerConn == 0 {
					t.Fatalf("good server: %v, result %+v", lr.FirstErr, res)
				}
				if got := lr.Hist.TotalCount(); got != res.RoundTrips {
					t.Errorf("%d latencies recorded for %d messages", got, res.RoundTrips)
				}
				if res.P50us <= 0 || res.P50us > res.P99us {
					t.Errorf("latencies p50 %v p99 %v", res.P50us, res.P99us)
				}
				return
			}
			if !errors.Is(lr.FirstErr, tc.wantErr) || lr.Errors < 1 {
				t.Fatalf("errors = %d, first %v; want %v", lr.Errors, lr.FirstErr, tc.wantErr)
			}
			if res.Status != statusFailed || res.MsgsPerSec != 0 {
				t.Errorf("a failed cell shows figures: %+v", res)
			}
			if tc.wantErr == errMismatch && !strings.Contains(lr.FirstErr.Error(), " of 4 in flight") {
				t.Errorf("mismatch does not say which message of the batch: %v", lr.FirstErr)
			}
		})
	}
}
