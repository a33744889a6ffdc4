package packet

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/sockpool/sockpool/pool"
)

// Defaults for the zero values of Server's fields.
const (
	DefaultNetwork       = "udp"
	DefaultBatchSize     = 32
	DefaultMaxPacketSize = 65535

	// MaxBatchSize is the largest BatchSize: Linux receives at most
	// UIO_MAXIOV (1024) messages in one recvmmsg call.
	MaxBatchSize = 1024

	// MaxPacketSizeLimit is the largest MaxPacketSize: a UDP length field
	// is 16 bits.
	MaxPacketSizeLimit = 65535
)

var (
	// ErrServerClosed is returned by Serve and ListenAndServe after Shutdown
	// or Close.
	ErrServerClosed = errors.New("sockpool/packet: server closed")

	// ErrNoHandler is returned by Serve when the Server has no Handler.
	ErrNoHandler = errors.New("sockpool/packet: no Handler")

	// ErrNotUDP is wrapped by the error Serve returns for a PacketConn that
	// is not a UDP socket.
	ErrNotUDP = errors.New("sockpool/packet: not a UDP socket")
)

// A Server reads datagrams from UDP sockets and runs a Handler for each on
// a bounded worker pool. The zero value with a Handler is a working server;
// every field is read when Serve (or ListenAndServe) is first called and
// must not change afterwards.
//
// A Server may serve several sockets at once (Serve in several
// goroutines); they share its workers and counters. Once Shutdown or Close
// has been called it cannot be reused.
type Server struct {
	// Addr is the address ListenAndServe listens on; a port of 0 picks a
	// free port, which LocalAddr reports. Empty means a free port on
	// loopback ("127.0.0.1:0"): nothing is exposed unless asked for.
	Addr string

	// Network is the network ListenAndServe listens on: "udp", "udp4" or
	// "udp6". Default "udp".
	Network string

	// Handler is called for each datagram. Required.
	Handler Handler

	// Workers is the most handler calls running at once. A datagram that
	// arrives while that many are running is dropped and counted in
	// Stats.Dropped: it is never queued, so a flood costs memory for
	// Workers datagrams at most and a burst beyond what the handler keeps
	// up with is shed at once rather than answered late.
	//
	// Default: 4×GOMAXPROCS, and at least 2×BatchSize. A handler that only
	// computes cannot use more than GOMAXPROCS workers; four times that
	// lets handlers that wait a little (a lock, a cache lookup) overlap.
	// The floor is for batches: one recvmmsg call hands up to BatchSize
	// datagrams over at once, and each needs a free worker or it is
	// dropped although the busy ones would be done in microseconds; twice
	// the batch leaves room for the next one while the last still runs.
	Workers int

	// BatchSize is the most datagrams one read takes (recvmmsg, on Linux;
	// elsewhere each read takes one). A reader holds BatchSize buffers of
	// MaxPacketSize for the life of the socket: 2 MiB with the defaults.
	// Default DefaultBatchSize (32); at most MaxBatchSize.
	BatchSize int

	// MaxPacketSize is the largest datagram delivered to the handler. A
	// longer one is dropped, never delivered cut, and counted in
	// Stats.Oversize. Default and maximum 65535, which admits every UDP
	// datagram; set it lower when datagrams are known to be small, to
	// shrink the read buffers.
	MaxPacketSize int

	// Logger receives the server's logs: handler panics (Error) and read
	// errors (Warn). Nil means silent.
	Logger *slog.Logger

	// portable makes Serve read with ReadFrom where the batch reader is
	// available too, so that tests can run both on Linux.
	portable bool

	initOnce sync.Once
	initErr  error
	log      *slog.Logger
	workers  int
	batch    int
	maxSize  int

	mu    sync.Mutex
	pool  *pool.Pool // created by the first Serve
	conns map[*conn]struct{}
	first net.Addr
	done  chan struct{} // closed when Shutdown or Close begins

	inShutdown atomic.Bool
	stats      counters
}

// init checks the fields and applies their defaults, once.
func (s *Server) init() error {
	s.initOnce.Do(func() { s.initErr = s.setup() })
	return s.initErr
}

func (s *Server) setup() error {
	if s.Handler == nil {
		return ErrNoHandler
	}
	switch s.Network {
	case "", "udp", "udp4", "udp6":
	default:
		return fmt.Errorf("sockpool/packet: Network must be udp, udp4 or udp6, got %q", s.Network)
	}
	switch {
	case s.Workers < 0:
		return fmt.Errorf("sockpool/packet: Workers must not be negative, got %d", s.Workers)
	case s.BatchSize < 0:
		return fmt.Errorf("sockpool/packet: BatchSize must not be negative, got %d", s.BatchSize)
	case s.BatchSize > MaxBatchSize:
		return fmt.Errorf("sockpool/packet: BatchSize must not be larger than %d, got %d", MaxBatchSize, s.BatchSize)
	case s.MaxPacketSize < 0:
		return fmt.Errorf("sockpool/packet: MaxPacketSize must not be negative, got %d", s.MaxPacketSize)
	case s.MaxPacketSize > MaxPacketSizeLimit:
		return fmt.Errorf("sockpool/packet: MaxPacketSize must not be larger than %d, got %d", MaxPacketSizeLimit, s.MaxPacketSize)
	}
	s.batch = s.BatchSize
	if s.batch == 0 {
		s.batch = DefaultBatchSize
	}
	s.maxSize = s.MaxPacketSize
	if s.maxSize == 0 {
		s.maxSize = DefaultMaxPacketSize
	}
	s.workers = s.Workers
	if s.workers == 0 {
		s.workers = max(4*runtime.GOMAXPROCS(0), 2*s.batch)
	}
	s.log = s.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.mu.Lock()
	s.conns = make(map[*conn]struct{})
	s.done = make(chan struct{})
	s.mu.Unlock()
	return nil
}

// LocalAddr returns the address of the first socket the server served on,
// or nil before Serve has begun. With a port of 0 in Addr it has the port
// picked.
func (s *Server) LocalAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first
}
