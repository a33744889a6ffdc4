package main

import (
	"bytes"
	"fmt"
	"strconv"
)

// Limits of the request parser. maxBulk is per parser (the -max-bulk flag).
const (
	// defaultMaxBulk is the default of -max-bulk. Redis's proto-max-bulk-len
	// is 512 MiB; an in-memory example has no use for values that large.
	defaultMaxBulk = 64 << 20
	// maxArgs bounds the count of a multibulk request (redis allows up to
	// INT_MAX; a million arguments is far beyond any real command).
	maxArgs = 1 << 20
	// maxInline bounds an inline request line, as redis's PROTO_INLINE_MAX_SIZE.
	maxInline = 64 << 10
	// maxNumLine bounds the digits of a "*<count>" or "$<length>" line. A
	// valid int64 has at most 20 characters; a short bound keeps the rescan
	// of an unfinished line (one byte per read) cheap.
	maxNumLine = 32
	// noBulk is parser.bulk while the next "$<length>" line is awaited.
	noBulk = -2
)

// A protocolError is malformed input: the server answers
// "-ERR Protocol error: <text>" and closes the connection.
type protocolError string

func (e protocolError) Error() string { return "Protocol error: " + string(e) }

// The protocol errors, in redis's words where redis has them.
var (
	errInlineTooBig     = protocolError("too big inline request")
	errUnbalancedQuotes = protocolError("unbalanced quotes in request")
	errMultibulkLen     = protocolError("invalid multibulk length")
	errBulkLen          = protocolError("invalid bulk length")
	errBulkCRLF         = protocolError("expected CRLF after bulk string")
)

// expectedDollar is the error for a multibulk element that is not a bulk
// string, as redis words it.
func expectedDollar(got byte) error {
	return protocolError(fmt.Sprintf("expected '$', got %s", strconv.QuoteRune(rune(got))))
}

// span locates one argument of the command in progress: bytes [off, end) of
// the command (or of parser.inline for an inline command). off < 0 marks a
// null bulk string ($-1).
type span struct{ off, end int }

// A parser splits a RESP2 request stream into commands, incrementally: it
// takes the bytes of each read as they come and keeps the unfinished command
// (and only the bytes that have actually arrived) between reads. Requests are
// multibulk arrays of bulk strings ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n") or
// inline lines ("GET k\r\n"), as redis accepts them.
//
// Use: begin(in), then next until it returns no command, then end. The
// arguments next returns point into in or into the parser's own buffer and
// are valid only until the following next or end.
type parser struct {
	maxBulk int

	pending []byte // unparsed bytes kept from earlier reads; the command in progress starts at pending[0]
	data    []byte // the bytes being parsed: in, or pending with in appended
	off     int    // start of the command in progress within data
	copied  bool   // data is pending

	// The command in progress, resumable: positions are relative to its
	// first byte, so they survive the move of its bytes into pending.
	pos      int    // next byte to look at
	argc     int    // count from the "*<count>" line; -1 before it
	bulk     int    // length of the bulk string being read, or noBulk
	spans    []span // arguments found so far
	isInline bool   // spans index inline, not the command's bytes

	inline []byte   // the unquoted arguments of an inline command
	args   [][]byte // what next returns
}

func newParser(maxBulk int) *parser {
	return &parser{maxBulk: maxBulk, argc: -1, bulk: noBulk}
}

// begin attaches the bytes of one read. in must stay unchanged until end.
func (p *parser) begin(in []byte) {
	p.off = 0
	p.copied = len(p.pending) > 0
	if !p.copied {
		// The common case: parse straight from the read buffer, no copy.
		p.data = in
		return
	}
	p.pending = append(p.pending, in...)
	p.data = p.pending
}

