package server

import "sync/atomic"

// Stats is a snapshot of a Server's counters. Counters only grow; Active,
// Queued, Paused, BusyWorkers and Waiting are levels at the moment of the
// snapshot.
type Stats struct {
	Accepted uint64 // connections accepted and handed to the engine
	Dialed   uint64 // connections a Dialer opened and handed to the engine
	Rejected uint64 // connections closed before they started, for any reason in Rejections
	Closed   uint64 // connections that have finished (OnClose has run)
	Active   int    // connections open now

	// Rejections splits Rejected by reason.
	Rejections Rejections

	// BytesIn and BytesOut count bytes read and passed to the handler, and
	// written to connections, in plaintext for TLS; on a Listener's
	// connections, the bytes they read and wrote, on the wire for TLS.
	BytesIn  uint64
	BytesOut uint64

	Panics       uint64 // handler panics (each closed its connection)
	Timeouts     uint64 // connections closed by IdleTimeout, ReadTimeout, WriteTimeout or HandshakeTimeout
	AcceptErrors uint64 // temporary accept errors (for example EMFILE) backed off from
	// OutputLimited counts connections closed because their queued output
	// would have passed OutputLimit (Evented).
	OutputLimited uint64

	// TLSHandshakes counts TLS handshakes that succeeded (at accept and by
	// StartTLS); TLSHandshakeErrors those that failed: a client that is not
	// TLS or offers nothing the server accepts (an old version, no client
	// certificate under mutual TLS), one that went away, and one that
	// passed HandshakeTimeout, which Timeouts counts too. Handshakes cut
	// short by Shutdown or Close are in neither.
	TLSHandshakes      uint64
	TLSHandshakeErrors uint64

	// Queued is the output queued now, waiting for slow readers (Evented;
	// the threaded engine writes synchronously and queues nothing). Each
	// connection's queue is bounded by WriteHighWater for writers off the
	// event loop and by OutputLimit for handlers on it.
	Queued int64
	// Paused is the number of connections whose reading is paused because
	// their queued output, plus input waiting for a pool worker, passed
	// WriteHighWater (Evented).
	Paused int64

	// BusyWorkers is the number of pool workers busy now (Server.Workers is
	// how many there may be). In the threaded engine a worker serves one
	// connection for its life.
	BusyWorkers int
	// Waiting is the number of accepted connections waiting for a worker. A
	// non-zero Waiting that persists means the pool is too small for the
	// load: those clients get no reply at all.
	Waiting int
}

// Rejections counts the connections closed before they started, by reason.
type Rejections struct {
	Overload uint64 // MaxConns reached, or no worker free, under the Reject policy
	PerIP    uint64 // MaxConnsPerIP reached for the client's address
	Access   uint64 // refused by the Access rules
	// Proxy counts PROXY protocol failures: a peer that is not a trusted
	// proxy, and a header that was malformed, truncated or too slow.
	Proxy uint64
}

// counters are the Server's running totals. Per-connection byte counts live
// on the connection (one cache line per connection, not one shared by all)
// and are added here when the connection closes.
type counters struct {
	accepted     atomic.Uint64
	dialed       atomic.Uint64
	rejected     atomic.Uint64
	rejections   [numRejectReasons]atomic.Uint64
	closed       atomic.Uint64
	bytesIn      atomic.Uint64
	bytesOut     atomic.Uint64
	panics       atomic.Uint64
	timeouts     atomic.Uint64
	acceptErrors atomic.Uint64
	outputLimit  atomic.Uint64
	tlsOK        atomic.Uint64
	tlsErrors    atomic.Uint64
	queued       atomic.Int64
	paused       atomic.Int64
}

// Stats returns a snapshot of the server's counters. It is safe to call at any
// time, from any goroutine.
func (s *Server) Stats() Stats {
	st := Stats{
		Accepted: s.stats.accepted.Load(),
		Dialed:   s.stats.dialed.Load(),
		Rejected: s.stats.rejected.Load(),
		Rejections: Rejections{
			Overload: s.stats.rejections[rejectOverload].Load(),
			PerIP:    s.stats.rejections[rejectPerIP].Load(),
			Access:   s.stats.rejections[rejectAccess].Load(),
			Proxy:    s.stats.rejections[rejectProxy].Load(),
		},
		Closed:             s.stats.closed.Load(),
		Panics:             s.stats.panics.Load(),
		Timeouts:           s.stats.timeouts.Load(),
		AcceptErrors:       s.stats.acceptErrors.Load(),
		OutputLimited:      s.stats.outputLimit.Load(),
		TLSHandshakes:      s.stats.tlsOK.Load(),
		TLSHandshakeErrors: s.stats.tlsErrors.Load(),
		Queued:             s.stats.queued.Load(),
		Paused:             s.stats.paused.Load(),
	}
	// Totals and live connections are read under the lock that removeConn
	// holds while it moves a connection's bytes into the totals, so no byte is
	// counted twice or missed.
	s.mu.Lock()
	st.BytesIn, st.BytesOut = s.stats.bytesIn.Load(), s.stats.bytesOut.Load()
	st.Active = len(s.conns)
	for c := range s.conns {
		in, out := c.counts()
		st.BytesIn += in
		st.BytesOut += out
	}
	p := s.pool
	s.mu.Unlock()
	if p != nil {
		ps := p.Stats()
		st.BusyWorkers, st.Waiting = ps.Running, ps.Waiting
	}
	return st
}
