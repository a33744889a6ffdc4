package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// udpLossTimeout is how long a UDP client waits for an echo before it
// counts its datagram lost and sends the next one. A loopback round trip
// takes microseconds, so an echo this late is not coming: the socket
// buffer on one side overflowed, or the server dropped the datagram.
const udpLossTimeout = time.Second

// lateMemory is how many of its lost messages a UDP client remembers, so
// that an echo that comes after its message was given up is known to be
// late rather than wrong.
const lateMemory = 16

// errLost marks a datagram whose echo did not come within the loss
// timeout. It is counted, not fatal: UDP may lose datagrams.
var errLost = errors.New("bench: no echo within the loss timeout")

// A datagramConn is the transport of a UDP echo client: a socket
// connected to the server (so it reads nothing from anyone else), one
// datagram in flight at a time.
type datagramConn struct {
	conn    net.Conn
	timeout time.Duration
	buf     []byte // one byte more than a message, so that a longer echo shows
	// The last lateMemory messages given up for lost. They are slices of
	// the pattern's block, which never changes, so keeping them costs no
	// copy.
	lost  [lateMemory][]byte
	nlost int
}

// newDatagramConn returns the transport of the connected UDP socket conn
// for datagrams of size bytes, each given up after timeout.
func newDatagramConn(conn net.Conn, size int, timeout time.Duration) *datagramConn {
	return &datagramConn{conn: conn, timeout: timeout, buf: make([]byte, size+1)}
}

// exchange sends msgs[0] as one datagram and waits for its echo until the
// loss timeout, checking every byte; done gets the round trip's latency.
// An echo of a message given up earlier is skipped. It returns an error
// wrapping errLost when no echo came in time (also when the runner cut
// the read: the worker then stops anyway), and fails on an echo that is
// not the message sent, a short or a long one.
func (d *datagramConn) exchange(msgs [][]byte, done func(time.Duration)) error {
	msg := msgs[0]
	start := time.Now()
	if err := d.conn.SetReadDeadline(start.Add(d.timeout)); err != nil {
		return err
	}
	if _, err := d.conn.Write(msg); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	for {
		n, err := d.conn.Read(d.buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			d.lost[d.nlost%lateMemory] = msg
			d.nlost++
			return fmt.Errorf("%w (%v)", errLost, d.timeout)
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		echo := d.buf[:n]
		switch {
		case bytes.Equal(echo, msg):
			done(time.Since(start))
			return nil
		case d.late(echo):
			continue
		case n < len(msg):
			return fmt.Errorf("%w: an echo of %d bytes for a datagram of %d", errShortRead, n, len(msg))
		case n > len(msg):
			return fmt.Errorf("%w: an echo longer than the %d-byte datagram", errMismatch, len(msg))
		}
		return mismatch(echo, msg)
	}
}

// late reports whether echo is the echo of a message given up for lost.
func (d *datagramConn) late(echo []byte) bool {
	for _, m := range d.lost[:min(d.nlost, lateMemory)] {
		if bytes.Equal(echo, m) {
			return true
		}
	}
	return false
}
