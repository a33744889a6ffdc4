package main

import (
	"bytes"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sockpool/sockpool/server"
)

// TestBigRequest sends the security review's request, a million empty bulk
// strings (6 MB), through a real server on each engine: the reply must be
// redis's, the connection must go on serving, and the server may allocate
// no more than 6 times the request in all, garbage included. The parser's
// pending buffer grows by half at a time, so its copies come to under 3
// times its final size, itself under 1.5 times the request; its offsets
// double to under 8 bytes per 6-byte argument: 4.5 + 1.33 at worst. It
// allocates 4.4-4.6 times; before, with spans, slice headers and append's
// growth, 40 times (251-253 MB).
func TestBigRequest(t *testing.T) {
	// Not parallel: TotalAlloc must be this test's alone.
	req := append(millionEmpty(), "PING\r\n"...)
	want := "-ERR unknown command '', with args beginning with: " + strings.Repeat("'' ", 325) + "\r\n+PONG\r\n"
	for _, eng := range engines() {
		t.Run(eng.String(), func(t *testing.T) {
			c := dial(t, startServer(t, eng, limits{}))
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			werr := make(chan error, 1)
			go func() { _, err := c.Write(req); werr <- err }()
			got := make([]byte, len(want))
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatalf("read: %v; got %q", err, got)
			}
			runtime.ReadMemStats(&after)
			if err := <-werr; err != nil {
				t.Fatal(err)
			}
			if string(got) != want {
				t.Errorf("reply %q, want %q", got, want)
			}
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d-byte request: %d bytes allocated (%.1fx)", len(req), alloc, float64(alloc)/float64(len(req)))
			if limit := 6 * uint64(len(req)); alloc > limit {
				t.Errorf("allocated %d bytes for a %d-byte request, over 6 times its size", alloc, len(req))
			}
		})
	}
}

// TestClientsThatDoNotRead has two clients pipeline GETs of a 512 KiB value
// and read nothing, on each engine (the evented one calling the handler on its loops,
// whose Write cannot wait). Until the server stops sending, its live heap
// may grow by at most 2 MiB per client: a connection's queue stays within
// WriteHighWater + flushAt + one reply (256 + 64 + 512 KiB, see
// handler.serve) and the gather buffer within flushAt + one reply; the
// rest of the 50 MiB of replies each has asked for waits in its requests,
// 2.2 KB. It grows by under 1.6 MiB; before, the evented engine queued every
// reply, 95 MiB here (and 681 MiB of RSS for 680 GETs each, or, once
// OutputLimit came, connections cut at 64 MiB). Then each client reads, and
// must get every reply, in order, exactly.
func TestClientsThatDoNotRead(t *testing.T) {
	// Not parallel: the heap must be this test's alone.
	val := strings.Repeat("0123456789abcdef", 32<<10)
	reply := appendBulkString(nil, val)
	const gets = 100
	req := strings.Repeat(resp("GET", "v"), gets)
	for _, eng := range engines() {
		t.Run(eng.String(), func(t *testing.T) {
			srv := &server.Server{Engine: eng, Loops: 2, Handler: &handler{store: newStore()}}
			addr := serve(t, srv)
			setter := dial(t, addr)
			io.WriteString(setter, resp("SET", "v", val))
			if ok := make([]byte, 5); !readReply(t, setter, ok, "+OK\r\n") {
				return
			}
			before := liveHeap()
			clients := []net.Conn{dial(t, addr), dial(t, addr)}
			for _, c := range clients {
				if _, err := io.WriteString(c, req); err != nil {
					t.Fatal(err)
				}
			}

			// Poll until the server has stopped sending: BytesOut the same
			// for 20 polls in a row.
			var peak int64
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			deadline := time.Now().Add(10 * time.Second)
			for last, still := uint64(0), 0; still < 20; {
				<-tick.C
				if time.Now().After(deadline) {
					t.Fatal("the server kept sending for 10 s to clients that do not read")
				}
				peak = max(peak, liveHeap()-before)
				if out := srv.Stats().BytesOut; out == last {
					still++
				} else {
					last, still = out, 0
				}
			}
			st := srv.Stats()
			t.Logf("heap growth with %d clients not reading: at most %.2f MiB; %d bytes sent, %d queued, %d paused", len(clients), float64(peak)/(1<<20), st.BytesOut, st.Queued, st.Paused)
			if limit := int64(len(clients)) * 2 << 20; peak > limit {
				t.Errorf("heap grew by %d bytes for %d clients that do not read, over %d", peak, len(clients), limit)
			}

			got := make([]byte, len(reply))
			for i, c := range clients {
				for n := range gets {
					if _, err := io.ReadFull(c, got); err != nil {
						t.Fatalf("client %d, reply %d: %v", i, n, err)
					}
					if !bytes.Equal(got, reply) {
						t.Fatalf("client %d, reply %d differs", i, n)
					}
				}
			}
		})
	}
}

// liveHeap returns the bytes of live heap objects, after a collection.
func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// readReply reads len(buf) bytes from c and reports whether they are want.
func readReply(t *testing.T, c net.Conn, buf []byte, want string) bool {
	t.Helper()
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != want {
		t.Errorf("got %q, %v; want %q", buf, err, want)
		return false
	}
	return true
}
