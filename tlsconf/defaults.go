package tlsconf

import "crypto/tls"

// MinVersion is the lowest protocol version that Server and Client accept:
// TLS 1.2. Go negotiates TLS 1.3 whenever both sides support it.
const MinVersion = tls.VersionTLS12

// cipherSuites are the TLS 1.2 suites offered and accepted: ECDHE key
// exchange (forward secrecy) with an AEAD only. TLS 1.3 suites are not
// configurable in crypto/tls and are all AEAD. Go orders suites itself
// (AES-GCM first when the CPU has AES instructions, ChaCha20 otherwise), so
// the order here does not matter.
var cipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// curves are the key exchanges offered and accepted: X25519 and P-256, and
// X25519MLKEM768, the hybrid of X25519 with post-quantum ML-KEM that Go has
// preferred by default since 1.24. Keeping the hybrid costs about 1 KiB more
// in each ClientHello and protects recorded traffic against a future quantum
// computer; peers that lack it (OpenSSL 3.0, Go before 1.24) negotiate
// X25519.
var curves = []tls.CurveID{
	tls.X25519MLKEM768,
	tls.X25519,
	tls.CurveP256,
}

// CipherSuites returns the TLS 1.2 cipher suites that Server and Client
// configure: ECDHE-ECDSA and ECDHE-RSA with AES-GCM or ChaCha20-Poly1305.
// The slice is a copy.
func CipherSuites() []uint16 { return append([]uint16(nil), cipherSuites...) }

// CurvePreferences returns the key exchanges that Server and Client
// configure: X25519MLKEM768, X25519 and P-256. The slice is a copy.
func CurvePreferences() []tls.CurveID { return append([]tls.CurveID(nil), curves...) }

// base returns a Config with the defaults shared by servers and clients.
// Session tickets stay on (SessionTicketsDisabled false): crypto/tls then
// issues tickets and rotates their keys itself.
func base(nextProtos []string) *tls.Config {
	return &tls.Config{
		MinVersion:       MinVersion,
		CipherSuites:     CipherSuites(),
		CurvePreferences: CurvePreferences(),
		NextProtos:       append([]string(nil), nextProtos...),
	}
}
