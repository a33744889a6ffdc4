package tlsconf_test

import (
	"crypto/tls"
	"errors"
	"flag"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sockpool/sockpool/tlsconf"
)

// testFiles holds test inputs on disk, made once per test.
type testFiles struct {
	dir                     string
	certFile, keyFile       string // a valid pair
	otherKey                string // the key of another certificate
	expiredCert, expiredKey string
	futureCert, futureKey   string
	caFile                  string
	garbage                 string // text with no PEM block
	keyOnly                 string // a PEM file with a key and no certificate
	badCertBlock            string // a CERTIFICATE block that is not DER
	missing                 string
}

func makeFiles(t *testing.T) testFiles {
	t.Helper()
	dir := t.TempDir()
	var f testFiles
	f.dir = dir
	f.certFile, f.keyFile = writePair(t, dir, "server", selfSigned(t))
	_, f.otherKey = writePair(t, dir, "other", selfSigned(t))
	now := time.Now()
	f.expiredCert, f.expiredKey = writePair(t, dir, "expired", makeCert(t, certSpec{cn: "expired",
		notBefore: now.Add(-48 * time.Hour), notAfter: now.Add(-24 * time.Hour)}))
	f.futureCert, f.futureKey = writePair(t, dir, "future", makeCert(t, certSpec{cn: "future",
		notBefore: now.Add(24 * time.Hour), notAfter: now.Add(48 * time.Hour)}))
	f.caFile, _ = writePair(t, dir, "ca", makeCert(t, certSpec{cn: "CA", ca: true}))
	f.garbage = writeFile(t, dir, "garbage.pem", []byte("this is not PEM\n"))
	f.keyOnly = f.otherKey
	f.badCertBlock = writeFile(t, dir, "bad.pem", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.missing = filepath.Join(dir, "missing.pem")
	return f
}

func TestServerErrors(t *testing.T) {
	t.Parallel()
	f := makeFiles(t)
	good := selfSigned(t)
	mismatched := &tls.Certificate{Certificate: good.Certificate, PrivateKey: selfSigned(t).PrivateKey}
	quiet := slog.New(slog.DiscardHandler)

	tests := []struct {
		name    string
		conf    tlsconf.Config
		want    error  // nil: no error
		wantMsg string // substring of the error, typically the file at fault
	}{
		{name: "files", conf: tlsconf.Config{CertFile: f.certFile, KeyFile: f.keyFile}},
		{name: "one file for both", conf: tlsconf.Config{CertFile: writeFile(t, f.dir, "both.pem", append(mustRead(t, f.keyFile), mustRead(t, f.certFile)...)),
			KeyFile: filepath.Join(f.dir, "both.pem")}},
		{name: "in memory", conf: tlsconf.Config{Certificate: good}},
		{name: "zero Config", conf: tlsconf.Config{}, want: tlsconf.ErrNoCertificate},
		{name: "cert without key", conf: tlsconf.Config{CertFile: f.certFile}, want: tlsconf.ErrNoCertificate, wantMsg: "KeyFile"},
		{name: "key without cert", conf: tlsconf.Config{KeyFile: f.keyFile}, want: tlsconf.ErrNoCertificate, wantMsg: "CertFile"},
		{name: "empty chain", conf: tlsconf.Config{Certificate: &tls.Certificate{}}, want: tlsconf.ErrNoCertificate},
		{name: "files and Certificate", conf: tlsconf.Config{Certificate: good, CertFile: f.certFile, KeyFile: f.keyFile}, want: tlsconf.ErrConflict},
		{name: "missing cert file", conf: tlsconf.Config{CertFile: f.missing, KeyFile: f.keyFile}, want: fs.ErrNotExist, wantMsg: "missing.pem"},
		{name: "missing key file", conf: tlsconf.Config{CertFile: f.certFile, KeyFile: f.missing}, want: fs.ErrNotExist, wantMsg: "missing.pem"},
		{name: "cert file without PEM", conf: tlsconf.Config{CertFile: f.garbage, KeyFile: f.keyFile}, want: tlsconf.ErrNoPEM, wantMsg: "garbage.pem"},
		{name: "cert file with only a key", conf: tlsconf.Config{CertFile: f.keyOnly, KeyFile: f.keyFile}, want: tlsconf.ErrNoPEM, wantMsg: "other.key"},
		{name: "key file without PEM", conf: tlsconf.Config{CertFile: f.certFile, KeyFile: f.garbage}, want: tlsconf.ErrNoPEM, wantMsg: "garbage.pem"},
		{name: "key file with only a cert", conf: tlsconf.Config{CertFile: f.certFile, KeyFile: f.certFile}, want: tlsconf.ErrNoPEM, wantMsg: "server.pem"},
		{name: "certificate that does not parse", conf: tlsconf.Config{CertFile: f.badCertBlock, KeyFile: f.keyFile}, wantMsg: "bad.pem: certificate 1"},
		{name: "key of another certificate", conf: tlsconf.Config{CertFile: f.certFile, KeyFile: f.otherKey}, want: tlsconf.ErrKeyMismatch, wantMsg: "other.key"},
		{name: "in-memory key mismatch", conf: tlsconf.Config{Certificate: mismatched}, want: tlsconf.ErrKeyMismatch},
		{name: "expired", conf: tlsconf.Config{CertFile: f.expiredCert, KeyFile: f.expiredKey}, want: tlsconf.ErrExpired, wantMsg: "expired.pem"},
		{name: "expired allowed", conf: tlsconf.Config{CertFile: f.expiredCert, KeyFile: f.expiredKey, AllowExpired: true, Logger: quiet}},
		{name: "not yet valid", conf: tlsconf.Config{CertFile: f.futureCert, KeyFile: f.futureKey}, want: tlsconf.ErrNotYetValid, wantMsg: "future.pem"},
		{name: "not yet valid allowed", conf: tlsconf.Config{CertFile: f.futureCert, KeyFile: f.futureKey, AllowExpired: true, Logger: quiet}},
		{name: "client CA file", conf: tlsconf.Config{Certificate: good, ClientCAFile: f.caFile, ClientAuth: tlsconf.RequireClientCert}},
		{name: "client CA file without certificates", conf: tlsconf.Config{Certificate: good, ClientCAFile: f.garbage, ClientAuth: tlsconf.RequireClientCert}, want: tlsconf.ErrNoCA, wantMsg: "garbage.pem"},
		{name: "client CA file with only a key", conf: tlsconf.Config{Certificate: good, ClientCAFile: f.keyOnly, ClientAuth: tlsconf.RequestClientCert}, want: tlsconf.ErrNoCA},
		{name: "missing client CA file", conf: tlsconf.Config{Certificate: good, ClientCAFile: f.missing, ClientAuth: tlsconf.RequireClientCert}, want: fs.ErrNotExist, wantMsg: "client CA file"},
		{name: "client CA file and pool", conf: tlsconf.Config{Certificate: good, ClientCAFile: f.caFile, ClientCAs: pool(good), ClientAuth: tlsconf.RequireClientCert}, want: tlsconf.ErrConflict},
		{name: "require without CAs", conf: tlsconf.Config{Certificate: good, ClientAuth: tlsconf.RequireClientCert}, want: tlsconf.ErrNoCA},
		{name: "request without CAs", conf: tlsconf.Config{Certificate: good, ClientAuth: tlsconf.RequestClientCert}, want: tlsconf.ErrNoCA},
		{name: "CAs without ClientAuth", conf: tlsconf.Config{Certificate: good, ClientCAFile: f.caFile}, want: tlsconf.ErrClientAuth},
		{name: "unknown ClientAuth", conf: tlsconf.Config{Certificate: good, ClientAuth: 7}, want: tlsconf.ErrClientAuth, wantMsg: "7"},
		{name: "negative ClientAuth", conf: tlsconf.Config{Certificate: good, ClientAuth: -1}, want: tlsconf.ErrClientAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conf, err := tlsconf.Server(tt.conf)
			checkErr(t, err, tt.want, tt.wantMsg)
			if err == nil && (conf == nil || len(conf.Certificates) != 1 || conf.Certificates[0].Leaf == nil) {
				t.Fatalf("Server returned %+v with no certificate", conf)
			}
			// NewReloader checks the same things, and needs files.
			_, rerr := tlsconf.NewReloader(tt.conf)
			if tt.conf.Certificate != nil && tt.conf.CertFile == "" && tt.conf.KeyFile == "" {
				if rerr == nil {
					t.Fatal("NewReloader accepted an in-memory Certificate")
				}
				if err == nil {
					checkErr(t, rerr, tlsconf.ErrNoCertificate, "CertFile")
				}
			} else {
				checkErr(t, rerr, tt.want, tt.wantMsg)
			}
		})
	}
}

