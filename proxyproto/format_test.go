package proxyproto_test

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/sockpool/sockpool/proxyproto"
)

// TestAppendToRoundTrip encodes every valid case's header and parses it
// back.
func TestAppendToRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tt := range validCases() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, _, err := proxyproto.Parse(tt.wire)
			if err != nil {
				t.Fatal(err)
			}
			b, err := h.AppendTo([]byte("prefix"))
			if err != nil {
				t.Fatalf("AppendTo: %v", err)
			}
			if !bytes.HasPrefix(b, []byte("prefix")) {
				t.Fatalf("AppendTo lost dst: %q", b)
			}
			b = b[len("prefix"):]
			got, n, err := proxyproto.Parse(b)
			if err != nil || n != len(b) {
				t.Fatalf("Parse(AppendTo) = %v, %d, %v; want %d bytes", got, n, err, len(b))
			}
			if err := sameHeader(got, h, false); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestAppendToWire(t *testing.T) {
	t.Parallel()
	P := proxyproto.Proxy
	tests := []struct {
		name string
		h    proxyproto.Header
		want []byte
	}{
		{"v1 tcp4", proxyproto.Header{Version: 1, Command: P, Source: tcp("192.0.2.1", 56324), Destination: tcp("198.51.100.7", 443)},
			[]byte("PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n")},
		{"v1 tcp4 from 4-byte IPs", proxyproto.Header{Version: 1, Command: P,
			Source: &net.TCPAddr{IP: net.IP{10, 0, 0, 1}, Port: 1}, Destination: &net.TCPAddr{IP: net.IP{10, 0, 0, 2}, Port: 2}},
			[]byte("PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\n")},
		{"v1 tcp6", proxyproto.Header{Version: 1, Command: P, Source: tcp("2001:db8:0::1", 1), Destination: tcp("::1", 65535)},
			[]byte("PROXY TCP6 2001:db8::1 ::1 1 65535\r\n")},
		{"v1 mixed families", proxyproto.Header{Version: 1, Command: P, Source: tcp("192.0.2.1", 1), Destination: tcp("::1", 2)},
			[]byte("PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n")},
		{"v1 unknown", proxyproto.Header{Version: 1, Command: P}, []byte("PROXY UNKNOWN\r\n")},
		{"v2 tcp4", proxyproto.Header{Version: 2, Command: P, Source: tcp("192.0.2.1", 56324), Destination: tcp("198.51.100.7", 443)},
			v2(0x21, 0x11, ip4("192.0.2.1"), ip4("198.51.100.7"), port(56324), port(443))},
		{"v2 udp6", proxyproto.Header{Version: 2, Command: P, Source: udp("::1", 1), Destination: udp("192.0.2.1", 2)},
			v2(0x21, 0x22, ip6("::1"), ip6("::ffff:192.0.2.1"), port(1), port(2))},
		{"v2 unix", proxyproto.Header{Version: 2, Command: P, Source: &net.UnixAddr{Name: "@a"}, Destination: &net.UnixAddr{Name: "/b"}},
			v2(0x21, 0x31, unixPath("\x00a"), unixPath("/b"))},
		{"v2 unixgram", proxyproto.Header{Version: 2, Command: P, Source: &net.UnixAddr{Name: "a", Net: "unixgram"}, Destination: &net.UnixAddr{Name: "b", Net: "unixgram"}},
			v2(0x21, 0x32, unixPath("a"), unixPath("b"))},
		{"v2 local", proxyproto.Header{Version: 2, Command: proxyproto.Local}, v2(0x20, 0x00)},
		{"v2 unspec tlvs", proxyproto.Header{Version: 2, Command: P, TLVs: []proxyproto.TLV{{Type: proxyproto.TypeALPN, Value: []byte("h2")}, {Type: proxyproto.TypeNoop}}},
			v2(0x21, 0x00, tlv(0x01, "h2"), tlv(0x04, ""))},
		{"v2 crc", proxyproto.Header{Version: 2, Command: P, TLVs: []proxyproto.TLV{{Type: proxyproto.TypeCRC32C, Value: []byte("xxxx")}}},
			withCRC(v2(0x21, 0x00, tlv(0x03, "\x00\x00\x00\x00")))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.h.AppendTo(nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("AppendTo = %q\nwant       %q", got, tt.want)
			}
			var w bytes.Buffer
			n, err := tt.h.WriteTo(&w)
			if err != nil || n != int64(len(tt.want)) || !bytes.Equal(w.Bytes(), tt.want) {
				t.Fatalf("WriteTo = %d, %v, %q", n, err, w.Bytes())
			}
		})
	}
}

