//go:build linux

package server

import (
	"crypto/tls"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sockpool/sockpool/internal/uring"
)

// uringUnavailable is why this system cannot run the uring engine, or nil:
// the uring row joins engineCases only where it can (engines_linux_test.go).
var uringUnavailable error

// TestUringRow: where io_uring runs, the uring engine is a row of the
// conformance suite; elsewhere the row is left out, and this test says why.
func TestUringRow(t *testing.T) {
	if uringUnavailable != nil {
		t.Skipf("the uring row is left out of engineCases: %v", uringUnavailable)
	}
	if !slices.ContainsFunc(engineCases, func(ec engineCase) bool { return ec.engine == Uring }) {
		t.Fatal("io_uring runs here, but uring is not a row of engineCases")
	}
}

// TestUringRefused: where io_uring_setup is refused, Serve returns an error
// that wraps both ErrEngineUnsupported and uring.ErrUnsupported and names
// the cause, and leaves nothing running (the package's goleak check).
func TestUringRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		errno unix.Errno
		cause string
	}{
		{"disabled", unix.EPERM, "io_uring_disabled"},
		{"seccomp", unix.ENOSYS, "seccomp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			restore := uring.RefuseSetup(tc.errno)
			defer restore()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			if serr := Uring.Supported(); !errors.Is(serr, ErrEngineUnsupported) || !errors.Is(serr, uring.ErrUnsupported) ||
				!errors.Is(serr, tc.errno) || !strings.Contains(serr.Error(), tc.cause) {
				t.Errorf("Uring.Supported() = %v, want ErrEngineUnsupported, uring.ErrUnsupported, %v and %s named", serr, tc.errno, tc.cause)
			}
			s := &Server{Engine: Uring, Handler: echoHandler(), Loops: 2}
			err = s.Serve(ln)
			switch {
			case !errors.Is(err, ErrEngineUnsupported):
				t.Errorf("Serve = %v, want ErrEngineUnsupported", err)
			case !errors.Is(err, uring.ErrUnsupported):
				t.Errorf("Serve = %v, want uring.ErrUnsupported", err)
			case !errors.Is(err, tc.errno):
				t.Errorf("Serve = %v, want %v", err, tc.errno)
			case !strings.Contains(err.Error(), tc.cause):
				t.Errorf("Serve = %v, want the cause (%s) named", err, tc.cause)
			}
			if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
				t.Errorf("the listener is open after Serve failed: Accept = %v", err)
			}
		})
	}
}

// uringReadsFixed reports whether srv is a uring server whose tuned reads
// cannot grow: its loops read into a fixed ring of the tuner's starting
// size because the kernel lacks incremental buffer consumption (see
// newRecvBuffers).
func uringReadsFixed(srv *Server) bool {
	if srv.Engine != Uring || srv.init() != nil {
		return false
	}
	return !srv.eng.(*evented).loops[0].ur.bufs.Incremental()
}

// TestUringReadsFallBack: on a kernel that refuses incremental buffer
// consumption, a uring server with ReadBufferSize 0 reads into fixed
// buffers of the tuner's starting size, within the tuner's bounds, and
// echoes every byte. Not parallel: the refusal is the package's.
func TestUringReadsFallBack(t *testing.T) {
	if uringUnavailable != nil {
		t.Skip(uringUnavailable)
	}
	for _, tc := range []struct {
		name     string
		min, max int
		want     int // the largest read
	}{
		{"default", 0, 0, DefaultReadBufferSize},
		{"max below the start", 0, 8 << 10, 8 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			restore := uring.RefuseIncremental()
			defer restore()
			var largest atomic.Int64
			h := HandlerFunc(func(c Conn, in []byte) {
				largest.Store(max(largest.Load(), int64(len(in)))) // one loop: no race between calls
				c.Write(in)
			})
			srv := &Server{Engine: Uring, Loops: 1, Handler: h, MinReadBufferSize: tc.min, MaxReadBufferSize: tc.max}
			c := dial(t, serve(t, srv, "tcp"))
			if !uringReadsFixed(srv) {
				t.Fatal("the loop's buffer ring is incremental, though the kernel refused it")
			}
			for i := range 4 {
				msg := pattern(uint64(i), 256<<10)
				checkEcho(t, roundTrip(t, c, msg), msg)
			}
			if got := largest.Load(); got != int64(tc.want) {
				t.Errorf("largest read %d bytes, want %d (the tuner's starting size, in its bounds)", got, tc.want)
			}
		})
	}
}