// checkErr fails the test unless err matches want (nil: no error) and, when
// wantMsg is set, contains wantMsg. Every error must carry the package
// prefix.
func checkErr(t *testing.T, err, want error, wantMsg string) {
	t.Helper()
	if want == nil && wantMsg == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error; want %v", want)
	}
	if want != nil && !errors.Is(err, want) {
		t.Errorf("error %q is not %q", err, want)
	}
	if !strings.Contains(err.Error(), wantMsg) {
		t.Errorf("error %q does not mention %q", err, wantMsg)
	}
	if !strings.HasPrefix(err.Error(), "sockpool/tlsconf: ") {
		t.Errorf("error %q lacks the package prefix", err)
	}
}

func TestAllowExpiredWarns(t *testing.T) {
	t.Parallel()
	f := makeFiles(t)
	var logs logBuffer
	if _, err := tlsconf.Server(tlsconf.Config{CertFile: f.expiredCert, KeyFile: f.expiredKey, AllowExpired: true, Logger: logs.logger()}); err != nil {
		t.Fatal(err)
	}
	if out := logs.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "expired.pem") {
		t.Errorf("no warning naming the file in the log:\n%s", out)
	}
}

func TestClientErrors(t *testing.T) {
	t.Parallel()
	f := makeFiles(t)
	good := selfSigned(t)
	tests := []struct {
		name    string
		conf    tlsconf.ClientConfig
		want    error
		wantMsg string
	}{
		{name: "zero", conf: tlsconf.ClientConfig{}},
		{name: "root CA file", conf: tlsconf.ClientConfig{RootCAFile: f.caFile}},
		{name: "client cert files", conf: tlsconf.ClientConfig{CertFile: f.certFile, KeyFile: f.keyFile}},
		{name: "client cert in memory", conf: tlsconf.ClientConfig{Certificate: good}},
		{name: "root CA file and pool", conf: tlsconf.ClientConfig{RootCAFile: f.caFile, RootCAs: pool(good)}, want: tlsconf.ErrConflict},
		{name: "missing root CA file", conf: tlsconf.ClientConfig{RootCAFile: f.missing}, want: fs.ErrNotExist, wantMsg: "root CA file"},
		{name: "root CA file without certificates", conf: tlsconf.ClientConfig{RootCAFile: f.garbage}, want: tlsconf.ErrNoCA, wantMsg: "garbage.pem"},
		{name: "cert without key", conf: tlsconf.ClientConfig{CertFile: f.certFile}, want: tlsconf.ErrNoCertificate},
		{name: "key without cert", conf: tlsconf.ClientConfig{KeyFile: f.keyFile}, want: tlsconf.ErrNoCertificate},
		{name: "files and Certificate", conf: tlsconf.ClientConfig{Certificate: good, CertFile: f.certFile, KeyFile: f.keyFile}, want: tlsconf.ErrConflict},
		{name: "key mismatch", conf: tlsconf.ClientConfig{CertFile: f.certFile, KeyFile: f.otherKey}, want: tlsconf.ErrKeyMismatch},
		{name: "key file without PEM", conf: tlsconf.ClientConfig{CertFile: f.certFile, KeyFile: f.garbage}, want: tlsconf.ErrNoPEM},
		{name: "expired client cert", conf: tlsconf.ClientConfig{CertFile: f.expiredCert, KeyFile: f.expiredKey}, want: tlsconf.ErrExpired},
		{name: "expired client cert allowed", conf: tlsconf.ClientConfig{CertFile: f.expiredCert, KeyFile: f.expiredKey, AllowExpired: true, Logger: slog.New(slog.DiscardHandler)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conf, err := tlsconf.Client(tt.conf)
			checkErr(t, err, tt.want, tt.wantMsg)
			if err == nil && conf.ClientSessionCache == nil {
				t.Error("no session cache")
			}
		})
	}
}

