package frame_test

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/sockpool/sockpool/frame"
	"github.com/sockpool/sockpool/server"
)

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		f    frame.Format
		ok   bool
	}{
		{"lp zero", frame.LengthPrefixed{}, false},
		{"lp no max", frame.LengthPrefixed{HeaderSize: 4}, false},
		{"lp negative max", frame.LengthPrefixed{MaxFrameSize: -1}, false},
		{"lp default header", frame.LengthPrefixed{MaxFrameSize: 10}, true},
		{"lp header 3", frame.LengthPrefixed{HeaderSize: 3, MaxFrameSize: 10}, false},
		{"lp header -1", frame.LengthPrefixed{HeaderSize: -1, MaxFrameSize: 10}, false},
		{"lp 1 fits", frame.LengthPrefixed{HeaderSize: 1, MaxFrameSize: 255}, true},
		{"lp 1 too big", frame.LengthPrefixed{HeaderSize: 1, MaxFrameSize: 256}, false},
		{"lp 2 fits", frame.LengthPrefixed{HeaderSize: 2, MaxFrameSize: 65535}, true},
		{"lp 2 too big", frame.LengthPrefixed{HeaderSize: 2, MaxFrameSize: 65536}, false},
		{"lp 8 huge", frame.LengthPrefixed{HeaderSize: 8, MaxFrameSize: math.MaxInt}, false},
		{"lp 8", frame.LengthPrefixed{HeaderSize: 8, MaxFrameSize: min(1<<40, math.MaxInt/2)}, true}, // past 32 bits where int has 64
		{"delim zero", frame.Delimited{}, false},
		{"delim no max", frame.Delimited{Delim: []byte("\r\n")}, false},
		{"delim", frame.Delimited{MaxFrameSize: 1}, true},
		{"delim huge", frame.Delimited{MaxFrameSize: math.MaxInt}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.f.Validate()
			if tc.ok != (err == nil) {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, frame.ErrInvalidConfig) {
				t.Errorf("Validate() = %v, does not wrap ErrInvalidConfig", err)
			}
			if _, derr := frame.NewDecoder(tc.f, nil); (derr == nil) != tc.ok {
				t.Errorf("NewDecoder error = %v, want ok=%v", derr, tc.ok)
			}
			h := frame.MessageFunc(func(c server.Conn, msg []byte) {})
			if _, herr := frame.NewHandler(tc.f, h, nil); (herr == nil) != tc.ok {
				t.Errorf("NewHandler error = %v, want ok=%v", herr, tc.ok)
			}
		})
	}
}

func TestLengthPrefixedSplit(t *testing.T) {
	cases := []struct {
		name     string
		f        frame.LengthPrefixed
		data     string
		msg      string
		n, need  int
		tooLarge bool
	}{
		{"empty", frame.LengthPrefixed{MaxFrameSize: 10}, "", "", 0, 4, false},
		{"partial header", frame.LengthPrefixed{MaxFrameSize: 10}, "\x00\x00", "", 0, 4, false},
		{"header only", frame.LengthPrefixed{MaxFrameSize: 10}, "\x00\x00\x00\x03", "", 0, 7, false},
		{"partial body", frame.LengthPrefixed{MaxFrameSize: 10}, "\x00\x00\x00\x03ab", "", 0, 7, false},
		{"whole", frame.LengthPrefixed{MaxFrameSize: 10}, "\x00\x00\x00\x03abc", "abc", 7, 0, false},
		{"whole and more", frame.LengthPrefixed{MaxFrameSize: 10}, "\x00\x00\x00\x03abc\x00", "abc", 7, 0, false},
		{"empty message", frame.LengthPrefixed{MaxFrameSize: 10}, "\x00\x00\x00\x00", "", 4, 0, false},
		{"at max", frame.LengthPrefixed{HeaderSize: 1, MaxFrameSize: 3}, "\x03abc", "abc", 4, 0, false},
		{"over max", frame.LengthPrefixed{HeaderSize: 1, MaxFrameSize: 3}, "\x04", "", 0, 0, true},
		{"2-byte", frame.LengthPrefixed{HeaderSize: 2, MaxFrameSize: 300}, "\x01\x00" + string(bytes.Repeat([]byte{'x'}, 256)), string(bytes.Repeat([]byte{'x'}, 256)), 258, 0, false},
		{"8-byte 2^64-1", frame.LengthPrefixed{HeaderSize: 8, MaxFrameSize: 1 << 20}, "\xff\xff\xff\xff\xff\xff\xff\xff", "", 0, 0, true},
		{"8-byte", frame.LengthPrefixed{HeaderSize: 8, MaxFrameSize: 1 << 20}, "\x00\x00\x00\x00\x00\x00\x00\x01z", "z", 9, 0, false},
		{"4-byte 2^32-1", frame.LengthPrefixed{MaxFrameSize: 1 << 20}, "\xff\xff\xff\xff", "", 0, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg, n, need, err := tc.f.Split([]byte(tc.data), 0)
			if tc.tooLarge {
				if !errors.Is(err, frame.ErrFrameTooLarge) {
					t.Fatalf("Split error = %v, want ErrFrameTooLarge", err)
				}
				return
			}
			if err != nil || string(msg) != tc.msg || n != tc.n || need != tc.need {
				t.Fatalf("Split = %q, %d, %d, %v; want %q, %d, %d, nil", msg, n, need, err, tc.msg, tc.n, tc.need)
			}
			if n > 0 && cap(msg) != len(msg) {
				t.Errorf("message capacity %d reaches past it (len %d)", cap(msg), len(msg))
			}
		})
	}
}

