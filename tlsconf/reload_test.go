package tlsconf_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockpool/sockpool/tlsconf"
)

// peerSerial returns the serial number of the certificate c's server
// presented.
func peerSerial(c *tls.Conn) *big.Int {
	return c.ConnectionState().PeerCertificates[0].SerialNumber
}

// noResume returns a client Config trusting certs that makes a full
// handshake every time, so that each connection sees the certificate
// served at that moment.
func noResume(t *testing.T, certs ...*tls.Certificate) *tls.Config {
	conf := clientConf(t, pool(certs...))
	conf.ClientSessionCache = nil
	return conf
}

func TestReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, b, other := selfSigned(t), selfSigned(t), selfSigned(t)
	certFile, keyFile := writePair(t, dir, "server", a)
	r, err := tlsconf.NewReloader(tlsconf.Config{CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	if r.TLSConfig() != r.TLSConfig() {
		t.Error("TLSConfig returns a new Config per call")
	}
	addr := serve(t, r.TLSConfig())
	conf := noResume(t, a, b)

	c1, err := dial(t, addr, conf)
	if err != nil {
		t.Fatal(err)
	}
	if peerSerial(c1).Cmp(a.Leaf.SerialNumber) != 0 {
		t.Fatal("client 1 does not see certificate A")
	}

	writePair(t, dir, "server", b)
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if r.Certificate().Leaf.SerialNumber.Cmp(b.Leaf.SerialNumber) != 0 {
		t.Fatal("Certificate is not B after Reload")
	}
	c2, err := dial(t, addr, conf)
	if err != nil {
		t.Fatal(err)
	}
	if peerSerial(c2).Cmp(b.Leaf.SerialNumber) != 0 {
		t.Error("client 2 does not see certificate B")
	}
	if err := echo(c1, "client 1 after the reload\n"); err != nil {
		t.Errorf("client 1's connection broke at the reload: %v", err)
	}

	// Bad files: Reload fails and B keeps serving.
	now := time.Now()
	expired := makeCert(t, certSpec{cn: "expired", hosts: []string{"localhost"},
		notBefore: now.Add(-48 * time.Hour), notAfter: now.Add(-time.Hour)})
	expiredCert, expiredKey, err := tlsconf.EncodePEM(expired)
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, err := tlsconf.EncodePEM(other)
	if err != nil {
		t.Fatal(err)
	}
	bCert, bKey, err := tlsconf.EncodePEM(b)
	if err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		name      string
		cert, key []byte // nil: remove the file
		want      error
	}{
		{name: "mismatched key", cert: bCert, key: otherKey, want: tlsconf.ErrKeyMismatch},
		{name: "no PEM", cert: []byte("garbage"), key: bKey, want: tlsconf.ErrNoPEM},
		{name: "expired", cert: expiredCert, key: expiredKey, want: tlsconf.ErrExpired},
		{name: "missing key", cert: bCert, key: nil, want: fs.ErrNotExist},
		{name: "empty cert", cert: []byte{}, key: bKey, want: tlsconf.ErrNoPEM},
	}
	for _, tt := range bad {
		writeOrRemove(t, certFile, tt.cert)
		writeOrRemove(t, keyFile, tt.key)
		if err := r.Reload(); !errors.Is(err, tt.want) {
			t.Errorf("%s: Reload = %v, want %v", tt.name, err, tt.want)
		}
		c, err := dial(t, addr, conf)
		if err != nil {
			t.Fatalf("%s: server stopped serving after a failed reload: %v", tt.name, err)
		}
		if peerSerial(c).Cmp(b.Leaf.SerialNumber) != 0 {
			t.Errorf("%s: a failed reload changed the certificate", tt.name)
		}
	}
	if err := echo(c1, "client 1 at the end\n"); err != nil {
		t.Errorf("client 1: %v", err)
	}
}