func TestClientAuthText(t *testing.T) {
	t.Parallel()
	for _, a := range []tlsconf.ClientAuth{tlsconf.NoClientCert, tlsconf.RequestClientCert, tlsconf.RequireClientCert} {
		text, err := a.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back tlsconf.ClientAuth = 99
		if err := back.UnmarshalText(text); err != nil || back != a {
			t.Errorf("%v: round trip through %q gave %v, %v", a, text, back, err)
		}
	}
	if got := tlsconf.ClientAuth(5).String(); got != "ClientAuth(5)" {
		t.Errorf("String of 5 = %q", got)
	}
	a := tlsconf.RequireClientCert
	if err := a.UnmarshalText([]byte("sometimes")); !errors.Is(err, tlsconf.ErrClientAuth) || a != tlsconf.RequireClientCert {
		t.Errorf("UnmarshalText(sometimes) = %v, left %v", err, a)
	}
	if err := a.UnmarshalText([]byte("REQUIRE")); err != nil || a != tlsconf.RequireClientCert {
		t.Errorf("UnmarshalText(REQUIRE) = %v, %v", err, a)
	}

	// As a flag.
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var auth tlsconf.ClientAuth
	fs.TextVar(&auth, "client-auth", tlsconf.NoClientCert, "")
	if err := fs.Parse([]string{"-client-auth", "request"}); err != nil || auth != tlsconf.RequestClientCert {
		t.Errorf("flag: %v, %v", err, auth)
	}
	if err := fs.Parse([]string{"-client-auth", "bogus"}); err == nil {
		t.Error("flag accepted bogus")
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
