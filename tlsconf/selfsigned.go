package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/netip"
	"os"
	"time"
)

// SelfSignedValidity is how long a certificate from SelfSigned is valid:
// from one hour before it was made (to absorb clock skew between hosts) to
// a year after.
const SelfSignedValidity = 365 * 24 * time.Hour

// SelfSigned returns a new self-signed certificate for development and
// benchmarks: an ECDSA P-256 key, a random serial number of up to 128 bits, valid for
// SelfSignedValidity, usable for server and client authentication. Each
// host becomes a subject alternative name: an IP address ("127.0.0.1",
// "::1") or else a DNS name ("localhost", "*.example.test"); the first is
// also the subject's common name. With no hosts, the names are
// "localhost", "127.0.0.1" and "::1".
//
// Clients trust it through CertPool (or EncodePEM and a CA file). A host
// that is neither an IP address nor a plausible DNS name returns an error
// wrapping ErrBadHost.
func SelfSigned(hosts ...string) (*tls.Certificate, error) {
	if len(hosts) == 0 {
		hosts = []string{"localhost", "127.0.0.1", "::1"}
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: hosts[0], Organization: []string{"sockpool development"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(SelfSignedValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	for _, h := range hosts {
		if ip, err := netip.ParseAddr(h); err == nil && ip.Zone() == "" {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip.AsSlice())
			continue
		}
		if !validDNSName(h) {
			return nil, fmt.Errorf("%w: %q", ErrBadHost, h)
		}
		tmpl.DNSNames = append(tmpl.DNSNames, h)
	}
	// A serial is positive and at most 20 bytes (RFC 5280): draw from
	// [1, 2^128).
	serial, err := rand.Int(rand.Reader, new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1)))
	if err != nil {
		return nil, fmt.Errorf("sockpool/tlsconf: serial number: %w", err)
	}
	tmpl.SerialNumber = serial.Add(serial, big.NewInt(1))
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sockpool/tlsconf: generate key: %w", err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("sockpool/tlsconf: create certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("sockpool/tlsconf: parse created certificate: %w", err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// validDNSName reports whether h looks like a DNS name a certificate may
// hold: letters, digits, '-', '_' and '.', at most 253 bytes, no empty
// label (so no trailing dot), and optionally a leading "*." wildcard.
func validDNSName(h string) bool {
	if len(h) > 2 && h[:2] == "*." {
		h = h[2:]
	}
	if h == "" || len(h) > 253 {
		return false
	}
	label := 0
	for i := 0; i < len(h); i++ {
		switch c := h[i]; {
		case c == '.':
			if label == 0 {
				return false
			}
			label = 0
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
			label++
			if label > 63 {
				return false
			}
		default:
			return false
		}
	}
	return label > 0
}

// CertPool returns a pool holding cert's leaf, for a client to trust a
// self-signed certificate (ClientConfig.RootCAs) or a server to trust it
// as a client certificate (Config.ClientCAs).
func CertPool(cert *tls.Certificate) (*x509.CertPool, error) {
	leaf, err := leafOf(cert)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return pool, nil
}

// EncodePEM returns cert's chain as CERTIFICATE blocks and its private key
// as a PKCS #8 PRIVATE KEY block: the files Config.CertFile and
// Config.KeyFile read.
func EncodePEM(cert *tls.Certificate) (certPEM, keyPEM []byte, err error) {
	if cert == nil || len(cert.Certificate) == 0 {
		return nil, nil, fmt.Errorf("%w: nil certificate or empty chain", ErrNoCertificate)
	}
	for _, der := range cert.Certificate {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	if cert.PrivateKey == nil {
		return nil, nil, fmt.Errorf("%w: certificate has no private key", ErrNoCertificate)
	}
	der, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		return nil, nil, fmt.Errorf("sockpool/tlsconf: encode private key: %w", err)
	}
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	return certPEM, keyPEM, nil
}

// WriteFiles writes cert as PEM to certFile (mode 0644) and its private
// key to keyFile (mode 0600), replacing each file's contents.
func WriteFiles(cert *tls.Certificate, certFile, keyFile string) error {
	certPEM, keyPEM, err := EncodePEM(cert)
	if err != nil {
		return err
	}
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		return fmt.Errorf("sockpool/tlsconf: %w", err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return fmt.Errorf("sockpool/tlsconf: %w", err)
	}
	return nil
}

// leafOf returns cert's parsed leaf.
func leafOf(cert *tls.Certificate) (*x509.Certificate, error) {
	switch {
	case cert == nil || len(cert.Certificate) == 0:
		return nil, fmt.Errorf("%w: nil certificate or empty chain", ErrNoCertificate)
	case cert.Leaf != nil:
		return cert.Leaf, nil
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("sockpool/tlsconf: parse leaf: %w", err)
	}
	return leaf, nil
}
