package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
)

// ClientConfig configures a client; Client builds a *tls.Config from it.
// The zero value works: it verifies servers against the system's roots,
// with the same safe defaults as Server (TLS 1.2 minimum, 1.3 preferred,
// ECDHE with AEAD suites only for TLS 1.2, X25519 and P-256) and session
// resumption on.
type ClientConfig struct {
	// ServerName is the name the server's certificate must hold, and the
	// name sent in SNI. Empty means the host part of the address dialled,
	// which tls.Dial and tls.Dialer fill in; with tls.Client on a
	// connection of your own, set it (or the handshake fails).
	ServerName string

	// RootCAFile names a PEM file of CA certificates that server
	// certificates are verified against. RootCAs is the same held in
	// memory (CertPool turns a self-signed certificate into one). Set at
	// most one; neither means the system's roots.
	RootCAFile string
	RootCAs    *x509.CertPool

	// CertFile and KeyFile name PEM files holding the client certificate
	// for mutual TLS and its key, as for Config. Certificate is the same
	// held in memory; set the pair, or Certificate, or neither (no client
	// certificate).
	CertFile    string
	KeyFile     string
	Certificate *tls.Certificate

	// NextProtos lists the application protocols offered through ALPN,
	// most preferred first. Nil means no ALPN.
	NextProtos []string

	// AllowExpired makes a client certificate outside its validity period
	// a warning logged to Logger instead of an error, as for Config. It
	// does not relax the checks on the server's certificate.
	AllowExpired bool

	// Logger receives warnings (AllowExpired). Nil means slog.Default().
	Logger *slog.Logger
}

// Client returns a client *tls.Config built from c. The Config has a
// ClientSessionCache (an LRU of 64 sessions, shared by every connection made
// with this Config), so a second connection to a server resumes the session
// of the first; set ClientSessionCache to nil on the result for full
// handshakes every time.
//
// Errors wrap the sentinels of this package (ErrNoCertificate, ErrNoPEM,
// ErrKeyMismatch, ErrExpired, ErrNotYetValid, ErrNoCA, ErrConflict) or, for
// a file that cannot be read, the os package's error.
func Client(c ClientConfig) (*tls.Config, error) {
	switch {
	case c.RootCAFile != "" && c.RootCAs != nil:
		return nil, fmt.Errorf("%w: RootCAFile and RootCAs are both set", ErrConflict)
	case c.Certificate != nil && (c.CertFile != "" || c.KeyFile != ""):
		return nil, fmt.Errorf("%w: Certificate and CertFile/KeyFile are both set", ErrConflict)
	case c.CertFile != "" && c.KeyFile == "":
		return nil, fmt.Errorf("%w: CertFile is set but KeyFile is not", ErrNoCertificate)
	case c.KeyFile != "" && c.CertFile == "":
		return nil, fmt.Errorf("%w: KeyFile is set but CertFile is not", ErrNoCertificate)
	}
	log := logger(c.Logger)
	conf := base(c.NextProtos)
	conf.ServerName = c.ServerName
	conf.RootCAs = c.RootCAs
	conf.ClientSessionCache = tls.NewLRUClientSessionCache(0)
	if c.RootCAFile != "" {
		pool, err := loadPool("root CA file", c.RootCAFile)
		if err != nil {
			return nil, err
		}
		conf.RootCAs = pool
	}
	var (
		cert *tls.Certificate
		err  error
	)
	switch {
	case c.Certificate != nil:
		cert, err = checkCertificate(c.Certificate, "Certificate", c.AllowExpired, log)
	case c.CertFile != "":
		cert, err = loadKeyPair(c.CertFile, c.KeyFile, c.AllowExpired, log)
	}
	if err != nil {
		return nil, err
	}
	if cert != nil {
		conf.Certificates = []tls.Certificate{*cert}
	}
	return conf, nil
}
