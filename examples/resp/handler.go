package main

import (
	"errors"

	"github.com/sockpool/sockpool/bufs"
	"github.com/sockpool/sockpool/server"
)

// flushAt is how much reply the handler gathers before it writes mid-read: a
// read full of GETs of large values must not build one enormous reply.
const flushAt = 1 << 20

// handler is the server.Handler of the key-value server.
type handler struct {
	store  *store
	limits limits
}

// session is one connection's state: its parser keeps the unfinished
// command between reads.
type session struct {
	p      *parser
	closed bool
}

// OnOpen gives the connection its session.
func (h *handler) OnOpen(c server.Conn) {
	c.SetContext(&session{p: newParser(h.limits)})
}

// OnData runs every complete command of in and answers them all with one
// Write: with pipelining (redis-benchmark -P 16) one read carries many
// commands, and one write per read instead of per command is most of the
// speed.
func (h *handler) OnData(c server.Conn, in []byte) {
	s, _ := c.Context().(*session)
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
		}
	}
	if len(out.B) > 0 {
		c.Write(out.B)
	}
	if s.closed {
		c.Close() // flushes the replies written above first
	}
}
