//go:build linux

package server

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockpool/sockpool/internal/uring"
)

// uringCase is the conformance row of the uring engine. It joins
// engineCases (engines_linux_test.go) once it passes the whole suite;
// until then TestUringConformance runs it through the cases it passes.
var uringCase = engineCase{name: "uring", engine: Uring}

// uringPasses are the conformance tests the uring engine passes, run by
// TestUringConformance with uringCase as the only row: every test that runs
// over engineCases but these (issue #16, step 2):
//   - TestWriteTimeoutSlowReader: passes plain, and over TLS without the
//     race detector (5 of 5), but over TLS under -race, run alone, the
//     slow reader is cut by WriteTimeout every time, after 1287574 of
//     1572864 bytes, with a send of a few KB in flight (epoll passes the
//     same run): the progress the sweep sees stops while that send waits.
//     Not found yet.
//   - TestPauseReadingOnOpen: a PauseReading in OnOpen does not hold on
//     uring when the peer's first bytes already wait: the recv armed at
//     registration completes before the posted pause applies, and OnData
//     gets them.
//   - TestBlockingHandlerOnPool and TestCloseWhileWaitingForWorker test
//     EventedPool only (uring runs the handler on its loop).
var uringPasses = []struct {
	name string
	test func(*testing.T)
}{
	{"TestAccess", TestAccess},
	{"TestClientNeverReads", TestClientNeverReads},
	{"TestCloseFromHandler", TestCloseFromHandler},
	{"TestCloseServer", TestCloseServer},
	{"TestCloseWrite", TestCloseWrite},
	{"TestConcurrentStreams", TestConcurrentStreams},
	{"TestDialEcho", TestDialEcho},
	{"TestDialErrors", TestDialErrors},
	{"TestDialLimits", TestDialLimits},
	{"TestDialStartTLS", TestDialStartTLS},
	{"TestDialWriteTimeout", TestDialWriteTimeout},
	{"TestEMFILE", TestEMFILE},
	{"TestEchoSizes", TestEchoSizes},
	{"TestHalfClose", TestHalfClose},
	{"TestHandlerPanic", TestHandlerPanic},
	{"TestIdleTimeoutKeepsBusyConn", TestIdleTimeoutKeepsBusyConn},
	{"TestManyConnsAtOnce", TestManyConnsAtOnce},
	{"TestMaxConnsBlock", TestMaxConnsBlock},
	{"TestMaxConnsPerIP", TestMaxConnsPerIP},
	{"TestMaxConnsReject", TestMaxConnsReject},
	{"TestNoDataAfterClose", TestNoDataAfterClose},
	{"TestNonReaderMemory", TestNonReaderMemory},
	{"TestOnCloseAfterOnOpen", TestOnCloseAfterOnOpen},
	{"TestOutputLimit", TestOutputLimit},
	{"TestPanicEvery100th", TestPanicEvery100th},
	{"TestPauseReading", TestPauseReading},
	{"TestPausedConnEnds", TestPausedConnEnds},
	{"TestProxyProtocol", TestProxyProtocol},
	{"TestProxyProtocolBadHeaders", TestProxyProtocolBadHeaders},
	{"TestProxyProtocolClientLimits", TestProxyProtocolClientLimits},
	{"TestReadBufferSize", TestReadBufferSize},
	{"TestResetMidStream", TestResetMidStream},
	{"TestSendFileOrder", TestSendFileOrder},
	{"TestSendFileRefuses", TestSendFileRefuses},
	{"TestSendFileShrinks", TestSendFileShrinks},
	{"TestSendFileSlowReader", TestSendFileSlowReader},
	{"TestSeveralListeners", TestSeveralListeners},
	{"TestShutdownDeadline", TestShutdownDeadline},
	{"TestShutdownDuringProxyHeader", TestShutdownDuringProxyHeader},
	{"TestShutdownMidStream", TestShutdownMidStream},
	{"TestShutdownWaitsForPoolHandler", TestShutdownWaitsForPoolHandler},
	{"TestShutdownWhileClientsSend", TestShutdownWhileClientsSend},
	{"TestStartTLS", TestStartTLS},
	{"TestStartTLSFails", TestStartTLSFails},
	{"TestTLSClose", TestTLSClose},
	{"TestTLSEcho", TestTLSEcho},
	{"TestTLSGarbageRecord", TestTLSGarbageRecord},
	{"TestTLSHandshakeTimeout", TestTLSHandshakeTimeout},
	{"TestTLSOpenSSLInterop", TestTLSOpenSSLInterop},
	{"TestTLSRefused", TestTLSRefused},
	{"TestTLSReload", TestTLSReload},
	{"TestTLSShutdownDuringHandshake", TestTLSShutdownDuringHandshake},
	{"TestTLSSlowHandshakeFlood", TestTLSSlowHandshakeFlood},
	{"TestTLSWriteFromOtherGoroutines", TestTLSWriteFromOtherGoroutines},
	{"TestTLSWriteTimeout", TestTLSWriteTimeout},
	{"TestTimeouts", TestTimeouts},
	{"TestWriteFromOtherGoroutines", TestWriteFromOtherGoroutines},
	{"TestWriteTimeout", TestWriteTimeout},
	{"TestWriterWaitsForSpace", TestWriterWaitsForSpace},
}

// TestUringConformance runs the conformance tests uring passes with the
// uring row alone. It swaps engineCases while no other test reads it: it is
// not parallel, so it runs alone among the package's top-level tests, and
// forEachEngine reads the rows before its subtests start.
func TestUringConformance(t *testing.T) {
	if err := uringAvailable(); err != nil {
		t.Skip(err)
	}
	saved := engineCases
	engineCases = []engineCase{uringCase}
	t.Cleanup(func() { engineCases = saved })
	for _, tc := range uringPasses {
		t.Run(tc.name, tc.test)
	}
}

// uringAvailable reports whether this system runs the uring engine.
func uringAvailable() error {
	s := &Server{Engine: Uring, Handler: echoHandler(), Loops: 1}
	if err := s.init(); err != nil {
		return err
	}
	// Shutdown, not Close: it returns once the loop has closed its ring,
	// so that a test may then swap internal/uring's hooks.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.Shutdown(ctx)
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
	if err := uringAvailable(); err != nil {
		t.Skip(err)
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
