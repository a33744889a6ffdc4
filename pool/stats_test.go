package pool_test

import (
	"testing"

	"github.com/sockpool/sockpool/pool"
)

func TestStats(t *testing.T) {
	t.Parallel()
	p := newPool(t, pool.Config{Size: 3})
	if got, want := p.Stats(), (pool.Stats{Size: 3}); got != want {
		t.Errorf("Stats of a new pool = %+v, want %+v", got, want)
	}

	release := fill(t, p, 2)
	if got, want := p.Stats(), (pool.Stats{Size: 3, Running: 2, Submitted: 2}); got != want {
		t.Errorf("Stats with 2 tasks running = %+v, want %+v", got, want)
	}

	release()
	want := pool.Stats{Size: 3, Idle: 2, Submitted: 2}
	eventually(t, "both workers to go idle", func() bool { return p.Stats() == want })

	if err := p.Close(boundedCtx(t)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got, want := p.Stats(), (pool.Stats{Size: 3, Submitted: 2}); got != want {
		t.Errorf("Stats after Close = %+v, want %+v", got, want)
	}
}