// TestUringKernelRefusals: a request the kernel ends with EAGAIN, having
// moved nothing, goes again: a send once the socket has room (seen on a
// full non-blocking socket under load), a recv armed again to poll first.
// Every byte is echoed, in order, and the connection stays open, plain and
// over TLS (whose records must keep their order too). Until that was
// handled the connection closed with "resource temporarily unavailable",
// losing what was queued. Not parallel: uring's fault hooks are the
// process's.
func TestUringKernelRefusals(t *testing.T) {
	if uringUnavailable != nil {
		t.Skip(uringUnavailable)
	}
	srvConf, cliConf := tlsConfigs(t)
	for _, fault := range []struct {
		name string
		fail func(n int, errno unix.Errno) (restore func() int)
	}{
		{"send", uring.FailSends},
		{"recv", uring.FailRecvs},
	} {
		for _, tc := range []struct {
			name string
			conf *tls.Config
		}{
			{"plain", nil},
			{"tls", srvConf},
		} {
			t.Run(fault.name+"/"+tc.name, func(t *testing.T) {
				srv := &Server{Engine: Uring, Loops: 1, Handler: echoHandler(), TLSConfig: tc.conf}
				addr := serve(t, srv, "tcp")
				var c net.Conn
				if tc.conf != nil {
					c = dialTLS(t, addr, cliConf)
				} else {
					c = dial(t, addr)
				}
				const refusals = 3
				restore := fault.fail(refusals, unix.EAGAIN)
				failed := -1
				defer func() {
					if failed < 0 {
						restore()
					}
				}()
				// Small echoes go in one send; 512 KiB is queued in
				// several buffers and goes in sendmsg gathers.
				for i, size := range []int{100, 4096, 100, 512 << 10, 4096, 512 << 10, 100} {
					msg := pattern(uint64(i), size)
					checkEcho(t, roundTrip(t, c, msg), msg)
				}
				if failed = restore(); failed != refusals {
					t.Fatalf("%d requests were refused, want %d: the test did not test", failed, refusals)
				}
				if st := srv.Stats(); st.Active != 1 {
					t.Errorf("Stats.Active = %d after %d refusals, want the connection open", st.Active, failed)
				}
			})
		}
	}
}

// pairRelay relays between the first two connections it opens, as a
// proxy does, and counts the Writes whose bytes were still queued when
// Write returned.
type pairRelay struct {
	opened         chan struct{} // a send per connection opened
	mu             sync.Mutex
	conns          []Conn
	writes, queued atomic.Int64
}

func (p *pairRelay) OnOpen(c Conn) {
	p.mu.Lock()
	p.conns = append(p.conns, c)
	p.mu.Unlock()
	p.opened <- struct{}{}
}

func (p *pairRelay) OnData(c Conn, in []byte) {
	p.mu.Lock()
	peer := p.conns[0]
	if peer == c {
		peer = p.conns[1]
	}
	p.mu.Unlock()
	peer.Write(in)
	p.writes.Add(1)
	if peer.Congested() {
		p.queued.Add(1)
	}
}

// TestUringRelayQueues: a handler's Write to another connection of its
// loop queues for the turn's batch, as its Writes to its own do, instead
// of costing a write(2) then and there; every relayed byte arrives, in
// order, both ways, plain and over TLS.
func TestUringRelayQueues(t *testing.T) {
	if uringUnavailable != nil {
		t.Skip(uringUnavailable)
	}
	srvConf, cliConf := tlsConfigs(t)
	for _, tc := range []struct {
		name string
		conf *tls.Config
	}{
		{"plain", nil},
		{"tls", srvConf},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &pairRelay{opened: make(chan struct{}, 2)}
			// One loop, so both connections are on it; a high-water mark
			// of one byte makes Congested report any queued output.
			srv := &Server{Engine: Uring, Loops: 1, WriteHighWater: 1, Handler: h, TLSConfig: tc.conf}
			addr := serve(t, srv, "tcp")
			open := func() net.Conn {
				defer func() { <-h.opened }()
				if tc.conf != nil {
					return dialTLS(t, addr, cliConf)
				}
				return dial(t, addr)
			}
			a := open() // the first
			b := open()
			msg := pattern(3, 1<<20)
			checkEcho(t, roundTripVia(t, a, b, msg), msg)
			if w, q := h.writes.Load(), h.queued.Load(); w == 0 || q != w {
				t.Errorf("%d of %d relayed Writes left their bytes queued, want all", q, w)
			}
		})
	}
}
