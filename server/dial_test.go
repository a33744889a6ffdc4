package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sockpool/sockpool/pool"
)

// peerEcho is the far end of dial tests: a plain net server (over TLS when
// conf is not nil) that echoes every byte. It also speaks a STARTTLS of its
// own: a line "STARTTLS" gets "GO\n", then the server side of a handshake
// with upgrade, and the echo goes on over TLS.
func peerEcho(t testing.TB, network string, conf, upgrade *tls.Config) net.Addr {
	t.Helper()
	ln := listen(t, network)
	if conf != nil {
		ln = tls.NewListener(ln, conf)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				peerServe(c, upgrade)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln.Addr()
}

func peerServe(c net.Conn, upgrade *tls.Config) {
	if upgrade == nil {
		copyPlain(c, c)
		return
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil || line != "STARTTLS\n" {
		return
	}
	c.Write([]byte("GO\n"))
	tc := tls.Server(&prefixConn{Conn: c, prefix: bufferedOf(r)}, upgrade)
	if tc.Handshake() != nil {
		return
	}
	copyPlain(tc, tc)
}

// copyPlain copies src to dst through a buffer of its own. io.Copy between
// two TCP connections would splice(2) through pipes from Go's pipe pool,
// which are closed only when the garbage collector gets to them: the fd
// counts of the tests that follow would drop under their feet.
func copyPlain(dst io.Writer, src io.Reader) {
	io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, make([]byte, 64<<10))
}

// bufferedOf returns what r has read ahead.
func bufferedOf(r *bufio.Reader) []byte {
	b, _ := r.Peek(r.Buffered())
	return append([]byte(nil), b...)
}

// dialSide is the handler of a dialed connection in these tests: it keeps
// what arrives, and reports OnOpen and OnClose.
type dialSide struct {
	mu       sync.Mutex
	got      bytes.Buffer
	grew     chan struct{} // a token after each OnData
	opened   chan Conn
	closed   chan error
	onData   func(d *dialSide, c Conn, in []byte) // nil: keep in
	openSeen bool
}

func newDialSide() *dialSide {
	return &dialSide{grew: make(chan struct{}, 1), opened: make(chan Conn, 1), closed: make(chan error, 1)}
}

func (d *dialSide) OnOpen(c Conn) { d.opened <- c }

func (d *dialSide) OnData(c Conn, in []byte) {
	if d.onData != nil {
		d.onData(d, c, in)
		return
	}
	d.keep(in)
}

func (d *dialSide) keep(in []byte) {
	d.mu.Lock()
	d.got.Write(in)
	d.mu.Unlock()
	select {
	case d.grew <- struct{}{}:
	default:
	}
}

func (d *dialSide) OnClose(c Conn, err error) { d.closed <- err }

// waitFor waits until n bytes have arrived and returns them.
func (d *dialSide) wait(t testing.TB, n int) []byte {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		d.mu.Lock()
		if d.got.Len() >= n {
			b := append([]byte(nil), d.got.Bytes()...)
			d.got.Reset()
			d.mu.Unlock()
			return b
		}
		have := d.got.Len()
		d.mu.Unlock()
		select {
		case <-d.grew:
		case <-deadline:
			t.Fatalf("timed out with %d of %d bytes", have, n)
		}
	}
}

// dialServer is a Server for ec that only dials.
func dialServer(t testing.TB, ec engineCase, s *Server) *Server {
	t.Helper()
	ec.configure(s)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s
}

