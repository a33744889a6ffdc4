package tlsconf_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sockpool/sockpool/tlsconf"
)

// TestMain fails the run if any goroutine outlives the tests: the echo
// servers, their connections and Reloader.Watch must all be gone.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}

// waitTimeout bounds every wait in these tests for something that should
// happen almost at once.
const waitTimeout = 10 * time.Second

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

// certSpec describes a test certificate.
type certSpec struct {
	cn        string
	hosts     []string         // DNS names and IP addresses
	notBefore time.Time        // zero: an hour ago
	notAfter  time.Time        // zero: in a day
	ca        bool             // a CA that can sign others
	parent    *tls.Certificate // the issuer; nil: self-signed
	client    bool             // for client authentication instead of server
}

// makeCert returns a certificate with an ECDSA P-256 key, as spec says.
func makeCert(t testing.TB, spec certSpec) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: spec.cn},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	if !spec.notBefore.IsZero() {
		tmpl.NotBefore = spec.notBefore
	}
	if !spec.notAfter.IsZero() {
		tmpl.NotAfter = spec.notAfter
	}
	if spec.ca {
		tmpl.IsCA = true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
		tmpl.ExtKeyUsage = nil
	}
	if spec.client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	for _, h := range spec.hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	parent, signer := tmpl, any(key)
	if spec.parent != nil {
		parent, signer = spec.parent.Leaf, spec.parent.PrivateKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// selfSigned returns tlsconf.SelfSigned for localhost and 127.0.0.1.
func selfSigned(t testing.TB) *tls.Certificate {
	t.Helper()
	cert, err := tlsconf.SelfSigned("localhost", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// writePair writes cert to name.pem and name.key in dir and returns the
// paths.
func writePair(t testing.TB, dir, name string, cert *tls.Certificate) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	if err := tlsconf.WriteFiles(cert, certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// writeFile writes data to name in dir and returns the path.
func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// pool returns a pool trusting the leaves of certs.
func pool(certs ...*tls.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c.Leaf)
	}
	return p
}

// serve starts a TLS echo server on a loopback port and returns its
// address. It is stopped, its connections closed and its goroutines
// waited for, when the test ends.
func serve(t testing.TB, conf *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", conf)
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
		done  bool
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if done {
				mu.Unlock()
				c.Close()
				return
			}
			conns[c] = struct{}{}
			mu.Unlock()
			wg.Go(func() {
				defer func() {
					mu.Lock()
					delete(conns, c)
					mu.Unlock()
					c.Close()
				}()
				c.SetDeadline(time.Now().Add(waitTimeout))
				io.Copy(c, c) // the handshake runs on the first Read
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		done = true
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// dial connects to addr with conf, runs the handshake and one echo round
// trip, and returns the connection (closed when the test ends) or the
// first error. The round trip matters: under TLS 1.3 the client's
// handshake completes before the server has checked the client's
// certificate, so a refusal shows only on the first read.
func dial(t testing.TB, addr string, conf *tls.Config) (*tls.Conn, error) {
	t.Helper()
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: waitTimeout}, Config: conf}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := nc.(*tls.Conn)
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(waitTimeout))
	if err := echo(c, "ping\n"); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// echo writes msg to c and checks that it comes back.
func echo(c net.Conn, msg string) error {
	if _, err := io.WriteString(c, msg); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if string(got) != msg {
		return fmt.Errorf("echo: got %q, want %q", got, msg)
	}
	return nil
}

// clientConf returns a client Config from tlsconf.Client that trusts roots
// and expects the server name "localhost".
func clientConf(t testing.TB, roots *x509.CertPool) *tls.Config {
	t.Helper()
	conf, err := tlsconf.Client(tlsconf.ClientConfig{RootCAs: roots, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	return conf
}

// logBuffer is a slog handler target that tests can read while another
// goroutine logs.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// errIs reports whether err matches want, for table tests where want may
// be nil (no error expected).
func errIs(err, want error) bool {
	if want == nil {
		return err == nil
	}
	return errors.Is(err, want)
}
