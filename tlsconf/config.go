package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// ClientAuth says whether a server asks clients for a certificate. A
// certificate a client sends is always verified against the client CAs:
// tlsconf has no mode that accepts an unverified client certificate.
type ClientAuth int

const (
	// NoClientCert does not ask clients for a certificate. It is the zero
	// value.
	NoClientCert ClientAuth = iota

	// RequestClientCert asks for a certificate but accepts a client that
	// sends none; a certificate that is sent must verify against the client
	// CAs (crypto/tls's VerifyClientCertIfGiven).
	RequestClientCert

	// RequireClientCert refuses a client that sends no certificate or one
	// that does not verify against the client CAs (crypto/tls's
	// RequireAndVerifyClientCert).
	RequireClientCert
)

// String returns "none", "request" or "require-and-verify", or
// "ClientAuth(n)" for any other value.
func (a ClientAuth) String() string {
	switch a {
	case NoClientCert:
		return "none"
	case RequestClientCert:
		return "request"
	case RequireClientCert:
		return "require-and-verify"
	}
	return "ClientAuth(" + strconv.Itoa(int(a)) + ")"
}

// MarshalText returns the value's name, so a ClientAuth can be a flag
// (flag.TextVar) or a config file value.
func (a ClientAuth) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText sets a from its name: "none", "request", or
// "require-and-verify" (also "require"). Any other name returns an error
// wrapping ErrClientAuth and leaves a unchanged.
func (a *ClientAuth) UnmarshalText(b []byte) error {
	switch strings.ToLower(string(b)) {
	case "none", "":
		*a = NoClientCert
	case "request":
		*a = RequestClientCert
	case "require-and-verify", "require":
		*a = RequireClientCert
	default:
		return fmt.Errorf("%w: unknown name %q (want none, request or require-and-verify)", ErrClientAuth, b)
	}
	return nil
}

// tls maps a to crypto/tls's value.
func (a ClientAuth) tls() (tls.ClientAuthType, error) {
	switch a {
	case NoClientCert:
		return tls.NoClientCert, nil
	case RequestClientCert:
		return tls.VerifyClientCertIfGiven, nil
	case RequireClientCert:
		return tls.RequireAndVerifyClientCert, nil
	}
	return 0, fmt.Errorf("%w: unknown value %d", ErrClientAuth, int(a))
}

// Config configures a server: Server builds a static *tls.Config from it,
// NewReloader one whose certificate can be reloaded. The zero value is not
// enough on its own: a server needs a certificate, from CertFile and KeyFile
// or from Certificate. Everything else has a safe default: TLS 1.2 minimum
// (1.3 negotiated when the client has it), ECDHE with AEAD suites only for
// TLS 1.2, X25519 and P-256 key exchange, session tickets on, no client
// certificates asked for.
type Config struct {
	// CertFile and KeyFile name PEM files holding the certificate chain
	// (leaf first; further CERTIFICATE blocks are intermediates) and its
	// private key (PKCS #8, PKCS #1 or SEC 1; not encrypted). They may
	// name the same file. Set both, or neither and Certificate instead.
	CertFile string
	KeyFile  string

	// Certificate is a certificate held in memory, such as one from
	// SelfSigned. It is an error to set it together with CertFile or
	// KeyFile.
	Certificate *tls.Certificate

	// ClientCAFile names a PEM file of CA certificates against which
	// client certificates are verified. ClientCAs is the same held in
	// memory; set at most one. Either requires ClientAuth other than
	// NoClientCert, so that a forgotten ClientAuth cannot silently turn
	// mutual TLS off.
	ClientCAFile string
	ClientCAs    *x509.CertPool

	// ClientAuth says whether clients must present a certificate. The
	// default, NoClientCert, asks for none; RequestClientCert and
	// RequireClientCert need ClientCAFile or ClientCAs.
	ClientAuth ClientAuth

	// NextProtos lists the application protocols offered through ALPN,
	// most preferred first (for example "h2", "http/1.1"). Nil means no
	// ALPN. crypto/tls refuses a client that offers ALPN with no protocol
	// in common, except one that offers only "http/1.1", which it lets
	// through with no protocol negotiated.
	NextProtos []string

	// AllowExpired makes a certificate outside its validity period
	// (expired, or not yet valid) a warning logged to Logger instead of an
	// error (ErrExpired, ErrNotYetValid). The default is an error. It
	// applies to the server's own certificate, not to client certificates,
	// which crypto/tls always checks.
	AllowExpired bool

	// Logger receives warnings (AllowExpired) and, under Reloader.Watch,
	// the outcome of each reload: failures at Error level, successes at
	// Info. Nil means slog.Default(): these are the only report of a
	// problem, so they are not discarded by default.
	Logger *slog.Logger

	// OnReload, if not nil, is called by Reloader.Watch after each reload
	// it attempts, with nil on success or the reason the previous
	// certificate was kept. Reloader.Reload returns its error instead.
	OnReload func(err error)
}