func TestAppendToErrors(t *testing.T) {
	t.Parallel()
	P := proxyproto.Proxy
	src, dst := tcp("192.0.2.1", 1), tcp("192.0.2.2", 2)
	tests := []struct {
		name string
		h    proxyproto.Header
		msg  string
	}{
		{"version 0", proxyproto.Header{Command: P}, "version 0"},
		{"version 3", proxyproto.Header{Version: 3, Command: P}, "version 3"},
		{"v1 local", proxyproto.Header{Version: 1, Command: proxyproto.Local}, "version 1 has no LOCAL command"},
		{"v1 tlvs", proxyproto.Header{Version: 1, Command: P, TLVs: []proxyproto.TLV{{Type: 1}}}, "no TLVs"},
		{"v1 udp", proxyproto.Header{Version: 1, Command: P, Source: udp("1.2.3.4", 1), Destination: udp("1.2.3.4", 1)}, "two *net.TCPAddr"},
		{"v1 one address", proxyproto.Header{Version: 1, Command: P, Source: src}, "two *net.TCPAddr"},
		{"v1 typed nil", proxyproto.Header{Version: 1, Command: P, Source: src, Destination: (*net.TCPAddr)(nil)}, "two *net.TCPAddr"},
		{"v1 bad IP", proxyproto.Header{Version: 1, Command: P, Source: &net.TCPAddr{IP: net.IP{1, 2, 3}}, Destination: dst}, "bad IP address"},
		{"v1 zone", proxyproto.Header{Version: 1, Command: P, Source: &net.TCPAddr{IP: net.ParseIP("fe80::1"), Zone: "eth0"}, Destination: tcp("::1", 1)}, "zones"},
		{"v1 port", proxyproto.Header{Version: 1, Command: P, Source: src, Destination: tcp("1.2.3.4", 65536)}, "port 65536 out of range"},
		{"v2 command", proxyproto.Header{Version: 2, Command: 5}, "unknown command 5"},
		{"v2 local with addresses", proxyproto.Header{Version: 2, Command: proxyproto.Local, Source: src, Destination: dst}, "LOCAL header carries no addresses"},
		{"v2 mixed kinds", proxyproto.Header{Version: 2, Command: P, Source: src, Destination: udp("1.2.3.4", 1)}, "not a pair"},
		{"v2 one address", proxyproto.Header{Version: 2, Command: P, Destination: dst}, "not a pair"},
		{"v2 ip addr", proxyproto.Header{Version: 2, Command: P, Source: &net.IPAddr{}, Destination: &net.IPAddr{}}, "not a pair"},
		{"v2 port", proxyproto.Header{Version: 2, Command: P, Source: udp("1.2.3.4", -1), Destination: udp("1.2.3.4", 1)}, "port -1"},
		{"v2 unix nets", proxyproto.Header{Version: 2, Command: P, Source: &net.UnixAddr{Net: "unix"}, Destination: &net.UnixAddr{Net: "unixgram"}}, "networks"},
		{"v2 unixpacket", proxyproto.Header{Version: 2, Command: P, Source: &net.UnixAddr{Net: "unixpacket"}, Destination: &net.UnixAddr{Net: "unixpacket"}}, `network "unixpacket"`},
		{"v2 unix long", proxyproto.Header{Version: 2, Command: P, Source: &net.UnixAddr{Name: strings.Repeat("a", 109)}, Destination: &net.UnixAddr{}}, "longer than 108"},
		{"v2 unix abstract long", proxyproto.Header{Version: 2, Command: P, Source: &net.UnixAddr{Name: "@" + strings.Repeat("a", 108)}, Destination: &net.UnixAddr{}}, "longer than 108"},
		{"v2 unix NUL", proxyproto.Header{Version: 2, Command: P, Source: &net.UnixAddr{Name: "a\x00b"}, Destination: &net.UnixAddr{}}, "NUL"},
		{"v2 big tlv", proxyproto.Header{Version: 2, Command: P, TLVs: []proxyproto.TLV{{Type: 4, Value: make([]byte, 65536)}}}, "more than 65535"},
		{"v2 big block", proxyproto.Header{Version: 2, Command: P, TLVs: []proxyproto.TLV{{Type: 4, Value: make([]byte, 65000)}, {Type: 4, Value: make([]byte, 1000)}}}, "66006 bytes"},
		{"v2 crc size", proxyproto.Header{Version: 2, Command: P, TLVs: []proxyproto.TLV{{Type: proxyproto.TypeCRC32C}}}, "one CRC32C TLV of 4 bytes"},
		{"v2 two crcs", proxyproto.Header{Version: 2, Command: P, TLVs: []proxyproto.TLV{{Type: 3, Value: make([]byte, 4)}, {Type: 3, Value: make([]byte, 4)}}}, "one CRC32C"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dstBuf := []byte("keep")
			got, err := tt.h.AppendTo(dstBuf)
			if !errors.Is(err, proxyproto.ErrInvalidHeader) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("AppendTo = %v, want ErrInvalidHeader saying %q", err, tt.msg)
			}
			if string(got) != "keep" {
				t.Errorf("dst changed to %q", got)
			}
			if n, err := tt.h.WriteTo(new(bytes.Buffer)); n != 0 || !errors.Is(err, proxyproto.ErrInvalidHeader) {
				t.Errorf("WriteTo = %d, %v", n, err)
			}
		})
	}
}
