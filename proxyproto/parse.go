package proxyproto

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"net"
	"net/netip"
	"strings"
)

const (
	// DefaultMaxHeaderSize is the largest version 2 header a zero Parser
	// accepts: 4 KiB, room for the addresses and a few kilobytes of TLVs
	// (HAProxy sends a few hundred bytes at most).
	DefaultMaxHeaderSize = 4096

	// MaxV1Size is the longest version 1 header, CRLF included, that the
	// specification allows.
	MaxV1Size = 107

	// v2FixedSize is the signature, version and command, family and length.
	v2FixedSize = 16
)

var (
	sigV1 = []byte("PROXY ")
	sigV2 = []byte("\r\n\r\n\x00\r\nQUIT\n")

	castagnoli = crc32.MakeTable(crc32.Castagnoli)
	zeroCRC    [4]byte
)

// Parser parses PROXY protocol headers. Its zero value is ready to use.
type Parser struct {
	// MaxHeaderSize is the largest version 2 header accepted, in bytes, the
	// 16 fixed bytes included; a longer one fails with ErrTooLarge. Zero or
	// less means DefaultMaxHeaderSize. Version 1 headers are at most
	// MaxV1Size bytes by specification, whatever MaxHeaderSize says.
	MaxHeaderSize int
}

// Parse parses the PROXY header at the start of b with a zero Parser. See
// Parser.Parse.
func Parse(b []byte) (h *Header, n int, err error) {
	return Parser{}.Parse(b)
}

// Parse parses the PROXY header, version 1 or 2, at the start of b: the
// first bytes of a connection, as a server peeks at them (recv with
// MSG_PEEK). It returns the header and its length n; the connection's
// data begins at b[n]. Parse does not keep b, and the Header does not
// alias it.
//
// When b begins a header but ends before it does, Parse returns
// ErrIncomplete: peek again when more bytes have arrived. When b cannot
// begin a header it returns ErrNotProxy, at the first byte that differs
// from both signatures. Other errors wrap ErrMalformed or ErrTooLarge.
// Errors are final: once Parse fails with anything but ErrIncomplete, it
// fails the same way for every longer b with the same start.
func (p Parser) Parse(b []byte) (h *Header, n int, err error) {
	if len(b) == 0 {
		return nil, 0, ErrIncomplete
	}
	var sig []byte
	switch b[0] {
	case sigV1[0]:
		sig = sigV1
	case sigV2[0]:
		sig = sigV2
	default:
		return nil, 0, ErrNotProxy
	}
	m := min(len(b), len(sig))
	if !bytes.Equal(b[:m], sig[:m]) {
		return nil, 0, ErrNotProxy
	}
	if m < len(sig) {
		return nil, 0, ErrIncomplete
	}
	if b[0] == sigV1[0] {
		return parseV1(b)
	}
	return p.parseV2(b)
}

// parseV1 parses a version 1 line. b begins with "PROXY ".
func parseV1(b []byte) (*Header, int, error) {
	line := b[:min(len(b), MaxV1Size)]
	end := bytes.IndexByte(line, '\n')
	if end < 0 {
		// Reject what is already wrong rather than wait for 107 bytes: a
		// byte that no header line holds, or CR not followed by LF.
		for i, c := range line {
			if c == '\r' && i == len(line)-1 {
				break
			}
			if !v1Char(c) {
				return nil, 0, fmt.Errorf("%w: v1: byte %#02x at offset %d", ErrMalformed, c, i)
			}
		}
		if len(line) == MaxV1Size {
			return nil, 0, fmt.Errorf("%w: v1: no CRLF within %d bytes", ErrMalformed, MaxV1Size)
		}
		return nil, 0, ErrIncomplete
	}
	if line[end-1] != '\r' { // end >= len(sigV1): the signature has no LF
		return nil, 0, fmt.Errorf("%w: v1: LF without CR", ErrMalformed)
	}
	text := line[len(sigV1) : end-1]
	for i, c := range text {
		if !v1Char(c) {
			return nil, 0, fmt.Errorf("%w: v1: byte %#02x at offset %d", ErrMalformed, c, len(sigV1)+i)
		}
	}
	h, err := parseV1Fields(string(text))
	if err != nil {
		return nil, 0, fmt.Errorf("%w: v1: %w", ErrMalformed, err)
	}
	return h, end + 1, nil
}

// v1Char reports whether c may appear in a version 1 line before its CRLF:
// printable ASCII.
func v1Char(c byte) bool { return c >= 0x20 && c <= 0x7e }

