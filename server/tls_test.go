package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockpool/sockpool/tlsconf"
)

// testCert is one self-signed certificate for the package's TLS tests.
var testCert = sync.OnceValues(func() (*tls.Certificate, error) {
	return tlsconf.SelfSigned("localhost", "127.0.0.1")
})

// tlsConfigs returns a server config with tlsconf's defaults and a client
// config that trusts it.
func tlsConfigs(t testing.TB) (srv, cli *tls.Config) {
	t.Helper()
	cert, err := testCert()
	if err != nil {
		t.Fatal(err)
	}
	return serverConfig(t, tlsconf.Config{Certificate: cert}), clientConfig(t, cert, nil)
}

func serverConfig(t testing.TB, c tlsconf.Config) *tls.Config {
	t.Helper()
	conf, err := tlsconf.Server(c)
	if err != nil {
		t.Fatal(err)
	}
	return conf
}

// clientConfig trusts ca and presents cert (nil: none).
func clientConfig(t testing.TB, ca, cert *tls.Certificate) *tls.Config {
	t.Helper()
	roots, err := tlsconf.CertPool(ca)
	if err != nil {
		t.Fatal(err)
	}
	conf, err := tlsconf.Client(tlsconf.ClientConfig{RootCAs: roots, ServerName: "localhost", Certificate: cert})
	if err != nil {
		t.Fatal(err)
	}
	return conf
}

// dialTLS connects and completes the handshake.
func dialTLS(t testing.TB, addr net.Addr, conf *tls.Config) *tls.Conn {
	t.Helper()
	c, err := tlsDial(addr, conf)
	if err != nil {
		t.Fatalf("TLS dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func tlsDial(addr net.Addr, conf *tls.Config) (*tls.Conn, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	c, err := d.Dial(addr.Network(), addr.String())
	if err != nil {
		return nil, err
	}
	tc := tls.Client(c, conf)
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		c.Close()
		return nil, err
	}
	tc.SetDeadline(time.Time{})
	return tc, nil
}

func TestTLSEcho(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		srvConf, cliConf := tlsConfigs(t)
		var sawTLS sync.Map
		rec := newRecorder(HandlerFunc(func(c Conn, in []byte) {
			if st := c.TLS(); st != nil && st.HandshakeComplete {
				sawTLS.Store(c.ID(), st.Version)
			}
			c.Write(in)
		}))
		srv := ec.configure(&Server{Handler: rec, TLSConfig: srvConf})
		addr := serve(t, srv, "tcp")
		for _, size := range []int{1, 16<<10 + 1, 1 << 20} {
			c := dialTLS(t, addr, cliConf)
			msg := pattern(uint64(size)+3, size)
			checkEcho(t, roundTrip(t, c, msg), msg)
			if v := c.ConnectionState().Version; v != tls.VersionTLS13 {
				t.Errorf("negotiated %s, want TLS 1.3", tls.VersionName(v))
			}
			c.Close()
		}
		waitFor(t, "3 OnClose", func() bool { return len(rec.closes()) == 3 })
		n := 0
		sawTLS.Range(func(_, v any) bool {
			n++
			if v != uint16(tls.VersionTLS13) {
				t.Errorf("Conn.TLS().Version = %v", v)
			}
			return true
		})
		if n != 3 {
			t.Errorf("Conn.TLS() reported a complete handshake on %d connections, want 3", n)
		}
		if st := srv.Stats(); st.TLSHandshakes != 3 || st.TLSHandshakeErrors != 0 || rec.opened != 3 {
			t.Errorf("Stats TLSHandshakes/TLSHandshakeErrors = %d/%d, OnOpen ran %d times; want 3/0, 3", st.TLSHandshakes, st.TLSHandshakeErrors, rec.opened)
		}
		if st := srv.Stats(); st.BytesIn != st.BytesOut || st.BytesIn != 1+16<<10+1+1<<20 {
			t.Errorf("Stats BytesIn/BytesOut = %d/%d, want the plaintext, %d", st.BytesIn, st.BytesOut, 1+16<<10+1+1<<20)
		}
	})
}

