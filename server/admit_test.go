package server

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/sockpool/sockpool/proxyproto"
)

// expectClosed fails the test unless the server closes c without sending
// anything.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil || isTimeout(err) {
		t.Fatalf("read %d, %v; want the connection closed", n, err)
	}
}

func TestMaxConnsPerIP(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		srv := ec.configure(&Server{Handler: echoHandler(), MaxConnsPerIP: 2})
		addr := serve(t, srv, "tcp")
		a, b := dial(t, addr), dial(t, addr)
		checkEcho(t, roundTrip(t, a, []byte("a")), []byte("a"))
		checkEcho(t, roundTrip(t, b, []byte("b")), []byte("b"))
		expectClosed(t, dial(t, addr))
		if st := srv.Stats(); st.Rejections.PerIP != 1 || st.Rejected != 1 {
			t.Errorf("Rejections %+v, Rejected %d; want 1 per IP", st.Rejections, st.Rejected)
		}
		a.Close()
		waitFor(t, "the first connection to close", func() bool { return srv.Stats().Active == 1 })
		c := dial(t, addr) // the address has a slot again
		checkEcho(t, roundTrip(t, c, []byte("c")), []byte("c"))
	})
}

func TestAccess(t *testing.T) {
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	tests := []struct {
		name    string
		access  *Access
		network string
		admit   bool
	}{
		{"allow-list without the client", &Access{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, "tcp", false},
		{"allow-list with the client", &Access{Allow: loopback}, "tcp", true},
		{"denied although allowed", &Access{Allow: loopback, Deny: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}, "tcp", false},
		{"deny only", &Access{Deny: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}, "tcp", true},
		{"unix, allow-list without unix", &Access{Allow: loopback}, "unix", false},
		{"unix, allow-list with unix", &Access{Allow: loopback, Unix: true}, "unix", true},
		{"unix, no allow-list", &Access{Deny: loopback}, "unix", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachEngine(t, func(t *testing.T, ec engineCase) {
				rec := newRecorder(echoHandler())
				srv := ec.configure(&Server{Handler: rec, Access: tt.access})
				c := dial(t, serve(t, srv, tt.network))
				if tt.admit {
					checkEcho(t, roundTrip(t, c, []byte("in")), []byte("in"))
					return
				}
				c.Write([]byte("let me in"))
				expectClosed(t, c)
				st := srv.Stats()
				rec.mu.Lock()
				opened := rec.opened
				rec.mu.Unlock()
				if st.Rejections.Access != 1 || st.Accepted != 0 || opened != 0 {
					t.Errorf("Rejections %+v, Accepted %d, OnOpen %d; want 1 refused by access, no handler", st.Rejections, st.Accepted, opened)
				}
			})
		})
	}
}

// addrRecorder echoes and records each connection's addresses.
type addrRecorder struct {
	mu            sync.Mutex
	remote, local []string
}

func (h *addrRecorder) OnOpen(c Conn) {
	h.mu.Lock()
	h.remote = append(h.remote, c.RemoteAddr().String())
	h.local = append(h.local, c.LocalAddr().String())
	h.mu.Unlock()
}

func (h *addrRecorder) OnData(c Conn, in []byte) { c.Write(in) }

func (h *addrRecorder) addrs() (remote, local []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.remote...), append([]string(nil), h.local...)
}

func proxyHeader(t *testing.T, version int, cmd proxyproto.Command, src, dst string) []byte {
	t.Helper()
	h := &proxyproto.Header{Version: version, Command: cmd}
	if src != "" {
		h.Source, h.Destination = net.TCPAddrFromAddrPort(netip.MustParseAddrPort(src)), net.TCPAddrFromAddrPort(netip.MustParseAddrPort(dst))
	}
	b, err := h.AppendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var trustLoopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

func TestProxyProtocol(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		h := &addrRecorder{}
		srv := ec.configure(&Server{Handler: h, ProxyProtocol: &proxyproto.Policy{Trusted: trustLoopback}})
		addr := serve(t, srv, "tcp")

		// The header and the first data in one write, as a load balancer
		// sends them; the data must not be lost.
		v2 := dial(t, addr)
		v2.Write(append(proxyHeader(t, 2, proxyproto.Proxy, "203.0.113.7:4242", "198.51.100.1:443"), "hello"...))
		v2.SetReadDeadline(time.Now().Add(10 * time.Second))
		got := make([]byte, 5)
		if _, err := io.ReadFull(v2, got); err != nil || string(got) != "hello" {
			t.Fatalf("v2: read %q, %v", got, err)
		}
		v1 := dial(t, addr)
		v1.Write(proxyHeader(t, 1, proxyproto.Proxy, "[2001:db8::5]:5000", "[2001:db8::1]:80"))
		checkEcho(t, roundTrip(t, v1, []byte("v1")), []byte("v1"))
		local := dial(t, addr) // a health check: the connection's own addresses
		local.Write(proxyHeader(t, 2, proxyproto.Local, "", ""))
		checkEcho(t, roundTrip(t, local, []byte("hc")), []byte("hc"))

		remote, locals := h.addrs()
		want := map[string]string{"203.0.113.7:4242": "198.51.100.1:443", "[2001:db8::5]:5000": "[2001:db8::1]:80", local.LocalAddr().String(): addr.String()}
		if len(remote) != 3 {
			t.Fatalf("OnOpen saw %v, want 3 connections", remote)
		}
		for i, r := range remote {
			if l, ok := want[r]; !ok || l != locals[i] {
				t.Errorf("connection %d: RemoteAddr %s LocalAddr %s; want one of %v", i, r, locals[i], want)
			}
		}
		if st := srv.Stats(); st.Rejected != 0 || st.Accepted != 3 {
			t.Errorf("Accepted %d Rejected %d, want 3 and 0", st.Accepted, st.Rejected)
		}
	})
}

