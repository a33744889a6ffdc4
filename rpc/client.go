package rpc

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockpool/sockpool/frame"
)

// Defaults for the zero values of ClientConfig.
const (
	DefaultDialTimeout = 5 * time.Second
	DefaultMinBackoff  = 10 * time.Millisecond
	DefaultMaxBackoff  = time.Second
)

// ClientConfig configures a Client. The zero value is valid; nil means the
// zero value.
type ClientConfig struct {
	// Conns is the number of connections calls are spread over, in turn.
	// Default 1: one connection carries any number of concurrent calls.
	Conns int

	// MaxMessageSize is the largest request sent and reply accepted, in
	// bytes; it should match the server's. A reply announcing more drops
	// the connection. Default DefaultMaxMessageSize.
	MaxMessageSize int

	// DialTimeout bounds each dial. Default DefaultDialTimeout.
	DialTimeout time.Duration

	// MinBackoff and MaxBackoff bound the wait before redialing after a
	// failed dial: it starts at MinBackoff and doubles, with jitter, up to
	// MaxBackoff. The first redial after a connection drops is immediate.
	// Defaults DefaultMinBackoff and DefaultMaxBackoff.
	MinBackoff time.Duration
	MaxBackoff time.Duration

	// Dial opens a connection. Default: a net.Dialer's DialContext. Use a
	// tls.Dialer's for TLS.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Client calls methods on a Server. Its methods are safe for concurrent
// use: concurrent calls share its connections, matched to their replies by
// id, and a connection that drops is redialed by the next Call.
type Client struct {
	network, addr string
	format        frame.LengthPrefixed
	dial          func(ctx context.Context, network, addr string) (net.Conn, error)
	dialTimeout   time.Duration
	minBackoff    time.Duration
	maxBackoff    time.Duration

	slots     []*slot
	next      atomic.Uint64 // round robin over slots
	ids       atomic.Uint64
	closed    atomic.Bool
	done      chan struct{} // closed by Close: ends backoff waits
	closeOnce sync.Once
	wg        sync.WaitGroup // the connections' reader and writer goroutines
}

// slot is one of the Client's connections, across redials.
type slot struct {
	mu       sync.Mutex
	conn     *clientConn   // nil until dialed; replaced once dead
	dialing  chan struct{} // non-nil while a dial runs; closed when it ends
	failures int           // dials failed in a row
	nextDial time.Time     // no dial before this
	lastErr  error         // why the last dial failed
}

// Dial returns a Client for the server at addr on network ("tcp", "unix",
// ...), configured by cfg (nil for defaults). It dials every connection
// first and returns the error if one fails; ctx bounds the dials.
func Dial(ctx context.Context, network, addr string, cfg *ClientConfig) (*Client, error) {
	if cfg == nil {
		cfg = new(ClientConfig)
	}
	if cfg.Conns < 0 || cfg.MaxMessageSize < 0 || cfg.DialTimeout < 0 || cfg.MinBackoff < 0 || cfg.MaxBackoff < 0 {
		return nil, fmt.Errorf("%w: ClientConfig fields must not be negative", ErrInvalidConfig)
	}
	maxMsg := cmp.Or(cfg.MaxMessageSize, DefaultMaxMessageSize)
	if maxMsg < minMessageSize || int64(maxMsg) > 1<<31 {
		return nil, fmt.Errorf("%w: MaxMessageSize must be between %d and 2 GiB, got %d", ErrInvalidConfig, minMessageSize, maxMsg)
	}
	c := &Client{
		network:     network,
		addr:        addr,
		format:      frameFormat(maxMsg),
		dial:        cfg.Dial,
		dialTimeout: cmp.Or(cfg.DialTimeout, DefaultDialTimeout),
		minBackoff:  cmp.Or(cfg.MinBackoff, DefaultMinBackoff),
		maxBackoff:  cmp.Or(cfg.MaxBackoff, DefaultMaxBackoff),
		slots:       make([]*slot, cmp.Or(cfg.Conns, 1)),
		done:        make(chan struct{}),
	}
	if c.maxBackoff < c.minBackoff {
		return nil, fmt.Errorf("%w: MaxBackoff %v is below MinBackoff %v", ErrInvalidConfig, c.maxBackoff, c.minBackoff)
	}
	if c.dial == nil {
		c.dial = new(net.Dialer).DialContext
	}
	for i := range c.slots {
		c.slots[i] = new(slot)
	}
	for _, s := range c.slots {
		if _, err := c.conn(ctx, s); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// Call calls method on the server with req and returns its reply. It
// returns:
//   - an *Error (use errors.As) when the server answered with an error:
//     the method's, an unknown method, a panic, overload;
//   - ctx.Err() when ctx ended first; the server is told to cancel the call
//     and its late reply is discarded;
//   - an error wrapping ErrConnLost when the connection dropped with the
//     call pending (the call may or may not have run);
//   - ErrClientClosed after Close;
//   - a dial error when the server cannot be reached.
//
// ctx's deadline travels with the request: the method's context has it.
// req may be reused once Call returns; the reply is the caller's.
func (c *Client) Call(ctx context.Context, method string, req []byte) ([]byte, error) {
	if len(method) == 0 || len(method) > MaxMethodLen {
		return nil, fmt.Errorf("%w: %q", ErrBadMethod, method)
	}
	if n := requestLen(method, req); n > c.format.MaxFrameSize {
		return nil, fmt.Errorf("%w: request of %d bytes, MaxMessageSize is %d", ErrMessageTooLarge, n, c.format.MaxFrameSize)
	}
	s := c.slots[(c.next.Add(1)-1)%uint64(len(c.slots))]
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		cc, err := c.conn(ctx, s)
		if err != nil {
			return nil, err
		}
		resp, sent, err := cc.call(ctx, c.ids.Add(1), method, req)
		if !sent && cc.isDead() {
			// The connection died before the request went out: nothing
			// ran, so a fresh connection may carry it.
			continue
		}
		return resp, err
	}
}

// Close closes the Client's connections and fails the calls pending on
// them with ErrClientClosed; later calls get it at once. Close waits for
// the connections' goroutines to exit. It returns nil.
func (c *Client) Close() error {
	c.closed.Store(true)
	c.closeOnce.Do(func() { close(c.done) })
	for _, s := range c.slots {
		s.mu.Lock()
		cc := s.conn
		s.mu.Unlock()
		if cc != nil {
			cc.fail(ErrClientClosed)
		}
	}
	c.wg.Wait()
	return nil
}

// conn returns s's live connection, dialing one if there is none (after
// the backoff of earlier failures). Concurrent callers share one dial.
func (c *Client) conn(ctx context.Context, s *slot) (*clientConn, error) {
	for {
		if c.closed.Load() {
			return nil, ErrClientClosed
		}
		s.mu.Lock()
		if s.conn != nil && !s.conn.isDead() {
			cc := s.conn
			s.mu.Unlock()
			return cc, nil
		}
		if ch := s.dialing; ch != nil {
			s.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		wait := time.Until(s.nextDial)
		if dl, ok := ctx.Deadline(); ok && wait > 0 && time.Now().Add(wait).After(dl) {
			// The backoff outlasts the call: fail now, with the reason.
			err := s.lastErr
			s.mu.Unlock()
			return nil, err
		}
		ch := make(chan struct{})
		s.dialing = ch
		s.mu.Unlock()

		cc, err := c.dialWait(ctx, wait)

		s.mu.Lock()
		s.dialing = nil
		close(ch)
		switch {
		case err == nil && c.closed.Load():
			// Close ran during the dial and did not see this connection.
			err = ErrClientClosed
			cc.nc.Close()
		case err == nil:
			s.conn, s.failures, s.lastErr = cc, 0, nil
			c.wg.Add(2)
			go cc.readLoop(&c.wg)
			go cc.writeLoop(&c.wg)
		case ctx.Err() == nil:
			s.failures++
			s.lastErr = err
			s.nextDial = time.Now().Add(c.backoff(s.failures))
		}
		s.mu.Unlock()
		return cc, err
	}
}

// dialWait waits out a backoff, then dials.
func (c *Client) dialWait(ctx context.Context, wait time.Duration) (*clientConn, error) {
	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-c.done:
			t.Stop()
			return nil, ErrClientClosed
		}
	}
	dctx, cancel := context.WithTimeout(ctx, c.dialTimeout)
	defer cancel()
	nc, err := c.dial(dctx, c.network, c.addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("sockpool/rpc: dial %s %s: %w", c.network, c.addr, err)
	}
	return newClientConn(nc, c.format), nil
}

// backoff is the wait after n failed dials in a row: MinBackoff doubling up
// to MaxBackoff, less up to a quarter at random so that clients spread out.
func (c *Client) backoff(n int) time.Duration {
	d := c.maxBackoff
	if n < 30 {
		d = min(c.minBackoff<<(n-1), c.maxBackoff)
	}
	return d - rand.N(d/4+1)
}
