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
func show(args [][]byte) string {
	var sb strings.Builder
	for i, a := range args {
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
		{"count too big", "*" + strconv.Itoa(maxArgs+1) + "\r\n", nil, errMultibulkLen},
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
				got, err := feedAll(t, newParser(1024), chunks)
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
	p := newParser(defaultMaxBulk)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for _, c := range []string{"*2\r\n$4\r\nECHO\r\n", "$60000000\r\n", "abc", "def"} {
		p.begin([]byte(c))
		if args, err := p.next(); args != nil || err != nil {
			t.Fatalf("next = %q, %v; want nothing yet", args, err)
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
	p := newParser(defaultMaxBulk)
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
		whole, werr := feedAll(t, newParser(maxBulk), [][]byte{in})
		c := int(cut) % (len(in) + 1)
		halves, herr := feedAll(t, newParser(maxBulk), [][]byte{in[:c], in[c:]})

		// Byte by byte, with the memory checks after every byte.
		p := newParser(maxBulk)
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
				for _, a := range args {
					if len(a) > max(maxBulk, maxInline) {
						t.Fatalf("argument of %d bytes over the limits", len(a))
					}
				}
				bytewiseCmds = append(bytewiseCmds, show(args))
			}
			p.end()
			if arrived := i + 1; cap(p.pending) > 2*arrived+64 || cap(p.spans) > arrived+16 {
				t.Fatalf("after %d bytes: pending cap %d, spans cap %d", arrived, cap(p.pending), cap(p.spans))
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
