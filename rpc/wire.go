package rpc

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/sockpool/sockpool/frame"
)

// Wire constants; the package doc describes the format.
const (
	version = 1

	kindRequest  = 1
	kindResponse = 2
	kindError    = 3
	kindCancel   = 4

	headerLen = 1 + 1 + 8 // version, kind, call id

	// MaxMethodLen is the longest method name, in bytes.
	MaxMethodLen = 255

	// DefaultMaxMessageSize is the MaxMessageSize of a zero config: the
	// largest message (request or reply, after the frame header) either
	// side accepts.
	DefaultMaxMessageSize = 4 << 20
)

// frameFormat is the frame every message travels in.
func frameFormat(max int) frame.LengthPrefixed {
	return frame.LengthPrefixed{HeaderSize: 4, MaxFrameSize: max}
}

var errMalformed = errors.New("sockpool/rpc: malformed message")

// header is the part every message starts with.
type header struct {
	kind byte
	id   uint64
}

// parseHeader splits msg into its header and the rest. An unknown version
// is an error: the peer speaks a format this one cannot read.
func parseHeader(msg []byte) (header, []byte, error) {
	if len(msg) < headerLen {
		return header{}, nil, errMalformed
	}
	if msg[0] != version {
		return header{}, nil, errVersion
	}
	return header{kind: msg[1], id: binary.BigEndian.Uint64(msg[2:])}, msg[headerLen:], nil
}

var errVersion = errors.New("sockpool/rpc: unsupported protocol version")

// request is a parsed request body.
type request struct {
	timeout time.Duration // 0: none
	method  []byte
	payload []byte
}

func parseRequest(body []byte) (request, error) {
	if len(body) < 9 {
		return request{}, errMalformed
	}
	us := binary.BigEndian.Uint64(body)
	n := int(body[8])
	if n == 0 || len(body) < 9+n {
		return request{}, errMalformed
	}
	var r request
	if us > 0 {
		r.timeout = time.Duration(min(us, uint64(maxTimeout/time.Microsecond))) * time.Microsecond
	}
	r.method = body[9 : 9+n]
	r.payload = body[9+n:]
	return r, nil
}

// maxTimeout caps a timeout from the wire so that it cannot overflow.
const maxTimeout = 100 * 365 * 24 * time.Hour

// requestLen is the length of a request message, frame header excluded.
func requestLen(method string, payload []byte) int {
	return headerLen + 8 + 1 + len(method) + len(payload)
}

// appendRequest appends a framed request to dst. The caller has checked
// the method name and the size.
func appendRequest(dst []byte, f frame.LengthPrefixed, id uint64, timeout time.Duration, method string, payload []byte) ([]byte, error) {
	dst, err := f.AppendHeader(dst, requestLen(method, payload))
	if err != nil {
		return dst, err
	}
	dst = appendHeader(dst, kindRequest, id)
	var us uint64
	if timeout > 0 {
		us = uint64(max(timeout/time.Microsecond, 1))
	}
	dst = binary.BigEndian.AppendUint64(dst, us)
	dst = append(dst, byte(len(method)))
	dst = append(dst, method...)
	return append(dst, payload...), nil
}

func appendHeader(dst []byte, kind byte, id uint64) []byte {
	dst = append(dst, version, kind)
	return binary.BigEndian.AppendUint64(dst, id)
}

// appendResponse appends a framed reply carrying payload.
func appendResponse(dst []byte, f frame.LengthPrefixed, id uint64, payload []byte) ([]byte, error) {
	dst, err := f.AppendHeader(dst, headerLen+len(payload))
	if err != nil {
		return dst, err
	}
	return append(appendHeader(dst, kindResponse, id), payload...), nil
}

// appendError appends a framed error reply. A message too long for the
// frame is cut.
func appendError(dst []byte, f frame.LengthPrefixed, id uint64, code Code, msg string) []byte {
	msg = msg[:min(len(msg), f.MaxFrameSize-headerLen-1)]
	dst, _ = f.AppendHeader(dst, headerLen+1+len(msg))
	dst = appendHeader(dst, kindError, id)
	dst = append(dst, byte(code))
	return append(dst, msg...)
}

// appendCancel appends a framed cancel message for call id.
func appendCancel(dst []byte, f frame.LengthPrefixed, id uint64) []byte {
	dst, _ = f.AppendHeader(dst, headerLen)
	return appendHeader(dst, kindCancel, id)
}
