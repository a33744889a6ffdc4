package bufs_test

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"unsafe"

	"go.uber.org/goleak"

	"github.com/sockpool/sockpool/bufs"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestClassSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n    int
		want int
	}{
		{-1, bufs.MinSize},
		{0, bufs.MinSize},
		{1, bufs.MinSize},
		{511, bufs.MinSize},
		{512, 512},
		{513, 1024},
		{4096, 4096},
		{4097, 8192},
		{bufs.MaxSize/2 + 1, bufs.MaxSize},
		{bufs.MaxSize, bufs.MaxSize},
		{bufs.MaxSize + 1, bufs.MaxSize + 1},
	}
	for _, tt := range tests {
		if got := bufs.ClassSize(tt.n); got != tt.want {
			t.Errorf("ClassSize(%d) = %d, want %d", tt.n, got, tt.want)
		}
	}
}

func TestGet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n       int
		wantLen int
		wantCap int
	}{
		{-1, 0, bufs.MinSize},
		{0, 0, bufs.MinSize},
		{1, 1, bufs.MinSize},
		{511, 511, bufs.MinSize},
		{512, 512, 512},
		{513, 513, 1024},
		{4096, 4096, 4096},
		{4097, 4097, 8192},
		{bufs.MaxSize, bufs.MaxSize, bufs.MaxSize},
		{bufs.MaxSize + 1, bufs.MaxSize + 1, bufs.MaxSize + 1},
	}
	for _, tt := range tests {
		// Twice, so the second Get may be served from the pool.
		for range 2 {
			b := bufs.Get(tt.n)
			if len(b) != tt.wantLen || cap(b) != tt.wantCap {
				t.Errorf("Get(%d): len %d cap %d, want len %d cap %d",
					tt.n, len(b), cap(b), tt.wantLen, tt.wantCap)
			}
			bufs.Put(b)
		}
	}
}

// TestPutForeign checks that Put drops slices whose capacity is not a class
// size. sync.Pool may drop anything, so only the negative is asserted: no Get
// ever returns one of those slices.
func TestPutForeign(t *testing.T) {
	t.Parallel()
	whole := make([]byte, 4096)
	foreign := [][]byte{
		nil,
		make([]byte, 0, 1),
		make([]byte, 511),
		make([]byte, 0, 513),
		make([]byte, 1000),
		make([]byte, 3000),
		whole[1:], // cap 4095, interior pointer
		make([]byte, bufs.MaxSize+1),
		make([]byte, 0, 2*bufs.MaxSize), // a power of two, but above MaxSize
	}
	seen := make(map[unsafe.Pointer]int)
	var p bufs.Pool
	for _, f := range foreign {
		if cap(f) > 0 {
			seen[unsafe.Pointer(unsafe.SliceData(f))] = cap(f)
		}
		p.Put(f)
	}
	// A fresh Pool holds nothing else; drain a few buffers from every class.
	for size := bufs.MinSize; size <= bufs.MaxSize; size *= 2 {
		for range 4 {
			b := p.Get(size)
			if c, ok := seen[unsafe.Pointer(unsafe.SliceData(b))]; ok {
				t.Errorf("Get(%d) returned a foreign slice of cap %d", size, c)
			}
		}
	}
	runtime.KeepAlive(foreign) // so no new buffer can take a foreign address
}

func TestGetPutNoAllocs(t *testing.T) {
	// Not parallel: AllocsPerRun counts every allocation in the process.
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	for _, n := range []int{1, 512, 1000, 4096, 65536, bufs.MaxSize} {
		bufs.Put(bufs.Get(n)) // warm the class
		allocs := testing.AllocsPerRun(100, func() {
			b := bufs.Get(n)
			b[0] = 1
			bufs.Put(b)
		})
		if allocs != 0 {
			t.Errorf("Get(%d)+Put: %v allocs per run, want 0", n, allocs)
		}
	}
}

// TestConcurrentOwnership has goroutines stamp every byte of each buffer with
// their id, yield, and check the stamp survived before Put: a buffer handed to
// two owners at once shows up as a foreign id (and, under -race, as a race).
func TestConcurrentOwnership(t *testing.T) {
	t.Parallel()
	const goroutines = 16
	iters := 400
	if testing.Short() || raceEnabled {
		iters = 100
	}
	sizes := []int{0, 1, 512, 700, 1024, 4096, 5000, 16 << 10, 64 << 10}

	var wg sync.WaitGroup
	for g := range goroutines {
		id := byte(g + 1)
		wg.Go(func() {
			for i := range iters {
				b := bufs.Get(sizes[(i+g)%len(sizes)])
				b = b[:cap(b)]
				for j := range b {
					b[j] = id
				}
				runtime.Gosched()
				for j, c := range b {
					if c != id {
						t.Errorf("goroutine %d: byte %d of a %d-byte buffer is %d: buffer shared",
							id, j, len(b), c)
						return
					}
				}
				bufs.Put(b)
				if i%7 == 0 {
					bufs.Put(make([]byte, 1000)) // foreign, dropped
				}
			}
		})
	}
	wg.Wait()
}

var benchSizes = []int{512, 64 << 10, bufs.MaxSize}

func sizeName(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

func BenchmarkGetPut(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bufs.Put(bufs.Get(n))
			}
		})
	}
}

func BenchmarkGetPutParallel(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					bufs.Put(bufs.Get(n))
				}
			})
		})
	}
}

var sink []byte

// BenchmarkMake is the baseline for BenchmarkGetPut: a fresh, zeroed buffer
// of the same size each time.
func BenchmarkMake(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sink = make([]byte, n)
			}
		})
	}
}
