package tlsconf

import (
	"log/slog"
	"testing"
)

// FuzzParseKeyPair feeds arbitrary certificate and key files to the PEM
// loader: it must return a certificate or an error, never panic, and a
// certificate it returns must have a leaf whose key matches.
func FuzzParseKeyPair(f *testing.F) {
	cert, err := SelfSigned("localhost")
	if err != nil {
		f.Fatal(err)
	}
	certPEM, keyPEM, err := EncodePEM(cert)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(certPEM, keyPEM)
	f.Add(keyPEM, certPEM)
	f.Add(append(keyPEM, certPEM...), append(certPEM, keyPEM...))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), keyPEM)
	f.Add(certPEM, []byte("-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END EC PRIVATE KEY-----\n"))
	f.Add([]byte{}, []byte{})
	log := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, certPEM, keyPEM []byte) {
		c, err := parseKeyPair(certPEM, keyPEM, "cert", "key", true, log)
		if err != nil {
			return
		}
		if c.Leaf == nil || len(c.Certificate) == 0 {
			t.Fatal("certificate without a leaf")
		}
		if err := checkKey(c, "fuzz"); err != nil {
			t.Fatal(err)
		}
		if _, err := parsePool(certPEM, "CA file", "cert"); err != nil {
			t.Fatalf("a certificate file that loads is not a CA file: %v", err)
		}
	})
}

// FuzzValidDNSName checks that SelfSigned's host check never panics and
// that a name it accepts makes a certificate.
func FuzzValidDNSName(f *testing.F) {
	for _, s := range []string{"localhost", "*.example.test", "a..b", "", ".", "*.", "a.", "-", "x_y.z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		if !validDNSName(h) {
			return
		}
		if _, err := SelfSigned(h); err != nil {
			t.Fatalf("SelfSigned(%q): %v", h, err)
		}
	})
}