// next returns the next complete command of the input, or nil when the rest
// is unfinished. After an error the connection must be closed: the parser's
// state is then undefined. Empty commands ("*0", blank inline lines) are
// skipped.
func (p *parser) next() ([][]byte, error) {
	for p.off < len(p.data) {
		cmd := p.data[p.off:]
		done, err := p.step(cmd)
		if err != nil || !done {
			return nil, err
		}
		base := cmd
		if p.isInline {
			base = p.inline
		}
		p.args = p.args[:0]
		for _, s := range p.spans {
			if s.off < 0 {
				p.args = append(p.args, nil)
			} else {
				p.args = append(p.args, base[s.off:s.end:s.end])
			}
		}
		p.off += p.pos
		p.reset()
		if len(p.args) > 0 {
			return p.args, nil
		}
	}
	return nil, nil
}

// reset readies the parser for the next command.
func (p *parser) reset() {
	p.pos, p.argc, p.bulk, p.isInline = 0, -1, noBulk, false
	p.spans = p.spans[:0]
	if cap(p.spans) > 1024 {
		p.spans = nil // a huge command once should not cost every later one
	}
	if cap(p.inline) > 4096 {
		p.inline = nil
	}
}

// end keeps the unparsed rest of the input for the next read.
func (p *parser) end() {
	rest := p.data[p.off:]
	p.data, p.off = nil, 0
	if cap(p.args) > 1024 {
		p.args = nil
	} else {
		clear(p.args[:cap(p.args)]) // let go of the read buffer
	}
	if len(rest) == 0 {
		p.pending = p.pending[:0]
		if cap(p.pending) > 64<<10 {
			p.pending = nil
		}
		return
	}
	if p.copied {
		n := copy(p.pending, rest)
		p.pending = p.pending[:n]
		return
	}
	p.pending = append(p.pending[:0], rest...)
}

// step parses the command at the start of b, resuming where the last call
// stopped, and reports whether it is complete.
func (p *parser) step(b []byte) (bool, error) {
	if p.argc < 0 {
		if b[0] != '*' {
			return p.stepInline(b)
		}
		n, next, ok := parseNumLine(b, 1)
		if !ok || n < -1 || n > maxArgs {
			return false, errMultibulkLen
		}
		if next == 0 {
			return false, nil
		}
		p.pos = next
		if n <= 0 { // "*0" and the null array "*-1": nothing to do, as in redis
			return true, nil
		}
		p.argc = int(n)
	}
	for len(p.spans) < p.argc {
		if p.bulk == noBulk {
			if p.pos >= len(b) {
				return false, nil
			}
			if b[p.pos] != '$' {
				return false, expectedDollar(b[p.pos])
			}
			n, next, ok := parseNumLine(b, p.pos+1)
			if !ok || n < -1 || n > int64(p.maxBulk) {
				// Checked before a byte of the body is kept: a length over
				// the limit never makes the parser hold (or allocate) it.
				return false, errBulkLen
			}
			if next == 0 {
				return false, nil
			}
			p.pos = next
			if n == -1 {
				p.spans = append(p.spans, span{-1, -1})
				continue
			}
			p.bulk = int(n)
		}
		if len(b)-p.pos < p.bulk+2 {
			return false, nil
		}
		end := p.pos + p.bulk
		if b[end] != '\r' || b[end+1] != '\n' {
			return false, errBulkCRLF
		}
		p.spans = append(p.spans, span{p.pos, end})
		p.pos, p.bulk = end+2, noBulk
	}
	return true, nil
}

// parseNumLine parses the decimal number on the line that starts at b[i] and
// ends with CRLF. next is the index after the CRLF, or 0 when the line is
// unfinished; ok is false when the line is malformed (or, unfinished,
// already too long to be a number).
func parseNumLine(b []byte, i int) (n int64, next int, ok bool) {
	// A plain loop, not bytes.IndexByte: the lines are a few bytes long and
	// the call cost more than the scan (BenchmarkOnData, 16 commands: 4.3 µs
	// with IndexByte, 3.0 µs with the loop).
	lim := min(len(b), i+maxNumLine+1)
	cr := i
	for cr < lim && b[cr] != '\r' {
		cr++
	}
	if cr == lim {
		return 0, 0, lim-i <= maxNumLine
	}
	if cr+1 >= len(b) {
		return 0, 0, true
	}
	if b[cr+1] != '\n' {
		return 0, 0, false
	}
	n, ok = parseInt(b[i:cr])
	return n, cr + 2, ok
}