func TestDialEcho(t *testing.T) {
	forEachSecurity(t, func(t *testing.T, ec engineCase, secure bool) {
		t.Parallel()
		var srvConf, cliConf *tls.Config
		if secure {
			srvConf, cliConf = tlsConfigs(t)
		}
		for _, network := range sendfileNetworks() {
			t.Run(network, func(t *testing.T) {
				addr := peerEcho(t, network, srvConf, nil)
				h := newDialSide()
				srv := dialServer(t, ec, &Server{})
				d := &Dialer{Server: srv, Handler: h, TLSConfig: cliConf, Timeout: 10 * time.Second}
				c, err := d.DialContext(context.Background(), network, addr.String())
				if err != nil {
					t.Fatalf("DialContext: %v", err)
				}
				select {
				case oc := <-h.opened:
					if oc != c {
						t.Errorf("OnOpen got another Conn than DialContext returned")
					}
				default:
					t.Errorf("DialContext returned before OnOpen")
				}
				if got := c.TLS() != nil; got != secure {
					t.Errorf("Conn.TLS() != nil is %v on a connection with TLS %v", got, secure)
				}
				total := 0
				for _, size := range []int{1, 1000, 65537, 4 << 20} {
					msg := pattern(uint64(size)+5, size)
					// In windows of 128 KiB: with more output queued than
					// WriteHighWater the evented engines stop reading, and
					// the peer, which echoes from one goroutine, stops
					// reading when we do.
					for rest := msg; len(rest) > 0; {
						part := rest[:min(len(rest), 128<<10)]
						rest = rest[len(part):]
						if _, err := c.Write(part); err != nil {
							t.Fatalf("Write: %v", err)
						}
						checkEcho(t, h.wait(t, len(part)), part)
					}
					total += size
				}
				c.Close()
				select {
				case err := <-h.closed:
					if err != nil {
						t.Errorf("OnClose got %v, want nil", err)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("no OnClose after Close")
				}
				st := srv.Stats()
				if st.Dialed != 1 || st.Accepted != 0 || st.BytesIn != uint64(total) || st.BytesOut != uint64(total) {
					t.Errorf("Stats Dialed %d Accepted %d BytesIn %d BytesOut %d, want 1, 0, %d, %d", st.Dialed, st.Accepted, st.BytesIn, st.BytesOut, total, total)
				}
			})
		}
	})
}

// TestDialStartTLS: a dialed connection's StartTLS is the client side of
// the handshake.
func TestDialStartTLS(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		srvConf, cliConf := tlsConfigs(t)
		addr := peerEcho(t, "tcp", nil, srvConf)
		h := newDialSide()
		upgraded := make(chan error, 1)
		h.onData = func(d *dialSide, c Conn, in []byte) {
			if c.TLS() != nil {
				d.keep(in)
				return
			}
			if string(in) != "GO\n" {
				upgraded <- fmt.Errorf("reply to STARTTLS: %q", in)
				return
			}
			upgraded <- c.StartTLS(withServerName(cliConf, addr.String()), nil)
		}
		srv := dialServer(t, ec, &Server{})
		c, err := (&Dialer{Server: srv, Handler: h}).Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("STARTTLS\n"))
		if err := <-upgraded; err != nil {
			t.Fatalf("StartTLS: %v", err)
		}
		msg := pattern(9, 100_000)
		go c.Write(msg) // encrypted once the handshake is done
		checkEcho(t, h.wait(t, len(msg)), msg)
		if st := c.TLS(); st == nil || !st.HandshakeComplete {
			t.Errorf("Conn.TLS() = %+v after StartTLS", st)
		}
		if st := srv.Stats(); st.TLSHandshakes != 1 {
			t.Errorf("Stats.TLSHandshakes = %d, want 1", st.TLSHandshakes)
		}
	})
}

func TestDialErrors(t *testing.T) {
	_, cliConf := tlsConfigs(t)
	closedAddr := func(t *testing.T) string {
		ln := listen(t, "tcp")
		addr := ln.Addr().String()
		ln.Close()
		return addr
	}
	// silent accepts and never answers: a TLS handshake to it cannot end.
	silent := func(t *testing.T) string {
		ln := listen(t, "tcp")
		var conns []net.Conn
		done := make(chan struct{})
		t.Cleanup(func() {
			ln.Close()
			<-done
			for _, c := range conns {
				c.Close()
			}
		})
		go func() {
			defer close(done)
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				conns = append(conns, c)
			}
		}()
		return ln.Addr().String()
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name   string
		dialer func(s *Server) *Dialer
		addr   func(t *testing.T) string
		ctx    context.Context
		target error
	}{
		{"refused", func(s *Server) *Dialer { return &Dialer{Server: s} }, closedAddr, nil, syscall.ECONNREFUSED},
		{"canceled", func(s *Server) *Dialer { return &Dialer{Server: s} }, silent, canceled, context.Canceled},
		{"handshake timeout", func(s *Server) *Dialer {
			return &Dialer{Server: s, TLSConfig: cliConf, Timeout: 300 * time.Millisecond}
		}, silent, nil, context.DeadlineExceeded},
		{"not TLS", func(s *Server) *Dialer { return &Dialer{Server: s, TLSConfig: cliConf} }, func(t *testing.T) string { return peerEcho(t, "tcp", nil, nil).String() }, nil, ErrTLSHandshake},
		{"no server", func(*Server) *Dialer { return &Dialer{Handler: newDialSide()} }, closedAddr, nil, ErrNoServer},
	}
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				srv := dialServer(t, ec, &Server{Handler: newDialSide()})
				ctx := tc.ctx
				if ctx == nil {
					ctx = context.Background()
				}
				start := time.Now()
				c, err := tc.dialer(srv).DialContext(ctx, "tcp", tc.addr(t))
				if c != nil || !errors.Is(err, tc.target) {
					t.Fatalf("DialContext = %v, %v; want nil and an error wrapping %v", c, err, tc.target)
				}
				if d := time.Since(start); d > 5*time.Second {
					t.Errorf("took %v", d)
				}
				waitFor(t, "no connection left", func() bool { return srv.Stats().Active == 0 })
			})
		}
	})
}