func TestProxyProtocolBadHeaders(t *testing.T) {
	good := func(t *testing.T) []byte {
		return proxyHeader(t, 2, proxyproto.Proxy, "203.0.113.7:4242", "198.51.100.1:443")
	}
	tests := []struct {
		name   string
		policy *proxyproto.Policy
		send   func(t *testing.T, c net.Conn)
	}{
		{"untrusted peer", &proxyproto.Policy{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
			func(t *testing.T, c net.Conn) { c.Write(good(t)) }},
		{"no header", &proxyproto.Policy{Trusted: trustLoopback},
			func(t *testing.T, c net.Conn) { c.Write([]byte("GET / HTTP/1.1\r\n\r\n")) }},
		{"malformed v1", &proxyproto.Policy{Trusted: trustLoopback},
			func(t *testing.T, c net.Conn) { c.Write([]byte("PROXY TCP4 1.2.3.4 5.6.7.8 99999 80\r\n")) }},
		{"malformed v2", &proxyproto.Policy{Trusted: trustLoopback},
			func(t *testing.T, c net.Conn) { b := good(t); b[12] = 0x99; c.Write(b) }},
		{"truncated", &proxyproto.Policy{Trusted: trustLoopback},
			func(t *testing.T, c net.Conn) { c.Write(good(t)[:20]); c.(*net.TCPConn).CloseWrite() }},
		{"slow", &proxyproto.Policy{Trusted: trustLoopback, Timeout: 200 * time.Millisecond},
			func(t *testing.T, c net.Conn) { c.Write(good(t)[:10]) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachEngine(t, func(t *testing.T, ec engineCase) {
				rec := newRecorder(echoHandler())
				srv := ec.configure(&Server{Handler: rec, ProxyProtocol: tt.policy})
				addr := serve(t, srv, "tcp")
				c := dial(t, addr)
				tt.send(t, c)
				expectClosed(t, c)
				waitFor(t, "the rejection to be counted", func() bool { return srv.Stats().Rejections.Proxy == 1 })
				rec.mu.Lock()
				opened := rec.opened
				rec.mu.Unlock()
				if st := srv.Stats(); st.Accepted != 0 || opened != 0 {
					t.Errorf("Accepted %d, OnOpen %d: a bad header reached the engine", st.Accepted, opened)
				}
			})
		})
	}
}

// TestProxyProtocolClientLimits: Access and MaxConnsPerIP judge the client
// the header names, not the load balancer.
func TestProxyProtocolClientLimits(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		srv := ec.configure(&Server{
			Handler:       echoHandler(),
			ProxyProtocol: &proxyproto.Policy{Trusted: trustLoopback},
			MaxConnsPerIP: 1,
			Access:        &Access{Deny: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}},
		})
		addr := serve(t, srv, "tcp")
		first := dial(t, addr)
		first.Write(proxyHeader(t, 2, proxyproto.Proxy, "203.0.113.7:1", "198.51.100.1:443"))
		checkEcho(t, roundTrip(t, first, []byte("1")), []byte("1"))
		other := dial(t, addr) // another client through the same proxy
		other.Write(proxyHeader(t, 2, proxyproto.Proxy, "203.0.113.8:1", "198.51.100.1:443"))
		checkEcho(t, roundTrip(t, other, []byte("2")), []byte("2"))
		again := dial(t, addr) // the first client's second connection
		again.Write(proxyHeader(t, 2, proxyproto.Proxy, "203.0.113.7:2", "198.51.100.1:443"))
		expectClosed(t, again)
		denied := dial(t, addr)
		denied.Write(proxyHeader(t, 1, proxyproto.Proxy, "192.0.2.9:1", "198.51.100.1:443"))
		expectClosed(t, denied)
		waitFor(t, "the rejections", func() bool {
			r := srv.Stats().Rejections
			return r.PerIP == 1 && r.Access == 1
		})
	})
}

// TestShutdownDuringProxyHeader: a peer that never finishes its header
// does not hold Shutdown up, and leaves no goroutine behind (TestMain).
func TestShutdownDuringProxyHeader(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		srv := ec.configure(&Server{Handler: echoHandler(), ProxyProtocol: &proxyproto.Policy{Trusted: trustLoopback, Timeout: time.Minute}})
		ln := listen(t, "tcp")
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve(ln) }()
		c := dial(t, ln.Addr())
		c.Write([]byte("PROXY TCP4 "))
		waitFor(t, "the header read to begin", func() bool {
			srv.mu.Lock()
			defer srv.mu.Unlock()
			return len(srv.pending) == 1
		})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if err := <-errc; !errors.Is(err, ErrServerClosed) {
			t.Fatalf("Serve returned %v", err)
		}
		expectClosed(t, c)
		if st := srv.Stats(); st.Rejected != 0 {
			t.Errorf("Rejected %d: a connection cut by Shutdown is not a rejection", st.Rejected)
		}
	})
}
