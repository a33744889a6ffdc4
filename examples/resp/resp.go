package main

import (
	"errors"
	"fmt"
	"strconv"
)

// Fixed limits of the request parser; the configurable ones are in limits.
const (
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

// errQueryBufLimit is input held past limits.maxQuery. Like redis, which
// logs "closing client that reached max query buffer length", the server
// closes the connection without a reply: it is not a protocol error.
var errQueryBufLimit = errors.New("resp: client query buffer limit reached")

// expectedDollar is the error for a multibulk element that is not a bulk
// string, as redis words it.
func expectedDollar(got byte) error {
	return protocolError(fmt.Sprintf("expected '$', got %s", strconv.QuoteRune(rune(got))))
}

// A parser splits a RESP2 request stream into commands, incrementally: it
// takes the bytes of each read as they come and keeps the unfinished command
// (and only the bytes that have actually arrived) between reads. Requests are
// multibulk arrays of bulk strings ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n") or
// inline lines ("GET k\r\n"), as redis accepts them.
//
// Use: begin(in), then next until it returns no command, then end. The
// arguments next returns point into in or into the parser's own buffer and
// are valid only until the following next or end. A caller may stop calling
// next before the input is used up: end keeps the rest, commands and all,
// and a later begin(nil) goes on with it.
//
// What a command in progress holds is its own bytes, in pending, and 4 bytes
// per argument in offs. Both grow geometrically from what has arrived (see
// grow and addArg): less than 1.5 times the bytes held plus 8 bytes per
// argument, where each argument took at least 5 bytes of the request. A
// header that announces a million arguments, or a gigabyte, reserves
// nothing until they come.
type parser struct {
	limits

	pending []byte // unparsed bytes kept from earlier reads; the command in progress starts at pending[0]
	data    []byte // the bytes being parsed: in, or pending with in appended
	off     int    // start of the command in progress within data
	copied  bool   // data is pending
	err     error  // input refused before parsing (errQueryBufLimit)

	// The command in progress, resumable: positions are relative to its
	// first byte, so they survive the move of its bytes into pending.
	pos      int      // next byte to look at
	argc     int      // count from the "*<count>" line; -1 before it
	bulk     int      // length of the bulk string being read, or noBulk
	head     int      // offset of that bulk string's "$<length>" line
	offs     []uint32 // the arguments found so far, as argv.offs
	isInline bool     // the command is an inline one: offs index inline

	inline []byte // the unquoted arguments of an inline command
	args   argv   // what next returns
}

// newParser returns a parser that enforces l (zero fields: the defaults).
func newParser(l limits) *parser {
	return &parser{limits: l.withDefaults(), argc: -1, bulk: noBulk}
}

// begin attaches the bytes of one read. in must stay unchanged until end.
func (p *parser) begin(in []byte) {
	p.off = 0
	if len(p.pending)+len(in) > p.maxQuery {
		// Checked before anything is kept; it also keeps every offset of a
		// command within uint32 (maxQuery is at most maxQueryLimit).
		p.err, p.data = errQueryBufLimit, nil
		return
	}
	p.copied = len(p.pending) > 0
	if !p.copied {
		// The common case: parse straight from the read buffer, no copy.
		p.data = in
		return
	}
	p.grow(len(in))
	p.pending = append(p.pending, in...)
	p.data = p.pending
}

// grow makes room in pending for n more bytes. Only the new bytes of a read
// are copied in, and pending grows by half at a time: it holds less than 1.5
// times what has arrived, and a command that arrives in many reads is copied
// about three times in all. (On TestRequestMemory's 6 MiB request of a
// million arguments, doubling left the parser holding 16 MiB where this
// holds 10.1; append's growth by a quarter copies about five times, and the
// server's RSS grew 28-31 MiB against 23-26 with either of the others.)
// Within a bulk string of known length pending grows no further than the
// string's end, so a large value costs its own size.
func (p *parser) grow(n int) {
	need := len(p.pending) + n
	if need <= cap(p.pending) {
		return
	}
	size := max(cap(p.pending)+cap(p.pending)/2, need)
	if end := p.pos + p.bulk + 2; p.bulk >= 0 && end >= need {
		size = min(size, end)
	}
	grown := make([]byte, len(p.pending), size)
	copy(grown, p.pending)
	p.pending = grown
}

// next returns the next complete command of the input, or nil when the rest
// is unfinished. After an error the connection must be closed: the parser's
// state is then undefined. Empty commands ("*0", blank inline lines) are
// skipped.
func (p *parser) next() (*argv, error) {
	if p.err != nil {
		return nil, p.err
	}
	for p.off < len(p.data) {
		cmd := p.data[p.off:]
		done, err := p.step(cmd)
		if err != nil || !done {
			return nil, err
		}
		p.args = argv{buf: cmd[:p.pos], offs: p.offs, packed: p.isInline}
		if p.isInline {
			p.args.buf = p.inline
		}
		p.off += p.pos
		p.reset()
		if p.args.len() > 0 {
			return &p.args, nil
		}
	}
	return nil, nil
}

// reset readies the parser for the next command. p.args keeps the arrays
// reset lets go of, until the following next.
func (p *parser) reset() {
	p.pos, p.argc, p.bulk, p.isInline = 0, -1, noBulk, false
	p.offs = p.offs[:0]
	if cap(p.offs) > 1024 {
		p.offs = nil // a huge command once should not cost every later one
	}
	if cap(p.inline) > 4096 {
		p.inline = nil
	}
}

// end keeps the unparsed rest of the input for the next read.
func (p *parser) end() {
	rest := p.data[p.off:]
	off := p.off
	p.data, p.off = nil, 0
	p.args = argv{} // let go of the read buffer
	switch {
	case len(rest) == 0:
		p.pending = p.pending[:0]
		if cap(p.pending) > 64<<10 {
			p.pending = nil
		}
	case !p.copied:
		p.pending = append(p.pending[:0], rest...)
	case off > 0:
		// Move the rest to the front. When no command completed (off 0)
		// there is nothing to move: a command that arrives in many reads is
		// not copied again on each.
		p.pending = p.pending[:copy(p.pending, rest)]
	}
}

// retained reports the bytes the parser holds between reads, as
// TestRequestMemory bounds them by what has arrived.
func (p *parser) retained() int {
	return cap(p.pending) + 4*cap(p.offs) + cap(p.inline)
}

// step parses the command at the start of b, resuming where the last call
// stopped, and reports whether it is complete.
func (p *parser) step(b []byte) (bool, error) {
	if p.argc < 0 {
		if b[0] != '*' {
			return p.stepInline(b)
		}
		n, next, ok := parseNumLine(b, 1)
		if !ok || n < -1 || n > int64(p.maxArgs) {
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
	for len(p.offs) < p.argc {
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
			p.head, p.pos = p.pos, next
			if n == -1 {
				p.addArg()
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
		p.addArg()
		p.pos, p.bulk = end+2, noBulk
	}
	return true, nil
}

// addArg records the bulk string whose line starts at p.head. offs doubles,
// but never past the announced count and never from the count alone, so
// its capacity stays within twice the arguments that have arrived.
func (p *parser) addArg() {
	if len(p.offs) == cap(p.offs) {
		grown := make([]uint32, len(p.offs), min(p.argc, max(16, 2*cap(p.offs))))
		copy(grown, p.offs)
		p.offs = grown
	}
	p.offs = append(p.offs, uint32(p.head))
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
