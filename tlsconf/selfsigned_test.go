package tlsconf_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sockpool/sockpool/tlsconf"
)

func TestSelfSigned(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		hosts    []string
		wantDNS  []string
		wantIPs  []string
		wantCN   string
		wantFail bool
	}{
		{name: "defaults", hosts: nil, wantDNS: []string{"localhost"}, wantIPs: []string{"127.0.0.1", "::1"}, wantCN: "localhost"},
		{name: "name and IP", hosts: []string{"localhost", "127.0.0.1"}, wantDNS: []string{"localhost"}, wantIPs: []string{"127.0.0.1"}, wantCN: "localhost"},
		{name: "IP first", hosts: []string{"10.1.2.3", "db.example.test"}, wantDNS: []string{"db.example.test"}, wantIPs: []string{"10.1.2.3"}, wantCN: "10.1.2.3"},
		{name: "wildcard", hosts: []string{"*.example.test"}, wantDNS: []string{"*.example.test"}, wantCN: "*.example.test"},
		{name: "IPv6", hosts: []string{"fe80::1"}, wantIPs: []string{"fe80::1"}, wantCN: "fe80::1"},
		{name: "empty", hosts: []string{""}, wantFail: true},
		{name: "host and port", hosts: []string{"localhost:443"}, wantFail: true},
		{name: "URL", hosts: []string{"https://localhost"}, wantFail: true},
		{name: "space", hosts: []string{"local host"}, wantFail: true},
		{name: "empty label", hosts: []string{"a..b"}, wantFail: true},
		{name: "trailing dot", hosts: []string{"example.test."}, wantFail: true},
		{name: "zone", hosts: []string{"fe80::1%eth0"}, wantFail: true},
		{name: "long label", hosts: []string{strings.Repeat("a", 64)}, wantFail: true},
		{name: "bad second host", hosts: []string{"localhost", "bad host"}, wantFail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cert, err := tlsconf.SelfSigned(tt.hosts...)
			if tt.wantFail {
				if !errors.Is(err, tlsconf.ErrBadHost) {
					t.Fatalf("SelfSigned(%q) = %v; want ErrBadHost", tt.hosts, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			leaf := cert.Leaf
			if !slices.Equal(leaf.DNSNames, tt.wantDNS) {
				t.Errorf("DNSNames = %q, want %q", leaf.DNSNames, tt.wantDNS)
			}
			var ips []string
			for _, ip := range leaf.IPAddresses {
				ips = append(ips, ip.String())
			}
			if !slices.Equal(ips, tt.wantIPs) {
				t.Errorf("IPAddresses = %q, want %q", ips, tt.wantIPs)
			}
			if leaf.Subject.CommonName != tt.wantCN {
				t.Errorf("CommonName = %q, want %q", leaf.Subject.CommonName, tt.wantCN)
			}
		})
	}
}

func TestSelfSignedProperties(t *testing.T) {
	t.Parallel()
	a, b := selfSigned(t), selfSigned(t)
	leaf := a.Leaf
	key, ok := a.PrivateKey.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		t.Errorf("key is %T, want ECDSA P-256", a.PrivateKey)
	}
	if leaf.SerialNumber.Cmp(b.Leaf.SerialNumber) == 0 {
		t.Error("two certificates share a serial number")
	}
	if leaf.SerialNumber.Sign() <= 0 || leaf.SerialNumber.BitLen() < 64 {
		t.Errorf("serial %v is not a large positive random number", leaf.SerialNumber)
	}
	now := time.Now()
	if !leaf.NotBefore.Before(now) || leaf.NotAfter.Sub(now) < tlsconf.SelfSignedValidity-time.Minute {
		t.Errorf("valid %v to %v; want from before now for SelfSignedValidity", leaf.NotBefore, leaf.NotAfter)
	}
	// It verifies against the pool from CertPool, for a server name and
	// for client authentication.
	roots, err := tlsconf.CertPool(a)
	if err != nil {
		t.Fatal(err)
	}
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "localhost", KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
			t.Errorf("Verify for %v: %v", usage, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "example.com"}); err == nil {
		t.Error("verified for a name it does not hold")
	}
	if err := leaf.VerifyHostname("127.0.0.1"); err != nil {
		t.Error(err)
	}
}

func TestCertPoolAndEncodePEMBadInput(t *testing.T) {
	t.Parallel()
	for _, cert := range []*tls.Certificate{nil, {}, {Certificate: [][]byte{[]byte("not DER")}}} {
		if _, err := tlsconf.CertPool(cert); err == nil {
			t.Errorf("CertPool(%v) succeeded", cert)
		}
	}
	if _, _, err := tlsconf.EncodePEM(nil); !errors.Is(err, tlsconf.ErrNoCertificate) {
		t.Errorf("EncodePEM(nil) = %v", err)
	}
	noKey := *selfSigned(t)
	noKey.PrivateKey = nil
	if _, _, err := tlsconf.EncodePEM(&noKey); !errors.Is(err, tlsconf.ErrNoCertificate) {
		t.Errorf("EncodePEM(no key) = %v", err)
	}
	if err := tlsconf.WriteFiles(selfSigned(t), t.TempDir()+"/no/such/dir/c.pem", t.TempDir()+"/k.pem"); err == nil {
		t.Error("WriteFiles into a missing directory succeeded")
	}
}

// TestSelfSignedHandshake runs the development path end to end: a
// self-signed certificate served by Server, trusted by Client through
// CertPool, by name and by IP address.
func TestSelfSignedHandshake(t *testing.T) {
	t.Parallel()
	cert := selfSigned(t)
	srv, err := tlsconf.Server(tlsconf.Config{Certificate: cert})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, srv)
	roots, err := tlsconf.CertPool(cert)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"localhost", "127.0.0.1", ""} {
		conf, err := tlsconf.Client(tlsconf.ClientConfig{RootCAs: roots, ServerName: name})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dial(t, addr, conf); err != nil { // "" : tls.Dialer uses the address's host
			t.Errorf("ServerName %q: %v", name, err)
		}
	}
	conf, err := tlsconf.Client(tlsconf.ClientConfig{RootCAs: roots, ServerName: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dial(t, addr, conf); err == nil {
		t.Error("handshake succeeded for a name the certificate does not hold")
	}
	// A client with the system's roots does not trust it.
	conf, err = tlsconf.Client(tlsconf.ClientConfig{ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dial(t, addr, conf); err == nil {
		t.Error("a client with the system's roots trusted a self-signed certificate")
	}
}
