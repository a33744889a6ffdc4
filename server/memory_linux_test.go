//go:build linux

package server

import (
	"crypto/tls"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/sockpool/sockpool/bufs"
)

// liveHeap is the heap in use once garbage (and the pools' idle buffers,
// which sync.Pool keeps for one collection) is collected.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// nonReaderCost returns the live heap the server holds per connection for
// clients that each flood an echo server and never read, once their
// writes stall (the server has read all it will).
func nonReaderCost(t *testing.T, ec engineCase, secure bool, clients int) int {
	t.Helper()
	srv := ec.configure(&Server{Handler: echoHandler()})
	var cli *tls.Config
	if secure {
		srv.TLSConfig, cli = tlsConfigs(t)
	}
	addr := serve(t, srv, "tcp")
	conns := make([]net.Conn, clients)
	for i := range conns {
		if secure {
			conns[i] = dialTLS(t, addr, cli)
		} else {
			conns[i] = dial(t, addr)
		}
	}
	chunk := pattern(1, 64<<10)
	before := liveHeap()
	var pushed atomic.Int64
	done := make(chan struct{}, clients)
	for _, c := range conns {
		go func() {
			defer func() { done <- struct{}{} }()
			c.SetWriteDeadline(time.Now().Add(20 * time.Second))
			for range 1024 { // 64 MiB, far more than the kernel buffers
				n, err := c.Write(chunk)
				pushed.Add(int64(n))
				if err != nil {
					return
				}
			}
		}()
	}
	// Stalled: nothing pushed for 300 ms.
	for last, quiet := int64(-1), 0; quiet < 6; {
		time.Sleep(50 * time.Millisecond)
		if now := pushed.Load(); now == last {
			quiet++
		} else {
			last, quiet = now, 0
		}
	}
	after := liveHeap()
	for _, c := range conns {
		c.Close()
	}
	for range clients {
		<-done
	}
	return int(int64(after)-int64(before)) / clients
}

// TestNonReaderMemory: a client that floods an echo server and never reads
// costs at most WriteHighWater plus one read of live memory on every engine
// (the bound docs/design.md states): the input waiting for or held by the
// handler, at most high water plus one read, and the output queued, up to
// high water, which for a plain Write off the loop is that same input lent
// to the queue uncopied. Over TLS the queued ciphertext is new memory: up
// to high water more.
func TestNonReaderMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("floods 10 connections per engine")
	}
	bound := DefaultWriteHighWater + bufs.DefaultTunerMax + 128<<10
	forEachSecurity(t, func(t *testing.T, ec engineCase, secure bool) {
		// Not parallel: the heap is the process's.
		cost := nonReaderCost(t, ec, secure, 10)
		t.Logf("%d B per non-reading connection", cost)
		bound := bound
		if secure {
			bound += DefaultWriteHighWater
		}
		if cost > bound {
			t.Errorf("%d B per non-reading connection, want at most %d (high water plus one read, and slack)", cost, bound)
		}
	})
}

// TestConnSizes: an idle evented connection's memory is mostly its
// evConn, so each field added must find room in its size class; this
// test says when one does not (docs/design.md, idle memory). The limits
// are size classes of Go's allocator.
func TestConnSizes(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want uintptr
	}{
		{"evConn", unsafe.Sizeof(evConn{}), 288},
		{"uringConn", unsafe.Sizeof(uringConn{}), 32},
	} {
		if tc.got > tc.want {
			t.Errorf("%s is %d bytes, over its %d-byte size class", tc.name, tc.got, tc.want)
		}
	}
}
