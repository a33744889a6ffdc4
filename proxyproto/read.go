package proxyproto

import (
	"encoding/binary"
	"errors"
	"io"
)

// Read reads a PROXY header from r with a zero Parser. See Parser.Read.
func Read(r io.Reader) (*Header, error) {
	return Parser{}.Read(r)
}

// Read reads one PROXY header from r, and not one byte more: the
// connection's data that follows stays in r. It is the blocking way, for
// tests and simple servers that read the header before anything else.
//
// Read never asks r for more bytes than a valid header still needs, so a
// peer that sent a whole header and waits for a reply does not block it.
// It reads a byte at a time until Parse can tell how long the header is,
// and so fails as soon as Parse would (ErrNotProxy at the first byte that
// differs from both signatures): the 16 fixed bytes of a version 2 header,
// then the rest in one read; a version 1 line up to its CRLF. That is up to
// 107 small reads, fine for tests and simple servers; a busy server peeks
// and uses Parse. The bytes read are consumed even when Read fails: a server
// that wants to fall back to plain connections peeks and uses Parse
// instead.
//
// Read returns the errors of Parse (never ErrIncomplete), io.EOF when r
// ends before the first byte, io.ErrUnexpectedEOF when it ends inside the
// header, and r's other errors as they are.
func (p Parser) Read(r io.Reader) (*Header, error) {
	var small [256]byte
	buf := small[:0]
	for {
		h, _, err := p.Parse(buf)
		if !errors.Is(err, ErrIncomplete) {
			// Parse saw buf end exactly at the header's end: Read never
			// reads past it.
			return h, err
		}
		have := len(buf)
		need := readAhead(buf)
		if have+need > cap(buf) {
			grown := make([]byte, have, have+need)
			copy(grown, buf)
			buf = grown
		}
		buf = buf[:have+need]
		if _, err := io.ReadFull(r, buf[have:]); err != nil {
			if have > 0 && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

// readAhead returns how many more bytes to read after b, for which Parse
// returned ErrIncomplete: bytes that Parse needs before it can answer
// anything at all, at least 1.
func readAhead(b []byte) int {
	// A byte at a time until Parse knows a version 2 header's length, as
	// Parse decides: a peer whose bytes are wrong early (a text protocol,
	// a bad version, a short bad line) may then wait for a reply.
	if len(b) < v2FixedSize || b[0] != sigV2[0] {
		return 1
	}
	return v2FixedSize + int(binary.BigEndian.Uint16(b[14:16])) - len(b)
}