// validate reports the first field of c that is invalid or contradicts
// another, before any file is read.
func (c *Config) validate() error {
	if _, err := c.ClientAuth.tls(); err != nil {
		return err
	}
	switch {
	case c.Certificate != nil && (c.CertFile != "" || c.KeyFile != ""):
		return fmt.Errorf("%w: Certificate and CertFile/KeyFile are both set", ErrConflict)
	case c.Certificate == nil && c.CertFile == "" && c.KeyFile == "":
		return fmt.Errorf("%w: set CertFile and KeyFile, or Certificate", ErrNoCertificate)
	case c.Certificate == nil && c.KeyFile == "":
		return fmt.Errorf("%w: CertFile is set but KeyFile is not", ErrNoCertificate)
	case c.Certificate == nil && c.CertFile == "":
		return fmt.Errorf("%w: KeyFile is set but CertFile is not", ErrNoCertificate)
	case c.ClientCAFile != "" && c.ClientCAs != nil:
		return fmt.Errorf("%w: ClientCAFile and ClientCAs are both set", ErrConflict)
	}
	hasCAs := c.ClientCAFile != "" || c.ClientCAs != nil
	if c.ClientAuth != NoClientCert && !hasCAs {
		return fmt.Errorf("%w: ClientAuth %v needs ClientCAFile or ClientCAs", ErrNoCA, c.ClientAuth)
	}
	if c.ClientAuth == NoClientCert && hasCAs {
		return fmt.Errorf("%w: client CAs are set but ClientAuth is none (want request or require-and-verify)", ErrClientAuth)
	}
	return nil
}

// Server returns a server *tls.Config built from c, with its certificate
// and client CAs loaded and checked once. For a certificate that can be
// replaced while the server runs, use NewReloader.
//
// Errors wrap the sentinels of this package (ErrNoCertificate, ErrNoPEM,
// ErrKeyMismatch, ErrExpired, ErrNotYetValid, ErrNoCA, ErrClientAuth,
// ErrConflict) or, for a file that cannot be read, the os package's error.
func Server(c Config) (*tls.Config, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	log := logger(c.Logger)
	var (
		cert *tls.Certificate
		err  error
	)
	if c.Certificate != nil {
		cert, err = checkCertificate(c.Certificate, "Certificate", c.AllowExpired, log)
	} else {
		cert, err = loadKeyPair(c.CertFile, c.KeyFile, c.AllowExpired, log)
	}
	if err != nil {
		return nil, err
	}
	cas := c.ClientCAs
	if c.ClientCAFile != "" {
		if cas, err = loadPool("client CA file", c.ClientCAFile); err != nil {
			return nil, err
		}
	}
	conf := serverBase(&c, cas)
	conf.Certificates = []tls.Certificate{*cert}
	return conf, nil
}

// serverBase returns the defaults with c's client authentication and ALPN.
// c must have passed validate.
func serverBase(c *Config, cas *x509.CertPool) *tls.Config {
	conf := base(c.NextProtos)
	conf.ClientAuth, _ = c.ClientAuth.tls()
	conf.ClientCAs = cas
	return conf
}
