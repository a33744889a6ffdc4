package frame

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockpool/sockpool/bufs"
	"github.com/sockpool/sockpool/server"
)

// pooled is the BufferPool of a Handler's decoders: the package pool of
// bufs, which the server's read buffers come from too.
type pooled struct{}

func (pooled) Get(n int) []byte { return bufs.Get(n) }
func (pooled) Put(b []byte)     { bufs.Put(b) }

// MessageHandler responds to whole messages. OnMessage is called once per
// message, in order, never concurrently for one connection. msg is valid
// only until OnMessage returns: it may point into the server's read buffer
// or into a pooled buffer that is reused, so a handler that keeps bytes must
// copy them.
//
// A MessageHandler may also implement server.OpenHandler and
// server.CloseHandler; the Handler forwards OnOpen and OnClose to it.
type MessageHandler interface {
	OnMessage(c server.Conn, msg []byte)
}

// MessageFunc adapts a function to a MessageHandler.
type MessageFunc func(c server.Conn, msg []byte)

// OnMessage calls f(c, msg).
func (f MessageFunc) OnMessage(c server.Conn, msg []byte) { f(c, msg) }

// Options configures a Handler. The zero value is valid.
type Options struct {
	// FrameTimeout is how long a frame may take to arrive whole, counted
	// from its first byte. A connection that leaves a frame incomplete for
	// longer is closed with ErrFrameTimeout: the defence against a client
	// that trickles a frame in to hold a connection (slowloris). The time
	// between frames is not counted; the server's IdleTimeout and
	// ReadTimeout bound that. Zero means no limit.
	FrameTimeout time.Duration
}

// Handler is a server.Handler that cuts each connection's byte stream into
// messages with a Format and calls a MessageHandler for each. Create it
// with NewHandler.
//
// Frames that lie whole inside one read are passed on straight from the
// server's read buffer; a frame that spans reads is gathered in a pooled
// buffer (see Decoder). A frame that the format rejects, such as one larger
// than MaxFrameSize, closes the connection, and the error (wrapping
// ErrFrameTooLarge, say) is what OnClose receives.
//
// The server.Conn the MessageHandler sees is the Handler's own wrapper of
// the server's: its SetValue and Value are the handler's to use (the
// Handler keeps its per-connection state in the server Conn's context), and
// its Close stops delivery of messages already read.
type Handler struct {
	format  Format
	h       MessageHandler
	open    server.OpenHandler
	close   server.CloseHandler
	timeout time.Duration
}

var errNilHandler = fmt.Errorf("%w: nil MessageHandler", ErrInvalidConfig)

// NewHandler returns a Handler that cuts messages with f and passes them to
// h. opts may be nil for the defaults. It returns an error wrapping
// ErrInvalidConfig if f does not validate (a zero MaxFrameSize, say), h is
// nil or an option is negative.
func NewHandler(f Format, h MessageHandler, opts *Options) (*Handler, error) {
	if f == nil {
		return nil, errNilFormat
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, errNilHandler
	}
	if opts == nil {
		opts = new(Options)
	}
	if opts.FrameTimeout < 0 {
		return nil, fmt.Errorf("%w: FrameTimeout must not be negative, got %v", ErrInvalidConfig, opts.FrameTimeout)
	}
	hd := &Handler{format: f, h: h, timeout: opts.FrameTimeout}
	hd.open, _ = h.(server.OpenHandler)
	hd.close, _ = h.(server.CloseHandler)
	return hd, nil
}

// OnOpen sets up the connection's decoder and calls the MessageHandler's
// OnOpen, if it has one.
func (h *Handler) OnOpen(c server.Conn) {
	w := h.connOf(c)
	if h.open != nil {
		h.open.OnOpen(w)
	}
}

// OnData feeds in to the connection's decoder, which calls OnMessage for
// each message it completes. While the connection is Congested (an inline
// handler on the evented engine whose peer reads slower than it is
// answered), it stops after the message that made it so and keeps the rest
// of in for OnDrain: one read full of requests cannot queue unbounded
// replies.
func (h *Handler) OnData(c server.Conn, in []byte) {
	w := h.connOf(c)
	if w.stopped.Load() {
		return
	}
	if len(w.held) > 0 {
		// Input kept at a pause comes first. (The engine does not read a
		// paused connection, so this happens only with an engine that
		// reads on regardless.)
		w.held = append(w.held, in...)
		h.OnDrain(c)
		return
	}
	h.feed(w, in)
}

// OnDrain goes on with the input kept when the connection became Congested.
func (h *Handler) OnDrain(c server.Conn) {
	w := h.connOf(c)
	held := w.held
	w.held = nil
	if w.stopped.Load() || len(held) == 0 {
		bufs.Put(held)
		return
	}
	h.feed(w, held)
	bufs.Put(held)
}

