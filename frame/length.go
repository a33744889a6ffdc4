package frame

import (
	"encoding/binary"
	"fmt"
	"math"
)

// DefaultHeaderSize is the header size of a LengthPrefixed format whose
// HeaderSize is 0.
const DefaultHeaderSize = 4

// LengthPrefixed is the format in which each message follows a big-endian
// unsigned header holding its length in bytes:
//
//	+--------------------+----------------------+
//	| length (1,2,4,8 B) | message (length B)   |
//	+--------------------+----------------------+
//
// The format allows lengths up to the header's range (2^64-1 for 8 bytes);
// MaxFrameSize is what this side accepts. A header announcing more fails
// with ErrFrameTooLarge as soon as the header has arrived, before any of the
// message is buffered.
type LengthPrefixed struct {
	// HeaderSize is the size of the length header: 1, 2, 4 or 8 bytes.
	// Default DefaultHeaderSize (4).
	HeaderSize int

	// MaxFrameSize is the largest message accepted or written, in bytes,
	// header not included. Required: it must be positive and fit the
	// header.
	MaxFrameSize int
}

func (f LengthPrefixed) headerSize() int {
	if f.HeaderSize == 0 {
		return DefaultHeaderSize
	}
	return f.HeaderSize
}

// Validate reports an unsupported HeaderSize, or a MaxFrameSize that is
// missing, negative or larger than the header can express.
func (f LengthPrefixed) Validate() error {
	hs := f.headerSize()
	if hs != 1 && hs != 2 && hs != 4 && hs != 8 {
		return fmt.Errorf("%w: LengthPrefixed.HeaderSize must be 1, 2, 4 or 8, got %d", ErrInvalidConfig, f.HeaderSize)
	}
	if f.MaxFrameSize <= 0 {
		return fmt.Errorf("%w: LengthPrefixed.MaxFrameSize must be positive, got %d", ErrInvalidConfig, f.MaxFrameSize)
	}
	if limit := headerLimit(hs); uint64(f.MaxFrameSize) > limit {
		return fmt.Errorf("%w: LengthPrefixed.MaxFrameSize %d does not fit a %d-byte header (at most %d)", ErrInvalidConfig, f.MaxFrameSize, hs, limit)
	}
	if f.MaxFrameSize > math.MaxInt-hs {
		return fmt.Errorf("%w: LengthPrefixed.MaxFrameSize %d is too large", ErrInvalidConfig, f.MaxFrameSize)
	}
	return nil
}

// headerLimit is the largest length an hs-byte header can hold.
func headerLimit(hs int) uint64 {
	if hs >= 8 {
		return math.MaxUint64
	}
	return 1<<(8*hs) - 1
}

// MaxFrameLen returns HeaderSize + MaxFrameSize.
func (f LengthPrefixed) MaxFrameLen() int { return f.headerSize() + f.MaxFrameSize }

// Split implements Format. seen is not needed: the header says where the
// frame ends.
func (f LengthPrefixed) Split(data []byte, seen int) (msg []byte, n, need int, err error) {
	hs := f.headerSize()
	if len(data) < hs {
		return nil, 0, hs, nil
	}
	var size uint64
	switch hs {
	case 1:
		size = uint64(data[0])
	case 2:
		size = uint64(binary.BigEndian.Uint16(data))
	case 4:
		size = uint64(binary.BigEndian.Uint32(data))
	default:
		size = binary.BigEndian.Uint64(data)
	}
	if size > uint64(f.MaxFrameSize) {
		return nil, 0, 0, fmt.Errorf("%w: header announces %d bytes, MaxFrameSize is %d", ErrFrameTooLarge, size, f.MaxFrameSize)
	}
	total := hs + int(size)
	if len(data) < total {
		return nil, 0, total, nil
	}
	// The full slice expression keeps a handler's append to msg from
	// overwriting the next frame.
	return data[hs:total:total], total, 0, nil
}

// AppendHeader appends the header for a message of n bytes to dst, so that
// a caller can write a message in pieces (header, then each piece) without
// first assembling it. It fails for n < 0 or n > MaxFrameSize.
func (f LengthPrefixed) AppendHeader(dst []byte, n int) ([]byte, error) {
	if n < 0 || n > f.MaxFrameSize {
		return dst, fmt.Errorf("%w: message of %d bytes, MaxFrameSize is %d", ErrFrameTooLarge, n, f.MaxFrameSize)
	}
	switch f.headerSize() {
	case 1:
		if n > math.MaxUint8 {
			return dst, fmt.Errorf("%w: message of %d bytes does not fit a 1-byte header", ErrFrameTooLarge, n)
		}
		return append(dst, byte(n)), nil
	case 2:
		if n > math.MaxUint16 {
			return dst, fmt.Errorf("%w: message of %d bytes does not fit a 2-byte header", ErrFrameTooLarge, n)
		}
		return binary.BigEndian.AppendUint16(dst, uint16(n)), nil
	case 4:
		if uint64(n) > math.MaxUint32 {
			return dst, fmt.Errorf("%w: message of %d bytes does not fit a 4-byte header", ErrFrameTooLarge, n)
		}
		return binary.BigEndian.AppendUint32(dst, uint32(n)), nil
	case 8:
		return binary.BigEndian.AppendUint64(dst, uint64(n)), nil
	}
	return dst, f.Validate()
}

// AppendFrame appends the header and msg to dst. It fails with an error
// wrapping ErrFrameTooLarge when msg is longer than MaxFrameSize.
func (f LengthPrefixed) AppendFrame(dst, msg []byte) ([]byte, error) {
	dst, err := f.AppendHeader(dst, len(msg))
	if err != nil {
		return dst, err
	}
	return append(dst, msg...), nil
}