func writeOrRemove(t *testing.T, name string, data []byte) {
	t.Helper()
	var err error
	if data == nil {
		err = os.Remove(name)
	} else {
		err = os.WriteFile(name, data, 0o600)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
}

// TestReloadClientCAs replaces the client CA file: new handshakes are
// verified against the new CA.
func TestReloadClientCAs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := writePair(t, dir, "server", selfSigned(t))
	ca1 := makeCert(t, certSpec{cn: "CA 1", ca: true})
	ca2 := makeCert(t, certSpec{cn: "CA 2", ca: true})
	client1 := makeCert(t, certSpec{cn: "client 1", parent: ca1, client: true})
	client2 := makeCert(t, certSpec{cn: "client 2", parent: ca2, client: true})
	caFile, _ := writePair(t, dir, "ca", ca1)
	r, err := tlsconf.NewReloader(tlsconf.Config{CertFile: certFile, KeyFile: keyFile,
		ClientCAFile: caFile, ClientAuth: tlsconf.RequireClientCert})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, r.TLSConfig())
	clientWith := func(cert *tls.Certificate) *tls.Config {
		conf := noResume(t, r.Certificate())
		conf.Certificates = []tls.Certificate{*cert}
		return conf
	}
	accepts := func(cert *tls.Certificate) bool {
		_, err := dial(t, addr, clientWith(cert))
		return err == nil
	}
	if !accepts(client1) || accepts(client2) {
		t.Fatal("before the reload: want client 1 accepted and client 2 refused")
	}
	// Client 1 again, with a session to resume after the reload.
	resuming := clientWith(client1)
	resuming.ClientSessionCache = tls.NewLRUClientSessionCache(0)
	for i := range 2 {
		c, err := dial(t, addr, resuming)
		if err != nil {
			t.Fatal(err)
		}
		if c.ConnectionState().DidResume != (i == 1) {
			t.Fatalf("connection %d: DidResume = %v", i+1, !(i == 1))
		}
	}
	writePair(t, dir, "ca", ca2)
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if accepts(client1) || !accepts(client2) {
		t.Fatal("after the reload: want client 1 refused and client 2 accepted")
	}
	// crypto/tls checks a resumed session's client chain against the
	// current client CAs, so the old session does not let client 1 in.
	if c, err := dial(t, addr, resuming); err == nil {
		t.Fatalf("client 1 got in after the reload (resumed: %v)", c.ConnectionState().DidResume)
	}
	// A CA file with no certificate fails the reload and keeps CA 2.
	writeFile(t, dir, "ca.pem", []byte("no certificates here"))
	if err := r.Reload(); !errors.Is(err, tlsconf.ErrNoCA) {
		t.Fatalf("Reload = %v, want ErrNoCA", err)
	}
	if !accepts(client2) {
		t.Fatal("a failed reload dropped CA 2")
	}
}

func TestWatch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, b := selfSigned(t), selfSigned(t)
	certFile, keyFile := writePair(t, dir, "server", a)
	var (
		mu      sync.Mutex
		results []error
		logs    logBuffer
	)
	r, err := tlsconf.NewReloader(tlsconf.Config{CertFile: certFile, KeyFile: keyFile, Logger: logs.logger(),
		OnReload: func(err error) {
			mu.Lock()
			defer mu.Unlock()
			results = append(results, err)
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Watch(ctx, 5*time.Millisecond)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(waitTimeout):
			t.Error("Watch did not return after its context ended")
		}
	})
	addr := serve(t, r.TLSConfig())
	conf := noResume(t, a, b)

	serving := func(want *tls.Certificate) func() bool {
		return func() bool {
			return r.Certificate().Leaf.SerialNumber.Cmp(want.Leaf.SerialNumber) == 0
		}
	}
	writePair(t, dir, "server", b)
	eventually(t, "Watch to load certificate B", serving(b))
	c, err := dial(t, addr, conf)
	if err != nil {
		t.Fatal(err)
	}
	if peerSerial(c).Cmp(b.Leaf.SerialNumber) != 0 {
		t.Error("a new connection does not see B")
	}

	// A bad change is reported through OnReload and the log, and B stays.
	_, otherKey, err := tlsconf.EncodePEM(selfSigned(t))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "server.key", otherKey)
	eventually(t, "OnReload to report ErrKeyMismatch", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(results) > 0 && errors.Is(results[len(results)-1], tlsconf.ErrKeyMismatch)
	})
	if !serving(b)() {
		t.Error("a failed reload under Watch changed the certificate")
	}
	out := logs.String()
	if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "does not match") {
		t.Errorf("the failure is not in the log:\n%s", out)
	}
	if !strings.Contains(out, "level=INFO") || !strings.Contains(out, "reloaded") {
		t.Errorf("the successful reload is not in the log:\n%s", out)
	}

	// Fixing the files reloads again: back to A.
	writePair(t, dir, "server", a)
	eventually(t, "Watch to load certificate A", serving(a))
}

// TestReloadConcurrent runs handshakes while Reload flips the certificate
// between two, for the race detector.
func TestReloadConcurrent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, b := selfSigned(t), selfSigned(t)
	certFile, keyFile := writePair(t, dir, "server", a)
	aCert, aKey, _ := tlsconf.EncodePEM(a)
	bCert, bKey, _ := tlsconf.EncodePEM(b)
	r, err := tlsconf.NewReloader(tlsconf.Config{CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, r.TLSConfig())
	conf := noResume(t, a, b)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			cert, key := aCert, aKey
			if i%2 == 1 {
				cert, key = bCert, bKey
			}
			if err := os.WriteFile(certFile, cert, 0o600); err != nil {
				t.Error(err)
				return
			}
			if err := os.WriteFile(keyFile, key, 0o600); err != nil {
				t.Error(err)
				return
			}
			if err := r.Reload(); err != nil {
				t.Errorf("Reload: %v", err)
				return
			}
		}
	})
	for range 20 {
		if _, err := dial(t, addr, conf); err != nil {
			t.Errorf("handshake during reloads: %v", err)
			break
		}
	}
	close(stop)
	wg.Wait()
}