func TestDelimitedSplit(t *testing.T) {
	crlf := []byte("\r\n")
	cases := []struct {
		name     string
		f        frame.Delimited
		data     string
		seen     int
		msg      string
		n, need  int
		tooLarge bool
	}{
		{"empty", frame.Delimited{MaxFrameSize: 5}, "", 0, "", 0, 1, false},
		{"no delim", frame.Delimited{MaxFrameSize: 5}, "abc", 0, "", 0, 4, false},
		{"line", frame.Delimited{MaxFrameSize: 5}, "abc\ndef", 0, "abc", 4, 0, false},
		{"empty line", frame.Delimited{MaxFrameSize: 5}, "\n", 0, "", 1, 0, false},
		{"at max", frame.Delimited{MaxFrameSize: 5}, "abcde\n", 0, "abcde", 6, 0, false},
		{"one over max", frame.Delimited{MaxFrameSize: 5}, "abcdef\n", 0, "", 0, 0, true},
		{"max without delim", frame.Delimited{MaxFrameSize: 5}, "abcde", 0, "", 0, 6, false},
		{"max+1 without delim", frame.Delimited{MaxFrameSize: 5}, "abcdef", 0, "", 0, 0, true},
		{"crlf", frame.Delimited{Delim: crlf, MaxFrameSize: 5}, "ab\r\ncd", 0, "ab", 4, 0, false},
		{"crlf bare cr", frame.Delimited{Delim: crlf, MaxFrameSize: 5}, "a\rb\r", 0, "", 0, 5, false},
		{"crlf straddles seen", frame.Delimited{Delim: crlf, MaxFrameSize: 5}, "ab\r\n", 3, "ab", 4, 0, false},
		{"crlf at max", frame.Delimited{Delim: crlf, MaxFrameSize: 2}, "ab\r\n", 0, "ab", 4, 0, false},
		{"crlf over max", frame.Delimited{Delim: crlf, MaxFrameSize: 2}, "abc\r\n", 0, "", 0, 0, true},
		{"seen skips", frame.Delimited{MaxFrameSize: 9}, "abc\ndef\n", 4, "abc\ndef", 8, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg, n, need, err := tc.f.Split([]byte(tc.data), tc.seen)
			if tc.tooLarge {
				if !errors.Is(err, frame.ErrFrameTooLarge) {
					t.Fatalf("Split error = %v, want ErrFrameTooLarge", err)
				}
				return
			}
			if err != nil || string(msg) != tc.msg || n != tc.n || need != tc.need {
				t.Fatalf("Split = %q, %d, %d, %v; want %q, %d, %d, nil", msg, n, need, err, tc.msg, tc.n, tc.need)
			}
		})
	}
}

func TestAppendFrame(t *testing.T) {
	cases := []struct {
		name string
		f    frame.Format
		msg  string
		want string
		err  error
	}{
		{"lp1", frame.LengthPrefixed{HeaderSize: 1, MaxFrameSize: 5}, "abc", "\x03abc", nil},
		{"lp2", frame.LengthPrefixed{HeaderSize: 2, MaxFrameSize: 5}, "abc", "\x00\x03abc", nil},
		{"lp4", frame.LengthPrefixed{MaxFrameSize: 5}, "", "\x00\x00\x00\x00", nil},
		{"lp8", frame.LengthPrefixed{HeaderSize: 8, MaxFrameSize: 5}, "a", "\x00\x00\x00\x00\x00\x00\x00\x01a", nil},
		{"lp too large", frame.LengthPrefixed{HeaderSize: 1, MaxFrameSize: 5}, "abcdef", "", frame.ErrFrameTooLarge},
		{"nl", frame.Delimited{MaxFrameSize: 5}, "abc", "abc\n", nil},
		{"nl empty", frame.Delimited{MaxFrameSize: 5}, "", "\n", nil},
		{"nl inside", frame.Delimited{MaxFrameSize: 5}, "a\nb", "", frame.ErrDelimiterInMessage},
		{"nl too large", frame.Delimited{MaxFrameSize: 2}, "abc", "", frame.ErrFrameTooLarge},
		{"crlf", frame.Delimited{Delim: []byte("\r\n"), MaxFrameSize: 5}, "a\rb", "a\rb\r\n", nil},
		{"crlf trailing cr", frame.Delimited{Delim: []byte("\r\n"), MaxFrameSize: 5}, "ab\r", "ab\r\r\n", nil},
		{"overlap", frame.Delimited{Delim: []byte("aa"), MaxFrameSize: 5}, "xa", "", frame.ErrDelimiterInMessage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte("pre")
			got, err := tc.f.AppendFrame(prefix, []byte(tc.msg))
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("AppendFrame error = %v, want %v", err, tc.err)
				}
				if string(got) != "pre" {
					t.Errorf("AppendFrame changed dst on error: %q", got)
				}
				return
			}
			if err != nil || string(got) != "pre"+tc.want {
				t.Fatalf("AppendFrame = %q, %v; want %q", got, err, "pre"+tc.want)
			}
			// What AppendFrame writes, Split reads back.
			msg, n, _, err := tc.f.Split(got[3:], 0)
			if err != nil || n != len(tc.want) || string(msg) != tc.msg {
				t.Errorf("Split(AppendFrame) = %q, %d, %v; want %q, %d", msg, n, err, tc.msg, len(tc.want))
			}
		})
	}
}

func TestAppendHeaderAllocs(t *testing.T) {
	f := frame.LengthPrefixed{MaxFrameSize: 1 << 20}
	dst := make([]byte, 0, 64)
	msg := []byte("payload")
	allocs := testing.AllocsPerRun(100, func() {
		dst, _ = f.AppendFrame(dst[:0], msg)
	})
	if allocs != 0 {
		t.Errorf("AppendFrame into a buffer with room: %v allocs, want 0", allocs)
	}
}