// parseV1Fields parses what follows "PROXY " up to the CRLF.
func parseV1Fields(s string) (*Header, error) {
	proto, rest, _ := strings.Cut(s, " ")
	h := &Header{Version: 1, Command: Proxy}
	var want6 bool
	switch proto {
	case "UNKNOWN":
		return h, nil // the receiver must ignore the rest of the line
	case "TCP4":
	case "TCP6":
		want6 = true
	default:
		return nil, fmt.Errorf("unknown protocol %q", proto)
	}
	f := strings.Split(rest, " ")
	if len(f) != 4 {
		return nil, fmt.Errorf("%s line has %d fields after the protocol, want 4 (source and destination address and port)", proto, len(f))
	}
	var ips [2]netip.Addr
	for i, name := range []string{"source", "destination"} {
		ip, err := netip.ParseAddr(f[i])
		if err != nil || ip.Zone() != "" || ip.Is6() != want6 {
			return nil, fmt.Errorf("bad %s address %q for %s", name, f[i], proto)
		}
		ips[i] = ip
	}
	var ports [2]int
	for i, name := range []string{"source", "destination"} {
		port, ok := parsePort(f[2+i])
		if !ok {
			return nil, fmt.Errorf("bad %s port %q", name, f[2+i])
		}
		ports[i] = port
	}
	h.Source = &net.TCPAddr{IP: ips[0].AsSlice(), Port: ports[0]}
	h.Destination = &net.TCPAddr{IP: ips[1].AsSlice(), Port: ports[1]}
	return h, nil
}

// parsePort parses a decimal port in [0, 65535] without leading zeros,
// which the specification forbids to avoid any confusion with octal.
func parsePort(s string) (int, bool) {
	if s == "" || len(s) > 5 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n <= 65535
}

// Version 2 address families and transport protocols (the 14th byte).
const (
	famUnspec    = 0x00
	famTCP4      = 0x11
	famUDP4      = 0x12
	famTCP6      = 0x21
	famUDP6      = 0x22
	famUnixStrm  = 0x31
	famUnixDgram = 0x32

	unixPathSize = 108
)

// addrSize returns the size of a version 2 family's address block, and
// whether the family is one the specification defines.
func addrSize(fam byte) (int, bool) {
	switch fam {
	case famUnspec:
		return 0, true
	case famTCP4, famUDP4:
		return 12, true
	case famTCP6, famUDP6:
		return 36, true
	case famUnixStrm, famUnixDgram:
		return 2 * unixPathSize, true
	}
	return 0, false
}

// parseV2 parses a version 2 header. b begins with its signature. Each
// check runs as soon as the bytes it needs are in, in byte order, so that
// errors are final.
func (p Parser) parseV2(b []byte) (*Header, int, error) {
	if len(b) < 13 {
		return nil, 0, ErrIncomplete
	}
	if v := b[12] >> 4; v != 2 {
		return nil, 0, fmt.Errorf("%w: v2: version %d", ErrMalformed, v)
	}
	cmd := Command(b[12] & 0x0f)
	if cmd != Local && cmd != Proxy {
		return nil, 0, fmt.Errorf("%w: v2: unknown command %#x", ErrMalformed, uint8(cmd))
	}
	if len(b) < 14 {
		return nil, 0, ErrIncomplete
	}
	fam := b[13]
	asize, known := addrSize(fam)
	// A Local header's family is ignored, with the rest of its block.
	if cmd == Proxy && !known {
		return nil, 0, fmt.Errorf("%w: v2: unknown address family and protocol %#02x", ErrMalformed, fam)
	}
	if len(b) < v2FixedSize {
		return nil, 0, ErrIncomplete
	}
	size := v2FixedSize + int(binary.BigEndian.Uint16(b[14:16]))
	maxSize := p.MaxHeaderSize
	if maxSize <= 0 {
		maxSize = DefaultMaxHeaderSize
	}
	if size > maxSize {
		return nil, 0, fmt.Errorf("%w: v2: %d bytes, more than %d", ErrTooLarge, size, maxSize)
	}
	if cmd == Proxy && size < v2FixedSize+asize {
		return nil, 0, fmt.Errorf("%w: v2: length %d is too short for family %#02x's %d-byte addresses",
			ErrMalformed, size-v2FixedSize, fam, asize)
	}
	if len(b) < size {
		return nil, 0, ErrIncomplete
	}
	h := &Header{Version: 2, Command: cmd}
	if cmd == Local {
		return h, size, nil
	}
	h.Source, h.Destination = v2Addrs(fam, b[v2FixedSize:v2FixedSize+asize])
	tlvs, err := parseTLVs(b[v2FixedSize+asize : size])
	if err != nil {
		return nil, 0, fmt.Errorf("%w: v2: %w", ErrMalformed, err)
	}
	if err := checkCRC(b[:size], tlvs); err != nil {
		return nil, 0, fmt.Errorf("%w: v2: %w", ErrMalformed, err)
	}
	h.TLVs = tlvs
	return h, size, nil
}

