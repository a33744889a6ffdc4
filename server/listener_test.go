package server

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sockpool/sockpool/pool"
	"github.com/sockpool/sockpool/proxyproto"
)

// listenOn returns srv's Listener on a new loopback listener; the test's
// cleanup shuts srv down.
func listenOn(t *testing.T, srv *Server) net.Listener {
	t.Helper()
	l, err := srv.Listener(listen(t, "tcp"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		l.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return l
}

// accepted returns the next connection l's Accept returns, or fails.
func acceptOne(t *testing.T, l net.Listener) net.Conn {
	t.Helper()
	type result struct {
		c   net.Conn
		err error
	}
	r := make(chan result, 1)
	go func() {
		c, err := l.Accept()
		r <- result{c, err}
	}()
	select {
	case res := <-r:
		if res.err != nil {
			t.Fatalf("Accept: %v", res.err)
		}
		t.Cleanup(func() { res.c.Close() })
		return res.c
	case <-time.After(10 * time.Second):
		t.Fatal("Accept returned nothing in 10s")
		return nil
	}
}

// serveHTTP runs an http.Server with h on l until the test ends; the
// cleanup shuts it down first, as a program should (see Server.Listener).
func serveHTTP(t *testing.T, l net.Listener, h http.Handler) {
	t.Helper()
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l) }()
	// Registered after listenOn's: cleanups run last first, so this one
	// comes before the Server's Shutdown.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := hs.Shutdown(ctx); err != nil {
			t.Errorf("http.Server.Shutdown: %v", err)
		}
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("http.Server.Serve: %v", err)
		}
	})
}

// TestListenerHTTP serves net/http on the Listener, plain and over TLS
// with ALPN: the TLS client is served HTTP/2, the plain one HTTP/1.1, and
// Stats counts their connections, open and then closed.
func TestListenerHTTP(t *testing.T) {
	srvTLS, cliTLS := tlsConfigs(t)
	srvTLS.NextProtos = []string{"h2", "http/1.1"}
	cliTLS.NextProtos = []string{"h2", "http/1.1"}
	tests := []struct {
		name      string
		srv, cli  *tls.Config
		scheme    string
		wantProto string
	}{
		{"plain", nil, nil, "http", "HTTP/1.1"},
		{"tls-h2", srvTLS, cliTLS, "https", "HTTP/2.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := &Server{TLSConfig: tt.srv}
			l := listenOn(t, srv)
			serveHTTP(t, l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, r.Proto+" "+r.RemoteAddr)
			}))
			tr := &http.Transport{TLSClientConfig: tt.cli, ForceAttemptHTTP2: true}
			defer tr.CloseIdleConnections()
			cl := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			for range 3 { // one connection, kept alive
				resp, err := cl.Get(tt.scheme + "://" + l.Addr().String() + "/")
				if err != nil {
					t.Fatal(err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.Proto != tt.wantProto || string(body[:len(tt.wantProto)]) != tt.wantProto {
					t.Fatalf("response %s %q, %v; want %s both ways", resp.Proto, body, err, tt.wantProto)
				}
			}
			// The accept loop counts a plain connection accepted once its
			// Accept has taken it, which the requests may outrun.
			waitFor(t, "the connection counted accepted", func() bool { return srv.Stats().Accepted == 1 })
			if st := srv.Stats(); st.Accepted != 1 || st.Active != 1 || st.BytesIn == 0 || st.BytesOut == 0 {
				t.Errorf("Stats %+v; want 1 accepted, 1 active, bytes both ways", st)
			}
			tr.CloseIdleConnections()
			waitFor(t, "the connection to close", func() bool { return srv.Stats().Closed == 1 })
			st := srv.Stats()
			if st.Active != 0 || (tt.srv != nil) != (st.TLSHandshakes == 1) {
				t.Errorf("Stats %+v; want none active, %d TLS handshakes", st, st.TLSHandshakes)
			}
		})
	}
}

