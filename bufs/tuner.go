package bufs

// Defaults for a Tuner's zero fields.
const (
	DefaultTunerStart = 16 << 10  // the size a Tuner starts at
	DefaultTunerMax   = 256 << 10 // the largest size a Tuner picks
)

// A Tuner picks a read-buffer size class from the reads it observes. Reads
// that keep filling the buffer say the sender has more than the buffer holds
// at once, so each read costs a syscall and a handler call for only part of
// a message: the Tuner moves up one class. Reads that keep using a quarter of
// the buffer or less move it down one class. Anything in between leaves the
// size alone, and a move needs a streak of agreeing reads, so a workload that
// alternates large and small reads does not make the size flap.
//
// The zero value starts at DefaultTunerStart and moves between MinSize and
// DefaultTunerMax; set Min, Max or Start before the first call to change
// that. A Tuner is meant for one owner (a connection or an event loop) and
// is not safe for concurrent use: a shared one would put every read of every
// core on one cache line, and would average workloads that differ per
// connection.
type Tuner struct {
	// Min and Max bound the size; they are rounded to size classes.
	// Defaults MinSize and DefaultTunerMax.
	Min, Max int
	// Start is the first size, clamped to [Min, Max]. Default
	// DefaultTunerStart.
	Start int

	size  int   // current size; 0 before first use
	full  uint8 // consecutive reads that filled the buffer
	small uint8 // consecutive reads that used a quarter of it or less
}

// Streak lengths: how many agreeing reads move the size one class. Growing
// is quicker than shrinking, since a buffer that is too small costs
// throughput while one that is too large only costs memory.
const (
	growAfter   = 4
	shrinkAfter = 32
)

// Size returns the buffer size to read into next.
func (t *Tuner) Size() int {
	if t.size == 0 {
		t.init()
	}
	return t.size
}

func (t *Tuner) init() {
	lo, hi := t.Bounds()
	start := t.Start
	if start <= 0 {
		start = DefaultTunerStart
	}
	t.size = min(max(ClassSize(start), lo), hi)
}

// Bounds returns the smallest and largest sizes the Tuner picks: Min and Max
// rounded to size classes, with their defaults.
func (t *Tuner) Bounds() (lo, hi int) {
	lo, hi = ClassSize(t.Min), ClassSize(DefaultTunerMax)
	if t.Max > 0 {
		hi = ClassSize(t.Max)
	}
	if hi < lo {
		hi = lo
	}
	return lo, hi
}

// Observe records that a read into a buffer of Size() bytes returned n bytes,
// and reports whether Size changed. It is a few comparisons: cheap enough
// for every read.
func (t *Tuner) Observe(n int) (changed bool) {
	size := t.Size()
	switch {
	case n >= size:
		t.small = 0
		if t.full++; t.full < growAfter {
			return false
		}
		t.full = 0
		if _, hi := t.Bounds(); size < hi {
			t.size = size * 2
			return true
		}
	case n <= size/4:
		t.full = 0
		if t.small++; t.small < shrinkAfter {
			return false
		}
		t.small = 0
		if lo, _ := t.Bounds(); size > lo {
			t.size = size / 2
			return true
		}
	default:
		t.full, t.small = 0, 0
	}
	return false
}
