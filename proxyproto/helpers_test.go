package proxyproto_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net"

	"github.com/sockpool/sockpool/proxyproto"
)

const sig2 = "\r\n\r\n\x00\r\nQUIT\n"

// v2 builds a version 2 header by hand, independently of AppendTo:
// signature, version and command byte, family byte, length, then body.
func v2(verCmd, fam byte, body ...[]byte) []byte {
	b := []byte(sig2)
	b = append(b, verCmd, fam, 0, 0)
	for _, p := range body {
		b = append(b, p...)
	}
	binary.BigEndian.PutUint16(b[14:], uint16(len(b)-16))
	return b
}

// v2Len builds a version 2 fixed part that announces n more bytes.
func v2Len(verCmd, fam byte, n int) []byte {
	b := []byte(sig2)
	b = append(b, verCmd, fam, 0, 0)
	binary.BigEndian.PutUint16(b[14:], uint16(n))
	return b
}

func tlv(t byte, v string) []byte {
	return append([]byte{t, byte(len(v) >> 8), byte(len(v))}, v...)
}

func ip4(s string) []byte  { return net.ParseIP(s).To4() }
func ip6(s string) []byte  { return net.ParseIP(s).To16() }
func port(p uint16) []byte { return binary.BigEndian.AppendUint16(nil, p) }

func unixPath(s string) []byte {
	b := make([]byte, 108)
	copy(b, s)
	return b
}

// withCRC fills the CRC32C TLV of a hand-built header whose last TLV is a
// CRC32C with a zero value.
func withCRC(b []byte) []byte {
	sum := crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))
	binary.BigEndian.PutUint32(b[len(b)-4:], sum)
	return b
}

func tcp(ip string, p int) *net.TCPAddr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: p} }
func udp(ip string, p int) *net.UDPAddr { return &net.UDPAddr{IP: net.ParseIP(ip), Port: p} }

// sameHeader compares headers as values: IPs by Equal (4- and 16-byte
// forms of an IPv4 address are the same), TLVs by content. With
// ignoreCRC, CRC32C values are not compared (a re-encoding that changes
// the family changes the sum).
func sameHeader(a, b *proxyproto.Header, ignoreCRC bool) error {
	if a == nil || b == nil {
		if a != b {
			return fmt.Errorf("one header is nil: %v, %v", a, b)
		}
		return nil
	}
	if a.Version != b.Version || a.Command != b.Command {
		return fmt.Errorf("version/command %d/%v, %d/%v", a.Version, a.Command, b.Version, b.Command)
	}
	if !sameAddr(a.Source, b.Source) || !sameAddr(a.Destination, b.Destination) {
		return fmt.Errorf("addresses %v -> %v, %v -> %v", a.Source, a.Destination, b.Source, b.Destination)
	}
	if len(a.TLVs) != len(b.TLVs) {
		return fmt.Errorf("%d TLVs, %d TLVs", len(a.TLVs), len(b.TLVs))
	}
	for i := range a.TLVs {
		x, y := a.TLVs[i], b.TLVs[i]
		if x.Type != y.Type || len(x.Value) != len(y.Value) ||
			(!(ignoreCRC && x.Type == proxyproto.TypeCRC32C) && !bytes.Equal(x.Value, y.Value)) {
			return fmt.Errorf("TLV %d: %#x %q, %#x %q", i, x.Type, x.Value, y.Type, y.Value)
		}
	}
	return nil
}

func sameAddr(a, b net.Addr) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case *net.TCPAddr:
		y, ok := b.(*net.TCPAddr)
		return ok && x.IP.Equal(y.IP) && x.Port == y.Port && x.Zone == y.Zone
	case *net.UDPAddr:
		y, ok := b.(*net.UDPAddr)
		return ok && x.IP.Equal(y.IP) && x.Port == y.Port && x.Zone == y.Zone
	case *net.UnixAddr:
		y, ok := b.(*net.UnixAddr)
		return ok && *x == *y
	}
	return false
}

// errClass names the sentinel an error wraps, for comparing outcomes.
func errClass(err error) string {
	for _, s := range []error{proxyproto.ErrIncomplete, proxyproto.ErrNotProxy, proxyproto.ErrMalformed, proxyproto.ErrTooLarge} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	if err == nil {
		return "ok"
	}
	return "other: " + err.Error()
}
