package frame_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sockpool/sockpool/bufs"
	"github.com/sockpool/sockpool/frame"
)

// countingPool is a BufferPool that checks the Decoder's use of it: every
// buffer requested fits the bound, none is put back twice or unknown, and
// at the end all came back.
type countingPool struct {
	t     testing.TB
	bound int
	out   map[*byte]int // buffers handed out, by first element, to capacity
	gets  int
}

func newCountingPool(t testing.TB, bound int) *countingPool {
	return &countingPool{t: t, bound: bound, out: make(map[*byte]int)}
}

func (p *countingPool) Get(n int) []byte {
	if n > p.bound {
		p.t.Fatalf("decoder asked for a %d-byte buffer; MaxFrameLen is %d", n, p.bound)
	}
	b := make([]byte, n, bufs.ClassSize(n))
	p.out[&b[:1][0]] = cap(b)
	p.gets++
	return b
}

func (p *countingPool) Put(b []byte) {
	k := &b[:1][0]
	if _, ok := p.out[k]; !ok {
		p.t.Fatalf("decoder put back a buffer it did not get, or put one twice")
	}
	delete(p.out, k)
}

// held is the capacity of the buffers not yet returned.
func (p *countingPool) held() int {
	n := 0
	for _, c := range p.out {
		n += c
	}
	return n
}

// decodeAll feeds stream to a new decoder in the pieces cut returns and
// collects the messages (copied) and the error that ended the stream. It
// checks the decoder's buffering after every piece.
func decodeAll(t testing.TB, f frame.Format, stream []byte, cut func(rest int) int) ([][]byte, error) {
	t.Helper()
	pool := newCountingPool(t, f.MaxFrameLen())
	d, err := frame.NewDecoder(f, pool)
	if err != nil {
		t.Fatal(err)
	}
	var msgs [][]byte
	collect := func(msg []byte) error {
		if len(msg) > f.MaxFrameLen() {
			t.Fatalf("message of %d bytes exceeds MaxFrameLen %d", len(msg), f.MaxFrameLen())
		}
		msgs = append(msgs, bytes.Clone(msg))
		return nil
	}
	for rest := stream; len(rest) > 0; {
		n := min(max(cut(len(rest)), 1), len(rest))
		err = d.Feed(rest[:n], collect)
		rest = rest[n:]
		if d.Buffered() > f.MaxFrameLen() {
			t.Fatalf("decoder holds %d bytes; MaxFrameLen is %d", d.Buffered(), f.MaxFrameLen())
		}
		if held := pool.held(); held > bufs.ClassSize(f.MaxFrameLen()) {
			t.Fatalf("decoder holds buffers of %d bytes; MaxFrameLen is %d", held, f.MaxFrameLen())
		}
		if err != nil {
			break
		}
	}
	d.Reset()
	if pool.held() != 0 || len(pool.out) != 0 {
		t.Fatalf("after Reset %d buffers were not returned", len(pool.out))
	}
	return msgs, err
}

func whole(rest int) int { return rest }
func oneByte(int) int    { return 1 }
func chunks(seed uint64) func(int) int {
	r := rand.New(rand.NewPCG(seed, 7))
	return func(rest int) int { return 1 + r.IntN(min(rest, 64)) }
}

// checkSame decodes stream whole, a byte at a time and in random chunks and
// fails unless all three give the same messages and the same error.
func checkSame(t testing.TB, f frame.Format, stream []byte, seed uint64) ([][]byte, error) {
	t.Helper()
	want, werr := decodeAll(t, f, stream, whole)
	for name, cut := range map[string]func(int) int{"bytewise": oneByte, "chunked": chunks(seed)} {
		got, gerr := decodeAll(t, f, stream, cut)
		if !sameMessages(got, want) {
			t.Fatalf("%s: %d messages %q; whole: %d messages %q", name, len(got), got, len(want), want)
		}
		if errors.Is(gerr, frame.ErrFrameTooLarge) != errors.Is(werr, frame.ErrFrameTooLarge) || (gerr == nil) != (werr == nil) {
			t.Fatalf("%s: error %v; whole: %v", name, gerr, werr)
		}
	}
	return want, werr
}

