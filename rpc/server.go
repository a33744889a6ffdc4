package rpc

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockpool/sockpool/bufs"
	"github.com/sockpool/sockpool/frame"
	"github.com/sockpool/sockpool/pool"
	"github.com/sockpool/sockpool/server"
)

// Func is a method: it gets the call's request and returns its reply or an
// error, which the caller receives as an *Error (CodeApplication, or the
// code of an *Error the method returns). ctx carries the caller's deadline
// and is cancelled when the caller gives up, the connection closes or the
// Server is closed. req belongs to the method: it may keep it.
type Func func(ctx context.Context, req []byte) ([]byte, error)

// Defaults for the zero values of ServerConfig.
const (
	DefaultMaxConcurrent = 64
	DefaultMaxQueued     = 4096
)

// minMessageSize is the smallest MaxMessageSize: a request with the longest
// method name and a short payload must fit.
const minMessageSize = 512

// ServerConfig configures a Server. The zero value is valid; nil means the
// zero value.
type ServerConfig struct {
	// MaxMessageSize is the largest request accepted and reply sent, in
	// bytes. A request frame announcing more closes the connection before
	// anything that size is read. Default DefaultMaxMessageSize (4 MiB).
	MaxMessageSize int

	// Workers bounds the goroutines that run methods, for all connections
	// together. When all are busy, a call waits in its connection's queue
	// if the connection has a call running (which runs it next), and is
	// answered at once with CodeOverloaded if not. Default
	// pool.DefaultSize.
	Workers int

	// MaxConcurrent is the most calls of one connection that run at once,
	// so that one client cannot take every worker. Default
	// DefaultMaxConcurrent.
	MaxConcurrent int

	// MaxQueued is the most calls of one connection that wait for one of
	// its MaxConcurrent slots; MaxQueuedBytes bounds their requests' total
	// size. A call beyond either is answered at once with CodeOverloaded.
	// Defaults DefaultMaxQueued and 4 * MaxMessageSize.
	MaxQueued      int
	MaxQueuedBytes int

	// FrameTimeout closes a connection whose request frame does not arrive
	// whole within it (see frame.Options). Zero means no limit.
	FrameTimeout time.Duration

	// Logger receives panics of methods (Error) and protocol errors of
	// clients (Debug). Nil means silent.
	Logger *slog.Logger
}

// Server routes calls to methods by name. It is a server.Handler: give it
// to a server.Server, on any engine. Requests on one connection run
// concurrently on a worker pool (a slow method does not hold up a fast
// one), at most MaxConcurrent at once per connection; the handler itself
// never blocks, so it is safe on an event loop.
//
// Register methods before serving. Close the Server after the
// server.Server has shut down, to wait for methods still running.
type Server struct {
	fh     *frame.Handler
	format frame.LengthPrefixed
	pool   *pool.Pool
	log    *slog.Logger

	maxConcurrent  int
	maxQueued      int
	maxQueuedBytes int
	// draining counts the drain tasks submitted and not yet past their
	// last call: whether a worker is free is decided by it, not by the
	// pool (see submit).
	draining atomic.Int64

	mu      sync.RWMutex
	methods map[string]Func

	closing atomic.Bool
	// base is the parent of every call's context; Close cancels it when
	// its own context ends before the calls do.
	base   context.Context
	cancel context.CancelFunc
}

