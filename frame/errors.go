package frame

import (
	"errors"
	"fmt"
)

var (
	// ErrFrameTooLarge is wrapped by the error a Decoder returns when a frame
	// is longer than its format's MaxFrameSize: a length header that
	// announces more, or a delimited line with no delimiter within
	// MaxFrameSize bytes. The check comes before anything of that size is
	// buffered. AppendFrame wraps it too, for a message that is too long.
	ErrFrameTooLarge = errors.New("sockpool/frame: frame too large")

	// ErrDelimiterInMessage is returned by Delimited.AppendFrame for a
	// message that the delimiter would cut short on decoding.
	ErrDelimiterInMessage = errors.New("sockpool/frame: message contains the delimiter")

	// ErrInvalidConfig is wrapped by the errors of Validate, NewDecoder and
	// NewHandler for a format or option that cannot work, such as a missing
	// MaxFrameSize.
	ErrInvalidConfig = errors.New("sockpool/frame: invalid configuration")

	// ErrFrameTimeout is the error a Handler closes a connection with when a
	// frame did not arrive whole within FrameTimeout of its first byte. It is
	// a net.Error whose Timeout is true.
	ErrFrameTimeout error = &timeoutError{}

	// errBadSplit reports a Format whose Split broke its contract.
	errBadSplit  = errors.New("sockpool/frame: Format.Split returned an impossible result")
	errNilFormat = fmt.Errorf("%w: nil Format", ErrInvalidConfig)
)

// timeoutError implements net.Error, so that callers can test Timeout() as
// they do for the net package's errors and the server's timeouts.
type timeoutError struct{}

func (*timeoutError) Error() string   { return "sockpool/frame: frame timeout" }
func (*timeoutError) Timeout() bool   { return true }
func (*timeoutError) Temporary() bool { return false } // the connection is closed: retrying it is no use
