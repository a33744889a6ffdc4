package main

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// feedAll runs the parser over chunks, the way OnData does, and returns the
// commands in a printable form (one string per command) and the error that
// stopped it. Each chunk goes through one scratch buffer that is scribbled
// over after every read, as an engine reuses its read buffer, so a parser
// that kept a reference into a read instead of copying is caught.
func feedAll(t testing.TB, p *parser, chunks [][]byte) ([]string, error) {
	var cmds []string
	scratch := make([]byte, 0, 64)
	for _, c := range chunks {
		scratch = append(scratch[:0], c...)
		p.begin(scratch)
		for {
			args, err := p.next()
			if err != nil {
				p.end()
				return cmds, err
			}
			if args == nil {
				break
			}
			cmds = append(cmds, show(args))
		}
		p.end()
		for i := range scratch {
			scratch[i] = '#'
		}
	}
	return cmds, nil
}

// show prints a command unambiguously: each argument quoted, a null bulk
// string as nil.
func show(args *argv) string {
	var sb strings.Builder
	for i := range args.len() {
		a := args.at(i)
		if i > 0 {
			sb.WriteByte(' ')
		}
		if a == nil {
			sb.WriteString("nil")
		} else {
			sb.WriteString(strconv.Quote(string(a)))
		}
	}
	return sb.String()
}

func bytewise(b []byte) [][]byte {
	var chunks [][]byte
	for i := range b {
		chunks = append(chunks, b[i:i+1])
	}
	return chunks
}

func TestParser(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 1000)
	cases := []struct {
		name string
		in   string
		want []string
		err  error // nil, or the protocol error expected after want
	}{
		{"empty", "", nil, nil},
		{"ping", "*1\r\n$4\r\nPING\r\n", []string{`"PING"`}, nil},
		{"pipelined", "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n",
			[]string{`"PING"`, `"GET" "k"`, `"SET" "k" ""`}, nil},
		{"binary", "*2\r\n$4\r\nECHO\r\n$6\r\n\r\n\x00\xff$*\r\n", []string{`"ECHO" "\r\n\x00\xff$*"`}, nil},
		{"long", "*2\r\n$4\r\nECHO\r\n$1000\r\n" + long + "\r\n", []string{`"ECHO" "` + long + `"`}, nil},
		{"null bulk", "*2\r\n$3\r\nGET\r\n$-1\r\n", []string{`"GET" nil`}, nil},
		{"empty multibulk", "*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n", []string{`"PING"`}, nil},
		{"leading zeros in length", "*01\r\n$4\r\nPING\r\n", nil, errMultibulkLen},
		{"unfinished", "*2\r\n$3\r\nGET\r\n$1\r\n", nil, nil},
		{"unfinished body", "*1\r\n$4\r\nPI", nil, nil},
		{"inline", "PING\r\nGET k\nSET k \"a b\\x41\\n\" 'it\\'s'\r\n", []string{`"PING"`, `"GET" "k"`, `"SET" "k" "a bA\n" "it's"`}, nil},
		{"inline blank lines", "\r\n\n  \r\nPING\r\n", []string{`"PING"`}, nil},
		{"inline spaces", "  SET   k\tv  \r\n", []string{`"SET" "k" "v"`}, nil},
		{"inline empty quotes", "ECHO \"\"\r\n", []string{`"ECHO" ""`}, nil},
		{"inline unbalanced", "PING\r\nECHO \"abc\r\n", []string{`"PING"`}, errUnbalancedQuotes},
		{"inline quote then letter", "ECHO \"a\"b\r\n", nil, errUnbalancedQuotes},
		{"inline too big", strings.Repeat("a", maxInline+1), nil, errInlineTooBig},
		{"inline too big with newline", strings.Repeat("a", maxInline+1) + "\n", nil, errInlineTooBig},
		{"bad type byte", "*1\r\n:4\r\nPING\r\n", nil, expectedDollar(':')},
		{"bad count", "*x\r\n", nil, errMultibulkLen},
		{"plus sign count", "*+1\r\n", nil, errMultibulkLen},
		{"negative count", "*-2\r\n", nil, errMultibulkLen},
		{"count too big", "*" + strconv.Itoa(defaultMaxArgs+1) + "\r\n", nil, errMultibulkLen},
		{"count line too long", "*" + strings.Repeat("1", maxNumLine+1), nil, errMultibulkLen},
		{"count without LF", "*1\rx", nil, errMultibulkLen},
		{"count without CR", "*1\n$4\r\nPING\r\n", nil, errMultibulkLen},
		{"bad length", "*1\r\n$x\r\n", nil, errBulkLen},
		{"empty length", "*1\r\n$\r\n", nil, errBulkLen},
		{"negative length", "*1\r\n$-2\r\n", nil, errBulkLen},
		{"length too big", "*1\r\n$1025\r\n", nil, errBulkLen},
		{"length overflow", "*1\r\n$99999999999999999999\r\n", nil, errBulkLen},
		{"length line too long", "*1\r\n$" + strings.Repeat("1", maxNumLine+1), nil, errBulkLen},
		{"missing CRLF after bulk", "*1\r\n$4\r\nPINGxx", nil, errBulkCRLF},
		{"LF only after bulk", "*1\r\n$4\r\nPING\n\r", nil, errBulkCRLF},
		{"commands before error", "*1\r\n$4\r\nPING\r\n*1\r\n%4\r\n", []string{`"PING"`}, expectedDollar('%')},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, split := range []string{"whole", "bytewise"} {
				chunks := [][]byte{[]byte(tc.in)}
				if split == "bytewise" {
					chunks = bytewise([]byte(tc.in))
				}
				got, err := feedAll(t, newParser(limits{maxBulk: 1024}), chunks)
				if fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Errorf("%s: commands\n%q\nwant\n%q", split, got, tc.want)
				}
				if !errors.Is(err, tc.err) && fmt.Sprint(err) != fmt.Sprint(tc.err) {
					t.Errorf("%s: error %v, want %v", split, err, tc.err)
				}
			}
		})
	}
}

