package proxyproto_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/sockpool/sockpool/proxyproto"
)

// FuzzParse checks Parse on arbitrary bytes: no panic; n within b; a
// header exactly when there is no error; every error one of the sentinels;
// every prefix of a header ErrIncomplete and every extension of it the
// same header; errors final (a longer input fails the same way); ErrNotProxy
// decided within the signature; Read agreeing with Parse and leaving what
// follows the header unread; and the header surviving AppendTo and Parse.
func FuzzParse(f *testing.F) {
	for _, c := range validCases() {
		f.Add(c.wire)
		f.Add(append(append([]byte(nil), c.wire...), "GET / HTTP/1.1\r\n"...))
		f.Add(c.wire[:len(c.wire)/2])
	}
	for _, s := range []string{
		"", "GET / HTTP/1.1\r\n", "\x16\x03\x01\x02\x00", "PROXY", "PROXY \r\n", "\r\n\r\n\x00\r\nQUIT\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n", "PROXY TCP6 ::1 ::1 01 2\r\n", "PROXY UNKNOWN\r\r\n",
		sig2 + "\x21\x11\x00\x0c", sig2 + "\x22\x11\x00\x00", sig2 + "\x21\x11\xff\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := proxyproto.Parse(b)
		class := errClass(err)
		switch {
		case n < 0 || n > len(b):
			t.Fatalf("n = %d outside [0, %d]", n, len(b))
		case (err == nil) != (h != nil):
			t.Fatalf("header %v with error %v", h, err)
		case err != nil && n != 0:
			t.Fatalf("n = %d with error %v", n, err)
		case err == nil && n == 0:
			t.Fatalf("a header of 0 bytes")
		case len(class) > 6 && class[:6] == "other:":
			t.Fatalf("error wraps no sentinel: %v", err)
		}

		// Prefixes: short of the header, or of the point where the error
		// is decided, Parse waits; from there on it answers the same.
		// (Capped: the property is the same for longer inputs, and the
		// check is quadratic.)
		limit := min(len(b), 600)
		notProxyAt := -1
		for k := range limit + 1 {
			hk, nk, errk := proxyproto.Parse(b[:k])
			if err == nil && k < n {
				if errk != proxyproto.ErrIncomplete {
					t.Fatalf("first %d bytes of a %d-byte header: %v, want ErrIncomplete", k, n, errk)
				}
				continue
			}
			if err == nil {
				if errk != nil || nk != n || sameHeader(hk, h, false) != nil {
					t.Fatalf("first %d bytes: %v, %d, %v; all %d bytes: %v, %d", k, hk, nk, errk, len(b), h, n)
				}
				continue
			}
			if errk != proxyproto.ErrIncomplete && errClass(errk) != class {
				t.Fatalf("first %d bytes: %v; all %d bytes: %v", k, errk, len(b), err)
			}
			if errk == proxyproto.ErrNotProxy && notProxyAt < 0 {
				notProxyAt = k
			}
		}
		if notProxyAt > 12 {
			t.Fatalf("ErrNotProxy decided after %d bytes, past the signatures", notProxyAt)
		}

		// Read agrees, and consumes exactly the header.
		r := bytes.NewReader(b)
		hr, errr := proxyproto.Read(r)
		switch {
		case err == nil:
			if errr != nil || sameHeader(hr, h, false) != nil || r.Len() != len(b)-n {
				t.Fatalf("Read = %v, %v with %d bytes left; Parse = %v, %d", hr, errr, r.Len(), h, n)
			}
		case err == proxyproto.ErrIncomplete:
			want := io.ErrUnexpectedEOF
			if len(b) == 0 {
				want = io.EOF
			}
			if !errors.Is(errr, want) {
				t.Fatalf("Read = %v, want %v", errr, want)
			}
		default:
			if errClass(errr) != class {
				t.Fatalf("Read = %v, Parse = %v", errr, err)
			}
		}

		if err != nil {
			return
		}
		// Every parsed header encodes, and parses back the same.
		enc, err := h.AppendTo(nil)
		if err != nil {
			t.Fatalf("AppendTo(%v): %v", h, err)
		}
		h2, n2, err := proxyproto.Parse(enc)
		if err != nil || n2 != len(enc) {
			t.Fatalf("Parse(AppendTo(%v)) = %v, %d, %v; want %d bytes", h, h2, n2, err, len(enc))
		}
		if err := sameHeader(h2, h, true); err != nil {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// FuzzAppendTo encodes headers built from arbitrary fields: AppendTo
// either fails with ErrInvalidHeader and leaves dst alone, or writes a
// header that Parse reads back whole and the same.
func FuzzAppendTo(f *testing.F) {
	f.Add(uint8(1), uint8(0), []byte{192, 0, 2, 1}, []byte{198, 51, 100, 7}, uint16(56324), uint16(443), "", "", []byte(nil))
	f.Add(uint8(2), uint8(0), make([]byte, 16), []byte{10, 0, 0, 1}, uint16(1), uint16(2), "", "", []byte("\x01\x00\x02h2"))
	f.Add(uint8(2), uint8(1), []byte{1, 2, 3, 4}, []byte{5, 6, 7, 8}, uint16(0), uint16(0), "", "", []byte("\x03\x00\x04\x00\x00\x00\x00"))
	f.Add(uint8(2), uint8(2), []byte(nil), []byte(nil), uint16(0), uint16(0), "/run/a.sock", "@abstract", []byte("\x20\x00\x05\x01\x00\x00\x00\x00"))
	f.Add(uint8(2), uint8(3), []byte(nil), []byte(nil), uint16(0), uint16(0), "", "", []byte(nil))
	f.Add(uint8(1), uint8(4), []byte(nil), []byte(nil), uint16(0), uint16(0), "", "", []byte(nil))
	f.Fuzz(func(t *testing.T, version, kind uint8, sip, dip []byte, sport, dport uint16, sname, dname string, tlvBytes []byte) {
		h := &proxyproto.Header{Version: int(version % 4), Command: proxyproto.Proxy}
		switch kind % 6 {
		case 0:
			h.Source, h.Destination = &net.TCPAddr{IP: sip, Port: int(sport)}, &net.TCPAddr{IP: dip, Port: int(dport)}
		case 1:
			h.Source, h.Destination = &net.UDPAddr{IP: sip, Port: int(sport)}, &net.UDPAddr{IP: dip, Port: int(dport)}
		case 2:
			h.Source, h.Destination = &net.UnixAddr{Name: sname, Net: "unix"}, &net.UnixAddr{Name: dname, Net: "unix"}
		case 3:
			h.Command = proxyproto.Local
		case 4: // no addresses: UNKNOWN or UNSPEC
		case 5:
			h.Source = &net.TCPAddr{IP: sip, Port: int(sport)}
		}
		// TLVs: a type byte, a length byte, then that many bytes.
		for rest := tlvBytes; len(rest) >= 2; {
			n := min(int(rest[1]), len(rest)-2)
			h.TLVs = append(h.TLVs, proxyproto.TLV{Type: proxyproto.TLVType(rest[0]), Value: rest[2 : 2+n]})
			rest = rest[2+n:]
		}

		dst := []byte("dst")
		b, err := h.AppendTo(dst)
		if err != nil {
			if !errors.Is(err, proxyproto.ErrInvalidHeader) || string(b) != "dst" {
				t.Fatalf("AppendTo = %q, %v", b, err)
			}
			return
		}
		b = b[3:]
		got, n, err := proxyproto.Parser{MaxHeaderSize: 1<<16 + 16}.Parse(b)
		if err != nil || n != len(b) {
			if errors.Is(err, proxyproto.ErrMalformed) && h.Version == 2 {
				// AppendTo writes TLVs as given: a TypeSSL value with a
				// bad layout is the caller's to get right.
				if _, ok := h.TLV(proxyproto.TypeSSL); ok {
					return
				}
			}
			t.Fatalf("Parse(AppendTo(%v)) = %v, %d, %v; want %d bytes", h, got, n, err, len(b))
		}
		want := *h
		if u, ok := h.Source.(*net.UnixAddr); ok {
			// The 108-byte field cannot hold a name's trailing NULs, nor
			// tell "@" (an empty abstract name) from "".
			want.Source = &net.UnixAddr{Name: unixNorm(u.Name), Net: u.Net}
			want.Destination = &net.UnixAddr{Name: unixNorm(h.Destination.(*net.UnixAddr).Name), Net: u.Net}
		}
		if err := sameHeader(got, &want, true); err != nil {
			t.Fatalf("round trip of %v: %v", h, err)
		}
	})
}

// unixNorm is what a UNIX name that AppendTo accepted parses back as.
func unixNorm(name string) string {
	if name, ok := strings.CutPrefix(name, "@"); ok {
		if name = strings.TrimRight(name, "\x00"); name == "" {
			return ""
		}
		return "@" + name
	}
	return name
}