// TestTLSRefused: TLS 1.0 and 1.1 clients and, under mutual TLS, a client
// without a certificate are refused, counted, and never reach the handler.
func TestTLSRefused(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		cert, err := testCert()
		if err != nil {
			t.Fatal(err)
		}
		clientCert, err := tlsconf.SelfSigned("client")
		if err != nil {
			t.Fatal(err)
		}
		cas, err := tlsconf.CertPool(clientCert)
		if err != nil {
			t.Fatal(err)
		}
		rec := newRecorder(echoHandler())
		srv := ec.configure(&Server{Handler: rec, TLSConfig: serverConfig(t, tlsconf.Config{
			Certificate: cert, ClientCAs: cas, ClientAuth: tlsconf.RequireClientCert,
		})})
		addr := serve(t, srv, "tcp")

		for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
			conf := clientConfig(t, cert, clientCert)
			conf.MinVersion, conf.MaxVersion = v, v
			if c, err := tlsDial(addr, conf); err == nil {
				c.Close()
				t.Errorf("%s handshake succeeded", tls.VersionName(v))
			}
		}

		// TLS 1.3 clients finish their side before the server checks their
		// certificate: the refusal arrives as an alert on the first read.
		c, err := tlsDial(addr, clientConfig(t, cert, nil))
		if err == nil {
			c.SetDeadline(time.Now().Add(10 * time.Second))
			c.Write([]byte("x"))
			_, err = c.Read(make([]byte, 1))
			c.Close()
		}
		if err == nil || !strings.Contains(err.Error(), "certificate required") {
			t.Errorf("mTLS without a client certificate: %v, want a certificate required alert", err)
		}

		good := dialTLS(t, addr, clientConfig(t, cert, clientCert))
		checkEcho(t, roundTrip(t, good, []byte("mtls")), []byte("mtls"))
		waitFor(t, "3 failed handshakes", func() bool { return srv.Stats().TLSHandshakeErrors == 3 })
		if st := srv.Stats(); st.TLSHandshakes != 1 || st.Timeouts != 0 || rec.opened != 1 {
			t.Errorf("Stats TLSHandshakes/Timeouts = %d/%d, OnOpen ran %d times; want 1/0, 1", st.TLSHandshakes, st.Timeouts, rec.opened)
		}
	})
}

// TestTLSReload: a reloaded certificate is served to new handshakes while a
// connection made with the old one keeps working.
func TestTLSReload(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		dir := t.TempDir()
		certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		first, err := tlsconf.SelfSigned("localhost")
		if err != nil {
			t.Fatal(err)
		}
		second, err := tlsconf.SelfSigned("localhost")
		if err != nil {
			t.Fatal(err)
		}
		if err := tlsconf.WriteFiles(first, certFile, keyFile); err != nil {
			t.Fatal(err)
		}
		r, err := tlsconf.NewReloader(tlsconf.Config{CertFile: certFile, KeyFile: keyFile})
		if err != nil {
			t.Fatal(err)
		}
		srv := ec.configure(&Server{Handler: echoHandler(), TLSConfig: r.TLSConfig()})
		addr := serve(t, srv, "tcp")

		old := dialTLS(t, addr, clientConfig(t, first, nil))
		checkEcho(t, roundTrip(t, old, []byte("before")), []byte("before"))
		if err := tlsconf.WriteFiles(second, certFile, keyFile); err != nil {
			t.Fatal(err)
		}
		if err := r.Reload(); err != nil {
			t.Fatal(err)
		}
		if _, err := tlsDial(addr, clientConfig(t, first, nil)); err == nil {
			t.Error("a client trusting only the old certificate still connects after the reload")
		}
		fresh := dialTLS(t, addr, clientConfig(t, second, nil))
		if got := fresh.ConnectionState().PeerCertificates[0].Raw; !bytes.Equal(got, second.Certificate[0]) {
			t.Error("a new connection did not get the reloaded certificate")
		}
		checkEcho(t, roundTrip(t, fresh, []byte("new")), []byte("new"))
		checkEcho(t, roundTrip(t, old, []byte("after")), []byte("after"))
	})
}

