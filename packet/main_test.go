package packet_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sockpool/sockpool/packet"
)

// TestMain fails the package if any goroutine outlives the tests. The
// goroutines that exist at start are ants' default pool, started when ants
// is imported (we never use it); ignoring them by function name would also
// hide our own pools' goroutines, which have the same names.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}

// waitTimeout bounds every wait for something that should happen at once.
const waitTimeout = 10 * time.Second

// readers is the table every serving test runs over: the recvmmsg batch
// reader (on Linux; elsewhere it is the portable one too), the ReadFrom
// reader on a *net.UDPConn, and the ReadFrom reader on a PacketConn that
// is not a socket Go's poller exposes (the generic ReadFrom and WriteTo).
var readers = []struct {
	name     string
	portable bool
	wrap     bool
}{
	{name: "batch"},
	{name: "portable", portable: true},
	{name: "packetconn", wrap: true},
}

// opaque hides everything of a PacketConn but the interface.
type opaque struct{ net.PacketConn }

// listen opens a UDP socket on network and addr, skipping the test when
// the system has no such address (IPv6 loopback on some machines).
func listen(t *testing.T, network, addr string) net.PacketConn {
	t.Helper()
	pc, err := net.ListenPacket(network, addr)
	if err != nil {
		if network == "udp6" {
			t.Skipf("no IPv6 loopback: %v", err)
		}
		t.Fatal(err)
	}
	return pc
}

// serve starts srv on a new socket and returns its address. At cleanup it
// shuts srv down and checks that Serve returned ErrServerClosed.
func serve(t *testing.T, srv *packet.Server, network, addr string, portable, wrap bool) netip.AddrPort {
	t.Helper()
	pc := listen(t, network, addr)
	local := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	if portable {
		packet.UsePortableReader(srv)
	}
	if wrap {
		pc = opaque{pc}
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(pc) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown at cleanup: %v", err)
		}
		if err := receive(t, "Serve to return", errc); !errors.Is(err, packet.ErrServerClosed) {
			t.Errorf("Serve = %v, want ErrServerClosed", err)
		}
	})
	return local
}

// dial returns a client socket connected to addr.
func dial(t *testing.T, addr netip.AddrPort) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip sends msg on c and checks that every byte comes back.
func roundTrip(t *testing.T, c *net.UDPConn, msg []byte) {
	t.Helper()
	if _, err := c.Write(msg); err != nil {
		t.Fatalf("send %d bytes: %v", len(msg), err)
	}
	got := reply(t, c)
	if !bytes.Equal(got, msg) {
		t.Fatalf("echo of %d bytes came back as %d bytes, first difference at %d", len(msg), len(got), firstDiff(got, msg))
	}
}

// reply reads one datagram from c, failing the test after waitTimeout.
func reply(t *testing.T, c *net.UDPConn) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(waitTimeout))
	buf := make([]byte, 65536)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("reading the reply: %v", err)
	}
	return buf[:n]
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// echo answers every datagram with itself.
var echo = packet.HandlerFunc(func(w packet.Writer, p []byte, from netip.AddrPort) { w.WriteTo(p, from) })

// eventually polls cond until it holds, failing the test after waitTimeout.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

// receive returns the next value from ch, failing the test after waitTimeout.
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

// pattern returns n bytes that differ from one offset to the next and
// from one size to the next, so that a misplaced byte is seen.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + n)
	}
	return b
}

// lockedBuffer is a bytes.Buffer a logger and a test may share.
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
