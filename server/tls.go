package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
)

var (
	// ErrTLSHandshake is wrapped by the error of a TLS handshake that
	// failed: the peer is not speaking TLS, or offers nothing the server's
	// tls.Config accepts. A handshake at accept reports it only to the
	// Logger (Debug) and Stats.TLSHandshakeErrors; one begun by StartTLS
	// closes the connection, and OnClose gets it.
	ErrTLSHandshake = errors.New("sockpool/server: TLS handshake failed")

	// ErrHandshakeTimeout ends a TLS handshake that did not finish within
	// HandshakeTimeout. It is a net.Error whose Timeout is true.
	ErrHandshakeTimeout error = &timeoutError{"TLS handshake timeout"}

	// ErrTLSRecord is wrapped by the error an established TLS connection
	// closes with when crypto/tls refuses what the peer sent (a record that
	// does not decrypt, an unexpected message) or the peer sent an alert.
	// Only that connection closes.
	ErrTLSRecord = errors.New("sockpool/server: TLS error")

	// ErrAlreadyTLS is returned by Conn.StartTLS for a connection that is
	// TLS already or has an upgrade pending.
	ErrAlreadyTLS = errors.New("sockpool/server: connection is TLS already")

	// ErrUpgradePending is returned by Conn.CloseWrite while a StartTLS
	// upgrade is under way: the FIN would overtake the output that waits
	// to be encrypted.
	ErrUpgradePending = errors.New("sockpool/server: StartTLS is under way")

	errNilTLSConfig = errors.New("sockpool/server: StartTLS needs a tls.Config")

	// errStopped ends a handshake that Shutdown or Close cut short.
	errStopped = errors.New("sockpool/server: handshake stopped")
)

// tlsUpgrade is a StartTLS request waiting for its OnData call to return.
type tlsUpgrade struct {
	config *tls.Config
	rest   []byte
	// pending is the evented engine's: Writes made after StartTLS, for
	// after the handshake (under the connection's mu).
	pending []byte
}

func newUpgrade(config *tls.Config, rest []byte) (*tlsUpgrade, error) {
	if config == nil {
		return nil, errNilTLSConfig
	}
	return &tlsUpgrade{config: config, rest: append([]byte(nil), rest...)}, nil
}

// handshakeFailed counts and logs a handshake of c that failed with err
// and returns the error to report (see handshakeError).
func (s *Server) handshakeFailed(c Conn, err error) error {
	err = s.handshakeError(err)
	s.log.Debug("TLS handshake failed", "conn", c.ID(), "remote", c.RemoteAddr().String(), "err", err)
	return err
}

// handshakeError counts a handshake that failed with err and returns the
// error to report: ErrHandshakeTimeout, or err wrapped in ErrTLSHandshake.
func (s *Server) handshakeError(err error) error {
	s.stats.tlsErrors.Add(1)
	if isTimeout(err) {
		s.stats.timeouts.Add(1)
		return ErrHandshakeTimeout
	}
	return fmt.Errorf("%w: %w", ErrTLSHandshake, err)
}

// tlsReadError wraps in ErrTLSRecord an error from reading an established
// TLS connection that crypto/tls raised itself (not a socket error, which
// it passes through).
func tlsReadError(err error) error {
	var rh tls.RecordHeaderError
	var ae tls.AlertError
	var op *net.OpError
	if errors.As(err, &rh) || errors.As(err, &ae) ||
		errors.As(err, &op) && (op.Op == "local error" || op.Op == "remote error") {
		return fmt.Errorf("%w: %w", ErrTLSRecord, err)
	}
	return err
}

// readAhead is input read before a StartTLS handshake began, which belongs
// to the handshake: every engine's transport under crypto/tls serves it
// first.
type readAhead []byte

// read copies what is left of r into p; ok is false once nothing is.
func (r *readAhead) read(p []byte) (n int, ok bool) {
	if len(*r) == 0 {
		return 0, false
	}
	n = copy(p, *r)
	*r = (*r)[n:]
	return n, true
}

// prefixConn is a net.Conn whose reads return prefix first.
type prefixConn struct {
	net.Conn
	prefix readAhead
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if n, ok := p.prefix.read(b); ok {
		return n, nil
	}
	return p.Conn.Read(b)
}
