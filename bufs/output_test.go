package bufs_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sockpool/sockpool/bufs"
)

func TestOutputRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		chunks []string
	}{
		{"empty", nil},
		{"one", []string{"hello"}},
		{"several", []string{"HTTP/1.1 200 OK\r\n", "Content-Length: 2\r\n\r\n", "ok"}},
		{"large", []string{strings.Repeat("x", 100<<10), "y"}},
	}
	for _, tt := range tests {
		out := bufs.GetOutput()
		if out.Len() != 0 {
			t.Fatalf("%s: GetOutput returned %d bytes, want empty", tt.name, out.Len())
		}
		var want strings.Builder
		for i, c := range tt.chunks {
			if i%2 == 0 {
				out.WriteString(c)
			} else {
				out.Write([]byte(c))
			}
			want.WriteString(c)
		}
		var dst bytes.Buffer
		if _, err := out.WriteTo(&dst); err != nil {
			t.Fatalf("%s: WriteTo: %v", tt.name, err)
		}
		if dst.String() != want.String() {
			t.Errorf("%s: wrote %q, want %q", tt.name, dst.String(), want.String())
		}
		bufs.PutOutput(out)
	}
	bufs.PutOutput(nil) // must not panic
}

func BenchmarkOutput(b *testing.B) {
	payload := bytes.Repeat([]byte{'x'}, 1<<10)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		out := bufs.GetOutput()
		out.Write(payload)
		bufs.PutOutput(out)
	}
}