// v2Addrs decodes a version 2 address block of family fam.
func v2Addrs(fam byte, a []byte) (src, dst net.Addr) {
	switch fam {
	case famTCP4, famUDP4, famTCP6, famUDP6:
		n := 4
		if fam == famTCP6 || fam == famUDP6 {
			n = 16
		}
		srcIP, dstIP := bytes.Clone(a[:n]), bytes.Clone(a[n:2*n])
		srcPort := int(binary.BigEndian.Uint16(a[2*n:]))
		dstPort := int(binary.BigEndian.Uint16(a[2*n+2:]))
		if fam == famTCP4 || fam == famTCP6 {
			return &net.TCPAddr{IP: srcIP, Port: srcPort}, &net.TCPAddr{IP: dstIP, Port: dstPort}
		}
		return &net.UDPAddr{IP: srcIP, Port: srcPort}, &net.UDPAddr{IP: dstIP, Port: dstPort}
	case famUnixStrm, famUnixDgram:
		network := "unix"
		if fam == famUnixDgram {
			network = "unixgram"
		}
		return &net.UnixAddr{Name: unixName(a[:unixPathSize]), Net: network},
			&net.UnixAddr{Name: unixName(a[unixPathSize:]), Net: network}
	}
	return nil, nil
}

// unixName decodes a 108-byte sun_path: a NUL-terminated path, or an
// abstract name (a NUL, then the name, padded with NULs), which Go writes
// with a leading '@'.
func unixName(p []byte) string {
	if p[0] == 0 {
		if name := bytes.TrimRight(p[1:], "\x00"); len(name) > 0 {
			return "@" + string(name)
		}
		return ""
	}
	if i := bytes.IndexByte(p, 0); i >= 0 {
		p = p[:i]
	}
	return string(p)
}

// parseTLVs splits the TLV block of a version 2 header. The TLVs must fill
// it exactly. Their values share one copy of the block.
func parseTLVs(block []byte) ([]TLV, error) {
	count := 0
	for rest := block; len(rest) > 0; count++ {
		if len(rest) < 3 {
			return nil, fmt.Errorf("%d stray bytes after the TLVs", len(rest))
		}
		n := int(binary.BigEndian.Uint16(rest[1:3]))
		if len(rest) < 3+n {
			return nil, fmt.Errorf("TLV type %#02x of length %d overruns the header by %d bytes", rest[0], n, 3+n-len(rest))
		}
		if TLVType(rest[0]) == TypeSSL {
			if err := checkSSL(rest[3 : 3+n]); err != nil {
				return nil, err
			}
		}
		rest = rest[3+n:]
	}
	if count == 0 {
		return nil, nil
	}
	own := bytes.Clone(block)
	tlvs := make([]TLV, 0, count)
	for len(own) > 0 {
		n := int(binary.BigEndian.Uint16(own[1:3]))
		tlvs = append(tlvs, TLV{Type: TLVType(own[0]), Value: own[3 : 3+n : 3+n]})
		own = own[3+n:]
	}
	return tlvs, nil
}

// checkSSL checks the layout of a TypeSSL value: client flags, verify
// result, then sub-TLVs that fill the rest.
func checkSSL(v []byte) error {
	if len(v) < 5 {
		return fmt.Errorf("SSL TLV of %d bytes, want at least 5", len(v))
	}
	for rest := v[5:]; len(rest) > 0; {
		if len(rest) < 3 {
			return fmt.Errorf("SSL TLV has %d stray bytes after its sub-TLVs", len(rest))
		}
		n := int(binary.BigEndian.Uint16(rest[1:3]))
		if len(rest) < 3+n {
			return fmt.Errorf("SSL sub-TLV type %#02x of length %d overruns its TLV", rest[0], n)
		}
		rest = rest[3+n:]
	}
	return nil
}

// checkCRC verifies a TypeCRC32C TLV: the CRC32c of the whole header with
// the checksum's own bytes zeroed. hdr is the header, tlvs its TLVs.
func checkCRC(hdr []byte, tlvs []TLV) error {
	var want []byte
	for _, t := range tlvs {
		if t.Type != TypeCRC32C {
			continue
		}
		if want != nil {
			return fmt.Errorf("more than one CRC32C TLV")
		}
		if len(t.Value) != 4 {
			return fmt.Errorf("CRC32C TLV of %d bytes, want 4", len(t.Value))
		}
		want = t.Value
	}
	if want == nil {
		return nil
	}
	off := crcOffset(hdr)
	sum := crc32.Update(0, castagnoli, hdr[:off])
	sum = crc32.Update(sum, castagnoli, zeroCRC[:])
	sum = crc32.Update(sum, castagnoli, hdr[off+4:])
	if got := binary.BigEndian.Uint32(want); got != sum {
		return fmt.Errorf("CRC32C %#08x, header sums to %#08x", got, sum)
	}
	return nil
}

// crcOffset returns the offset of the CRC32C value in a valid version 2
// header that has one.
func crcOffset(hdr []byte) int {
	asize, _ := addrSize(hdr[13])
	off := v2FixedSize + asize
	for hdr[off] != byte(TypeCRC32C) {
		off += 3 + int(binary.BigEndian.Uint16(hdr[off+1:off+3]))
	}
	return off + 3
}
