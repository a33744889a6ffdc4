package proxyproto_test

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/sockpool/sockpool/proxyproto"
)

// validCase is a header in wire form and what Parse must make of it.
type validCase struct {
	name string
	wire []byte
	want *proxyproto.Header
}

func validCases() []validCase {
	h := func(v int, c proxyproto.Command, src, dst net.Addr, tlvs ...proxyproto.TLV) *proxyproto.Header {
		return &proxyproto.Header{Version: v, Command: c, Source: src, Destination: dst, TLVs: tlvs}
	}
	P, L := proxyproto.Proxy, proxyproto.Local
	unix := func(name, network string) *net.UnixAddr { return &net.UnixAddr{Name: name, Net: network} }
	ssl := proxyproto.SSL{Client: proxyproto.ClientSSL | proxyproto.ClientCertConn, Version: "TLSv1.3", CN: "client.example", Cipher: "TLS_AES_128_GCM_SHA256"}
	sslTLV := ssl.TLV()
	tcp4 := [][]byte{ip4("192.0.2.1"), ip4("198.51.100.7"), port(56324), port(443)}
	return []validCase{
		{"v1 tcp4", []byte("PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n"),
			h(1, P, tcp("192.0.2.1", 56324), tcp("198.51.100.7", 443))},
		{"v1 tcp4 longest", []byte("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n"),
			h(1, P, tcp("255.255.255.255", 65535), tcp("255.255.255.255", 65535))},
		{"v1 tcp4 port 0", []byte("PROXY TCP4 0.0.0.0 10.0.0.1 0 0\r\n"),
			h(1, P, tcp("0.0.0.0", 0), tcp("10.0.0.1", 0))},
		{"v1 tcp6", []byte("PROXY TCP6 2001:db8::1 2001:DB8:0:0:0:0:0:2 1 65535\r\n"),
			h(1, P, tcp("2001:db8::1", 1), tcp("2001:db8::2", 65535))},
		{"v1 tcp6 longest", []byte("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"),
			h(1, P, tcp("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535), tcp("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535))},
		{"v1 tcp6 v4-mapped", []byte("PROXY TCP6 ::ffff:192.0.2.1 ::1 1000 2000\r\n"),
			h(1, P, tcp("::ffff:192.0.2.1", 1000), tcp("::1", 2000))},
		{"v1 unknown", []byte("PROXY UNKNOWN\r\n"), h(1, P, nil, nil)},
		{"v1 unknown with addresses", []byte("PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"),
			h(1, P, nil, nil)},
		{"v1 unknown 107 bytes", []byte("PROXY UNKNOWN " + strings.Repeat("x", 107-16) + "\r\n"), h(1, P, nil, nil)},

		{"v2 tcp4", v2(0x21, 0x11, tcp4...), h(2, P, tcp("192.0.2.1", 56324), tcp("198.51.100.7", 443))},
		{"v2 udp4", v2(0x21, 0x12, ip4("10.1.2.3"), ip4("10.3.2.1"), port(53), port(5353)),
			h(2, P, udp("10.1.2.3", 53), udp("10.3.2.1", 5353))},
		{"v2 tcp6", v2(0x21, 0x21, ip6("2001:db8::1"), ip6("2001:db8::2"), port(1), port(2)),
			h(2, P, tcp("2001:db8::1", 1), tcp("2001:db8::2", 2))},
		{"v2 udp6", v2(0x21, 0x22, ip6("::1"), ip6("fe80::1"), port(65535), port(0)),
			h(2, P, udp("::1", 65535), udp("fe80::1", 0))},
		{"v2 unix stream", v2(0x21, 0x31, unixPath("/run/client.sock"), unixPath("/run/server.sock")),
			h(2, P, unix("/run/client.sock", "unix"), unix("/run/server.sock", "unix"))},
		{"v2 unix dgram abstract", v2(0x21, 0x32, unixPath("\x00abstract"), unixPath("")),
			h(2, P, unix("@abstract", "unixgram"), unix("", "unixgram"))},
		{"v2 unix full path", v2(0x21, 0x31, []byte(strings.Repeat("a", 108)), unixPath("b\x00junk")),
			h(2, P, unix(strings.Repeat("a", 108), "unix"), unix("b", "unix"))},
		{"v2 unspec", v2(0x21, 0x00), h(2, P, nil, nil)},
		{"v2 unspec tlv", v2(0x21, 0x00, tlv(0x05, "id")), h(2, P, nil, nil, proxyproto.TLV{Type: proxyproto.TypeUniqueID, Value: []byte("id")})},
		{"v2 local", v2(0x20, 0x00), h(2, L, nil, nil)},
		{"v2 local ignores its block", v2(0x20, 0xff, []byte("anything at all")), h(2, L, nil, nil)},
		{"v2 local ignores addresses", v2(0x20, 0x11, tcp4...), h(2, L, nil, nil)},
		{"v2 tlvs", v2(0x21, 0x11, append(tcp4,
			tlv(0x01, "h2"), tlv(0x02, "example.com"), tlv(0x04, ""), tlv(0x05, "\x01\x02\x03"),
			tlv(byte(sslTLV.Type), string(sslTLV.Value)), tlv(0x30, "blue"), tlv(0xe0, "custom"))...),
			h(2, P, tcp("192.0.2.1", 56324), tcp("198.51.100.7", 443),
				proxyproto.TLV{Type: proxyproto.TypeALPN, Value: []byte("h2")},
				proxyproto.TLV{Type: proxyproto.TypeAuthority, Value: []byte("example.com")},
				proxyproto.TLV{Type: proxyproto.TypeNoop, Value: []byte{}},
				proxyproto.TLV{Type: proxyproto.TypeUniqueID, Value: []byte{1, 2, 3}},
				sslTLV,
				proxyproto.TLV{Type: proxyproto.TypeNetNS, Value: []byte("blue")},
				proxyproto.TLV{Type: 0xe0, Value: []byte("custom")})},
		{"v2 crc32c", withCRC(v2(0x21, 0x11, append(tcp4, tlv(0x01, "http/1.1"), tlv(0x03, "\x00\x00\x00\x00"))...)),
			nil}, // want filled in by the test: the sum is computed
		{"v2 4096 bytes", v2(0x21, 0x11, append(tcp4, tlv(0x04, strings.Repeat("\x00", 4096-16-12-3)))...),
			h(2, P, tcp("192.0.2.1", 56324), tcp("198.51.100.7", 443),
				proxyproto.TLV{Type: proxyproto.TypeNoop, Value: make([]byte, 4096-16-12-3)})},
	}
}

