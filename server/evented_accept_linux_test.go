//go:build linux

package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockpool/sockpool/proxyproto"
)

// TestAcceptorChoice: the evented engines (uring's too) accept plain TCP
// connections themselves; TLS and PROXY protocol servers, UNIX sockets and
// the threaded engines go through the listener's Accept.
func TestAcceptorChoice(t *testing.T) {
	tcp := func(t *testing.T) net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return ln
	}
	unixLn := func(t *testing.T) net.Listener {
		ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
		if err != nil {
			t.Fatal(err)
		}
		return ln
	}
	for _, tc := range []struct {
		name   string
		engine Engine
		listen func(*testing.T) net.Listener
		setup  func(*Server)
		raw    bool
	}{
		{"evented tcp", Evented, tcp, nil, true},
		{"evented-pool tcp", EventedPool, tcp, nil, true},
		{"evented unix", Evented, unixLn, nil, false},
		{"evented tls", Evented, tcp, func(s *Server) { s.TLSConfig = &tls.Config{} }, false},
		{"evented proxy", Evented, tcp, func(s *Server) { s.ProxyProtocol = &proxyproto.Policy{} }, false},
		{"uring tcp", Uring, tcp, nil, true},
		{"uring tls", Uring, tcp, func(s *Server) { s.TLSConfig = &tls.Config{} }, false},
		{"threaded tcp", Threaded, tcp, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			skipWithoutUring(t, tc.engine)
			s := &Server{Engine: tc.engine, Handler: HandlerFunc(func(Conn, []byte) {})}
			if tc.setup != nil {
				tc.setup(s)
			}
			initServer(t, s)
			ln := tc.listen(t)
			defer ln.Close()
			acc := s.eng.acceptor(ln)
			if acc != nil {
				defer acc.release()
			}
			if _, raw := acc.(*rawAcceptor); raw != tc.raw {
				t.Fatalf("acceptor %T, want the engine's own: %v", acc, tc.raw)
			}
		})
	}
}

// TestRawAcceptorAddrs: a socket accept4 returned has the addresses and
// the socket options (TCP_NODELAY, keep-alive) Go's Accept would give it,
// on specific and wildcard listeners, and carries bytes both ways.
func TestRawAcceptorAddrs(t *testing.T) {
	for _, tc := range []struct{ listen, dial string }{
		{"127.0.0.1:0", "127.0.0.1"},
		{"0.0.0.0:0", "127.0.0.1"},
		{"[::1]:0", "::1"},
		{"[::]:0", "::1"},
		{"[::]:0", "127.0.0.1"}, // an IPv4-mapped client of a dual-stack listener
	} {
		t.Run(tc.listen+"<-"+tc.dial, func(t *testing.T) {
			ln, err := net.Listen("tcp", tc.listen)
			if err != nil {
				t.Skipf("no %s here: %v", tc.listen, err)
			}
			acc := newTestRawAcceptor(t, ln)
			port := ln.Addr().(*net.TCPAddr).Port
			cli, err := net.Dial("tcp", net.JoinHostPort(tc.dial, strconv.Itoa(port)))
			if err != nil {
				t.Skipf("cannot dial %s here: %v", tc.dial, err)
			}
			defer cli.Close()
			a, err := acc.accept()
			if err != nil {
				t.Fatal(err)
			}
			sc := a.(*sockConn)
			defer sc.Close()
			if got, want := sc.RemoteAddr().String(), cli.LocalAddr().String(); got != want {
				t.Errorf("RemoteAddr %s, want %s", got, want)
			}
			if got, want := sc.LocalAddr().String(), cli.RemoteAddr().String(); got != want {
				t.Errorf("LocalAddr %s, want %s", got, want)
			}
			// The options Go's Accept would have set.
			for _, o := range acceptedOptions {
				if v, err := unix.GetsockoptInt(sc.fd, o.level, o.opt); err != nil || v != o.value {
					t.Errorf("option %d/%d = %d, %v; want %d", o.level, o.opt, v, err, o.value)
				}
			}
			if _, err := unix.Write(sc.fd, []byte("ping")); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 4)
			cli.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := cli.Read(buf); err != nil || !bytes.Equal(buf, []byte("ping")) {
				t.Fatalf("client read %q, %v", buf, err)
			}
		})
	}
}

// TestRawAcceptorClose: an accept waiting returns an error once the
// listener is closed, through Close at once, and within the wait's timeout
// when the listener is closed behind the acceptor's back. The socket is
// closed with the listener: no duplicate keeps it listening.
func TestRawAcceptorClose(t *testing.T) {
	for _, tc := range []struct {
		name   string
		direct bool // close the net.Listener, not the acceptor
		within time.Duration
	}{
		{"Close", false, acceptTimeout / 2},
		{"listener closed directly", true, 3 * acceptTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			acc := newTestRawAcceptor(t, ln)
			done := make(chan error, 1)
			go func() {
				_, err := acc.accept()
				done <- err
			}()
			time.Sleep(50 * time.Millisecond) // let it wait
			start := time.Now()
			if tc.direct {
				ln.Close()
			} else {
				acc.Close()
			}
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("accept returned no error after the listener closed")
				}
				if d := time.Since(start); d > tc.within {
					t.Errorf("accept returned after %v, want within %v", d, tc.within)
				}
			case <-time.After(tc.within + 5*time.Second):
				t.Fatal("accept still waiting after the listener closed")
			}
			if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
				c.Close()
				t.Error("the closed listener's address still accepts connections")
			}
		})
	}
}

func newTestRawAcceptor(t *testing.T, ln net.Listener) *rawAcceptor {
	t.Helper()
	s := &Server{Engine: Evented, Handler: HandlerFunc(func(Conn, []byte) {})}
	initServer(t, s)
	acc, ok := s.eng.acceptor(ln).(*rawAcceptor)
	if !ok {
		t.Fatal("no raw acceptor for a TCP listener")
	}
	t.Cleanup(func() {
		acc.Close()
		acc.release()
	})
	return acc
}

// initServer readies s's engine without serving, and shuts it down when
// the test ends, waiting for its loops: the tests after it count
// descriptors.
func initServer(t *testing.T, s *Server) {
	t.Helper()
	if err := s.init(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
}
