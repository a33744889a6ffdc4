package frame

import (
	"bytes"
	"fmt"
	"math"
)

// Delimited is the format in which each message ends with a delimiter, such
// as the "\n" of line protocols. The delimiter is not part of the message.
// A line with no delimiter within MaxFrameSize bytes fails with
// ErrFrameTooLarge as soon as MaxFrameSize + len(Delim) bytes have arrived
// without one.
type Delimited struct {
	// Delim ends each message: one byte or several, such as "\r\n".
	// Default "\n".
	Delim []byte

	// MaxFrameSize is the longest message accepted or written, in bytes,
	// delimiter not included. Required: it must be positive.
	MaxFrameSize int
}

var newline = []byte{'\n'}

func (f Delimited) delim() []byte {
	if len(f.Delim) == 0 {
		return newline
	}
	return f.Delim
}

// Validate reports a MaxFrameSize that is missing or negative.
func (f Delimited) Validate() error {
	if f.MaxFrameSize <= 0 {
		return fmt.Errorf("%w: Delimited.MaxFrameSize must be positive, got %d", ErrInvalidConfig, f.MaxFrameSize)
	}
	if f.MaxFrameSize > math.MaxInt/2-len(f.Delim) {
		return fmt.Errorf("%w: Delimited.MaxFrameSize %d is too large", ErrInvalidConfig, f.MaxFrameSize)
	}
	return nil
}

// MaxFrameLen returns MaxFrameSize + len(Delim).
func (f Delimited) MaxFrameLen() int { return f.MaxFrameSize + len(f.delim()) }

// Split implements Format. It looks for the delimiter only within the first
// MaxFrameLen bytes, so a stream yields the same frames and the same error
// whether it arrives whole or in pieces, and it starts at seen (less the
// delimiter's length, for a delimiter that straddles two reads) so that a
// line trickling in is not scanned again from the start on every read.
func (f Delimited) Split(data []byte, seen int) (msg []byte, n, need int, err error) {
	delim := f.delim()
	limit := min(len(data), f.MaxFrameLen())
	from := max(0, min(seen, limit)-len(delim)+1)
	if i := bytes.Index(data[from:limit], delim); i >= 0 {
		i += from
		return data[:i:i], i + len(delim), 0, nil
	}
	if limit == f.MaxFrameLen() {
		return nil, 0, 0, fmt.Errorf("%w: no delimiter within %d bytes", ErrFrameTooLarge, f.MaxFrameSize)
	}
	return nil, 0, len(data) + 1, nil
}

// AppendFrame appends msg and the delimiter to dst. It fails with an error
// wrapping ErrFrameTooLarge when msg is longer than MaxFrameSize, and with
// ErrDelimiterInMessage when decoding would end the message early: msg
// contains the delimiter, or (for a delimiter of several bytes) msg's tail
// and the delimiter overlap into one.
func (f Delimited) AppendFrame(dst, msg []byte) ([]byte, error) {
	if len(msg) > f.MaxFrameSize {
		return dst, fmt.Errorf("%w: message of %d bytes, MaxFrameSize is %d", ErrFrameTooLarge, len(msg), f.MaxFrameSize)
	}
	delim := f.delim()
	start := len(dst)
	dst = append(dst, msg...)
	dst = append(dst, delim...)
	if bytes.Index(dst[start:], delim) != len(msg) {
		return dst[:start], ErrDelimiterInMessage
	}
	return dst, nil
}
