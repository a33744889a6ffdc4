package server

import (
	"crypto/tls"
	"net"
	"os"
)

// Conn is one client connection as a handler sees it. Every engine gives the
// same Conn, so a handler does not know (or care) which engine runs it.
//
// All methods are safe to call from any goroutine.
type Conn interface {
	// ID returns a number that identifies the connection within its Server.
	// IDs start at 1 and are not reused.
	ID() uint64

	// LocalAddr returns the local network address.
	LocalAddr() net.Addr

	// RemoteAddr returns the remote network address.
	RemoteAddr() net.Addr

	// Write writes p to the connection, in order with every other Write. The
	// caller may reuse p as soon as Write returns: the bytes have been written
	// to the socket or copied. Write returns ErrConnClosed once the connection
	// is closing, and an error wrapping ErrWriteTimeout when the peer did not
	// take the bytes within the Server's WriteTimeout (the connection is then
	// closed).
	//
	// With the Evented engine, bytes the socket does not take at once are
	// queued; a Write from a goroutine other than an event loop waits while
	// WriteHighWater bytes or more are queued (up to WriteTimeout), as a
	// blocking socket would. A handler running inline on a loop never waits.
	Write(p []byte) (int, error)

	// SendFile writes count bytes of f, from offset on, to the connection,
	// in order with the Writes before and after it; count < 0 means to the
	// end of the file. f must be a regular file (else ErrNotRegularFile),
	// and its own offset is neither used nor moved. On a plain TCP or UNIX
	// socket on Linux the bytes go with sendfile(2), from the page cache to
	// the socket without passing through the process; over TLS, which must
	// encrypt them, and on other systems they are read and written a chunk
	// at a time through a pooled buffer.
	//
	// SendFile returns as Write does: with the threaded engines once every
	// byte is handed to the kernel; with the evented ones once the range is
	// queued and, off an event loop, the output has drained below
	// WriteHighWater. While queued, the range counts against the water
	// marks (Congested, pausing reads), but not against OutputLimit: it is
	// not held in memory. The caller may close f as soon as SendFile
	// returns; the evented engines keep a duplicate of it.
	//
	// SendFile returns the bytes sent or queued. If f holds fewer than count
	// bytes from offset on when SendFile is called, it sends those and
	// returns their number with an error wrapping io.ErrUnexpectedEOF; the
	// connection stays open. If the file shrinks while it is being sent,
	// the bytes the peer was promised can no longer be sent, so the
	// connection is closed with an error wrapping io.ErrUnexpectedEOF,
	// which OnClose receives. (As with sendfile(2) anywhere, the socket
	// holds the file's pages rather than copies until they are sent, so a
	// file changed meanwhile may send the changed bytes.)
	SendFile(f *os.File, offset, count int64) (int64, error)

	// Close closes the connection after the output already written is
	// flushed. It returns at once; the connection's OnClose runs when the
	// close is complete. Writes after Close fail with ErrConnClosed. Close is
	// idempotent.
	Close() error

	// CloseWithError is Close with a reason: err is what OnClose receives
	// and what the server's Logger reports at debug level, so that a
	// handler that cuts a client for bad input (an oversized frame, say)
	// leaves a record of why.
	CloseWithError(err error) error

	// SetValue stores per-connection user state: a session, a parser.
	// (Not a context.Context: the connection has none.)
	SetValue(v any)

	// Value returns the value last given to SetValue, or nil.
	Value() any

	// TLS returns the state of the TLS connection, or nil when the
	// connection is not TLS.
	TLS() *tls.ConnectionState

	// StartTLS switches the plain connection to TLS mid-stream, as the
	// server side of a protocol's own "begin TLS" exchange (SMTP's
	// STARTTLS, IMAP's, ...). Call it from OnData, after writing the reply
	// that tells the client to begin: "220 Ready to start TLS". rest is the
	// input of this OnData call that follows the command, if any: a client
	// may send the start of its handshake in the same packet as the
	// command, and those bytes belong to the handshake (nil when there are
	// none). StartTLS copies rest.
	//
	// StartTLS returns at once. Once OnData returns, the engine stops
	// passing input to the handler, runs the handshake on the worker pool
	// within HandshakeTimeout (on the evented engines too: never on an
	// event loop), and then OnData gets plaintext and TLS reports the
	// state. Writes made meanwhile go out encrypted after the handshake, in
	// order. If the handshake fails, the connection closes and OnClose gets
	// an error wrapping ErrTLSHandshake, or ErrHandshakeTimeout. StartTLS
	// returns ErrAlreadyTLS when the connection is TLS already (or an
	// upgrade is pending).
	StartTLS(config *tls.Config, rest []byte) error

	// Congested reports whether more than WriteHighWater bytes of output are
	// queued on a connection whose handler runs inline on an event loop
	// (Evented), where Write cannot wait for the peer. A
	// handler that answers several requests from one OnData (a pipeline)
	// should stop while it is true, keep the requests it has not answered,
	// and go on in OnDrain (see DrainHandler): that bounds the output of one
	// OnData call by WriteHighWater plus one reply. It is always false on the
	// threaded engine and with EventedPool, where a Write waits instead.
	Congested() bool

	// PauseReading stops handing the connection's input to OnData until
	// ResumeReading; it is for a handler whose input becomes output
	// elsewhere (a proxy: see PacedHandler), which pauses one side while
	// the other is Congested. While paused the engine does not read the
	// socket, so the kernel's buffers fill and TCP's window closes on the
	// peer, whose writes then block: the connection costs no memory beyond
	// those buffers. Called from the connection's own OnOpen, OnData or
	// OnDrain it takes effect when that call returns; from anywhere else,
	// soon after: an OnData call with input read before then may still
	// follow. ResumeReading hands over, in order, any input read ahead
	// (a TLS record's rest, input waiting for a pool worker) and reads
	// again. Both are idempotent and pauses do not nest: one ResumeReading
	// ends any number of PauseReadings. They are independent of the
	// engine's own backpressure pause (above WriteHighWater): neither ends
	// the other.
	//
	// A paused connection still ends as any other: Close, CloseWrite's
	// half-close, Shutdown and Server.Close, the peer's reset, WriteTimeout
	// and IdleTimeout (no input or output for that long, so a connection
	// paused for good is cut then). ReadTimeout does not apply while
	// paused: the silence is the handler's, not the peer's; it restarts at
	// ResumeReading.
	PauseReading()

	// ResumeReading ends PauseReading; see there.
	ResumeReading()

	// CloseWrite half-closes the connection: once the output already
	// written is flushed, the peer reads EOF (a TCP FIN; over TLS,
	// close_notify first), while this side goes on reading. Writes after it
	// fail with ErrConnClosed. The connection closes, and OnClose gets nil,
	// once the peer has ended its side too: at its EOF, which an EOFHandler
	// still sees first. CloseWrite is idempotent, and does nothing once the
	// connection is closing. With a StartTLS under way it returns
	// ErrUpgradePending.
	CloseWrite() error
}