// TestTLSSlowHandshakeFlood: 50 clients that connect and send nothing hold
// 50 handshakes (and workers) open; an established connection's echo must
// not stall behind them.
func TestTLSSlowHandshakeFlood(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		srvConf, cliConf := tlsConfigs(t)
		srv := ec.configure(&Server{Handler: echoHandler(), TLSConfig: srvConf, Workers: 64})
		addr := serve(t, srv, "tcp")
		live := dialTLS(t, addr, cliConf)
		checkEcho(t, roundTrip(t, live, []byte("first")), []byte("first"))
		const silent = 50
		for range silent {
			dial(t, addr)
		}
		waitFor(t, "the silent handshakes to hold workers", func() bool { return srv.Stats().BusyWorkers >= silent })
		for i := range 20 {
			msg := pattern(uint64(i), 1000)
			start := time.Now()
			checkEcho(t, roundTrip(t, live, msg), msg)
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("echo %d took %v behind %d pending handshakes", i, d, silent)
			}
		}
	})
}

// TestTLSWriteFromOtherGoroutines: Writes from several goroutines through
// TLS are neither torn nor reordered.
func TestTLSWriteFromOtherGoroutines(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		const writers, records, recLen = 4, 1000, 64
		srvConf, cliConf := tlsConfigs(t)
		srv := ec.configure(&Server{TLSConfig: srvConf, Handler: HandlerFunc(func(c Conn, in []byte) {
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					rec := make([]byte, recLen)
					for i := range records {
						binary.BigEndian.PutUint32(rec[0:], uint32(w))
						binary.BigEndian.PutUint32(rec[4:], uint32(i))
						for j := 8; j < recLen; j++ {
							rec[j] = byte(w + i + j)
						}
						if _, err := c.Write(rec); err != nil {
							return
						}
					}
				})
			}
			wg.Wait()
		})})
		c := dialTLS(t, serve(t, srv, "tcp"), cliConf)
		c.Write([]byte("go"))
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		next := make([]uint32, writers)
		rec := make([]byte, recLen)
		r := bufio.NewReader(c)
		for range writers * records {
			if _, err := io.ReadFull(r, rec); err != nil {
				t.Fatal(err)
			}
			w, i := binary.BigEndian.Uint32(rec[0:]), binary.BigEndian.Uint32(rec[4:])
			if w >= writers || i != next[w] {
				t.Fatalf("record from writer %d numbered %d, want %d", w, i, next[min(w, writers-1)])
			}
			for j := 8; j < recLen; j++ {
				if rec[j] != byte(int(w)+int(i)+j) {
					t.Fatalf("record %d of writer %d torn at byte %d", i, w, j)
				}
			}
			next[w]++
		}
	})
}

// TestTLSGarbageRecord: a record that does not decrypt closes its own
// connection, with an error wrapping ErrTLSRecord, and no other.
func TestTLSGarbageRecord(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		srvConf, cliConf := tlsConfigs(t)
		rec := newRecorder(echoHandler())
		srv := ec.configure(&Server{Handler: rec, TLSConfig: srvConf})
		addr := serve(t, srv, "tcp")
		good := dialTLS(t, addr, cliConf)
		raw := dial(t, addr)
		bad := tls.Client(raw, cliConf)
		checkEcho(t, roundTrip(t, bad, []byte("ok")), []byte("ok"))
		// An application data record of 32 bytes that no key produced.
		garbage := append([]byte{23, 3, 3, 0, 32}, pattern(99, 32)...)
		raw.Write(garbage)
		raw.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.Copy(io.Discard, raw); err != nil && isTimeout(err) {
			t.Fatalf("the connection that sent garbage was not closed: %v", err)
		}
		waitFor(t, "OnClose", func() bool { return len(rec.closes()) == 1 })
		if errs := rec.closes()[0]; !errors.Is(errs[0], ErrTLSRecord) {
			t.Errorf("OnClose error %v, want one wrapping ErrTLSRecord", errs[0])
		}
		checkEcho(t, roundTrip(t, good, []byte("still")), []byte("still"))
	})
}

