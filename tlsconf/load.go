package tlsconf

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"
)

// readFile reads one configured file; what names its role in the error.
// The os error, which names the path, stays wrapped so that
// errors.Is(err, fs.ErrNotExist) holds for a missing file.
func readFile(what, name string) ([]byte, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("sockpool/tlsconf: %s: %w", what, err)
	}
	return b, nil
}

// loadKeyPair reads and checks a certificate file and its key file.
func loadKeyPair(certFile, keyFile string, allowExpired bool, log *slog.Logger) (*tls.Certificate, error) {
	certPEM, err := readFile("certificate file", certFile)
	if err != nil {
		return nil, err
	}
	keyPEM, err := readFile("key file", keyFile)
	if err != nil {
		return nil, err
	}
	return parseKeyPair(certPEM, keyPEM, certFile, keyFile, allowExpired, log)
}

// parseKeyPair builds a certificate from PEM: the chain is every CERTIFICATE
// block of certPEM in order, leaf first; the key is the first PRIVATE KEY
// block of keyPEM (PKCS #8, PKCS #1 or SEC 1). Other blocks are skipped, so
// one file may hold both. certName and keyName label the errors.
func parseKeyPair(certPEM, keyPEM []byte, certName, keyName string, allowExpired bool, log *slog.Logger) (*tls.Certificate, error) {
	chain, ders, err := parseCerts(certPEM, certName)
	if err != nil {
		return nil, err
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("%w: %s has no CERTIFICATE block", ErrNoPEM, certName)
	}
	key, err := parseKey(keyPEM, keyName)
	if err != nil {
		return nil, err
	}
	cert := &tls.Certificate{Certificate: ders, PrivateKey: key, Leaf: chain[0]}
	if err := checkKey(cert, certName+" and "+keyName); err != nil {
		return nil, err
	}
	if err := checkValidity(chain, certName, time.Now(), allowExpired, log); err != nil {
		return nil, err
	}
	return cert, nil
}

// parseCerts parses every CERTIFICATE block of data.
func parseCerts(data []byte, name string) ([]*x509.Certificate, [][]byte, error) {
	var (
		certs []*x509.Certificate
		ders  [][]byte
	)
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return certs, ders, nil
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("sockpool/tlsconf: %s: certificate %d: %w", name, len(certs)+1, err)
		}
		certs = append(certs, c)
		ders = append(ders, block.Bytes)
	}
}

// parseKey parses the first private key block of data.
func parseKey(data []byte, name string) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("%w: %s has no PRIVATE KEY block", ErrNoPEM, name)
		}
		if block.Type != "PRIVATE KEY" && !strings.HasSuffix(block.Type, " PRIVATE KEY") {
			continue
		}
		if _, ok := block.Headers["DEK-Info"]; ok {
			return nil, fmt.Errorf("sockpool/tlsconf: %s: encrypted private keys are not supported", name)
		}
		key, err := parseKeyDER(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("sockpool/tlsconf: %s: %w", name, err)
		}
		return key, nil
	}
}

// parseKeyDER tries the encodings crypto/tls accepts, in its order.
func parseKeyDER(der []byte) (crypto.Signer, error) {
	if key, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return key, nil
	}
	if key, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported private key type %T", key)
		}
		return signer, nil
	}
	if key, err := x509.ParseECPrivateKey(der); err == nil {
		return key, nil
	}
	return nil, fmt.Errorf("private key is not PKCS #1, PKCS #8 or SEC 1 DER")
}

// checkKey reports ErrKeyMismatch unless cert's private key belongs to its
// leaf. cert.Leaf must be set.
func checkKey(cert *tls.Certificate, label string) error {
	signer, ok := cert.PrivateKey.(crypto.Signer)
	if !ok {
		return fmt.Errorf("sockpool/tlsconf: %s: private key of type %T cannot sign", label, cert.PrivateKey)
	}
	pub, ok := cert.Leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(signer.Public()) {
		return fmt.Errorf("%w: %s", ErrKeyMismatch, label)
	}
	return nil
}

// checkValidity reports ErrExpired or ErrNotYetValid for the first
// certificate of chain outside its validity period at now, or, when
// allowExpired, logs that as a warning and returns nil.
func checkValidity(chain []*x509.Certificate, label string, now time.Time, allowExpired bool, log *slog.Logger) error {
	for _, c := range chain {
		var err error
		switch {
		case now.After(c.NotAfter):
			err = fmt.Errorf("%w: %s: %q expired at %s", ErrExpired, label, c.Subject.String(), c.NotAfter.UTC().Format(time.RFC3339))
		case now.Before(c.NotBefore):
			err = fmt.Errorf("%w: %s: %q is valid from %s", ErrNotYetValid, label, c.Subject.String(), c.NotBefore.UTC().Format(time.RFC3339))
		default:
			continue
		}
		if !allowExpired {
			return err
		}
		log.Warn("sockpool/tlsconf: using a certificate outside its validity period (AllowExpired)", "err", err)
	}
	return nil
}

// checkCertificate checks a certificate given in memory: it must have a
// leaf, a key that matches it, and be within its validity period. It
// returns a copy with Leaf set.
func checkCertificate(cert *tls.Certificate, label string, allowExpired bool, log *slog.Logger) (*tls.Certificate, error) {
	if len(cert.Certificate) == 0 {
		return nil, fmt.Errorf("%w: %s has an empty chain", ErrNoCertificate, label)
	}
	chain := make([]*x509.Certificate, len(cert.Certificate))
	for i, der := range cert.Certificate {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("sockpool/tlsconf: %s: certificate %d: %w", label, i+1, err)
		}
		chain[i] = c
	}
	c := *cert
	c.Leaf = chain[0]
	if err := checkKey(&c, label); err != nil {
		return nil, err
	}
	if err := checkValidity(chain, label, time.Now(), allowExpired, log); err != nil {
		return nil, err
	}
	return &c, nil
}

// loadPool reads a CA file; what names its role ("client CA file", "root
// CA file") in the errors.
func loadPool(what, name string) (*x509.CertPool, error) {
	data, err := readFile(what, name)
	if err != nil {
		return nil, err
	}
	return parsePool(data, what, name)
}

// parsePool parses every CERTIFICATE block of data into a pool. Unlike
// x509.CertPool.AppendCertsFromPEM, a block that does not parse is an error,
// not skipped.
func parsePool(data []byte, what, name string) (*x509.CertPool, error) {
	certs, _, err := parseCerts(data, name)
	if err != nil {
		return nil, err
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%w: %s %s has no CERTIFICATE block", ErrNoCA, what, name)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// logger returns l, or slog.Default() when l is nil: the warnings this
// package logs (AllowExpired, failed reloads under Watch) are the only
// report of a problem, so they are not discarded by default.
func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}
