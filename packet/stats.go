package packet

import "sync/atomic"

// Stats is a snapshot of a Server's counters. Its fields are read one by
// one without a lock, so under load they need not add up exactly.
type Stats struct {
	// Received is the number of datagrams read, including those dropped
	// and the oversize ones.
	Received uint64

	// BytesIn is the number of bytes of the datagrams received, oversize
	// ones excepted.
	BytesIn uint64

	// Dropped is the number of datagrams not handled because Workers
	// handler calls were running, or because the server was shutting down.
	Dropped uint64

	// Oversize is the number of datagrams dropped because they were longer
	// than MaxPacketSize.
	Oversize uint64

	// Sent and BytesOut count the datagrams Writers sent and their bytes.
	Sent     uint64
	BytesOut uint64

	// ReadErrors is the number of failed reads of a socket (Serve counts
	// them, logs them and reads on); WriteErrors the number of failed
	// Writer.WriteTo calls.
	ReadErrors  uint64
	WriteErrors uint64

	// Panics is the number of handler calls that panicked.
	Panics uint64

	// Busy is the number of handler calls running now.
	Busy int
}

type counters struct {
	received, bytesIn, dropped, oversize atomic.Uint64
	sent, bytesOut                       atomic.Uint64
	readErrors, writeErrors, panics      atomic.Uint64
}

// Stats returns a snapshot of the server's counters. It is safe to call at
// any time, before Serve and after Shutdown included.
func (s *Server) Stats() Stats {
	st := Stats{
		Received:    s.stats.received.Load(),
		BytesIn:     s.stats.bytesIn.Load(),
		Dropped:     s.stats.dropped.Load(),
		Oversize:    s.stats.oversize.Load(),
		Sent:        s.stats.sent.Load(),
		BytesOut:    s.stats.bytesOut.Load(),
		ReadErrors:  s.stats.readErrors.Load(),
		WriteErrors: s.stats.writeErrors.Load(),
		Panics:      s.stats.panics.Load(),
	}
	s.mu.Lock()
	p := s.pool
	s.mu.Unlock()
	if p != nil {
		st.Busy = p.Stats().Running
	}
	return st
}