func sameMessages(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func TestDecoderStreams(t *testing.T) {
	lp := func(hs, max int) frame.Format { return frame.LengthPrefixed{HeaderSize: hs, MaxFrameSize: max} }
	dl := func(delim string, max int) frame.Format {
		return frame.Delimited{Delim: []byte(delim), MaxFrameSize: max}
	}
	cases := []struct {
		name     string
		f        frame.Format
		msgs     []string // encoded with AppendFrame to form the stream
		tail     string   // raw bytes after them
		tooLarge bool     // the tail must fail with ErrFrameTooLarge
		partial  bool     // the tail is an incomplete frame
	}{
		{"lp4 several", lp(4, 100), []string{"a", "", "hello", string(bytes.Repeat([]byte("x"), 100))}, "", false, false},
		{"lp1 several", lp(1, 255), []string{"a", "bb", string(bytes.Repeat([]byte("y"), 255))}, "", false, false},
		{"lp2 then too large", lp(2, 10), []string{"abc"}, "\x00\x0b", true, false},
		{"lp8 then too large", lp(8, 10), []string{"abc"}, "\x80\x00\x00\x00\x00\x00\x00\x00", true, false},
		{"lp4 trailing partial", lp(4, 10), []string{"abc"}, "\x00\x00\x00\x05ab", false, true},
		{"lp4 trailing header", lp(4, 10), []string{"abc"}, "\x00\x00", false, true},
		{"lp big frame", lp(4, 100000), []string{string(pattern(1, 100000)), "z"}, "", false, false},
		{"nl lines", dl("", 8), []string{"one", "two", "", "three", "12345678"}, "", false, false},
		{"nl then too long", dl("", 8), []string{"ok"}, "123456789", true, false},
		{"nl too long with delim", dl("", 8), []string{"ok"}, "123456789\n", true, false},
		{"nl trailing partial", dl("", 8), []string{"ok"}, "1234", false, true},
		{"crlf lines", dl("\r\n", 10), []string{"GET a", "a\rb", "", "1234567890"}, "", false, false},
		{"crlf split delim", dl("\r\n", 10), []string{"x"}, "abc\r", false, true},
		{"long delim", dl("<END>", 6), []string{"ab<EN", "c"}, "", false, false},
		{"nl big line", dl("", 70000), []string{string(bytes.Repeat([]byte("L"), 70000))}, "", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stream []byte
			for _, m := range tc.msgs {
				var err error
				if stream, err = tc.f.AppendFrame(stream, []byte(m)); err != nil {
					t.Fatalf("AppendFrame(%q): %v", m, err)
				}
			}
			stream = append(stream, tc.tail...)
			for seed := range uint64(5) {
				got, err := checkSame(t, tc.f, stream, seed)
				if len(got) != len(tc.msgs) {
					t.Fatalf("decoded %d messages, want %d", len(got), len(tc.msgs))
				}
				for i, m := range tc.msgs {
					if string(got[i]) != m {
						t.Fatalf("message %d = %q, want %q", i, got[i], m)
					}
				}
				if tc.tooLarge != errors.Is(err, frame.ErrFrameTooLarge) || (!tc.tooLarge && err != nil) {
					t.Fatalf("error %v, want too large: %v", err, tc.tooLarge)
				}
			}
			if tc.partial {
				d, _ := frame.NewDecoder(tc.f, nil)
				d.Feed(stream, func([]byte) error { return nil })
				if d.Buffered() != len(tc.tail) {
					t.Errorf("Buffered() = %d, want the tail's %d", d.Buffered(), len(tc.tail))
				}
				d.Reset()
				if d.Buffered() != 0 {
					t.Errorf("Buffered() after Reset = %d", d.Buffered())
				}
			}
		})
	}
}

// TestDecoderTooLargeAllocatesNothing checks that a header announcing a huge
// frame fails before the decoder asks for any buffer.
func TestDecoderTooLargeAllocatesNothing(t *testing.T) {
	f := frame.LengthPrefixed{HeaderSize: 8, MaxFrameSize: 1 << 20}
	pool := newCountingPool(t, f.MaxFrameLen())
	d, _ := frame.NewDecoder(f, pool)
	hdr := []byte{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	for i := range hdr { // a byte at a time: the header itself is buffered
		err := d.Feed(hdr[i:i+1], func([]byte) error { t.Fatal("message from a header"); return nil })
		if i < len(hdr)-1 && err != nil {
			t.Fatalf("byte %d: %v", i, err)
		}
		if i == len(hdr)-1 && !errors.Is(err, frame.ErrFrameTooLarge) {
			t.Fatalf("last header byte: %v, want ErrFrameTooLarge", err)
		}
	}
	d.Reset()
	if pool.gets != 1 || pool.held() != 0 {
		t.Errorf("pool: %d gets (want 1, for the header), %d bytes still held", pool.gets, pool.held())
	}
}

// TestDecoderGrowsWithData checks that a frame whose header has arrived
// holds memory in proportion to the bytes received, not to its length.
func TestDecoderGrowsWithData(t *testing.T) {
	f := frame.LengthPrefixed{MaxFrameSize: 1 << 20}
	pool := newCountingPool(t, f.MaxFrameLen())
	d, _ := frame.NewDecoder(f, pool)
	defer d.Reset()
	if err := d.Feed([]byte{0, 0x10, 0, 0, 'a'}, nil); err != nil { // announces 1 MiB
		t.Fatal(err)
	}
	if h := pool.held(); h > bufs.MinSize {
		t.Errorf("after 5 bytes of a 1 MiB frame the decoder holds %d bytes", h)
	}
}

func TestDecoderFnError(t *testing.T) {
	f := frame.Delimited{MaxFrameSize: 10}
	d, _ := frame.NewDecoder(f, nil)
	stop := errors.New("stop")
	var got []string
	err := d.Feed([]byte("a\nb\nc\n"), func(m []byte) error {
		got = append(got, string(m))
		if len(got) == 2 {
			return stop
		}
		return nil
	})
	if err != stop || fmt.Sprint(got) != "[a b]" {
		t.Errorf("Feed = %v with %q; want stop after [a b]", err, got)
	}
}

// pattern returns n pseudo-random bytes determined by seed.
func pattern(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}
