package server

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockpool/sockpool/bufs"
	"github.com/sockpool/sockpool/pool"
	"github.com/sockpool/sockpool/proxyproto"
)

// Defaults for the zero values of Server's fields.
const (
	DefaultNetwork        = "tcp"
	DefaultReadBufferSize = 16 << 10
	DefaultMaxConns       = 10000
	// DefaultSyscallMaxConns is MaxConns's default with ThreadedSyscall,
	// where each connection blocked in a read holds an OS thread and Go
	// stops the program at 10,000 threads (runtime/debug.SetMaxThreads).
	DefaultSyscallMaxConns = 1000
	DefaultWriteHighWater  = 256 << 10
	DefaultWriteLowWater   = 64 << 10
	// DefaultOutputLimit is OutputLimit's default: far above what a peer
	// that reads ever queues, low enough that a handful of peers that never
	// read cannot exhaust memory.
	DefaultOutputLimit = 64 << 20
	// DefaultHandshakeTimeout bounds a TLS handshake when HandshakeTimeout
	// is zero.
	DefaultHandshakeTimeout = 10 * time.Second
)

// A connection closed by the server (Conn.Close, Shutdown) lingers: it
// sends FIN, then reads and discards until the peer closes too. Closing a
// socket with unread input makes the kernel send RST, which can destroy
// replies the peer has not read yet. The linger ends when the peer has been
// quiet for lingerQuiet (it is no longer sending, so closing cannot cause an
// RST) or, for a peer that keeps sending, after lingerMax; Shutdown allows
// shutdownLingerMax, since its context already bounds it and a peer with
// megabytes of replies to read under load keeps sending for more than a
// second (the conformance suite's shutdown test saw RSTs at one second on a
// loaded machine).
//
// During Shutdown a linger also ends as soon as the peer has everything
// written to it (see delivered), checked every lingerPoll: a client that
// keeps sending would otherwise hold Shutdown to its deadline. The RST that
// its next packet then draws loses nothing it was sent: Linux keeps data
// that has arrived readable after a reset (the peer reads it, then sees the
// reset or EOF). A peer that is sent data and does not read keeps the linger
// going, and Shutdown's deadline then reports the output it could not
// deliver.
const (
	lingerQuiet       = time.Second
	lingerMax         = 2 * time.Second
	shutdownLingerMax = 10 * time.Second
	lingerPoll        = 20 * time.Millisecond
)

// drainSize is the size of the buffer a lingering close discards input into.
const drainSize = 16 << 10

// shutdownLingerEnds reports whether a linger for reason ends once the
// peer has all output (see the linger constants): during Shutdown.
func shutdownLingerEnds(reason error) bool { return errors.Is(reason, ErrServerClosed) }

// lingerFor is the longest a connection closing for reason may linger.
func lingerFor(reason error) time.Duration {
	if errors.Is(reason, ErrServerClosed) {
		return shutdownLingerMax
	}
	return lingerMax
}

