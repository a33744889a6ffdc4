package proxyproto

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// AppendTo appends h, encoded as its Version says, to dst and returns the
// extended buffer. It is the sending side, for clients and tests.
//
// Version 1 takes a Proxy command with two *net.TCPAddr, written as TCP4
// when both are IPv4 (or IPv4-mapped IPv6) and as TCP6 otherwise, or no
// addresses at all ("PROXY UNKNOWN"), and no TLVs. Version 2 takes both
// addresses of one kind (*net.TCPAddr, *net.UDPAddr or *net.UnixAddr; IPv4
// when both are IPv4, IPv6 otherwise) or none (family UNSPEC), and TLVs; a
// Local command takes neither. A TypeCRC32C TLV's value is replaced by the
// header's checksum. A header that its version cannot express fails with an
// error wrapping ErrInvalidHeader, and dst is returned unchanged.
func (h *Header) AppendTo(dst []byte) ([]byte, error) {
	var out []byte
	var err error
	switch h.Version {
	case 1:
		out, err = h.appendV1(dst)
	case 2:
		out, err = h.appendV2(dst)
	default:
		err = fmt.Errorf("version %d", h.Version)
	}
	if err != nil {
		return dst, fmt.Errorf("%w: %w", ErrInvalidHeader, err)
	}
	return out, nil
}

// WriteTo writes h, encoded by AppendTo, to w in one Write. It implements
// io.WriterTo.
func (h *Header) WriteTo(w io.Writer) (int64, error) {
	b, err := h.AppendTo(nil)
	if err != nil {
		return 0, err
	}
	n, err := w.Write(b)
	return int64(n), err
}

func (h *Header) appendV1(dst []byte) ([]byte, error) {
	if h.Command != Proxy {
		return nil, fmt.Errorf("version 1 has no %s command", h.Command)
	}
	if len(h.TLVs) > 0 {
		return nil, fmt.Errorf("version 1 has no TLVs")
	}
	if h.Source == nil && h.Destination == nil {
		return append(dst, "PROXY UNKNOWN\r\n"...), nil
	}
	src, ok1 := h.Source.(*net.TCPAddr)
	dstAddr, ok2 := h.Destination.(*net.TCPAddr)
	if !ok1 || !ok2 || src == nil || dstAddr == nil {
		return nil, fmt.Errorf("version 1 takes two *net.TCPAddr, not %T and %T", h.Source, h.Destination)
	}
	ips, six, err := ipPair(src.IP, src.Zone, dstAddr.IP, dstAddr.Zone)
	if err != nil {
		return nil, err
	}
	if err := checkPorts(src.Port, dstAddr.Port); err != nil {
		return nil, err
	}
	proto := "TCP4"
	if six {
		proto = "TCP6"
	}
	dst = append(dst, "PROXY "+proto+" "...)
	dst = ips[0].AppendTo(dst)
	dst = append(dst, ' ')
	dst = ips[1].AppendTo(dst)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(src.Port), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(dstAddr.Port), 10)
	return append(dst, "\r\n"...), nil
}

// ipPair converts two net.IPs to addresses of one family: IPv4 when both
// are IPv4 (in either of net.IP's forms), else IPv6 with IPv4 ones mapped.
func ipPair(a net.IP, azone string, b net.IP, bzone string) (ips [2]netip.Addr, six bool, err error) {
	for i, ip := range []net.IP{a, b} {
		addr, ok := netip.AddrFromSlice(ip)
		if !ok {
			return ips, false, fmt.Errorf("bad IP address %v", ip)
		}
		ips[i] = addr.Unmap()
	}
	if azone != "" || bzone != "" {
		return ips, false, fmt.Errorf("IPv6 zones cannot be sent")
	}
	if ips[0].Is4() && ips[1].Is4() {
		return ips, false, nil
	}
	for i := range ips {
		ips[i] = netip.AddrFrom16(ips[i].As16())
	}
	return ips, true, nil
}

func checkPorts(ports ...int) error {
	for _, p := range ports {
		if p < 0 || p > 65535 {
			return fmt.Errorf("port %d out of range", p)
		}
	}
	return nil
}