// startTLSHandler speaks a line protocol until "STARTTLS", then echoes
// whatever arrives through TLS.
type startTLSHandler struct {
	conf *tls.Config
	errs chan error
}

const (
	goAhead     = "220 go ahead\r\n"
	secureHello = "250 secure\r\n"
)

func (h *startTLSHandler) OnData(c Conn, in []byte) {
	if c.TLS() != nil {
		c.Write(in)
		return
	}
	for line, rest, ok := takeLine(c, in); ok; line, rest, ok = takeLine(c, rest) {
		cmd := strings.TrimSpace(string(line))
		if cmd == "STARTTLS" {
			c.Write([]byte(goAhead))
			if err := c.StartTLS(h.conf, rest); err != nil {
				h.errs <- err
			}
			if err := c.StartTLS(h.conf, nil); !errors.Is(err, ErrAlreadyTLS) {
				h.errs <- fmt.Errorf("a second StartTLS returned %v, want ErrAlreadyTLS", err)
			}
			// Written after StartTLS: must go out encrypted, first.
			c.Write([]byte(secureHello))
			return
		}
		c.Write([]byte("plain " + cmd + "\n"))
	}
}

// takeLine adds in to the partial line c's context keeps and returns the
// first whole line, without its "\n", and what follows it; with no whole
// line yet it keeps the partial one and reports false.
func takeLine(c Conn, in []byte) (line, rest []byte, ok bool) {
	var buf []byte
	if v := c.Value(); v != nil {
		buf = v.([]byte)
	}
	buf = append(buf, in...)
	i := bytes.IndexByte(buf, '\n')
	if i < 0 {
		c.SetValue(buf)
		return nil, nil, false
	}
	c.SetValue(nil)
	return buf[:i], buf[i+1:], true
}

// hiddenCommand is a client's net.Conn that sends "STARTTLS\n" in front of
// the first bytes written (the ClientHello: one packet) and consumes the
// server's go-ahead reply before the first read.
type hiddenCommand struct {
	net.Conn
	sent, skipped bool
}

func (h *hiddenCommand) Write(p []byte) (int, error) {
	if !h.sent {
		h.sent = true
		if _, err := h.Conn.Write(append([]byte("STARTTLS\n"), p...)); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return h.Conn.Write(p)
}

func (h *hiddenCommand) Read(p []byte) (int, error) {
	if !h.skipped {
		h.skipped = true
		got := make([]byte, len(goAhead))
		if _, err := io.ReadFull(h.Conn, got); err != nil || string(got) != goAhead {
			return 0, fmt.Errorf("go-ahead reply %q, %v", got, err)
		}
	}
	return h.Conn.Read(p)
}

func TestStartTLS(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		srvConf, cliConf := tlsConfigs(t)
		h := &startTLSHandler{conf: srvConf, errs: make(chan error, 10)}
		srv := ec.configure(&Server{Handler: h})
		addr := serve(t, srv, "tcp")

		for _, pipelined := range []bool{false, true} {
			c := dial(t, addr)
			c.SetDeadline(time.Now().Add(10 * time.Second))
			c.Write([]byte("HELLO\n"))
			r := bufio.NewReader(c)
			if line, err := r.ReadString('\n'); line != "plain HELLO\n" {
				t.Fatalf("plain reply %q, %v", line, err)
			}
			var tc *tls.Conn
			if pipelined {
				tc = tls.Client(&hiddenCommand{Conn: c}, cliConf)
			} else {
				c.Write([]byte("STARTTLS\n"))
				if line, err := r.ReadString('\n'); line != goAhead {
					t.Fatalf("STARTTLS reply %q, %v", line, err)
				}
				tc = tls.Client(c, cliConf)
			}
			if err := tc.Handshake(); err != nil {
				t.Fatalf("pipelined=%v: handshake after STARTTLS: %v", pipelined, err)
			}
			hello := make([]byte, len(secureHello))
			if _, err := io.ReadFull(tc, hello); err != nil || string(hello) != secureHello {
				t.Fatalf("first TLS data %q, %v; want %q", hello, err, secureHello)
			}
			for _, size := range []int{5, 100_000} {
				msg := pattern(uint64(size), size)
				checkEcho(t, roundTrip(t, tc, msg), msg)
			}
			tc.Close()
		}
		close(h.errs)
		for err := range h.errs {
			t.Error(err)
		}
		if st := srv.Stats(); st.TLSHandshakes != 2 {
			t.Errorf("Stats.TLSHandshakes = %d, want 2", st.TLSHandshakes)
		}
	})
}

