package tlsconf

import "errors"

// These errors are returned wrapped, with the name of the file or field
// at fault; test for them with errors.Is. A file that cannot be read returns
// the os package's error wrapped, so errors.Is(err, fs.ErrNotExist) reports a
// missing file.
var (
	// ErrNoCertificate means no certificate was configured (neither
	// CertFile and KeyFile nor Certificate), or only half of a pair was
	// (CertFile without KeyFile, or the other way round), or a
	// *tls.Certificate passed in is nil or has an empty chain. NewReloader
	// returns it for a Config with Certificate instead of files.
	ErrNoCertificate = errors.New("sockpool/tlsconf: no certificate")

	// ErrNoPEM means a certificate or key file holds no PEM block of the
	// kind expected: no CERTIFICATE block in a certificate file, no
	// PRIVATE KEY block in a key file.
	ErrNoPEM = errors.New("sockpool/tlsconf: no PEM data")

	// ErrKeyMismatch means a private key is not the key of the certificate
	// it was paired with.
	ErrKeyMismatch = errors.New("sockpool/tlsconf: private key does not match the certificate")

	// ErrExpired means a certificate's NotAfter has passed. It is a
	// warning instead of an error when AllowExpired is set.
	ErrExpired = errors.New("sockpool/tlsconf: certificate has expired")

	// ErrNotYetValid means a certificate's NotBefore is still to come. It
	// is a warning instead of an error when AllowExpired is set.
	ErrNotYetValid = errors.New("sockpool/tlsconf: certificate is not yet valid")

	// ErrNoCA means a CA file holds no certificate, or client
	// certificates are asked for with no CA to verify them against.
	ErrNoCA = errors.New("sockpool/tlsconf: no CA certificates")

	// ErrClientAuth means a ClientAuth value is unknown, or does not fit
	// the rest of the Config (client CAs set but no client certificate
	// asked for).
	ErrClientAuth = errors.New("sockpool/tlsconf: invalid ClientAuth")

	// ErrConflict means two fields that are alternatives were both set,
	// such as CertFile and Certificate.
	ErrConflict = errors.New("sockpool/tlsconf: conflicting fields")

	// ErrBadHost means a name passed to SelfSigned is neither an IP
	// address nor a plausible DNS name.
	ErrBadHost = errors.New("sockpool/tlsconf: invalid host name")
)
