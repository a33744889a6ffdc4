package bufs

import "testing"

func TestTunerDefaults(t *testing.T) {
	var tu Tuner
	if got := tu.Size(); got != DefaultTunerStart {
		t.Fatalf("zero Tuner starts at %d, want %d", got, DefaultTunerStart)
	}
	tests := []struct {
		name string
		tu   Tuner
		want int
	}{
		{"start rounded to class", Tuner{Start: 5000}, 8192},
		{"start below min", Tuner{Min: 4096, Start: 1}, 4096},
		{"start above max", Tuner{Max: 2048}, 2048},
		{"max below min", Tuner{Min: 8192, Max: 1024}, 8192},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.tu.Size(); got != tt.want {
				t.Fatalf("Size() = %d, want %d", got, tt.want)
			}
		})
	}
}

// feed observes reads of n bytes (capped at the buffer size, as a real read
// would be) count times.
func feed(tu *Tuner, n, count int) (changes int) {
	for range count {
		if tu.Observe(min(n, tu.Size())) {
			changes++
		}
	}
	return changes
}

func TestTunerGrowsOnFullReads(t *testing.T) {
	tu := Tuner{Start: 4096, Max: 1 << 20}
	// 64 KiB messages: every read fills a smaller buffer.
	feed(&tu, 64<<10, 100)
	// It stops one class above the message: a 128 KiB buffer holds the
	// whole message, so reads no longer fill it.
	if got := tu.Size(); got != 128<<10 {
		t.Fatalf("after full reads Size = %d, want %d", got, 128<<10)
	}
	if c := feed(&tu, 64<<10, 1000); c != 0 {
		t.Fatalf("size moved %d times once it fit the message", c)
	}
}

func TestTunerStopsAtMax(t *testing.T) {
	tu := Tuner{Start: 4096, Max: 16 << 10}
	feed(&tu, 1<<20, 1000)
	if got := tu.Size(); got != 16<<10 {
		t.Fatalf("Size = %d, want the max %d", got, 16<<10)
	}
}

func TestTunerShrinksOnSmallReads(t *testing.T) {
	tu := Tuner{Start: 64 << 10}
	feed(&tu, 100, 10000)
	if got := tu.Size(); got != MinSize {
		t.Fatalf("after small reads Size = %d, want %d", got, MinSize)
	}
	tu = Tuner{Start: 64 << 10, Min: 2048}
	feed(&tu, 100, 10000)
	if got := tu.Size(); got != 2048 {
		t.Fatalf("Size = %d, want the min 2048", got)
	}
	// 1 KiB messages settle where the message uses more than a quarter.
	tu = Tuner{Start: 64 << 10}
	feed(&tu, 1024, 10000)
	if got := tu.Size(); got != 2048 {
		t.Fatalf("1 KiB reads settle at %d, want 2048", got)
	}
}

func TestTunerDoesNotFlap(t *testing.T) {
	tests := []struct {
		name    string
		pattern []int
	}{
		{"full and tiny alternate", []int{1 << 30, 10}},
		{"three full then tiny", []int{1 << 30, 1 << 30, 1 << 30, 10}},
		{"middle sizes", []int{6000, 9000, 12000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tu := Tuner{}
			start := tu.Size()
			for range 10000 {
				for _, n := range tt.pattern {
					if tu.Observe(min(n, tu.Size())) {
						t.Fatalf("size moved from %d to %d", start, tu.Size())
					}
				}
			}
		})
	}
}

func TestTunerObserveAllocs(t *testing.T) {
	var tu Tuner
	if a := testing.AllocsPerRun(1000, func() { tu.Observe(tu.Size() / 2) }); a != 0 {
		t.Fatalf("Observe allocates %v times", a)
	}
}

func BenchmarkTunerObserve(b *testing.B) {
	var tu Tuner
	b.ReportAllocs()
	for b.Loop() {
		tu.Observe(tu.Size() / 2)
	}
}
