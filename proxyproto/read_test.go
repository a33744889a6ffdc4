package proxyproto_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"testing/iotest"

	"github.com/sockpool/sockpool/proxyproto"
)

// errNoMore is what strictReader returns when asked for bytes past its
// data: a reader that did so would have blocked on a live connection.
var errNoMore = errors.New("read past the header")

type strictReader struct{ data []byte }

func (r *strictReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, errNoMore
	}
	if len(p) > len(r.data) {
		return 0, errNoMore // asked for more than the peer sent
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestRead(t *testing.T) {
	t.Parallel()
	for _, tt := range validCases() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want, _, err := proxyproto.Parse(tt.wire)
			if err != nil {
				t.Fatal(err)
			}
			// The peer sent the header and nothing more: Read never asks
			// for a byte past it.
			h, err := proxyproto.Read(&strictReader{data: tt.wire})
			if err != nil || sameHeader(h, want, false) != nil {
				t.Fatalf("Read(header only) = %v, %v; want %v", h, err, want)
			}
			// Data after the header stays in the reader.
			r := bytes.NewReader(append(append([]byte(nil), tt.wire...), "app data"...))
			h, err = proxyproto.Read(r)
			if err != nil || sameHeader(h, want, false) != nil {
				t.Fatalf("Read = %v, %v", h, err)
			}
			if rest, _ := io.ReadAll(r); string(rest) != "app data" {
				t.Fatalf("left %q in the reader, want %q", rest, "app data")
			}
			h, err = proxyproto.Read(iotest.OneByteReader(bytes.NewReader(tt.wire)))
			if err != nil || sameHeader(h, want, false) != nil {
				t.Fatalf("Read(OneByteReader) = %v, %v", h, err)
			}
		})
	}
}

// TestReadPipe reads from a synchronous pipe whose writer sends a header,
// or a few bytes of something else, and then waits: Read must not block.
func TestReadPipe(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		send string
		want error
	}{
		{"v1", "PROXY UNKNOWN\r\n", nil},
		{"v2 local", string(v2(0x20, 0x00)), nil},
		{"text protocol", "PING\r\n", proxyproto.ErrNotProxy},
		{"blank line then text", "\r\nPING\r\n", proxyproto.ErrNotProxy},
		{"early malformed", "PROXY \x00", proxyproto.ErrMalformed},
		{"short malformed", "PROXY X\r\n", proxyproto.ErrMalformed},
		{"too large", string(v2Len(0x21, 0x11, 5000)), proxyproto.ErrTooLarge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client, server := net.Pipe()
			done := make(chan struct{})
			go func() {
				defer close(done)
				client.Write([]byte(tt.send))
				// The peer now waits for a reply: it holds the pipe open
				// until Read returns.
			}()
			t.Cleanup(func() { client.Close(); server.Close(); <-done })
			_, err := proxyproto.Read(server)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Read = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	tests := []struct {
		name   string
		parser proxyproto.Parser
		r      io.Reader
		want   error
	}{
		{"empty", proxyproto.Parser{}, bytes.NewReader(nil), io.EOF},
		{"eof in signature", proxyproto.Parser{}, bytes.NewReader([]byte("PRO")), io.ErrUnexpectedEOF},
		{"eof in v1", proxyproto.Parser{}, bytes.NewReader([]byte("PROXY TCP4 1.2.3.4")), io.ErrUnexpectedEOF},
		{"eof in v2", proxyproto.Parser{}, bytes.NewReader(v2(0x21, 0x11, make([]byte, 12))[:20]), io.ErrUnexpectedEOF},
		{"reader error", proxyproto.Parser{}, io.MultiReader(bytes.NewReader([]byte("PROXY")), iotest.ErrReader(boom)), boom},
		{"not proxy", proxyproto.Parser{}, bytes.NewReader([]byte("GET / HTTP/1.1\r\n")), proxyproto.ErrNotProxy},
		{"malformed", proxyproto.Parser{}, bytes.NewReader([]byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n")), proxyproto.ErrMalformed},
		{"too long line", proxyproto.Parser{}, bytes.NewReader(bytes.Repeat([]byte("PROXY "), 100)), proxyproto.ErrMalformed},
		{"max header size", proxyproto.Parser{MaxHeaderSize: 20}, bytes.NewReader(v2(0x21, 0x11, make([]byte, 12))), proxyproto.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, err := tt.parser.Read(tt.r)
			if h != nil || !errors.Is(err, tt.want) {
				t.Fatalf("Read = %v, %v; want %v", h, err, tt.want)
			}
		})
	}
}

// TestReadLarge reads a header larger than Read's first buffer.
func TestReadLarge(t *testing.T) {
	t.Parallel()
	h := &proxyproto.Header{Version: 2, Command: proxyproto.Proxy, Source: tcp("::1", 1), Destination: tcp("::2", 2),
		TLVs: []proxyproto.TLV{{Type: proxyproto.TypeUniqueID, Value: bytes.Repeat([]byte{7}, 60000)}}}
	b, err := h.AppendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := proxyproto.Parser{MaxHeaderSize: 1<<16 + 16}.Read(&strictReader{data: b})
	if err != nil || sameHeader(got, h, false) != nil {
		t.Fatalf("Read = %v, %v", got, err)
	}
}
