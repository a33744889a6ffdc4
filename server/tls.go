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

	// ErrAlreadyTLS is returned by StartTLS for a connection that is TLS
	// already or has an upgrade pending.
	ErrAlreadyTLS = errors.New("sockpool/server: connection is TLS already")

	// ErrStartTLSUnsupported is returned by StartTLS for a Conn that cannot
	// be upgraded (one that implements no StartTLS method).
	ErrStartTLSUnsupported = errors.New("sockpool/server: connection cannot start TLS")

	errNilTLSConfig = errors.New("sockpool/server: StartTLS needs a tls.Config")

	// errStopped ends a handshake that Shutdown or Close cut short.
	errStopped = errors.New("sockpool/server: handshake stopped")
)

// TLSStarter is implemented by the connections of every engine; StartTLS
// is the way to call it. A Conn wrapper that should allow upgrades can
// implement it by forwarding to the Conn it wraps.
type TLSStarter interface {
	StartTLS(config *tls.Config, rest []byte) error
}

// StartTLS switches the plain connection c to TLS mid-stream, as the
// server side of a protocol's own "begin TLS" exchange (SMTP's STARTTLS,
// IMAP's, ...). Call it from OnData, after writing the reply that tells the
// client to begin: "220 Ready to start TLS". rest is the input of this
// OnData call that follows the command, if any: a client may send the start
// of its handshake in the same packet as the command, and those bytes
// belong to the handshake (pass nil when there are none). StartTLS copies
// rest.
//
// StartTLS returns at once. Once OnData returns, the engine stops passing
// input to the handler, runs the handshake on the worker pool within
// HandshakeTimeout (on the Evented engine too: never on the event loop),
// and then OnData gets plaintext and Conn.TLS reports the state. Writes
// made meanwhile go out encrypted after the handshake, in order (the
// threaded engines hold them until it ends; Evented keeps them). If the
// handshake fails, the connection closes and OnClose gets an error wrapping
// ErrTLSHandshake, or ErrHandshakeTimeout.
//
// StartTLS returns ErrAlreadyTLS when c is TLS already (or an upgrade is
// pending) and ErrStartTLSUnsupported when c cannot be upgraded.
func StartTLS(c Conn, config *tls.Config, rest []byte) error {
	st, ok := c.(TLSStarter)
	if !ok {
		return ErrStartTLSUnsupported
	}
	return st.StartTLS(config, rest)
}

// tlsUpgrade is a StartTLS request waiting for its OnData call to return.
type tlsUpgrade struct {
	config *tls.Config
	rest   []byte
}

func newUpgrade(config *tls.Config, rest []byte) (*tlsUpgrade, error) {
	if config == nil {
		return nil, errNilTLSConfig
	}
	return &tlsUpgrade{config: config, rest: append([]byte(nil), rest...)}, nil
}

// handshakeFailed counts a handshake that failed with err and returns the
// error to report: ErrHandshakeTimeout, or err wrapped in ErrTLSHandshake.
func (s *Server) handshakeFailed(c Conn, err error) error {
	s.stats.tlsErrors.Add(1)
	if isTimeout(err) {
		s.stats.timeouts.Add(1)
		err = ErrHandshakeTimeout
	} else {
		err = fmt.Errorf("%w: %w", ErrTLSHandshake, err)
	}
	s.log.Debug("TLS handshake failed", "conn", c.ID(), "remote", c.RemoteAddr().String(), "err", err)
	return err
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

// prefixConn is a net.Conn whose reads return prefix first: the input that
// was read before a StartTLS handshake began.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.prefix) > 0 {
		n := copy(b, p.prefix)
		p.prefix = p.prefix[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}