// TestStartTLSFails: a client that answers the go-ahead with garbage is
// closed, and OnClose gets ErrTLSHandshake.
func TestStartTLSFails(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		srvConf, _ := tlsConfigs(t)
		h := &startTLSHandler{conf: srvConf, errs: make(chan error, 10)}
		rec := newRecorder(h)
		srv := ec.configure(&Server{Handler: rec})
		c := dial(t, serve(t, srv, "tcp"))
		c.Write([]byte("STARTTLS\nthis is not a ClientHello\n"))
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		io.Copy(io.Discard, c)
		waitFor(t, "OnClose", func() bool { return len(rec.closes()) == 1 })
		if errs := rec.closes()[0]; !errors.Is(errs[0], ErrTLSHandshake) {
			t.Errorf("OnClose error %v, want ErrTLSHandshake", errs[0])
		}
		if st := srv.Stats(); st.TLSHandshakeErrors != 1 {
			t.Errorf("Stats.TLSHandshakeErrors = %d, want 1", st.TLSHandshakeErrors)
		}
	})
}

// TestTLSOpenSSLInterop: openssl s_client completes a handshake with each
// engine and gets a line echoed.
func TestTLSOpenSSLInterop(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not in PATH; install it (apt-get install -y openssl) to run the interop test")
	}
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		srvConf, _ := tlsConfigs(t)
		cert, _ := testCert()
		srv := ec.configure(&Server{Handler: echoHandler(), TLSConfig: srvConf})
		addr := serve(t, srv, "tcp")
		certPEM, keyPEM := filepath.Join(t.TempDir(), "ca.pem"), filepath.Join(t.TempDir(), "key.pem")
		if err := tlsconf.WriteFiles(cert, certPEM, keyPEM); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", addr.String(), "-servername", "localhost",
			"-brief", "-CAfile", certPEM, "-verify_return_error", "-verify_hostname", "localhost")
		cmd.WaitDelay = time.Second
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		const line = "hello from openssl"
		io.WriteString(stdin, line+"\n")
		r := bufio.NewReader(stdout)
		echoed := false
		for !echoed {
			got, err := r.ReadString('\n')
			echoed = strings.TrimRight(got, "\r\n") == line
			if err != nil {
				break
			}
		}
		stdin.Close()
		cmd.Wait()
		if !echoed {
			t.Errorf("openssl s_client got no echo; its stderr:\n%s", stderr.String())
		}
		if !strings.Contains(stderr.String(), "TLSv1.3") {
			t.Errorf("openssl did not report TLS 1.3; its stderr:\n%s", stderr.String())
		}
	})
}