// feed passes in through w's decoder, keeping what follows a pause in
// w.held (in may be the server's read buffer, valid only during OnData).
func (h *Handler) feed(w *conn, in []byte) {
	partial := w.dec.Buffered() > 0
	w.delivered = 0
	rest, err := w.dec.feed(in, w.emit)
	if err == errPause {
		if len(rest) > 0 {
			w.held = append(bufs.Get(len(rest))[:0], rest...)
		}
		err = nil
	}
	if err != nil {
		if !errors.Is(err, errStopped) {
			w.fail(err)
		}
		return
	}
	if h.timeout > 0 {
		// A frame that began in this read (none was pending, or the
		// pending one completed) gets a deadline of its own.
		switch {
		case w.dec.Buffered() == 0:
			w.disarm()
		case !partial || w.delivered > 0:
			w.arm(h.timeout)
		}
	}
}

// OnClose releases the connection's buffer and calls the MessageHandler's
// OnClose, if it has one, with the error the Handler closed the connection
// with, or else the server's.
func (h *Handler) OnClose(c server.Conn, err error) {
	w := h.connOf(c)
	w.stopped.Store(true)
	w.mu.Lock()
	w.done = true
	w.armed = false
	if w.timer != nil {
		w.timer.Stop()
	}
	if w.err != nil {
		err = w.err
	}
	w.mu.Unlock()
	w.dec.Reset()
	bufs.Put(w.held)
	w.held = nil
	if h.close != nil {
		h.close.OnClose(w, err)
	}
}

// connOf returns the Handler's state for c, creating it on first use.
func (h *Handler) connOf(c server.Conn) *conn {
	if w, ok := c.Value().(*conn); ok && w.h == h {
		return w
	}
	w := &conn{Conn: c, h: h}
	w.dec.init(h.format, pooled{})
	w.emit = w.deliver
	c.SetValue(w)
	return w
}

// errStopped ends a Feed once the connection is closing.
var errStopped = errors.New("sockpool/frame: connection closing")

// conn is a connection as the MessageHandler sees it, and the Handler's
// state for it.
type conn struct {
	server.Conn
	h    *Handler
	user atomic.Pointer[any] // the MessageHandler's SetValue value
	dec  Decoder

	// emit is w.deliver, bound once so that Feed gets it without an
	// allocation per read.
	emit      func([]byte) error
	delivered int    // messages delivered in the current OnData
	held      []byte // input after a pause (see OnData), from bufs; nil when none

	// stopped is set when the connection starts closing (the handler's
	// Close, a decode error, FrameTimeout): no more messages go out.
	stopped atomic.Bool

	// mu guards the fields below, which FrameTimeout's timer goroutine
	// shares with the connection's handler calls.
	mu       sync.Mutex
	err      error // why the Handler closed the connection
	timer    *time.Timer
	armed    bool
	deadline time.Time
	done     bool // OnClose has run
}

func (w *conn) deliver(msg []byte) error {
	if w.stopped.Load() {
		return errStopped
	}
	w.delivered++
	w.h.h.OnMessage(w, msg)
	if w.Conn.Congested() {
		return errPause
	}
	return nil
}

// SetValue stores per-connection user state, apart from the Handler's.
func (w *conn) SetValue(v any) { w.user.Store(&v) }

// Value returns the value last given to SetValue, or nil.
func (w *conn) Value() any {
	if p := w.user.Load(); p != nil {
		return *p
	}
	return nil
}

// Close stops the delivery of messages and closes the connection.
func (w *conn) Close() error {
	w.stopped.Store(true)
	return w.Conn.Close()
}

// fail closes the connection with err as the reason OnClose receives and
// the server logs.
func (w *conn) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
	w.stopped.Store(true)
	w.Conn.CloseWithError(err)
}

// arm starts the FrameTimeout clock for a frame that has just begun. One
// timer serves the connection's life; a callback left over from an earlier
// frame sees the later deadline and does nothing.
func (w *conn) arm(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return
	}
	w.armed = true
	w.deadline = time.Now().Add(d)
	if w.timer == nil {
		w.timer = time.AfterFunc(d, w.expire)
	} else {
		w.timer.Reset(d)
	}
}

// disarm stops the clock: no frame is pending.
func (w *conn) disarm() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.armed {
		w.armed = false
		w.timer.Stop()
	}
}

// expire runs on the timer's goroutine when a frame's time is up.
func (w *conn) expire() {
	w.mu.Lock()
	if !w.armed || w.done || time.Now().Before(w.deadline) {
		w.mu.Unlock()
		return
	}
	w.armed = false
	w.mu.Unlock()
	w.fail(ErrFrameTimeout)
}
