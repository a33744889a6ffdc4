package server

import (
	"sync/atomic"
	"testing"
)

// TestReadBufferSize checks on every engine that a fixed ReadBufferSize
// bounds every read, and that with ReadBufferSize 0 the tuner grows reads
// past its starting size for a bulk stream, within MaxReadBufferSize.
func TestReadBufferSize(t *testing.T) {
	tests := []struct {
		name          string
		size, maxSize int
		wantMin       int // the largest read must be at least this
		wantMax       int // and at most this
	}{
		{"fixed 4 KiB", 4096, 0, 1, 4096},
		{"tuned", 0, 0, DefaultReadBufferSize + 1, 256 << 10},
		{"tuned with max", 0, 32 << 10, DefaultReadBufferSize + 1, 32 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachEngine(t, func(t *testing.T, ec engineCase) {
				var largest atomic.Int64
				h := HandlerFunc(func(c Conn, in []byte) {
					if n := int64(len(in)); n > largest.Load() {
						largest.Store(n) // OnData never runs concurrently per connection
					}
					c.Write(in)
				})
				srv := ec.configure(&Server{Handler: h, ReadBufferSize: tt.size, MaxReadBufferSize: tt.maxSize})
				c := dial(t, serve(t, srv, "tcp"))
				// Enough rounds of large messages for the tuner to see full
				// reads in a row even on a busy machine.
				for i := range 16 {
					msg := pattern(uint64(i), 256<<10)
					checkEcho(t, roundTrip(t, c, msg), msg)
					if tt.size == 0 && largest.Load() >= int64(tt.wantMin) {
						break
					}
				}
				got, wantMin, wantMax := int(largest.Load()), tt.wantMin, tt.wantMax
				switch {
				case ec.engine == EventedPool:
					// Input that arrives while the handler waits for a
					// worker is handed over in one call: reads do not bound it.
					wantMax = 1 << 30
				case tt.size == 0 && uringReadsFixed(srv):
					// A kernel without incremental buffer consumption:
					// uring's buffers keep the tuner's starting size
					// (newRecvBuffers). Where it has it, a uring read
					// takes what the socket holds, up to the max.
					wantMin, wantMax = 1, DefaultReadBufferSize
				}
				t.Logf("largest read %d bytes", got)
				if got < wantMin || got > wantMax {
					t.Errorf("largest read %d bytes, want %d..%d", got, wantMin, wantMax)
				}
			})
		})
	}
}