func TestParseInt(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"7", 7, true}, {"-7", -7, true}, {"1234567890", 1234567890, true},
		{"9223372036854775807", 1<<63 - 1, true}, {"-9223372036854775808", -1 << 63, true},
		{"9223372036854775808", 0, false}, {"-9223372036854775809", 0, false},
		{"99999999999999999999", 0, false}, {"", 0, false}, {"-", 0, false}, {"+1", 0, false},
		{"01", 0, false}, {"-0", 0, false}, {" 1", 0, false}, {"1 ", 0, false}, {"1x", 0, false},
	}
	for _, tc := range cases {
		if got, ok := parseInt([]byte(tc.in)); got != tc.want || ok != tc.ok {
			t.Errorf("parseInt(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestWriters(t *testing.T) {
	t.Parallel()
	var b []byte
	b = appendSimple(b, "OK")
	b = appendError(b, "ERR no")
	b = appendInt(b, -42)
	b = appendBulk(b, []byte("a\r\nb"))
	b = appendBulk(b, []byte{})
	b = appendBulkString(b, "xyz")
	b = appendNull(b)
	b = appendArray(b, 2)
	want := "+OK\r\n-ERR no\r\n:-42\r\n$4\r\na\r\nb\r\n$0\r\n\r\n$3\r\nxyz\r\n$-1\r\n*2\r\n"
	if string(b) != want {
		t.Errorf("got %q, want %q", b, want)
	}
}

// TestParserKeepsOnlyWhatArrived checks that a huge announced bulk length
// costs only the bytes that have arrived: the parser must not allocate the
// announced size up front.
func TestParserKeepsOnlyWhatArrived(t *testing.T) {
	p := newParser(limits{})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for _, c := range []string{"*2\r\n$4\r\nECHO\r\n", "$60000000\r\n", "abc", "def"} {
		p.begin([]byte(c))
		if args, err := p.next(); args != nil || err != nil {
			t.Fatalf("next = %v, %v; want nothing yet", args, err)
		}
		p.end()
	}
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
		t.Errorf("allocated %d bytes for 6 bytes of a 60 MB bulk string", d)
	}
	if cap(p.pending) > 1024 {
		t.Errorf("pending buffer of %d bytes for 6 bytes of body", cap(p.pending))
	}
}

// TestParserAllocs checks that parsing pipelined commands straight from the
// read buffer allocates nothing once the parser has warmed up.
func TestParserAllocs(t *testing.T) {
	in := bytes.Repeat([]byte("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n"), 8)
	p := newParser(limits{})
	n := testing.AllocsPerRun(100, func() {
		p.begin(in)
		for {
			args, err := p.next()
			if err != nil {
				t.Fatal(err)
			}
			if args == nil {
				break
			}
		}
		p.end()
	})
	if n != 0 {
		t.Errorf("%v allocations per read of 16 commands, want 0", n)
	}
}

// FuzzParse feeds arbitrary input to the parser whole, one byte at a time,
// and cut in two at a fuzzed point: the three must agree on the commands and
// the error, never panic, and never hold more memory than the input can
// account for.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"*1\r\n$4\r\nPING\r\n",
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
		"*2\r\n$3\r\nGET\r\n$-1\r\n",
		"*0\r\n*-1\r\n",
		"PING\r\nECHO \"a\\x00b\" 'c\\'d'\n",
		"SET \"unbalanced\r\n",
		"*1\r\n$99999999999\r\n",
		"*99999999999\r\n",
		"*1\r\n$4\r\nPINGxx",
		"*1\r\n!4\r\nPING\r\n",
		"*2\r\n$4\r\nECHO\r\n$100\r\n" + strings.Repeat("z", 100) + "\r\n",
		"*1\r\n$-2\r\n",
		"*1\r\n$01\r\nx\r\n",
		"\r\n\r\n",
	}
	for i, s := range seeds {
		f.Add([]byte(s), uint16(i*3))
	}
	const maxBulk = 256
	f.Fuzz(func(t *testing.T, in []byte, cut uint16) {
		whole, werr := feedAll(t, newParser(limits{maxBulk: maxBulk}), [][]byte{in})
		c := int(cut) % (len(in) + 1)
		halves, herr := feedAll(t, newParser(limits{maxBulk: maxBulk}), [][]byte{in[:c], in[c:]})

		// Byte by byte, with the memory checks after every byte.
		p := newParser(limits{maxBulk: maxBulk})
		var bytewiseCmds []string
		var berr error
	bytes:
		for i := range in {
			p.begin(in[i : i+1])
			for {
				args, err := p.next()
				if err != nil {
					berr = err
					break bytes
				}
				if args == nil {
					break
				}
				for i := range args.len() {
					if a := args.at(i); len(a) > max(maxBulk, maxInline) {
						t.Fatalf("argument of %d bytes over the limits", len(a))
					}
				}
				bytewiseCmds = append(bytewiseCmds, show(args))
			}
			p.end()
			if arrived := i + 1; cap(p.pending) > 2*arrived+64 || cap(p.offs) > arrived+16 {
				t.Fatalf("after %d bytes: pending cap %d, offs cap %d", arrived, cap(p.pending), cap(p.offs))
			}
		}

		if fmt.Sprint(whole) != fmt.Sprint(bytewiseCmds) || fmt.Sprint(whole) != fmt.Sprint(halves) {
			t.Fatalf("commands differ:\nwhole    %q\nbytewise %q\nhalves   %q", whole, bytewiseCmds, halves)
		}
		if fmt.Sprint(werr) != fmt.Sprint(berr) || fmt.Sprint(werr) != fmt.Sprint(herr) {
			t.Fatalf("errors differ: whole %v, bytewise %v, halves %v", werr, berr, herr)
		}
		for _, err := range []error{werr, berr, herr} {
			var perr protocolError
			if err != nil && !errors.As(err, &perr) {
				t.Fatalf("error %v is not a protocol error", err)
			}
		}
	})
}

