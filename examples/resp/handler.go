package main

import (
	"errors"

	"github.com/sockpool/sockpool/bufs"
	"github.com/sockpool/sockpool/server"
)

// flushAt is how much reply the handler gathers before it writes mid-read.
// One read of redis-benchmark -P 16 answers in a few hundred bytes, far
// below it, so it still goes out in one Write; a read full of GETs of large
// values goes out in pieces of flushAt plus one reply, and never builds a
// buffer of all its replies. It is a quarter of the evented engine's
// default WriteHighWater (256 KiB), so that Congested is asked often enough
// to stop a pipeline near high water.
const flushAt = 64 << 10

// handler is the server.Handler of the key-value server.
type handler struct {
	store  *store
	limits limits
}

// session is one connection's state: its parser keeps the unfinished
// command between reads, and the commands not yet run while the connection
// is congested.
type session struct {
	p      *parser
	closed bool
}

// OnOpen gives the connection its session.
func (h *handler) OnOpen(c server.Conn) {
	c.SetValue(&session{p: newParser(h.limits)})
}

// OnData runs the complete commands of in and answers them with as few
// Writes as it can: with pipelining (redis-benchmark -P 16) one read carries
// many commands, and one write per read instead of per command is most of
// the speed.
func (h *handler) OnData(c server.Conn, in []byte) {
	h.serve(c, in)
}

// OnDrain goes on with the commands that OnData (or an earlier OnDrain)
// kept when the connection was congested. The engine has read nothing in
// between, so they are all there is to run.
func (h *handler) OnDrain(c server.Conn) {
	h.serve(c, nil)
}

// serve runs the commands of the session's kept input and in, gathering
// their replies up to flushAt between Writes. It stops after a Write that
// leaves the connection Congested (an inline handler on an event loop,
// where Write queues without waiting): the commands not yet run stay in the
// parser, the engine stops reading, and OnDrain goes on once the peer has
// taken the queue down to WriteLowWater. A connection's queue so stays
// within WriteHighWater plus flushAt plus one reply, however many GETs of
// large values a client pipelines without reading. On the threaded engine,
// and with EventedPool, Congested is never true: Write waits instead.
func (h *handler) serve(c server.Conn, in []byte) {
	s, _ := c.Value().(*session)
	if s == nil || s.closed {
		return
	}
	out := bufs.GetOutput()
	defer bufs.PutOutput(out)
	s.p.begin(in)
	defer s.p.end()
	for {
		args, err := s.p.next()
		if err != nil {
			var perr protocolError
			if errors.As(err, &perr) {
				out.B = appendError(out.B, "ERR "+perr.Error())
			}
			s.closed = true
			break
		}
		if args == nil {
			break
		}
		var quit bool
		out.B, quit = h.exec(out.B, args)
		if quit {
			s.closed = true
			break
		}
		if len(out.B) >= flushAt {
			if _, err := c.Write(out.B); err != nil {
				s.closed = true
				return
			}
			out.B = out.B[:0]
			if c.Congested() {
				return // the rest waits in the parser for OnDrain
			}
		}
	}
	if len(out.B) > 0 {
		c.Write(out.B)
	}
	if s.closed {
		c.Close() // flushes the replies written above first
	}
}