// A Server accepts connections and runs a Handler for their data on the
// chosen Engine. The zero value with a Handler is a working server; every
// field is read when Serve (or ListenAndServe) is first called and must not
// change afterwards.
//
// A Server may serve several listeners at once (Serve in several
// goroutines). Once Shutdown or Close has been called it cannot be reused.
type Server struct {
	// Addr is the address ListenAndServe listens on; a port of 0 picks a
	// free port, which ListenAddr reports. Empty means a free port on
	// loopback ("127.0.0.1:0"): nothing is exposed unless asked for.
	Addr string

	// Network is the network ListenAndServe listens on: "tcp", "tcp4",
	// "tcp6" or "unix". Default "tcp".
	Network string

	// Handler is called for each connection's data. Serve and
	// ListenAndServe require it; Listener does not use it.
	Handler Handler

	// Engine selects how connections are run: Threaded (the default),
	// ThreadedSyscall, Evented or EventedPool.
	Engine Engine

	// ReadBufferSize is the size of the buffer each read fills, rounded up to
	// a bufs size class. A larger buffer means fewer reads and handler calls
	// for large messages; a smaller one, less memory per busy connection.
	//
	// Zero lets a bufs.Tuner pick the size from the reads it sees, per
	// connection (threaded) or per event loop (evented): it starts at
	// DefaultReadBufferSize, grows while reads fill the buffer and shrinks
	// while they use a quarter of it or less, within MinReadBufferSize and
	// MaxReadBufferSize. Uring needs no tuner on Linux 6.15 (or 6.12.29)
	// and later: a read takes what the socket holds up to
	// MaxReadBufferSize, and uses only as much of the loop's buffers as it
	// brought; on older kernels its reads keep the tuner's starting size.
	ReadBufferSize int

	// MinReadBufferSize and MaxReadBufferSize bound the tuner's choice when
	// ReadBufferSize is zero. Defaults bufs.MinSize (512 B) and
	// bufs.DefaultTunerMax (256 KiB).
	MinReadBufferSize int
	MaxReadBufferSize int

	// Workers bounds the pool of worker goroutines. In the threaded engine a
	// worker serves one connection for its whole life, so Workers below
	// MaxConns leaves accepted connections waiting for a worker (see
	// Stats.Waiting). Default: MaxConns.
	Workers int

	// MaxConns is the most connections open at once. Default
	// DefaultMaxConns (DefaultSyscallMaxConns with ThreadedSyscall). What
	// happens to more depends on Overflow.
	MaxConns int

	// Overflow is what happens to a new connection when MaxConns connections
	// are open or no worker is free. pool.Block (the default) stops
	// accepting until one closes, so new clients wait in the kernel's listen
	// backlog; pool.Reject accepts and closes the new connection at once and
	// counts it in Stats.Rejected.
	Overflow pool.Policy

	// IdleTimeout closes a connection that has moved no bytes in either
	// direction for this long. Zero means no timeout.
	IdleTimeout time.Duration

	// ReadTimeout closes a connection that has sent nothing for this long,
	// even if the server is still writing to it. Zero means no timeout.
	ReadTimeout time.Duration

	// WriteTimeout closes a connection whose peer has not taken written bytes
	// for this long (a client that never reads). Zero means no timeout.
	// What the peer took is what its TCP acknowledged, which for a slow
	// reader comes in steps (a shut window reopens only once a segment
	// fits) and waits out the 200 ms retransmit timer after a loss: set
	// it in seconds, not in hundreds of milliseconds.
	WriteTimeout time.Duration

	// Loops is the number of event loops of the Evented, EventedPool and
	// Uring engines, each on its own goroutine with its own epoll instance
	// or ring. Default GOMAXPROCS, and for Uring one fewer (at least one):
	// a uring loop is locked to its thread and keeps its P through its
	// waits, so with a loop on every P the rest of the program (accepts,
	// timers, the collector, the pool) gets a P only by a hand-off between
	// threads. docs/benchmarks.md has the measurements.
	Loops int

	// ReusePort makes ListenAndServe open one SO_REUSEPORT listening socket
	// per event loop (Evented, Linux), so the kernel spreads new connections
	// over the loops. Otherwise one acceptor deals them out in turn.
	// TCP only: a UNIX socket path cannot be bound twice, so with Network
	// "unix" one listener feeds the loops, as without ReusePort.
	ReusePort bool

	// WriteHighWater and WriteLowWater bound the output the Evented engine
	// queues per connection when the peer reads slower than the handler
	// writes: above the high mark the engine stops reading the connection
	// until the queue drains below the low mark. Defaults
	// DefaultWriteHighWater (256 KiB), and DefaultWriteLowWater (64 KiB) or
	// half of WriteHighWater, whichever is smaller.
	WriteHighWater int
	WriteLowWater  int

	// OutputLimit is the most output the Evented engine queues for one
	// connection, like Redis's client-output-buffer-limit. Writers off the
	// event loop wait at WriteHighWater and never reach it; a handler on the
	// loop cannot wait, and one that keeps writing to a peer that does not
	// read (ignoring Conn.Congested) has its connection closed with
	// ErrOutputLimit when a Write would pass it, counted in
	// Stats.OutputLimited. Default DefaultOutputLimit (64 MiB); a value below
	// WriteHighWater counts as WriteHighWater.
	OutputLimit int

	// TLSConfig, if not nil, makes every connection TLS: the server runs
	// the handshake before OnOpen, and OnData gets plaintext. Build it with
	// the tlsconf package (safe defaults, mutual TLS, certificate reload).
	// Nil means plain connections, which a handler may still upgrade
	// (see StartTLS).
	//
	// Handshakes run on the worker pool, never on the acceptor or an event
	// loop, so slow handshakes cannot stall established connections; a
	// handshake holds its worker only while it runs (Evented) or for the
	// connection's life as any threaded connection does. A connection whose
	// handshake fails or times out is closed and counted in
	// Stats.TLSHandshakeErrors; the handler never sees it (no OnOpen, no
	// OnClose), but its MaxConns slot is freed. With ThreadedSyscall, TLS
	// connections are read as with Threaded (crypto/tls reads through a
	// net.Conn). In the Evented engine, records are decrypted on the event
	// loop, without a goroutine per connection.
	TLSConfig *tls.Config

	// HandshakeTimeout bounds each TLS handshake, from accept (or from
	// StartTLS) to its end: a client that sends nothing, or too little, is
	// closed when it passes. Default DefaultHandshakeTimeout (10 s). A
	// client that is not speaking TLS at all (a plaintext request) is closed
	// at once with no reply: crypto/tls does not answer what is not a TLS
	// record. One that sends a malformed handshake gets an alert first.
	HandshakeTimeout time.Duration

	// MaxConnsPerIP bounds the connections open at once from one client IP
	// address (on a PROXY protocol server, the client the header names).
	// Connections beyond it are closed at once and counted in
	// Stats.Rejections.PerIP. Zero means no limit.
	MaxConnsPerIP int

	// Access, if not nil, says which clients may connect; the others are
	// closed at once, before any handler runs, and counted in
	// Stats.Rejections.Access.
	Access *Access

	// ProxyProtocol, if not nil, makes every connection begin with a PROXY
	// protocol header (version 1 or 2, as HAProxy's send-proxy and
	// send-proxy-v2 write it), accepted only from the peers the Policy
	// trusts: a connection from anyone else is closed at once, since a
	// client that could send a header would choose the address the server
	// sees. The header must arrive whole within the Policy's timeout
	// (default 5 s); a malformed, truncated or slow one closes the
	// connection. Both are counted in Stats.Rejections.Proxy. Conn's
	// RemoteAddr and LocalAddr then report the header's addresses; a LOCAL
	// header (a load balancer's health check) keeps the connection's own.
	// Access and MaxConnsPerIP apply to the header's client.
	ProxyProtocol *proxyproto.Policy

	// Logger receives the server's structured logs: accept errors and
	// panics (Warn, Error) and rejected connections (Debug). Nil means
	// silent.
	Logger *slog.Logger

	// levelTriggered registers evented connections level-triggered instead
	// of edge-triggered: kept for tests and BenchmarkEcho.
	levelTriggered bool

	initOnce     sync.Once
	initErr      error
	log          *slog.Logger
	pool         *pool.Pool
	eng          engine
	slots        chan struct{} // one token per open connection, cap MaxConns
	syscallReads bool          // ThreadedSyscall, where it is available
	// tunerTemplate is copied into each connection's or loop's tuner, which
	// picks every read's size: a fixed ReadBufferSize is a tuner whose
	// bounds are that size, so it never moves.
	tunerTemplate bufs.Tuner
	highWater     int
	lowWater      int
	outputLimit   int
	hsTimeout     time.Duration // HandshakeTimeout or its default

	mu        sync.Mutex
	listeners map[acceptor]struct{}
	conns     map[liveConn]struct{}
	pending   map[net.Conn]struct{} // connections whose PROXY header is being read
	perIP     ipCounts
	firstAddr net.Addr
	done      chan struct{} // closed when Shutdown or Close begins

	// ctx is cancelled when Shutdown or Close begins; it ends the acceptor's
	// wait for a worker.
	ctx    context.Context
	cancel context.CancelFunc

	inShutdown atomic.Bool
	nextID     atomic.Uint64
	stats      counters
}