// parseInt parses a decimal int64 strictly, as redis's string2ll: an
// optional '-', then digits without leading zeros (except "0" itself); no
// '+', no spaces, no overflow.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || b[0] < '1' || b[0] > '9' {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if u > (1<<64-1-d)/10 {
			return 0, false
		}
		u = u*10 + d
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > 1<<63-1 {
		return 0, false
	}
	return int64(u), true
}

// stepInline parses an inline command: one line, arguments separated by
// spaces, quoted as redis-cli quotes them ("a b", "\x00\n", 'it”s' is not
// supported: single quotes take \' only).
func (p *parser) stepInline(b []byte) (bool, error) {
	p.isInline = true
	i := bytes.IndexByte(b[p.pos:], '\n')
	if i < 0 {
		if len(b) > maxInline {
			return false, errInlineTooBig
		}
		p.pos = len(b) // resume the search here: no quadratic rescan
		return false, nil
	}
	nl := p.pos + i
	if nl > maxInline {
		return false, errInlineTooBig
	}
	line := b[:nl]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	p.pos = nl + 1
	var ok bool
	p.inline, p.spans, ok = splitArgs(p.inline[:0], p.spans[:0], line)
	if !ok {
		return false, errUnbalancedQuotes
	}
	return true, nil
}

// splitArgs splits an inline line into arguments, appended unquoted to dst
// and located by spans, the way redis's sdssplitargs does.
func splitArgs(dst []byte, spans []span, line []byte) ([]byte, []span, bool) {
	i := 0
	for {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i == len(line) {
			return dst, spans, true
		}
		start := len(dst)
		inDouble, inSingle := false, false
		for done := false; !done; {
			switch {
			case inDouble:
				if i >= len(line) {
					return dst, spans, false
				}
				c := line[i]
				if c == '\\' && i+3 < len(line) && line[i+1] == 'x' && isHex(line[i+2]) && isHex(line[i+3]) {
					dst = append(dst, unhex(line[i+2])<<4|unhex(line[i+3]))
					i += 3
				} else if c == '\\' && i+1 < len(line) {
					i++
					switch line[i] {
					case 'n':
						dst = append(dst, '\n')
					case 'r':
						dst = append(dst, '\r')
					case 't':
						dst = append(dst, '\t')
					case 'b':
						dst = append(dst, '\b')
					case 'a':
						dst = append(dst, '\a')
					default:
						dst = append(dst, line[i])
					}
				} else if c == '"' {
					// A closing quote must be followed by a space or the end.
					if i+1 < len(line) && !isSpace(line[i+1]) {
						return dst, spans, false
					}
					done = true
				} else {
					dst = append(dst, c)
				}
			case inSingle:
				if i >= len(line) {
					return dst, spans, false
				}
				c := line[i]
				if c == '\\' && i+1 < len(line) && line[i+1] == '\'' {
					dst = append(dst, '\'')
					i++
				} else if c == '\'' {
					if i+1 < len(line) && !isSpace(line[i+1]) {
						return dst, spans, false
					}
					done = true
				} else {
					dst = append(dst, c)
				}
			default:
				if i >= len(line) {
					done = true
					break
				}
				switch c := line[i]; {
				case isSpace(c):
					done = true
				case c == '"':
					inDouble = true
				case c == '\'':
					inSingle = true
				default:
					dst = append(dst, c)
				}
			}
			if i < len(line) {
				i++
			}
		}
		spans = append(spans, span{start, len(dst)})
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
