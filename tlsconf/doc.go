// Package tlsconf builds crypto/tls configurations with safe defaults for
// sockpool servers and their clients.
//
// Server and Client return a *tls.Config that accepts TLS 1.2 and 1.3 only
// (Go negotiates 1.3 when the peer has it), for TLS 1.2 only ECDHE key
// exchange with AEAD ciphers (AES-GCM, ChaCha20-Poly1305), the X25519 and
// P-256 key exchanges (plus X25519's post-quantum hybrid), and session
// tickets on, so that clients resume sessions. Certificates come from PEM
// files or from SelfSigned, which makes an ECDSA P-256 certificate for
// development and benchmarks. Config.ClientAuth turns on mutual TLS, with
// client certificates always verified against the configured CAs.
//
//	conf, err := tlsconf.Server(tlsconf.Config{
//		CertFile:   "server.pem",
//		KeyFile:    "server.key",
//		NextProtos: []string{"echo/1"},
//	})
//	if err != nil {
//		return err // wraps ErrNoPEM, ErrKeyMismatch, ErrExpired, fs.ErrNotExist, ...
//	}
//	ln, err := tls.Listen("tcp", ":7443", conf)
//
// A Reloader serves a certificate that can be replaced without a restart:
// Reload reads the files again and swaps the certificate in only if it is
// valid, and Watch does so when the files change. Connections already
// established keep their certificate.
//
//	r, err := tlsconf.NewReloader(tlsconf.Config{CertFile: "server.pem", KeyFile: "server.key"})
//	if err != nil {
//		return err
//	}
//	go r.Watch(ctx, time.Minute) // returns when ctx is done
//	ln, err := tls.Listen("tcp", ":7443", r.TLSConfig())
//
// For development, a self-signed certificate and a client that trusts it:
//
//	cert, err := tlsconf.SelfSigned("localhost", "127.0.0.1")
//	...
//	srvConf, err := tlsconf.Server(tlsconf.Config{Certificate: cert})
//	roots, err := tlsconf.CertPool(cert)
//	cliConf, err := tlsconf.Client(tlsconf.ClientConfig{RootCAs: roots, ServerName: "localhost"})
//
// Errors are values: test them with errors.Is against ErrNoCertificate,
// ErrNoPEM, ErrKeyMismatch, ErrExpired, ErrNotYetValid, ErrNoCA,
// ErrClientAuth, ErrConflict and ErrBadHost, and a missing file with
// fs.ErrNotExist. No function panics on bad input.
package tlsconf
