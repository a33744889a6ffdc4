package rpc

import (
	"context"
	"errors"
	"fmt"
)

var (
	// ErrConnLost is wrapped by the error of every call pending on a client
	// connection that dropped (the server closed, restarted or became
	// unreachable, or a reply could not be decoded). The call may or may not
	// have run on the server. The next Call redials.
	ErrConnLost = errors.New("sockpool/rpc: connection lost")

	// ErrClientClosed is returned by Call once Close has been called, and by
	// calls still pending when it was.
	ErrClientClosed = errors.New("sockpool/rpc: client closed")

	// ErrMessageTooLarge is wrapped by the error of a Call whose request
	// would exceed MaxMessageSize, and carried (as an *Error with
	// CodeInternal) by a reply the server could not send for that reason.
	ErrMessageTooLarge = errors.New("sockpool/rpc: message too large")

	// ErrBadMethod is wrapped by the error of Call and the panic of Register
	// for a method name that is empty or longer than MaxMethodLen bytes.
	ErrBadMethod = errors.New("sockpool/rpc: method name must be 1 to 255 bytes")

	// ErrInvalidConfig is wrapped by the errors of NewServer and Dial for a
	// configuration that cannot work.
	ErrInvalidConfig = errors.New("sockpool/rpc: invalid configuration")
)

// Code says why a call failed on the server.
type Code uint8

// The codes an error reply carries. New codes may be added; a client maps
// one it does not know to an *Error all the same.
const (
	// CodeApplication: the method returned an error; Message is its text.
	CodeApplication Code = 1
	// CodeNotFound: no method is registered under the name.
	CodeNotFound Code = 2
	// CodeInternal: the method panicked, or its reply was too large.
	CodeInternal Code = 3
	// CodeOverloaded: the server had no room to run or queue the call; it
	// did not run. Retrying later is safe.
	CodeOverloaded Code = 4
	// CodeDeadlineExceeded: the call's deadline passed on the server.
	CodeDeadlineExceeded Code = 5
	// CodeCanceled: the call was cancelled (the client gave up on it).
	CodeCanceled Code = 6
	// CodeBadRequest: the request could not be parsed.
	CodeBadRequest Code = 7
	// CodeShuttingDown: the server is closing and took no new calls; the
	// call did not run.
	CodeShuttingDown Code = 8
)

var codeNames = map[Code]string{
	CodeApplication:      "application error",
	CodeNotFound:         "method not found",
	CodeInternal:         "internal error",
	CodeOverloaded:       "overloaded",
	CodeDeadlineExceeded: "deadline exceeded",
	CodeCanceled:         "canceled",
	CodeBadRequest:       "bad request",
	CodeShuttingDown:     "shutting down",
}

// String returns the code's name, or "Code(n)" for a code this version
// does not know.
func (c Code) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return fmt.Sprintf("Code(%d)", uint8(c))
}

// Error is a failure the server reported for a call, as Call returns it.
// Test for it with errors.As. A method may return an *Error itself to
// choose the code the caller sees.
//
// An Error with CodeDeadlineExceeded or CodeCanceled also matches
// context.DeadlineExceeded or context.Canceled with errors.Is: the server's
// copy of the caller's deadline may expire a moment before the caller's
// own, and the caller should see the same error either way.
type Error struct {
	Code    Code   // why the call failed
	Message string // the method's error text, the unknown method's name, ...
}

// Error returns "sockpool/rpc: <code>: <message>".
func (e *Error) Error() string {
	if e.Message == "" {
		return "sockpool/rpc: " + e.Code.String()
	}
	return "sockpool/rpc: " + e.Code.String() + ": " + e.Message
}

// Is reports whether target is the context error that e's code stands for.
func (e *Error) Is(target error) bool {
	switch e.Code {
	case CodeDeadlineExceeded:
		return target == context.DeadlineExceeded
	case CodeCanceled:
		return target == context.Canceled
	}
	return false
}
