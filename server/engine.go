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
)

func (e Engine) String() string {
	switch e {
	case Threaded:
		return "threaded"
	}
	return fmt.Sprintf("Engine(%d)", int(e))
}

// ReadMode selects how the threaded engine reads from a socket.
type ReadMode int

const (
	// Netpoll reads through Go's net.Conn, parked on the runtime's network
	// poller while no data is available. It is the default.
	Netpoll ReadMode = iota
)

func (m ReadMode) String() string {
	switch m {
	case Netpoll:
		return "netpoll"
	}
	return fmt.Sprintf("ReadMode(%d)", int(m))
}

// MarshalText returns the engine's name, so an Engine can be a flag
// (flag.TextVar) or a config file value.
func (e Engine) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// UnmarshalText sets e from its name: "threaded".
func (e *Engine) UnmarshalText(b []byte) error {
	switch strings.ToLower(string(b)) {
	case "threaded":
		*e = Threaded
	default:
		return fmt.Errorf("sockpool/server: unknown engine %q (want threaded)", b)
	}
	return nil
}

// MarshalText returns the read mode's name.
func (m ReadMode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText sets m from its name: "netpoll".
func (m *ReadMode) UnmarshalText(b []byte) error {
	switch strings.ToLower(string(b)) {
	case "netpoll":
		*m = Netpoll
	default:
		return fmt.Errorf("sockpool/server: unknown read mode %q (want netpoll)", b)
	}
	return nil
}
