package server

import (
	"fmt"
	"strings"
)

// Engine selects how a Server runs its connections: the kind of engine and
// the way it reads or calls the handler, in one value, so that no setting of
// one engine can be combined with another.
type Engine int

const (
	// Threaded gives each connection a worker from the pool for its whole
	// life; the worker waits for input on Go's network poller holding no
	// buffer, reads and calls the handler. It is the default and runs on
	// every OS.
	Threaded Engine = iota

	// ThreadedSyscall is Threaded with the socket taken out of Go's network
	// poller: the worker reads with blocking read(2) calls into a buffer it
	// keeps, on its own OS thread (Linux; elsewhere the server runs Threaded
	// and logs it). A read returns as soon as data arrives, without a
	// wake-up through the poller, which suits a few busy connections; but
	// every connection blocked in a read holds an OS thread, so it does not
	// suit thousands of connections (see Server.MaxConns). TLS connections
	// are read as in Threaded: crypto/tls reads through a net.Conn.
	ThreadedSyscall

	// Evented runs connections on event loops (epoll, Linux only) and calls
	// the handler on the loop: the fastest path, for handlers that do not
	// block (one that blocks stalls every connection of its loop). Each loop
	// waits for readiness on many connections and reads into one buffer of
	// its own, so an idle connection holds no buffer and no goroutine.
	// Output the socket does not take at once is queued and flushed when it
	// is writable. On other systems Serve returns ErrEngineUnsupported.
	Evented

	// EventedPool is Evented with the handler called on the worker pool, one
	// call at a time per connection and in order, so a handler may block
	// without stalling the loop. The input is copied once, out of the loop's
	// buffer.
	EventedPool

	// Uring is Evented on io_uring (Linux 6.1 or later): each loop owns a
	// ring on a locked OS thread, input arrives by multishot recv into a
	// buffer ring the loop shares among its connections (so an idle
	// connection holds no buffer), and output is sent by requests batched
	// per loop turn and submitted with the loop's wait, in one system call.
	// The handler runs on the loop, as in Evented. Where io_uring is missing
	// or refused, Serve returns an error wrapping ErrEngineUnsupported and
	// uring.ErrUnsupported that names the cause; nothing falls back.
	//
	// It is new: prefer Evented until the bench says otherwise. With
	// ReadBufferSize 0 a read takes what the socket holds, up to
	// MaxReadBufferSize (Linux 6.15 or 6.12.29 and later; before, the
	// tuner's starting size): see ReadBufferSize.
	Uring
)

// engineNames are the engines' names, by value.
var engineNames = [...]string{
	Threaded:        "threaded",
	ThreadedSyscall: "threaded-syscall",
	Evented:         "evented",
	EventedPool:     "evented-pool",
	Uring:           "uring",
}

// String returns the engine's name ("threaded", "threaded-syscall",
// "evented", "evented-pool", "uring"), or "Engine(n)" for other values.
func (e Engine) String() string {
	if e >= 0 && int(e) < len(engineNames) {
		return engineNames[e]
	}
	return fmt.Sprintf("Engine(%d)", int(e))
}

// MarshalText returns the engine's name, so an Engine can be a flag
// (flag.TextVar) or a config file value.
func (e Engine) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// UnmarshalText sets e from its name (see String).
func (e *Engine) UnmarshalText(b []byte) error {
	for v, name := range engineNames {
		if strings.EqualFold(string(b), name) {
			*e = Engine(v)
			return nil
		}
	}
	return fmt.Errorf("sockpool/server: unknown engine %q (want %s)", b, strings.Join(engineNames[:], ", "))
}

// Supported reports whether e runs on this system: nil, or the error Serve
// would return for it. Where the system lacks what e needs, that error
// wraps ErrEngineUnsupported and names the cause (for Uring also
// uring.ErrUnsupported, and the errno where there is one); another setup
// failure (out of descriptors or memory) is returned as it is. For Uring
// it sets up and closes a ring, its buffer ring and its waker as a loop
// does, so it sees what the kernel, kernel.io_uring_disabled or a seccomp
// filter refuses; that is a few system calls, so ask once, before
// choosing. ThreadedSyscall is supported everywhere: elsewhere than Linux
// it runs as Threaded.
//
// A program that wants io_uring where it works and epoll elsewhere asks
// for that fallback itself:
//
//	engine := server.Uring
//	if err := engine.Supported(); err != nil {
//		log.Printf("%v; serving on evented", err)
//		engine = server.Evented
//	}
func (e Engine) Supported() error {
	switch e {
	case Threaded, ThreadedSyscall:
		return nil
	case Evented, EventedPool, Uring:
		return e.eventedSupported()
	}
	return fmt.Errorf("sockpool/server: unknown %v", e)
}

// evented reports whether e runs connections on event loops.
func (e Engine) evented() bool { return e == Evented || e == EventedPool || e == Uring }

// inline reports whether e calls the handler on its event loop.
func (e Engine) inline() bool { return e == Evented || e == Uring }
