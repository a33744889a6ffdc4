package frame_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/sockpool/sockpool/frame"
)

// FuzzLengthPrefixed feeds arbitrary streams to a LengthPrefixed decoder
// whole, a byte at a time and in random chunks: no panic, never more than
// MaxFrameLen buffered, the same messages and error every way, and the
// messages a straightforward parse of the stream finds. It also checks
// that messages cut from data survive AppendFrame and decoding.
func FuzzLengthPrefixed(f *testing.F) {
	f.Add(uint8(2), uint16(16), []byte("\x00\x00\x00\x03abc\x00\x00\x00\x00"), uint64(1))
	f.Add(uint8(0), uint16(4), []byte("\x05hello\x04four"), uint64(2))
	f.Add(uint8(1), uint16(300), []byte("\x01\x00"+string(make([]byte, 256))), uint64(3))
	f.Add(uint8(3), uint16(10), []byte("\xff\xff\xff\xff\xff\xff\xff\xff"), uint64(4))
	f.Add(uint8(2), uint16(1), []byte("\x00\x00\x00"), uint64(5))
	f.Fuzz(func(t *testing.T, hsel uint8, max uint16, data []byte, seed uint64) {
		hs := []int{1, 2, 4, 8}[hsel%4]
		maxSize := int(max)%1000 + 1
		if hs == 1 {
			maxSize = min(maxSize, 255)
		}
		lp := frame.LengthPrefixed{HeaderSize: hs, MaxFrameSize: maxSize}
		got, err := checkSame(t, lp, data, seed)
		want, wantTooLarge := parseLengthPrefixed(data, hs, maxSize)
		if !sameMessages(got, want) {
			t.Fatalf("decoded %q, want %q", got, want)
		}
		if errors.Is(err, frame.ErrFrameTooLarge) != wantTooLarge || (err != nil && !wantTooLarge) {
			t.Fatalf("error %v, want too large: %v", err, wantTooLarge)
		}
		roundTrip(t, lp, data, seed)
	})
}

// FuzzDelimited is FuzzLengthPrefixed for Delimited, with delimiters of one
// to three bytes drawn from the input.
func FuzzDelimited(f *testing.F) {
	f.Add([]byte("\n"), uint16(8), []byte("one\ntwo\n\nthree"), uint64(1))
	f.Add([]byte("\r\n"), uint16(5), []byte("ab\r\ncd\r\r\n123456\r\n"), uint64(2))
	f.Add([]byte("aa"), uint16(5), []byte("xaaayaa"), uint64(3))
	f.Add([]byte("\n"), uint16(3), []byte("toolong\n"), uint64(4))
	f.Add([]byte("END"), uint16(10), []byte("helloENENDworldEND"), uint64(5))
	f.Fuzz(func(t *testing.T, delim []byte, max uint16, data []byte, seed uint64) {
		if len(delim) == 0 || len(delim) > 3 {
			return
		}
		maxSize := int(max)%1000 + 1
		dl := frame.Delimited{Delim: delim, MaxFrameSize: maxSize}
		got, err := checkSame(t, dl, data, seed)
		want, wantTooLarge := parseDelimited(data, delim, maxSize)
		if !sameMessages(got, want) {
			t.Fatalf("decoded %q, want %q", got, want)
		}
		if errors.Is(err, frame.ErrFrameTooLarge) != wantTooLarge || (err != nil && !wantTooLarge) {
			t.Fatalf("error %v, want too large: %v", err, wantTooLarge)
		}
		roundTrip(t, dl, data, seed)
	})
}

// parseLengthPrefixed is the reference: the frames of a whole stream, and
// whether it ends in a frame that is too large.
func parseLengthPrefixed(data []byte, hs, maxSize int) ([][]byte, bool) {
	var msgs [][]byte
	for len(data) >= hs {
		var n uint64
		for _, b := range data[:hs] {
			n = n<<8 | uint64(b)
		}
		if n > uint64(maxSize) {
			return msgs, true
		}
		if len(data) < hs+int(n) {
			break
		}
		msgs = append(msgs, data[hs:hs+int(n)])
		data = data[hs+int(n):]
	}
	return msgs, false
}

// parseDelimited is the reference for delimited streams: a line is too
// long when no delimiter starts within maxSize bytes of its start.
func parseDelimited(data, delim []byte, maxSize int) ([][]byte, bool) {
	var msgs [][]byte
	for {
		i := bytes.Index(data, delim)
		if i > maxSize || (i < 0 && len(data) >= maxSize+len(delim)) {
			return msgs, true
		}
		if i < 0 {
			return msgs, false
		}
		msgs = append(msgs, data[:i])
		data = data[i+len(delim):]
	}
}

// roundTrip cuts data into messages, frames those the format accepts, and
// checks that decoding gives them back.
func roundTrip(t *testing.T, f frame.Format, data []byte, seed uint64) {
	cut := chunks(seed)
	var stream []byte
	var sent [][]byte
	for rest := data; len(rest) > 0; {
		n := cut(len(rest))
		msg := rest[:n]
		rest = rest[n:]
		out, err := f.AppendFrame(stream, msg)
		if err != nil {
			if !errors.Is(err, frame.ErrFrameTooLarge) && !errors.Is(err, frame.ErrDelimiterInMessage) {
				t.Fatalf("AppendFrame(%q): %v", msg, err)
			}
			if len(out) != len(stream) {
				t.Fatalf("AppendFrame failed but changed dst")
			}
			continue
		}
		stream = out
		sent = append(sent, msg)
	}
	got, err := checkSame(t, f, stream, seed)
	if err != nil || !sameMessages(got, sent) {
		t.Fatalf("round trip: decoded %q (%v), sent %q", got, err, sent)
	}
}
