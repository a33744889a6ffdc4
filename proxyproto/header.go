package proxyproto

import (
	"encoding/binary"
	"fmt"
	"net"
)

// Command is what a header asks of the receiver.
type Command uint8

const (
	// Local marks a connection that the proxy made on its own behalf, such
	// as a health check: the receiver uses the connection's own addresses.
	// Only version 2 has it.
	Local Command = 0
	// Proxy marks a connection relayed for a client: Source and Destination
	// say who it is, when the header knows.
	Proxy Command = 1
)

// String returns "LOCAL" or "PROXY".
func (c Command) String() string {
	switch c {
	case Local:
		return "LOCAL"
	case Proxy:
		return "PROXY"
	}
	return fmt.Sprintf("Command(%d)", uint8(c))
}

// Header is a parsed PROXY protocol header.
type Header struct {
	// Version is 1 (the text format) or 2 (the binary format).
	Version int
	// Command is Proxy for every version 1 header; version 2 has Local too.
	Command Command

	// Source is the client's address and Destination the address the client
	// connected to: both *net.TCPAddr, both *net.UDPAddr or both
	// *net.UnixAddr (Net "unix" or "unixgram") as the header's family says.
	// Both are nil when the header does not give them: a Local command, a
	// version 1 "PROXY UNKNOWN" or a version 2 UNSPEC family. The receiver
	// then uses the connection's own addresses.
	Source, Destination net.Addr

	// TLVs are a version 2 header's type-length-value extensions, in the
	// order they came. They do not alias the bytes given to Parse. A Local
	// header has none: the specification has the receiver discard its
	// whole address block.
	TLVs []TLV
}

// TLVType is the type of a version 2 TLV.
type TLVType uint8

// The TLV types the specification defines. 0xE0 to 0xEF are for custom
// use, 0xF0 to 0xF7 experimental.
const (
	TypeALPN      TLVType = 0x01 // the application protocol (ALPN), such as "h2"
	TypeAuthority TLVType = 0x02 // the host name the client asked for (TLS SNI)
	TypeCRC32C    TLVType = 0x03 // a CRC32c checksum of the whole header, verified by Parse
	TypeNoop      TLVType = 0x04 // padding, to be ignored
	TypeUniqueID  TLVType = 0x05 // an opaque connection ID of up to 128 bytes
	TypeSSL       TLVType = 0x20 // TLS details: see SSL
	TypeNetNS     TLVType = 0x30 // the network namespace's name

	// Sub-types inside a TypeSSL value.
	TypeSSLVersion TLVType = 0x21 // TLS version, such as "TLSv1.3"
	TypeSSLCN      TLVType = 0x22 // the client certificate's Common Name
	TypeSSLCipher  TLVType = 0x23 // the cipher suite, such as "ECDHE-RSA-AES128-GCM-SHA256"
	TypeSSLSigAlg  TLVType = 0x24 // the certificate's signature algorithm
	TypeSSLKeyAlg  TLVType = 0x25 // the certificate's key algorithm
)

// TLV is one version 2 type-length-value extension.
type TLV struct {
	Type  TLVType
	Value []byte // at most 65535 bytes
}

// TLV returns the value of the first TLV of type t, and whether there is one.
func (h *Header) TLV(t TLVType) ([]byte, bool) {
	for _, tlv := range h.TLVs {
		if tlv.Type == t {
			return tlv.Value, true
		}
	}
	return nil, false
}

// ALPN returns the application protocol the client negotiated with the
// proxy (TypeALPN), or "".
func (h *Header) ALPN() string {
	v, _ := h.TLV(TypeALPN)
	return string(v)
}

// Authority returns the host name the client asked the proxy for, usually
// its TLS SNI (TypeAuthority), or "".
func (h *Header) Authority() string {
	v, _ := h.TLV(TypeAuthority)
	return string(v)
}