// init applies the defaults and builds the engine's shared state, once.
func (s *Server) init() error {
	s.initOnce.Do(func() {
		for _, f := range []struct {
			name string
			v    any
			neg  bool
		}{
			{"ReadBufferSize", s.ReadBufferSize, s.ReadBufferSize < 0},
			{"MinReadBufferSize", s.MinReadBufferSize, s.MinReadBufferSize < 0},
			{"MaxReadBufferSize", s.MaxReadBufferSize, s.MaxReadBufferSize < 0},
			{"Workers", s.Workers, s.Workers < 0},
			{"MaxConns", s.MaxConns, s.MaxConns < 0},
			{"Loops", s.Loops, s.Loops < 0},
			{"WriteHighWater", s.WriteHighWater, s.WriteHighWater < 0},
			{"WriteLowWater", s.WriteLowWater, s.WriteLowWater < 0},
			{"OutputLimit", s.OutputLimit, s.OutputLimit < 0},
			{"HandshakeTimeout", s.HandshakeTimeout, s.HandshakeTimeout < 0},
		} {
			if f.neg {
				s.initErr = fmt.Errorf("sockpool/server: %s must not be negative, got %v", f.name, f.v)
				return
			}
		}
		s.hsTimeout = cmp.Or(s.HandshakeTimeout, DefaultHandshakeTimeout)
		s.log = s.Logger
		if s.log == nil {
			s.log = slog.New(slog.DiscardHandler)
		}
		s.tunerTemplate = bufs.Tuner{Min: s.MinReadBufferSize, Max: s.MaxReadBufferSize, Start: DefaultReadBufferSize}
		if n := s.ReadBufferSize; n > 0 {
			s.tunerTemplate = bufs.Tuner{Min: n, Max: n, Start: n}
		}
		s.highWater = cmp.Or(s.WriteHighWater, DefaultWriteHighWater)
		s.lowWater = cmp.Or(s.WriteLowWater, min(DefaultWriteLowWater, s.highWater/2))
		s.outputLimit = max(cmp.Or(s.OutputLimit, DefaultOutputLimit), s.highWater)
		if s.lowWater > s.highWater {
			s.initErr = fmt.Errorf("sockpool/server: WriteLowWater %d is above WriteHighWater %d", s.lowWater, s.highWater)
			return
		}
		s.syscallReads = s.Engine == ThreadedSyscall
		if s.syscallReads && !syscallReads {
			s.log.Warn("sockpool/server: the threaded-syscall engine is Linux-only; running threaded")
			s.syscallReads = false
		}
		maxConns := cmp.Or(s.MaxConns, DefaultMaxConns)
		if s.syscallReads {
			maxConns = cmp.Or(s.MaxConns, DefaultSyscallMaxConns)
		}
		s.slots = make(chan struct{}, maxConns)
		s.ctx, s.cancel = context.WithCancel(context.Background())
		policy := s.Overflow
		switch s.Engine {
		case Threaded, ThreadedSyscall:
			s.eng = &threaded{srv: s}
		case Evented, EventedPool, Uring:
			// The event loop hands work to the pool and must never wait
			// for a worker: it retries a full pool on its next turn.
			policy = pool.Reject
			s.eng, s.initErr = newEvented(s)
		default:
			s.initErr = fmt.Errorf("sockpool/server: unknown %v", s.Engine)
		}
		if s.initErr != nil {
			return
		}
		p, err := pool.New(pool.Config{
			Size:   cmp.Or(s.Workers, maxConns),
			Policy: policy,
			Logger: s.log,
		})
		if err != nil {
			s.initErr = err
			return
		}
		s.mu.Lock() // Stats may be reading concurrently
		s.pool = p
		s.listeners = make(map[acceptor]struct{})
		s.conns = make(map[liveConn]struct{})
		s.pending = make(map[net.Conn]struct{})
		s.done = make(chan struct{})
		s.mu.Unlock()
	})
	return s.initErr
}