// BenchmarkEchoTLS measures closed-loop TLS echo round trips through each
// engine. threaded-netpoll is the design the evented engine's in-memory
// transport was measured against: a goroutine per connection reading
// through crypto/tls.
//
//	go test -run '^$' -bench EchoTLS -count 6 ./server/ | tee new.txt; benchstat -col /server new.txt
func BenchmarkEchoTLS(b *testing.B) {
	const bufSize = 64 << 10
	srvConf, cliConf := tlsConfigs(b)
	for _, size := range []int{1 << 10, 64 << 10} {
		for _, conns := range []int{1, 50} {
			for _, ec := range engineCases {
				b.Run(fmt.Sprintf("size=%d/conns=%d/server=%s", size, conns, ec.name), func(b *testing.B) {
					srv := ec.configure(&Server{Handler: echoHandler(), ReadBufferSize: bufSize, TLSConfig: srvConf})
					addr := serve(b, srv, "tcp")
					benchEchoWith(b, func() net.Conn { return dialTLS(b, addr, cliConf) }, size, conns)
				})
			}
		}
	}
}

// TestTLSClose: a handler's Close flushes its last Write and the
// close_notify, Writes after it fail, and Shutdown closes the others with
// ErrServerClosed.
func TestTLSClose(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		srvConf, cliConf := tlsConfigs(t)
		lateErr := make(chan error, 1)
		rec := newRecorder(HandlerFunc(func(c Conn, in []byte) {
			c.Write(in)
			if string(in) == "quit" {
				c.Write([]byte("bye"))
				c.Close()
				_, err := c.Write([]byte("late"))
				lateErr <- err
			}
		}))
		srv := ec.configure(&Server{Handler: rec, TLSConfig: srvConf})
		ln := listen(t, "tcp")
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve(ln) }()
		c := dialTLS(t, ln.Addr(), cliConf)
		c.Write([]byte("quit"))
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if got, err := io.ReadAll(c); err != nil || string(got) != "quitbye" {
			t.Fatalf("got %q, %v; want \"quitbye\" then EOF", got, err)
		}
		if err := <-lateErr; !errors.Is(err, ErrConnClosed) {
			t.Errorf("Write after Close returned %v, want ErrConnClosed", err)
		}

		stay := dialTLS(t, ln.Addr(), cliConf)
		checkEcho(t, roundTrip(t, stay, []byte("x")), []byte("x"))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- srv.Shutdown(ctx) }()
		stay.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := stay.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Errorf("after Shutdown read %d, %v; want EOF", n, err)
		}
		stay.Close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		<-errc
		closes := rec.closes()
		if len(closes) != 2 {
			t.Fatalf("OnClose ran for %d connections, want 2", len(closes))
		}
		var clean, closed int
		for _, errs := range closes {
			switch {
			case len(errs) == 1 && errs[0] == nil:
				clean++
			case len(errs) == 1 && errors.Is(errs[0], ErrServerClosed):
				closed++
			}
		}
		if clean != 1 || closed != 1 {
			t.Errorf("OnClose errors %v, want one nil and one ErrServerClosed", closes)
		}
	})
}

// TestTLSWriteTimeout: a TLS client that never reads is closed by
// WriteTimeout, with the output bounded meanwhile.
func TestTLSWriteTimeout(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		srvConf, cliConf := tlsConfigs(t)
		rec := newRecorder(HandlerFunc(func(c Conn, in []byte) {
			go func() { // off the loop, so that the evented engine's queue bound applies
				chunk := make([]byte, 1<<20)
				for range 64 {
					if _, err := c.Write(chunk); err != nil {
						return
					}
				}
			}()
		}))
		srv := ec.configure(&Server{Handler: rec, TLSConfig: srvConf, WriteTimeout: 200 * time.Millisecond})
		c := dialTLS(t, serve(t, srv, "tcp"), cliConf)
		c.Write([]byte("x")) // and never read
		waitFor(t, "OnClose", func() bool { return len(rec.closes()) == 1 })
		if errs := rec.closes()[0]; !errors.Is(errs[0], ErrWriteTimeout) {
			t.Errorf("OnClose error %v, want ErrWriteTimeout", errs[0])
		}
	})
}