func TestParseValid(t *testing.T) {
	t.Parallel()
	for _, tt := range validCases() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want := tt.want
			if want == nil { // the CRC case: the header with its own sum
				want = &proxyproto.Header{Version: 2, Command: proxyproto.Proxy,
					Source: tcp("192.0.2.1", 56324), Destination: tcp("198.51.100.7", 443),
					TLVs: []proxyproto.TLV{
						{Type: proxyproto.TypeALPN, Value: []byte("http/1.1")},
						{Type: proxyproto.TypeCRC32C, Value: tt.wire[len(tt.wire)-4:]},
					}}
			}
			// Application bytes after the header are never counted, and
			// the header does not alias the input.
			in := append(append([]byte(nil), tt.wire...), "GET / HTTP/1.1\r\n"...)
			h, n, err := proxyproto.Parse(in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if n != len(tt.wire) {
				t.Fatalf("n = %d, want %d", n, len(tt.wire))
			}
			if err := sameHeader(h, want, false); err != nil {
				t.Fatalf("got %v, want %v: %v", h, want, err)
			}
			for i := range in {
				in[i] = 0xAA
			}
			if err := sameHeader(h, want, false); err != nil {
				t.Fatalf("header changed with the input: %v", err)
			}
		})
	}
}

// TestParseIncremental feeds each header a byte at a time: ErrIncomplete
// until the last byte, then the header, whatever follows.
func TestParseIncremental(t *testing.T) {
	t.Parallel()
	for _, tt := range validCases() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for k := range len(tt.wire) {
				h, n, err := proxyproto.Parse(tt.wire[:k])
				if err != proxyproto.ErrIncomplete || h != nil || n != 0 {
					t.Fatalf("Parse(first %d of %d bytes) = %v, %d, %v; want ErrIncomplete", k, len(tt.wire), h, n, err)
				}
			}
			full, n, err := proxyproto.Parse(tt.wire)
			if err != nil || n != len(tt.wire) {
				t.Fatalf("Parse(all %d bytes) = %v, %d, %v", len(tt.wire), full, n, err)
			}
			for _, tail := range []string{"x", "\r\n", "PROXY TCP4 1.1.1.1 2.2.2.2 1 2\r\n", sig2} {
				h, n, err := proxyproto.Parse(append(append([]byte(nil), tt.wire...), tail...))
				if err != nil || n != len(tt.wire) || sameHeader(h, full, false) != nil {
					t.Fatalf("Parse(header + %q) = %v, %d, %v", tail, h, n, err)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tcp4 := [][]byte{ip4("192.0.2.1"), ip4("198.51.100.7"), port(1), port(2)}
	withTCP4 := func(extra ...[]byte) []byte { return v2(0x21, 0x11, append(tcp4, extra...)...) }
	tests := []struct {
		name   string
		parser proxyproto.Parser
		in     string
		want   error
		msg    string // substring of the error
	}{
		// Not PROXY: decided at the first byte that differs.
		{name: "http", in: "G", want: proxyproto.ErrNotProxy},
		{name: "tls", in: "\x16\x03\x01", want: proxyproto.ErrNotProxy},
		{name: "nul", in: "\x00", want: proxyproto.ErrNotProxy},
		{name: "lower case", in: "p", want: proxyproto.ErrNotProxy},
		{name: "PROXZ", in: "PROXZ", want: proxyproto.ErrNotProxy},
		{name: "no space", in: "PROXY\r", want: proxyproto.ErrNotProxy},
		{name: "blank line", in: "\r\n\r\n\r", want: proxyproto.ErrNotProxy},
		{name: "v2 sig last byte", in: "\r\n\r\n\x00\r\nQUIT\r", want: proxyproto.ErrNotProxy},

		// v1
		{name: "v1 LF without CR", in: "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", want: proxyproto.ErrMalformed, msg: "LF without CR"},
		{name: "v1 unknown protocol", in: "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", want: proxyproto.ErrMalformed, msg: `unknown protocol "TCP5"`},
		{name: "v1 udp", in: "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", want: proxyproto.ErrMalformed, msg: "unknown protocol"},
		{name: "v1 double space", in: "PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", want: proxyproto.ErrMalformed, msg: `unknown protocol ""`},
		{name: "v1 empty", in: "PROXY \r\n", want: proxyproto.ErrMalformed, msg: "unknown protocol"},
		{name: "v1 unknownx", in: "PROXY UNKNOWNX\r\n", want: proxyproto.ErrMalformed, msg: "unknown protocol"},
		{name: "v1 tcp4 alone", in: "PROXY TCP4\r\n", want: proxyproto.ErrMalformed, msg: "has 1 fields"},
		{name: "v1 too few fields", in: "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", want: proxyproto.ErrMalformed, msg: "has 3 fields"},
		{name: "v1 too many fields", in: "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", want: proxyproto.ErrMalformed, msg: "has 5 fields"},
		{name: "v1 trailing space", in: "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", want: proxyproto.ErrMalformed, msg: "has 5 fields"},
		{name: "v1 short ipv4", in: "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", want: proxyproto.ErrMalformed, msg: `bad source address "1.2.3"`},
		{name: "v1 octal ipv4", in: "PROXY TCP4 1.2.3.4 05.6.7.8 1 2\r\n", want: proxyproto.ErrMalformed, msg: "bad destination address"},
		{name: "v1 ipv4 overflow", in: "PROXY TCP4 256.2.3.4 5.6.7.8 1 2\r\n", want: proxyproto.ErrMalformed, msg: "bad source address"},
		{name: "v1 ipv6 in tcp4", in: "PROXY TCP4 ::1 5.6.7.8 1 2\r\n", want: proxyproto.ErrMalformed, msg: "bad source address"},
		{name: "v1 ipv4 in tcp6", in: "PROXY TCP6 ::1 5.6.7.8 1 2\r\n", want: proxyproto.ErrMalformed, msg: "bad destination address"},
		{name: "v1 zone", in: "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", want: proxyproto.ErrMalformed, msg: "bad source address"},
		{name: "v1 host name", in: "PROXY TCP4 localhost 5.6.7.8 1 2\r\n", want: proxyproto.ErrMalformed, msg: "bad source address"},
		{name: "v1 port overflow", in: "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", want: proxyproto.ErrMalformed, msg: `bad source port "65536"`},
		{name: "v1 port leading zero", in: "PROXY TCP4 1.2.3.4 5.6.7.8 1 02\r\n", want: proxyproto.ErrMalformed, msg: `bad destination port "02"`},
		{name: "v1 port sign", in: "PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n", want: proxyproto.ErrMalformed, msg: "bad source port"},
		{name: "v1 port negative", in: "PROXY TCP4 1.2.3.4 5.6.7.8 1 -2\r\n", want: proxyproto.ErrMalformed, msg: "bad destination port"},
		{name: "v1 port hex", in: "PROXY TCP4 1.2.3.4 5.6.7.8 0x1 2\r\n", want: proxyproto.ErrMalformed, msg: "bad source port"},
		{name: "v1 port six digits", in: "PROXY TCP4 1.2.3.4 5.6.7.8 000001 2\r\n", want: proxyproto.ErrMalformed, msg: "bad source port"},
		{name: "v1 port empty", in: "PROXY TCP4 1.2.3.4 5.6.7.8  2\r\n", want: proxyproto.ErrMalformed, msg: "bad source port"},
		{name: "v1 CR CR LF", in: "PROXY UNKNOWN\r\r\n", want: proxyproto.ErrMalformed, msg: "byte 0x0d"},
		{name: "v1 108 bytes", in: "PROXY UNKNOWN " + strings.Repeat("x", 108-16) + "\r\n", want: proxyproto.ErrMalformed, msg: "no CRLF within 107 bytes"},
		{name: "v1 107 bytes no LF", in: "PROXY " + strings.Repeat("x", 101), want: proxyproto.ErrMalformed, msg: "no CRLF within 107 bytes"},
		// A bad byte ends the wait at once, CRLF or not.
		{name: "v1 control byte early", in: "PROXY TCP4 \x01", want: proxyproto.ErrMalformed, msg: "byte 0x01 at offset 11"},
		{name: "v1 NUL early", in: "PROXY \x00", want: proxyproto.ErrMalformed, msg: "byte 0x0"},
		{name: "v1 UTF-8 early", in: "PROXY TCP4 é", want: proxyproto.ErrMalformed, msg: "byte 0xc3"},
		{name: "v1 CR without LF early", in: "PROXY UNKNOWN\rx", want: proxyproto.ErrMalformed, msg: "byte 0x0d"},
		{name: "v1 tab", in: "PROXY TCP4\t1.2.3.4 5.6.7.8 1 2\r\n", want: proxyproto.ErrMalformed, msg: "byte 0x09"},

		// v2
		{name: "v2 version 1", in: sig2 + "\x11", want: proxyproto.ErrMalformed, msg: "version 1"},
		{name: "v2 version 3", in: sig2 + "\x31", want: proxyproto.ErrMalformed, msg: "version 3"},
		{name: "v2 version 0", in: sig2 + "\x01", want: proxyproto.ErrMalformed, msg: "version 0"},
		{name: "v2 command 2", in: sig2 + "\x22", want: proxyproto.ErrMalformed, msg: "unknown command 0x2"},
		{name: "v2 command f", in: sig2 + "\x2f", want: proxyproto.ErrMalformed, msg: "unknown command 0xf"},
		{name: "v2 family 4", in: sig2 + "\x21\x41", want: proxyproto.ErrMalformed, msg: "unknown address family and protocol 0x41"},
		{name: "v2 protocol 3", in: sig2 + "\x21\x13", want: proxyproto.ErrMalformed, msg: "0x13"},
		{name: "v2 inet unspec protocol", in: sig2 + "\x21\x10", want: proxyproto.ErrMalformed, msg: "0x10"},
		{name: "v2 unspec family stream", in: sig2 + "\x21\x01", want: proxyproto.ErrMalformed, msg: "0x01"},
		{name: "v2 short tcp4", in: string(v2Len(0x21, 0x11, 11)), want: proxyproto.ErrMalformed, msg: "length 11 is too short for family 0x11's 12-byte addresses"},
		{name: "v2 short tcp6", in: string(v2Len(0x21, 0x21, 12)), want: proxyproto.ErrMalformed, msg: "36-byte"},
		{name: "v2 short unix", in: string(v2Len(0x21, 0x32, 215)), want: proxyproto.ErrMalformed, msg: "216-byte"},
		{name: "v2 stray bytes", in: string(withTCP4([]byte{0x01, 0x00})), want: proxyproto.ErrMalformed, msg: "2 stray bytes"},
		{name: "v2 tlv overrun", in: string(withTCP4([]byte{0x01, 0x00, 0x05, 'h', '2'})), want: proxyproto.ErrMalformed, msg: "overruns the header by 3 bytes"},
		{name: "v2 tlv overrun after good", in: string(withTCP4(tlv(0x01, "h2"), []byte{0x02, 0xff, 0xff})), want: proxyproto.ErrMalformed, msg: "overruns"},
		{name: "v2 ssl short", in: string(withTCP4(tlv(0x20, "\x01\x00\x00\x00"))), want: proxyproto.ErrMalformed, msg: "SSL TLV of 4 bytes"},
		{name: "v2 ssl sub overrun", in: string(withTCP4(tlv(0x20, "\x01\x00\x00\x00\x00\x21\x00\x09TLSv1.3"))), want: proxyproto.ErrMalformed, msg: "SSL sub-TLV type 0x21"},
		{name: "v2 ssl stray", in: string(withTCP4(tlv(0x20, "\x01\x00\x00\x00\x00\x21"))), want: proxyproto.ErrMalformed, msg: "stray bytes after its sub-TLVs"},
		{name: "v2 crc mismatch", in: string(withTCP4(tlv(0x03, "\x01\x02\x03\x04"))), want: proxyproto.ErrMalformed, msg: "CRC32C 0x01020304, header sums to"},
		{name: "v2 crc short", in: string(withTCP4(tlv(0x03, "\x01\x02\x03"))), want: proxyproto.ErrMalformed, msg: "CRC32C TLV of 3 bytes"},
		{name: "v2 two crcs", in: string(withTCP4(tlv(0x03, "\x00\x00\x00\x00"), tlv(0x03, "\x00\x00\x00\x00"))), want: proxyproto.ErrMalformed, msg: "more than one CRC32C"},
		{name: "v2 too large", in: string(v2Len(0x21, 0x11, 4096-16+1)), want: proxyproto.ErrTooLarge, msg: "4097 bytes, more than 4096"},
		{name: "v2 too large local", in: string(v2Len(0x20, 0x00, 0xffff)), want: proxyproto.ErrTooLarge, msg: "65551 bytes"},
		{name: "v2 max header size", parser: proxyproto.Parser{MaxHeaderSize: 27}, in: string(v2Len(0x21, 0x11, 12)), want: proxyproto.ErrTooLarge, msg: "28 bytes, more than 27"},
		{name: "v2 too large before short", in: string(v2Len(0x21, 0x31, 5000)), want: proxyproto.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, n, err := tt.parser.Parse([]byte(tt.in))
			if !errors.Is(err, tt.want) || h != nil || n != 0 {
				t.Fatalf("Parse(%q) = %v, %d, %v; want %v", tt.in, h, n, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
			if tt.want == proxyproto.ErrNotProxy && err != proxyproto.ErrNotProxy {
				t.Errorf("ErrNotProxy is wrapped: %v", err)
			}
			// Errors are final: more bytes do not change the verdict.
			more := []byte(tt.in + "\r\n" + strings.Repeat("\x00", 300))
			if _, _, err2 := tt.parser.Parse(more); errClass(err2) != errClass(err) {
				t.Errorf("with more bytes: %v, want %v", err2, err)
			}
			// Every shorter prefix is incomplete or already the same error.
			for k := range len(tt.in) {
				_, _, err2 := tt.parser.Parse([]byte(tt.in[:k]))
				if err2 != proxyproto.ErrIncomplete && errClass(err2) != errClass(err) {
					t.Errorf("first %d bytes: %v", k, err2)
				}
			}
		})
	}
}

// TestParseNotProxyEarly checks that ErrNotProxy comes at the first byte
// that differs, for every signature position.
func TestParseNotProxyEarly(t *testing.T) {
	t.Parallel()
	for _, sig := range []string{"PROXY ", sig2} {
		for i := range len(sig) {
			b := []byte(sig[:i+1])
			b[i] ^= 0x40
			if _, _, err := proxyproto.Parse(b); err != proxyproto.ErrNotProxy {
				t.Errorf("Parse(%q) = %v, want ErrNotProxy", b, err)
			}
			if _, _, err := proxyproto.Parse(b[:i]); err != proxyproto.ErrIncomplete {
				t.Errorf("Parse(%q) = %v, want ErrIncomplete", b[:i], err)
			}
		}
	}
}

func TestHeaderHelpers(t *testing.T) {
	t.Parallel()
	ssl := proxyproto.SSL{
		Client: proxyproto.ClientSSL | proxyproto.ClientCertSess, Verify: 7,
		Version: "TLSv1.2", CN: "cn", Cipher: "c", SigAlg: "SHA256", KeyAlg: "RSA2048",
	}
	h := &proxyproto.Header{Version: 2, Command: proxyproto.Proxy, TLVs: []proxyproto.TLV{
		{Type: proxyproto.TypeALPN, Value: []byte("h2")},
		{Type: proxyproto.TypeAuthority, Value: []byte("example.com")},
		{Type: proxyproto.TypeUniqueID, Value: []byte{9, 9}},
		{Type: proxyproto.TypeNetNS, Value: []byte("ns")},
		{Type: proxyproto.TypeALPN, Value: []byte("second")},
		ssl.TLV(),
	}}
	b, err := h.AppendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := proxyproto.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.ALPN() != "h2" || got.Authority() != "example.com" || string(got.UniqueID()) != "\x09\x09" || got.NetNS() != "ns" {
		t.Errorf("helpers: %q %q %q %q", got.ALPN(), got.Authority(), got.UniqueID(), got.NetNS())
	}
	if s, ok := got.SSL(); !ok || s != ssl {
		t.Errorf("SSL() = %+v, %v; want %+v", s, ok, ssl)
	}
	empty := &proxyproto.Header{Version: 1}
	if _, ok := empty.SSL(); ok || empty.ALPN() != "" || empty.UniqueID() != nil {
		t.Error("helpers of a header without TLVs")
	}
	if _, ok := empty.TLV(proxyproto.TypeNoop); ok {
		t.Error("TLV found in a header without TLVs")
	}
}

func TestHeaderString(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		h    proxyproto.Header
		want string
	}{
		{proxyproto.Header{Version: 2, Command: proxyproto.Proxy, Source: tcp("192.0.2.1", 5), Destination: tcp("::1", 6)},
			"PROXY v2 tcp 192.0.2.1:5 -> [::1]:6"},
		{proxyproto.Header{Version: 2, Command: proxyproto.Local}, "LOCAL v2"},
		{proxyproto.Header{Version: 1, Command: proxyproto.Proxy}, "PROXY v1 unknown"},
	} {
		if got := tt.h.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
	if got := proxyproto.Command(9).String(); got != "Command(9)" {
		t.Errorf("Command(9).String() = %q", got)
	}
}