// Handler responds to data arriving on a connection.
//
// OnData is called with the bytes of one read, in the order they arrived, and
// never concurrently for the same connection. The engine owns in: it is valid
// only until OnData returns, so a handler that keeps bytes must copy them.
// in carries no message boundaries: it is what one read returned, so a
// message may arrive in pieces or several at once.
//
// A Handler may also implement OnOpen(Conn), called once before the first
// OnData, and OnClose(Conn, error), called once after the connection is
// closed, with nil when the peer or the handler closed it cleanly and the
// reason otherwise (see the Err variables). A panic in any of them is
// recovered: the connection is closed with an error wrapping ErrHandlerPanic,
// the panic is counted in Stats and logged, and the server keeps serving the
// other connections.
type Handler interface {
	OnData(c Conn, in []byte)
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc func(c Conn, in []byte)

// OnData calls f(c, in).
func (f HandlerFunc) OnData(c Conn, in []byte) { f(c, in) }

// OpenHandler is implemented by handlers that want to know when a connection
// opens. OnOpen runs before the connection's first OnData.
type OpenHandler interface {
	OnOpen(c Conn)
}

// DrainHandler is implemented by handlers that stop answering while their
// connection is Congested. OnDrain is called where OnData is called (on the
// event loop), after Congested has reported true, once the queued output has
// drained below WriteLowWater; the engine reads nothing from the connection
// in between (unless the handler is a PacedHandler), so input the handler
// kept is all it has to go on with. A Congested answer asked by another
// connection's handler (a proxy's other side) is followed by this
// connection's OnDrain too. If the connection is congested again when
// OnDrain returns, the next OnDrain follows the next drain.
type DrainHandler interface {
	OnDrain(c Conn)
}

// EOFHandler is implemented by handlers that go on writing after the peer
// has finished sending: a proxy, which passes a half-close on (see
// Conn.CloseWrite). Without it, the peer's EOF ends the connection once the
// output written is flushed. With it, OnEOF is called where OnData is
// called, once, after the last OnData, and the connection stays open for
// Writes until the handler calls Close or CloseWrite (or a timeout,
// Shutdown or an error ends it). A connection that has already called
// CloseWrite closes as soon as OnEOF returns.
type EOFHandler interface {
	OnEOF(c Conn)
}

// PacedHandler is implemented by handlers that pace their connections'
// reading themselves, with Conn.PauseReading and ResumeReading, because
// what a connection reads is not what it answers: a proxy writes one
// connection's input to another. For a handler whose PacesReading reports
// true, the Evented and EventedPool engines do not pause reading a
// connection while its own output is above WriteHighWater: that output is
// the other connection's input, and pausing this one's reading for it
// could deadlock two peers that each wait for the other to read.
// Congested answers as before, and OnDrain follows a true answer whoever
// asked. The threaded engines never pause reading for output.
type PacedHandler interface {
	PacesReading() bool
}

// CloseHandler is implemented by handlers that want to know when a connection
// has closed. OnClose runs exactly once per connection, after its last
// OnData; err is nil for a clean close.
type CloseHandler interface {
	OnClose(c Conn, err error)
}