// TestDialLimits: dialed connections take MaxConns slots (refused under
// Reject when all are taken), and Shutdown closes them.
func TestDialLimits(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		addr := peerEcho(t, "tcp", nil, nil)
		h := newDialSide()
		srv := ec.configure(&Server{Handler: h, MaxConns: 1, Overflow: pool.Reject})
		d := &Dialer{Server: srv}
		if _, err := d.Dial("tcp", addr.String()); err != nil {
			t.Fatal(err)
		}
		if c, err := d.Dial("tcp", addr.String()); c != nil || !errors.Is(err, pool.ErrOverload) {
			t.Errorf("a second Dial with MaxConns 1 = %v, %v; want pool.ErrOverload", c, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		select {
		case err := <-h.closed:
			if !errors.Is(err, ErrServerClosed) {
				t.Errorf("OnClose after Shutdown got %v, want ErrServerClosed", err)
			}
		default:
			t.Error("Shutdown returned before the dialed connection's OnClose")
		}
		if _, err := d.Dial("tcp", addr.String()); !errors.Is(err, ErrServerClosed) {
			t.Errorf("Dial after Shutdown = %v, want ErrServerClosed", err)
		}
		if err := srv.Serve(listen(t, "tcp")); !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve after Shutdown = %v", err)
		}
	})
}

// TestDialWriteTimeout: a dialed connection to a peer that never reads is
// held at the high-water mark and cut by WriteTimeout, as an accepted one.
func TestDialWriteTimeout(t *testing.T) {
	forEachSecurity(t, func(t *testing.T, ec engineCase, secure bool) {
		var srvConf, cliConf *tls.Config
		if secure {
			srvConf, cliConf = tlsConfigs(t)
		}
		ln := listen(t, "tcp")
		t.Cleanup(func() { ln.Close() })
		held := make(chan net.Conn, 1)
		go func() {
			c, err := ln.Accept() // held open, never read (after the handshake)
			if err == nil && srvConf != nil {
				tc := tls.Server(c, srvConf)
				tc.Handshake()
				c = tc
			}
			held <- c
		}()
		t.Cleanup(func() {
			if c := <-held; c != nil {
				c.Close()
			}
		})
		h := newDialSide()
		srv := dialServer(t, ec, &Server{Handler: h, WriteTimeout: 300 * time.Millisecond})
		c, err := (&Dialer{Server: srv, TLSConfig: cliConf}).Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		chunk := make([]byte, 64<<10)
		var werr error
		var peak int64
		for i := 0; i < 1024 && werr == nil; i++ { // up to 64 MiB
			_, werr = c.Write(chunk)
			peak = max(peak, srv.Stats().Queued)
		}
		if !errors.Is(werr, ErrWriteTimeout) {
			t.Fatalf("Write to a peer that never reads = %v, want ErrWriteTimeout", werr)
		}
		limit := int64(DefaultWriteHighWater + len(chunk))
		if secure {
			limit += 1024 // the queue holds ciphertext: a record's header and tag more per 16 KiB
		}
		if peak > limit {
			t.Errorf("Stats.Queued reached %d, over the high-water mark plus a Write (%d)", peak, limit)
		}
		if err := <-h.closed; !errors.Is(err, ErrWriteTimeout) {
			t.Errorf("OnClose got %v, want ErrWriteTimeout", err)
		}
	})
}