func (h *Header) appendV2(dst []byte) ([]byte, error) {
	start := len(dst)
	dst = append(dst, sigV2...)
	if h.Command == Local {
		if h.Source != nil || h.Destination != nil || len(h.TLVs) > 0 {
			return nil, fmt.Errorf("a LOCAL header carries no addresses or TLVs")
		}
		return append(dst, 0x20, famUnspec, 0, 0), nil
	}
	if h.Command != Proxy {
		return nil, fmt.Errorf("unknown command %d", h.Command)
	}
	dst = append(dst, 0x21, 0, 0, 0) // family and length filled in below
	fam, dst, err := appendV2Addrs(dst, h.Source, h.Destination)
	if err != nil {
		return nil, err
	}
	dst[start+13] = fam
	crcAt := -1
	for _, t := range h.TLVs {
		if len(t.Value) > 0xffff {
			return nil, fmt.Errorf("TLV type %#02x has %d bytes, more than 65535", t.Type, len(t.Value))
		}
		dst = append(dst, byte(t.Type), byte(len(t.Value)>>8), byte(len(t.Value)))
		if t.Type == TypeCRC32C {
			if crcAt >= 0 || len(t.Value) != 4 {
				return nil, fmt.Errorf("want one CRC32C TLV of 4 bytes")
			}
			crcAt = len(dst)
			dst = append(dst, 0, 0, 0, 0)
			continue
		}
		dst = append(dst, t.Value...)
	}
	n := len(dst) - start - v2FixedSize
	if n > 0xffff {
		return nil, fmt.Errorf("%d bytes of addresses and TLVs, more than 65535", n)
	}
	binary.BigEndian.PutUint16(dst[start+14:], uint16(n))
	if crcAt >= 0 {
		binary.BigEndian.PutUint32(dst[crcAt:], crc32.Checksum(dst[start:], castagnoli))
	}
	return dst, nil
}

// appendV2Addrs appends the address block for src and dst and returns
// their family byte.
func appendV2Addrs(b []byte, src, dst net.Addr) (byte, []byte, error) {
	if src == nil && dst == nil {
		return famUnspec, b, nil
	}
	switch s := src.(type) {
	case *net.TCPAddr:
		if d, ok := dst.(*net.TCPAddr); ok && s != nil && d != nil {
			return appendIPs(b, famTCP4, s.IP, s.Zone, s.Port, d.IP, d.Zone, d.Port)
		}
	case *net.UDPAddr:
		if d, ok := dst.(*net.UDPAddr); ok && s != nil && d != nil {
			return appendIPs(b, famUDP4, s.IP, s.Zone, s.Port, d.IP, d.Zone, d.Port)
		}
	case *net.UnixAddr:
		if d, ok := dst.(*net.UnixAddr); ok && s != nil && d != nil {
			fam := byte(famUnixStrm)
			switch {
			case s.Net != d.Net:
				return 0, nil, fmt.Errorf("UNIX addresses of networks %q and %q", s.Net, d.Net)
			case s.Net == "unixgram":
				fam = famUnixDgram
			case s.Net != "unix" && s.Net != "":
				return 0, nil, fmt.Errorf("UNIX network %q", s.Net)
			}
			var err error
			for _, name := range []string{s.Name, d.Name} {
				if b, err = appendUnixName(b, name); err != nil {
					return 0, nil, err
				}
			}
			return fam, b, nil
		}
	}
	return 0, nil, fmt.Errorf("addresses %T and %T are not a pair of *net.TCPAddr, *net.UDPAddr or *net.UnixAddr", src, dst)
}

// appendIPs appends an IPv4 or IPv6 address block. fam4 is the family for
// IPv4; its IPv6 counterpart is 0x10 more.
func appendIPs(b []byte, fam4 byte, sip net.IP, szone string, sport int, dip net.IP, dzone string, dport int) (byte, []byte, error) {
	ips, six, err := ipPair(sip, szone, dip, dzone)
	if err != nil {
		return 0, nil, err
	}
	if err := checkPorts(sport, dport); err != nil {
		return 0, nil, err
	}
	fam := fam4
	if six {
		fam += 0x10
	}
	b = append(b, ips[0].AsSlice()...)
	b = append(b, ips[1].AsSlice()...)
	b = binary.BigEndian.AppendUint16(b, uint16(sport))
	b = binary.BigEndian.AppendUint16(b, uint16(dport))
	return fam, b, nil
}

// appendUnixName appends a 108-byte sun_path; an abstract name ("@name")
// is written as a NUL and the name.
func appendUnixName(b []byte, name string) ([]byte, error) {
	p := name
	if strings.HasPrefix(name, "@") {
		p = "\x00" + name[1:]
	} else if strings.IndexByte(name, 0) >= 0 {
		return nil, fmt.Errorf("UNIX path %q holds a NUL", name)
	}
	if len(p) > unixPathSize {
		return nil, fmt.Errorf("UNIX path %q is longer than %d bytes", name, unixPathSize)
	}
	b = append(b, p...)
	return append(b, make([]byte, unixPathSize-len(p))...), nil
}
