package server

import (
	"errors"
	"fmt"
	"net"
)

var (
	// ErrServerClosed is returned by Serve and ListenAndServe after Shutdown
	// or Close, and given to OnClose for connections that Shutdown closed.
	ErrServerClosed = errors.New("sockpool/server: Server closed")

	// ErrConnClosed is returned by Conn.Write once the connection is closing
	// or closed.
	ErrConnClosed = errors.New("sockpool/server: connection closed")

	// ErrHandlerPanic is wrapped by the error a connection closes with when
	// its handler panicked. errors.As with *PanicError gives the details.
	ErrHandlerPanic = errors.New("sockpool/server: handler panicked")

	// ErrEngineUnsupported is returned by Serve and ListenAndServe when the
	// chosen Engine does not run on this operating system.
	ErrEngineUnsupported = errors.New("sockpool/server: engine not supported on this system")

	// ErrNoHandler is returned by Serve when the Server has no Handler.
	ErrNoHandler = errors.New("sockpool/server: no Handler")

	// ErrIdleTimeout closes a connection that moved no bytes in either
	// direction for IdleTimeout. It is a net.Error whose Timeout is true.
	ErrIdleTimeout error = &timeoutError{"idle timeout"}

	// ErrReadTimeout closes a connection that sent nothing for ReadTimeout.
	// It is a net.Error whose Timeout is true.
	ErrReadTimeout error = &timeoutError{"read timeout"}

	// ErrOutputLimit closes a connection whose queued output would pass the
	// Server's OutputLimit: a handler on an event loop wrote far more than
	// its peer reads, and ignored Conn.Congested. Conn.Write returns it.
	ErrOutputLimit = errors.New("sockpool/server: output limit exceeded")

	// ErrWriteTimeout closes a connection whose peer did not take written
	// bytes within WriteTimeout. It is a net.Error whose Timeout is true.
	ErrWriteTimeout error = &timeoutError{"write timeout"}
)

// timeoutError implements net.Error, so callers can test Timeout() as they do
// for net package errors.
type timeoutError struct{ what string }

func (e *timeoutError) Error() string   { return "sockpool/server: " + e.what }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return false } // the connection is closed: retrying it is no use

// isTimeout reports whether err is a net.Error timeout, such as a passed
// deadline.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// PanicError is the error a connection closes with when its handler panics.
// It wraps ErrHandlerPanic.
type PanicError struct {
	Value any    // the value passed to panic
	Stack []byte // the panicking goroutine's stack
}

// Error describes the panic and its value.
func (e *PanicError) Error() string {
	return fmt.Sprintf("%v: %v", ErrHandlerPanic, e.Value)
}

// Unwrap returns ErrHandlerPanic.
func (e *PanicError) Unwrap() error { return ErrHandlerPanic }

// fatalError marks an engine error that ends Serve: the listener gives
// connections the engine cannot run.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