// UniqueID returns the connection's ID given by the proxy (TypeUniqueID), or
// nil.
func (h *Header) UniqueID() []byte {
	v, _ := h.TLV(TypeUniqueID)
	return v
}

// NetNS returns the name of the network namespace the proxy accepted the
// connection in (TypeNetNS), or "".
func (h *Header) NetNS() string {
	v, _ := h.TLV(TypeNetNS)
	return string(v)
}

// SSLClient is the bit field of SSL.Client.
type SSLClient uint8

// The SSLClient bits.
const (
	ClientSSL      SSLClient = 0x01 // the client connected over TLS
	ClientCertConn SSLClient = 0x02 // the client sent a certificate on this connection
	ClientCertSess SSLClient = 0x04 // the client sent a certificate in this TLS session (perhaps resumed)
)

// SSL is what a TypeSSL TLV says about the client's TLS connection to the
// proxy.
type SSL struct {
	Client SSLClient
	// Verify is 0 when the client presented a certificate that verified,
	// and non-zero otherwise.
	Verify uint32

	// From the sub-TLVs; "" when absent.
	Version string // TypeSSLVersion, such as "TLSv1.3"
	CN      string // TypeSSLCN
	Cipher  string // TypeSSLCipher
	SigAlg  string // TypeSSLSigAlg
	KeyAlg  string // TypeSSLKeyAlg
}

// SSL returns the header's TypeSSL TLV, decoded, and whether there is one.
// Parse has checked its layout, so a parsed header's SSL TLV always decodes.
func (h *Header) SSL() (SSL, bool) {
	v, ok := h.TLV(TypeSSL)
	if !ok || len(v) < 5 {
		return SSL{}, false
	}
	s := SSL{Client: SSLClient(v[0]), Verify: binary.BigEndian.Uint32(v[1:5])}
	for rest := v[5:]; len(rest) >= 3; {
		n := int(binary.BigEndian.Uint16(rest[1:3]))
		if len(rest) < 3+n {
			return SSL{}, false
		}
		val := string(rest[3 : 3+n])
		switch TLVType(rest[0]) {
		case TypeSSLVersion:
			s.Version = val
		case TypeSSLCN:
			s.CN = val
		case TypeSSLCipher:
			s.Cipher = val
		case TypeSSLSigAlg:
			s.SigAlg = val
		case TypeSSLKeyAlg:
			s.KeyAlg = val
		}
		rest = rest[3+n:]
	}
	return s, true
}

// TLV encodes s as a TypeSSL TLV, with a sub-TLV for each string that is
// not empty. Strings longer than 65535 bytes make a TLV that AppendTo
// rejects.
func (s SSL) TLV() TLV {
	v := []byte{byte(s.Client), 0, 0, 0, 0}
	binary.BigEndian.PutUint32(v[1:5], s.Verify)
	for _, sub := range []struct {
		t TLVType
		s string
	}{
		{TypeSSLVersion, s.Version},
		{TypeSSLCN, s.CN},
		{TypeSSLCipher, s.Cipher},
		{TypeSSLSigAlg, s.SigAlg},
		{TypeSSLKeyAlg, s.KeyAlg},
	} {
		if sub.s != "" {
			v = append(v, byte(sub.t), byte(len(sub.s)>>8), byte(len(sub.s)))
			v = append(v, sub.s...)
		}
	}
	return TLV{Type: TypeSSL, Value: v}
}

// String describes the header for logs, such as
// "PROXY v2 tcp 192.0.2.1:56324 -> 198.51.100.7:443".
func (h *Header) String() string {
	if h.Source == nil || h.Destination == nil {
		if h.Command == Local {
			return fmt.Sprintf("LOCAL v%d", h.Version)
		}
		return fmt.Sprintf("PROXY v%d unknown", h.Version)
	}
	return fmt.Sprintf("%s v%d %s %s -> %s", h.Command, h.Version, h.Source.Network(), h.Source, h.Destination)
}