// NewServer returns a Server configured by cfg (nil for defaults), or an
// error wrapping ErrInvalidConfig.
func NewServer(cfg *ServerConfig) (*Server, error) {
	if cfg == nil {
		cfg = new(ServerConfig)
	}
	if cfg.MaxMessageSize < 0 || cfg.Workers < 0 || cfg.MaxConcurrent < 0 || cfg.MaxQueued < 0 || cfg.MaxQueuedBytes < 0 {
		return nil, fmt.Errorf("%w: ServerConfig fields must not be negative", ErrInvalidConfig)
	}
	maxMsg := cmp.Or(cfg.MaxMessageSize, DefaultMaxMessageSize)
	if maxMsg < minMessageSize || int64(maxMsg) > 1<<31 {
		return nil, fmt.Errorf("%w: MaxMessageSize must be between %d and 2 GiB, got %d", ErrInvalidConfig, minMessageSize, maxMsg)
	}
	s := &Server{
		format:         frameFormat(maxMsg),
		log:            cfg.Logger,
		maxConcurrent:  cmp.Or(cfg.MaxConcurrent, DefaultMaxConcurrent),
		maxQueued:      cmp.Or(cfg.MaxQueued, DefaultMaxQueued),
		maxQueuedBytes: cmp.Or(cfg.MaxQueuedBytes, 4*maxMsg),
		methods:        make(map[string]Func),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	var err error
	s.fh, err = frame.NewHandler(s.format, (*dispatcher)(s), &frame.Options{FrameTimeout: cfg.FrameTimeout})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	s.pool, err = pool.New(pool.Config{Size: cfg.Workers, Policy: pool.Block, Logger: s.log})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	s.base, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Register makes fn answer calls of method. It panics if method is empty or
// longer than MaxMethodLen, fn is nil, or method is already registered:
// those are mistakes in the program, not in its input.
func (s *Server) Register(method string, fn Func) {
	if len(method) == 0 || len(method) > MaxMethodLen {
		panic(fmt.Sprintf("%v: %q", ErrBadMethod, method))
	}
	if fn == nil {
		panic("sockpool/rpc: Register " + method + " with a nil Func")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.methods[method]; dup {
		panic("sockpool/rpc: method " + method + " registered twice")
	}
	s.methods[method] = fn
}

// OnOpen implements server.OpenHandler.
func (s *Server) OnOpen(c server.Conn) { s.fh.OnOpen(c) }

// OnData implements server.Handler.
func (s *Server) OnData(c server.Conn, in []byte) { s.fh.OnData(c, in) }

// OnDrain implements server.DrainHandler: on the inline engines the
// frame.Handler stops decoding a read full of requests once the
// connection is Congested, and goes on with the rest here, once its
// replies have drained. Without it those requests waited for more input,
// which a client waiting for their replies never sends.
func (s *Server) OnDrain(c server.Conn) { s.fh.OnDrain(c) }

// OnClose implements server.CloseHandler: it cancels the contexts of the
// connection's calls and drops those still queued.
func (s *Server) OnClose(c server.Conn, err error) { s.fh.OnClose(c, err) }

// Close stops the Server: calls that arrive from now on are answered with
// CodeShuttingDown, and Close waits for the methods still running to
// return. If ctx ends first, Close cancels their contexts and returns
// ctx.Err(); it may be called again to go on waiting. Shut the
// server.Server down first (or right after), so that connections close.
func (s *Server) Close(ctx context.Context) error {
	s.closing.Store(true)
	err := s.pool.Close(ctx)
	if errors.Is(err, pool.ErrClosed) {
		return nil
	}
	if err != nil {
		s.cancel()
		return err
	}
	s.cancel()
	return nil
}

// dispatcher is the Server as the frame.Handler's MessageHandler; its
// methods are not part of Server's API.
type dispatcher Server

func (d *dispatcher) OnOpen(c server.Conn) {
	s := (*Server)(d)
	sc := &sconn{s: s, c: c, calls: make(map[uint64]*call)}
	sc.ctx, sc.cancel = context.WithCancel(s.base)
	c.SetValue(sc)
}

func (d *dispatcher) OnClose(c server.Conn, err error) {
	if sc, ok := c.Value().(*sconn); ok {
		sc.close()
	}
}

func (d *dispatcher) OnMessage(c server.Conn, msg []byte) {
	sc, ok := c.Value().(*sconn)
	if !ok {
		c.Close()
		return
	}
	s := sc.s
	h, body, err := parseHeader(msg)
	if err != nil {
		s.log.Debug("sockpool/rpc: closing connection", "conn", c.ID(), "remote", c.RemoteAddr().String(), "err", err)
		c.Close()
		return
	}
	switch h.kind {
	case kindRequest:
		sc.request(h.id, body)
	case kindCancel:
		sc.cancelCall(h.id)
	default:
		// A kind this version does not know (from a newer peer): ignore
		// it, so that new kinds can be added without breaking old servers.
	}
}

// sconn is the Server's state for one connection.
type sconn struct {
	s      *Server
	c      server.Conn
	ctx    context.Context // cancelled when the connection closes
	cancel context.CancelFunc

	mu          sync.Mutex
	calls       map[uint64]*call // queued and running, for cancel messages
	running     int              // tasks draining this connection's calls
	exits       int              // drain tasks of this connection that have ended (see request)
	queue       []*call
	queuedBytes int
	closed      bool
}

// call is one request on its way through the Server.
type call struct {
	id     uint64
	fn     Func
	method string
	req    []byte
	ctx    context.Context
	cancel context.CancelFunc
}

// request handles a request message. It never blocks: the call runs on the
// pool, waits in the connection's queue, or is refused at once.
func (sc *sconn) request(id uint64, body []byte) {
	s := sc.s
	r, err := parseRequest(body)
	if err != nil {
		sc.replyError(id, CodeBadRequest, err.Error())
		return
	}
	if s.closing.Load() {
		sc.replyError(id, CodeShuttingDown, "")
		return
	}
	s.mu.RLock()
	fn := s.methods[string(r.method)] // no allocation: the compiler keys the map with the bytes
	s.mu.RUnlock()
	if fn == nil {
		sc.replyError(id, CodeNotFound, string(r.method))
		return
	}
	// One allocation holds the method name and the request, which outlive
	// msg.
	b := make([]byte, len(r.method)+len(r.payload))
	copy(b, r.method)
	copy(b[len(r.method):], r.payload)
	cl := &call{id: id, fn: fn, method: string(b[:len(r.method)]), req: b[len(r.method):len(b):len(b)]}
	if r.timeout > 0 {
		cl.ctx, cl.cancel = context.WithTimeout(sc.ctx, r.timeout)
	} else {
		cl.ctx, cl.cancel = context.WithCancel(sc.ctx)
	}

	sc.mu.Lock()
	if sc.closed {
		sc.mu.Unlock()
		cl.cancel()
		return
	}
	if sc.running < s.maxConcurrent {
		sc.running++
		sc.calls[id] = cl
		for {
			exits := sc.exits
			sc.mu.Unlock()
			err := s.submit(func() { sc.drain(cl) })
			if err == nil {
				return
			}
			sc.mu.Lock()
			sc.running--
			closed := errors.Is(err, pool.ErrClosed)
			// Every worker is busy, but a call of this connection that is
			// running drains the queue when it returns (under mu, so that
			// it sees this one): wait there, as a call beyond
			// MaxConcurrent does, rather than be refused.
			if !closed && sc.running > 0 && len(sc.queue) < s.maxQueued && sc.queuedBytes+len(b) <= s.maxQueuedBytes {
				sc.queue = append(sc.queue, cl)
				sc.queuedBytes += len(b)
				sc.mu.Unlock()
				return
			}
			// A drain of this connection that ended while we asked (it saw
			// our running++ and left the rest to us) gave its worker back:
			// ask again. Each retry needs another drain to end, so this
			// stops.
			if !closed && sc.exits != exits {
				sc.running++
				continue
			}
			delete(sc.calls, id)
			sc.mu.Unlock()
			cl.cancel()
			code := CodeOverloaded
			if closed {
				code = CodeShuttingDown
			}
			sc.replyError(id, code, "")
			return
		}
	}
	if len(sc.queue) >= s.maxQueued || sc.queuedBytes+len(b) > s.maxQueuedBytes {
		sc.mu.Unlock()
		cl.cancel()
		sc.replyError(id, CodeOverloaded, "")
		return
	}
	sc.calls[id] = cl
	sc.queue = append(sc.queue, cl)
	sc.queuedBytes += len(b)
	sc.mu.Unlock()
}

// submit hands a drain task to the pool, or fails with pool.ErrOverload at
// once when every worker runs a drain. A drain counts itself out of
// draining when it passes its last call, a moment before its worker goes
// back to the pool: asked for a worker in that moment, the pool would
// refuse (as a test with every worker busy found, once in a few hundred
// runs on a loaded machine), so the count decides, and the pool, which
// blocks, is asked to wait for the worker that is on its way back.
func (s *Server) submit(task func()) error {
	if s.draining.Add(1) > int64(s.pool.Size()) {
		s.draining.Add(-1)
		return pool.ErrOverload
	}
	if err := s.pool.Submit(context.Background(), task); err != nil {
		s.draining.Add(-1)
		return err
	}
	return nil
}

// drain runs on a pool worker: it runs cl, then the connection's queued
// calls, until the queue is empty.
func (sc *sconn) drain(cl *call) {
	for cl != nil {
		sc.run(cl)
		sc.mu.Lock()
		delete(sc.calls, cl.id)
		cl = nil
		if len(sc.queue) > 0 {
			cl = sc.queue[0]
			sc.queue[0] = nil
			sc.queue = sc.queue[1:]
			sc.queuedBytes -= len(cl.method) + len(cl.req)
		} else {
			sc.running--
			sc.exits++
			sc.s.draining.Add(-1)
		}
		sc.mu.Unlock()
	}
}

// run calls the method and writes its reply.
func (sc *sconn) run(cl *call) {
	defer cl.cancel()
	if err := cl.ctx.Err(); err != nil {
		sc.replyErr(cl.id, err)
		return
	}
	resp, err := sc.invoke(cl)
	if err != nil {
		sc.replyErr(cl.id, err)
		return
	}
	out := bufs.GetOutput()
	defer bufs.PutOutput(out)
	if out.B, err = appendResponse(out.B, sc.s.format, cl.id, resp); err != nil {
		sc.replyError(cl.id, CodeInternal, fmt.Sprintf("%v: reply of %d bytes", ErrMessageTooLarge, len(resp)))
		return
	}
	sc.c.Write(out.B) // an error means the connection is closing: no one to tell
}

// invoke calls the method, turning a panic into a CodeInternal error.
func (sc *sconn) invoke(cl *call) (resp []byte, err error) {
	defer func() {
		if v := recover(); v != nil {
			sc.s.log.Error("sockpool/rpc: method panicked", "method", cl.method, "panic", v, "stack", string(debug.Stack()))
			err = &Error{Code: CodeInternal, Message: fmt.Sprintf("method %s panicked: %v", cl.method, v)}
		}
	}()
	return cl.fn(cl.ctx, cl.req)
}

// replyErr sends err, from a method or a context, as an error reply.
func (sc *sconn) replyErr(id uint64, err error) {
	var re *Error
	switch {
	case errors.As(err, &re):
		sc.replyError(id, re.Code, re.Message)
	case errors.Is(err, context.DeadlineExceeded):
		sc.replyError(id, CodeDeadlineExceeded, err.Error())
	case errors.Is(err, context.Canceled):
		sc.replyError(id, CodeCanceled, err.Error())
	default:
		sc.replyError(id, CodeApplication, err.Error())
	}
}

func (sc *sconn) replyError(id uint64, code Code, msg string) {
	out := bufs.GetOutput()
	out.B = appendError(out.B, sc.s.format, id, code, msg)
	sc.c.Write(out.B)
	bufs.PutOutput(out)
}

// cancelCall cancels the context of call id, if it is still queued or
// running; its reply (CodeCanceled, unless the method finishes anyway)
// still goes out.
func (sc *sconn) cancelCall(id uint64) {
	sc.mu.Lock()
	cl := sc.calls[id]
	sc.mu.Unlock()
	if cl != nil {
		cl.cancel()
	}
}

// close runs when the connection has closed: queued calls are dropped and
// running ones see their contexts cancelled.
func (sc *sconn) close() {
	sc.mu.Lock()
	sc.closed = true
	queued := sc.queue
	sc.queue = nil
	sc.queuedBytes = 0
	for _, cl := range queued {
		delete(sc.calls, cl.id)
	}
	sc.mu.Unlock()
	for _, cl := range queued {
		cl.cancel()
	}
	sc.cancel()
}