// millionEmpty is the request of the security review: a million empty bulk
// strings, 6 MB that used to cost the server 110-158 MiB.
func millionEmpty() []byte {
	req := fmt.Appendf(nil, "*%d\r\n", 1<<20)
	return append(req, bytes.Repeat([]byte("$0\r\n\r\n"), 1<<20)...)
}

// TestRequestMemory feeds large requests to the parser in 16 KiB reads and
// checks what it holds against what has arrived. After every read its own
// accounting must stay within the bound its doc comment promises (pending
// under 1.5 times the bytes held, offs under twice the arguments found, at
// 4 bytes each). Once all but the last byte is in, the heap, measured after
// a GC, must have grown by no more than that plus 1 MiB, and by no more
// than twice the request plus 1 MiB: for the million empty arguments the
// worst case of the bound is 1.5 x 6 + 4 = 13 MiB, and it holds 10.1 (6.1
// of pending, 4 of offs). Before, 16 bytes of span per argument and
// append's slack held over 22 MiB, and the command then took 24 MiB more of
// slice headers.
func TestRequestMemory(t *testing.T) {
	// Not parallel: the heap must be this test's alone.
	cases := []struct {
		name string
		req  []byte
		args int
	}{
		{"a million empty arguments", millionEmpty(), 1 << 20},
		{"a 6 MiB value", []byte(resp("SET", "k", strings.Repeat("v", 6<<20))), 3},
		{"a million short arguments", append([]byte("*1048576\r\n"), bytes.Repeat([]byte("$3\r\nabc\r\n"), 1<<20)...), 1 << 20},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newParser(limits{})
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			last := len(tc.req) - 1
			for off := 0; off < last; off += 16 << 10 {
				p.begin(tc.req[off:min(off+16<<10, last)])
				if args, err := p.next(); args != nil || err != nil {
					t.Fatalf("next = %v, %v before the request is complete", args, err)
				}
				p.end()
				held := min(off+16<<10, last)
				if limit := 3*held/2 + 8*len(p.offs) + 64; p.retained() > limit {
					t.Fatalf("after %d bytes and %d arguments: %d bytes retained, over %d", held, len(p.offs), p.retained(), limit)
				}
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			growth := int64(after.HeapInuse) - int64(before.HeapInuse)
			t.Logf("%d-byte request: parser retains %d bytes, heap grew %d", len(tc.req), p.retained(), growth)
			if limit := int64(p.retained() + 1<<20); growth > limit {
				t.Errorf("heap grew by %d bytes for a %d-byte request, over %d (the parser's %d plus 1 MiB)", growth, len(tc.req), limit, p.retained())
			}
			if limit := int64(2*len(tc.req) + 1<<20); growth > limit {
				t.Errorf("heap grew by %d bytes for a %d-byte request, over twice its size plus 1 MiB", growth, len(tc.req))
			}

			p.begin(tc.req[last:])
			args, err := p.next()
			if err != nil || args == nil || args.len() != tc.args {
				t.Fatalf("last byte: next = %d arguments, %v; want %d", args.len(), err, tc.args)
			}
			p.end()
			if p.retained() > 64<<10 {
				t.Errorf("%d bytes retained after the request, want the buffers let go", p.retained())
			}
		})
	}
}

// TestAnnouncedCountReservesNothing checks that a count line alone, however
// large the count, makes the parser hold nothing for the arguments.
func TestAnnouncedCountReservesNothing(t *testing.T) {
	t.Parallel()
	p := newParser(limits{})
	p.begin([]byte("*1048576\r\n$3\r\nGET\r\n"))
	if args, err := p.next(); args != nil || err != nil {
		t.Fatalf("next = %v, %v", args, err)
	}
	if cap(p.offs) > 16 {
		t.Errorf("offs capacity %d after one argument of a million announced", cap(p.offs))
	}
	p.end()
	if r := p.retained(); r > 1024 {
		t.Errorf("%d bytes retained for a 19-byte request", r)
	}
}
