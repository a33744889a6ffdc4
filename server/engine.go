package server

import (
	"fmt"
	"strings"
)

// Engine selects how a Server runs its connections.
type Engine int

const (
	// Threaded gives each connection a worker from the pool for its whole
	// life; the worker reads with blocking reads and calls the handler. It is
	// the default and runs on every OS.
	Threaded Engine = iota

	// Evented runs connections on event loops (epoll, Linux only): each loop
	// waits for readiness on many connections and reads into one buffer of
	// its own, so an idle connection holds no buffer and no goroutine.
	// Output the socket does not take at once is queued and flushed when it
	// is writable. On other systems Serve returns ErrEngineUnsupported.
	Evented
)

// String returns "threaded" or "evented", or "Engine(n)" for other values.
func (e Engine) String() string {
	switch e {
	case Threaded:
		return "threaded"
	case Evented:
		return "evented"
	}
	return fmt.Sprintf("Engine(%d)", int(e))
}

// ReadMode selects how the threaded engine reads from a socket.
type ReadMode int

const (
	// Netpoll reads through Go's net.Conn, parked on the runtime's network
	// poller while no data is available. It is the default.
	Netpoll ReadMode = iota

	// Syscall takes the socket out of Go's network poller and reads with
	// blocking read(2) calls into the connection's buffer, on the worker's
	// own OS thread (Linux; elsewhere the server falls back to Netpoll and
	// logs it). A read returns as soon as data arrives, without a wake-up
	// through the poller, which suits a few busy connections; but every
	// connection blocked in a read holds an OS thread, so it does not suit
	// thousands of connections (see Server.MaxConns).
	Syscall
)

// String returns "netpoll" or "syscall", or "ReadMode(n)" for other values.
func (m ReadMode) String() string {
	switch m {
	case Netpoll:
		return "netpoll"
	case Syscall:
		return "syscall"
	}
	return fmt.Sprintf("ReadMode(%d)", int(m))
}

// MarshalText returns the engine's name, so an Engine can be a flag
// (flag.TextVar) or a config file value.
func (e Engine) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// UnmarshalText sets e from its name: "threaded" or "evented".
func (e *Engine) UnmarshalText(b []byte) error {
	switch strings.ToLower(string(b)) {
	case "threaded":
		*e = Threaded
	case "evented":
		*e = Evented
	default:
		return fmt.Errorf("sockpool/server: unknown engine %q (want threaded or evented)", b)
	}
	return nil
}

// MarshalText returns the read mode's name.
func (m ReadMode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText sets m from its name: "netpoll" or "syscall".
func (m *ReadMode) UnmarshalText(b []byte) error {
	switch strings.ToLower(string(b)) {
	case "netpoll":
		*m = Netpoll
	case "syscall":
		*m = Syscall
	default:
		return fmt.Errorf("sockpool/server: unknown read mode %q (want netpoll or syscall)", b)
	}
	return nil
}

// Dispatch says where the Evented engine calls a connection's OnData.
type Dispatch int

const (
	// Inline calls OnData on the event loop: the fastest path, for handlers
	// that do not block. A handler that blocks stalls every connection of
	// its loop.
	Inline Dispatch = iota

	// Pool calls OnData on the worker pool, one call at a time per
	// connection and in order, so a handler may block without stalling the
	// loop. The input is copied once, out of the loop's buffer.
	Pool
)

// String returns "inline" or "pool", or "Dispatch(n)" for other values.
func (d Dispatch) String() string {
	switch d {
	case Inline:
		return "inline"
	case Pool:
		return "pool"
	}
	return fmt.Sprintf("Dispatch(%d)", int(d))
}

// MarshalText returns the dispatch mode's name.
func (d Dispatch) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText sets d from its name: "inline" or "pool".
func (d *Dispatch) UnmarshalText(b []byte) error {
	switch strings.ToLower(string(b)) {
	case "inline":
		*d = Inline
	case "pool":
		*d = Pool
	default:
		return fmt.Errorf("sockpool/server: unknown dispatch %q (want inline or pool)", b)
	}
	return nil
}