// TestListenerConnTypes: Accept returns a *tls.Conn for TLS, and for plain
// TCP a connection with io.ReaderFrom and io.WriterTo, whose ReadFrom of a
// file (net/http's sendfile path) and WriteTo deliver every byte and are
// counted.
func TestListenerConnTypes(t *testing.T) {
	t.Run("tls", func(t *testing.T) {
		conf, cli := tlsConfigs(t)
		l := listenOn(t, &Server{TLSConfig: conf})
		go tlsDial(l.Addr(), cli)
		if c := acceptOne(t, l); func() bool { _, ok := c.(*tls.Conn); return !ok }() {
			t.Fatalf("Accept returned a %T, want *tls.Conn", c)
		}
	})
	t.Run("plain", func(t *testing.T) {
		srv := &Server{}
		l := listenOn(t, srv)
		peer := dial(t, l.Addr())
		c := acceptOne(t, l)
		rf, ok1 := c.(io.ReaderFrom)
		wt, ok2 := c.(io.WriterTo)
		if !ok1 || !ok2 {
			t.Fatalf("Accept returned a %T: io.ReaderFrom %v, io.WriterTo %v; want both", c, ok1, ok2)
		}
		content := pattern(1, 1<<20)
		name := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(name, content, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		sent := make(chan error, 1)
		go func() {
			_, err := rf.ReadFrom(f)
			c.(interface{ CloseWrite() error }).CloseWrite()
			sent <- err
		}()
		h := sha256.New()
		peer.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.Copy(h, peer); err != nil {
			t.Fatal(err)
		}
		if err := <-sent; err != nil || [32]byte(h.Sum(nil)) != sha256.Sum256(content) {
			t.Fatalf("ReadFrom: %v; the peer's sha256 matches: %v", err, [32]byte(h.Sum(nil)) == sha256.Sum256(content))
		}
		go func() { peer.Write([]byte("back")); peer.(*net.TCPConn).CloseWrite() }()
		var got sinkWriter
		if n, err := wt.WriteTo(&got); err != nil || n != 4 {
			t.Fatalf("WriteTo: %d, %v; want 4 bytes", n, err)
		}
		if st := srv.Stats(); st.BytesOut != 1<<20 || st.BytesIn != 4 {
			t.Errorf("BytesOut %d BytesIn %d; want %d and 4", st.BytesOut, st.BytesIn, 1<<20)
		}
	})
}

// sinkWriter counts what is written to it.
type sinkWriter struct{ n int }

func (w *sinkWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

// TestListenerAdmission: the Server's limits apply to the Listener's
// connections: refused ones are closed and counted, and closing an
// accepted one (twice) frees its MaxConns slot and per-IP count once.
func TestListenerAdmission(t *testing.T) {
	tests := []struct {
		name    string
		srv     *Server
		reason  func(Rejections) uint64
		refused bool // the connection beyond the first is refused (else it waits)
	}{
		{"per-ip", &Server{MaxConnsPerIP: 1}, func(r Rejections) uint64 { return r.PerIP }, true},
		{"max-conns-reject", &Server{MaxConns: 1, Overflow: pool.Reject}, func(r Rejections) uint64 { return r.Overload }, true},
		{"max-conns-block", &Server{MaxConns: 1}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := tt.srv
			l := listenOn(t, srv)
			dial(t, l.Addr())
			first := acceptOne(t, l)
			second := dial(t, l.Addr())
			if tt.refused {
				expectClosed(t, second)
				if st := srv.Stats(); tt.reason(st.Rejections) != 1 || st.Rejected != 1 {
					t.Errorf("Rejections %+v; want 1", st.Rejections)
				}
			} else {
				waiting := make(chan net.Conn, 1)
				go func() {
					if c, err := l.Accept(); err == nil {
						waiting <- c
					}
				}()
				select {
				case c := <-waiting:
					c.Close()
					t.Fatal("a connection beyond MaxConns was accepted under Block")
				case <-time.After(100 * time.Millisecond):
				}
				first.Close()
				first.Close() // a second Close must not free a second slot
				select {
				case c := <-waiting:
					c.Close()
				case <-time.After(10 * time.Second):
					t.Fatal("the waiting connection was not accepted after the first closed")
				}
			}
			first.Close()
			first.Close()
			waitFor(t, "the closes to be counted", func() bool { return srv.Stats().Active == 0 })
			// Under Block the accept loop holds a slot while it waits for
			// the next connection.
			if n, want := len(srv.slots), map[pool.Policy]int{pool.Block: 1}[srv.Overflow]; n != want {
				t.Errorf("%d MaxConns slots held with no connection open, want %d", n, want)
			}
			srv.perIP.mu.Lock()
			held := len(srv.perIP.m)
			srv.perIP.mu.Unlock()
			if held != 0 {
				t.Errorf("per-IP counts held for %d addresses with no connection open", held)
			}
			dial(t, l.Addr())
			acceptOne(t, l).Close() // there is room again
		})
	}
}

// TestListenerAccess: a client the Access rules refuse never reaches
// Accept.
func TestListenerAccess(t *testing.T) {
	srv := &Server{Access: &Access{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}
	l := listenOn(t, srv)
	expectClosed(t, dial(t, l.Addr()))
	if st := srv.Stats(); st.Rejections.Access != 1 || st.Accepted != 0 {
		t.Errorf("Stats %+v; want 1 refused by access, none accepted", st)
	}
}

// TestListenerProxyProtocol: behind a trusted proxy, the accepted
// connection reports the header's addresses and reads what follows it;
// an untrusted peer's connection is closed and counted.
func TestListenerProxyProtocol(t *testing.T) {
	tests := []struct {
		name    string
		trusted []netip.Prefix
		version int
	}{
		{"v1", trustLoopback, 1},
		{"v2", trustLoopback, 2},
		{"untrusted", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := &Server{ProxyProtocol: &proxyproto.Policy{Trusted: tt.trusted}}
			l := listenOn(t, srv)
			peer := dial(t, l.Addr())
			peer.Write(append(proxyHeader(t, tt.version, proxyproto.Proxy, "203.0.113.7:4242", "198.51.100.1:443"), "GET"...))
			if tt.trusted[0] != trustLoopback[0] {
				expectClosed(t, peer)
				if st := srv.Stats(); st.Rejections.Proxy != 1 || st.Accepted != 0 {
					t.Errorf("Stats %+v; want 1 PROXY rejection", st)
				}
				return
			}
			c := acceptOne(t, l)
			if c.RemoteAddr().String() != "203.0.113.7:4242" || c.LocalAddr().String() != "198.51.100.1:443" {
				t.Errorf("RemoteAddr %s LocalAddr %s; want the header's", c.RemoteAddr(), c.LocalAddr())
			}
			got := make([]byte, 3)
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.ReadFull(c, got); err != nil || string(got) != "GET" {
				t.Errorf("read %q, %v after the header; want GET", got, err)
			}
		})
	}
}

// TestListenerHandshakeTimeout: a client that connects and sends nothing
// is closed at HandshakeTimeout and counted, and meanwhile a TLS client
// behind it is accepted: handshakes are off the accept path.
func TestListenerHandshakeTimeout(t *testing.T) {
	conf, cli := tlsConfigs(t)
	srv := &Server{TLSConfig: conf, HandshakeTimeout: 300 * time.Millisecond}
	l := listenOn(t, srv)
	silent := dial(t, l.Addr())
	go tlsDial(l.Addr(), cli)
	acceptOne(t, l)
	begin := time.Now()
	expectClosed(t, silent)
	if took := time.Since(begin); took > 5*time.Second {
		t.Errorf("silent client closed after %v, want about 300ms", took)
	}
	waitFor(t, "the timeout to be counted", func() bool { st := srv.Stats(); return st.TLSHandshakeErrors == 1 && st.Timeouts == 1 })
	if st := srv.Stats(); st.TLSHandshakes != 1 {
		t.Errorf("TLSHandshakes %d, want 1", st.TLSHandshakes)
	}
}

// TestListenerStop: after Close, Accept fails with net.ErrClosed and the
// connections already out stay open; after Shutdown it fails with both
// net.ErrClosed and ErrServerClosed; Shutdown waits for the connections
// out until its context ends, then closes them.
func TestListenerStop(t *testing.T) {
	t.Run("close", func(t *testing.T) {
		l := listenOn(t, &Server{})
		peer := dial(t, l.Addr())
		c := acceptOne(t, l)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) || errors.Is(err, ErrServerClosed) {
			t.Errorf("Accept after Close: %v, want net.ErrClosed alone", err)
		}
		checkEcho(t, roundTripVia(t, peer, c, []byte("still open")), []byte("still open"))
	})
	t.Run("shutdown", func(t *testing.T) {
		srv := &Server{}
		l, err := srv.Listener(listen(t, "tcp"))
		if err != nil {
			t.Fatal(err)
		}
		peer := dial(t, l.Addr())
		acceptOne(t, l) // kept open: its owner does not close it
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown with a connection out = %v, want the context's deadline", err)
		}
		expectClosed(t, peer)
		if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) || !errors.Is(err, ErrServerClosed) {
			t.Errorf("Accept after Shutdown: %v, want net.ErrClosed and ErrServerClosed", err)
		}
		if err := l.Close(); err != nil {
			t.Errorf("Close after Shutdown: %v", err)
		}
		waitFor(t, "the connection to be released", func() bool { return srv.Stats().Active == 0 })
	})
	t.Run("no-handler-needed", func(t *testing.T) {
		srv := &Server{}
		if err := srv.Serve(listen(t, "tcp")); !errors.Is(err, ErrNoHandler) {
			t.Errorf("Serve without a Handler = %v, want ErrNoHandler", err)
		}
		if _, err := (&Server{MaxConns: -1}).Listener(listen(t, "tcp")); err == nil {
			t.Error("Listener with MaxConns -1 succeeded")
		}
	})
}

// roundTripVia writes msg from peer and echoes it back through c.
func roundTripVia(t *testing.T, peer, c net.Conn, msg []byte) []byte {
	t.Helper()
	go func() {
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(c, buf); err == nil {
			c.Write(buf)
		}
	}()
	return roundTrip(t, peer, msg)
}

// TestListenerAlongsideServe: one Server serves a Handler on one listener
// and hands out another's connections; MaxConns is shared.
func TestListenerAlongsideServe(t *testing.T) {
	srv := &Server{Handler: echoHandler(), MaxConns: 2, Overflow: pool.Reject}
	ln := listen(t, "tcp")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	t.Cleanup(func() { // after listenOn's Shutdown: cleanups run last first
		if err := <-errc; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	l := listenOn(t, srv)
	checkEcho(t, roundTrip(t, dial(t, ln.Addr()), []byte("served")), []byte("served"))
	dial(t, l.Addr())
	acceptOne(t, l)
	expectClosed(t, dial(t, ln.Addr())) // both slots are taken
	if st := srv.Stats(); st.Active != 2 || st.Rejections.Overload != 1 {
		t.Errorf("Stats %+v; want 2 active and 1 overload", st)
	}
}
