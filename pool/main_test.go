package pool_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sockpool/sockpool/pool"
)

// TestMain fails the run if any goroutine outlives the tests. ants starts
// two goroutines for its default pool when it is imported, with
// (*poolCommon).purgeStaleWorkers and (*poolCommon).ticktock on top.
// IgnoreCurrent ignores exactly those, by goroutine: ignoring those
// functions by name would also hide the same two goroutines of any of our
// Pools that Close failed to release.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}

// waitTimeout bounds every wait in these tests for a condition that should
// hold almost at once.
const waitTimeout = 10 * time.Second

// newPool returns a Pool that is closed, and checked to drain, when the
// test ends.
func newPool(t *testing.T, cfg pool.Config) *pool.Pool {
	t.Helper()
	p, err := pool.New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := p.Close(ctx); err != nil && !errors.Is(err, pool.ErrClosed) {
			t.Errorf("Close at cleanup: %v", err)
		}
	})
	return p
}

// eventually polls cond until it holds, failing the test after waitTimeout.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

// boundedCtx returns a context that ends after waitTimeout, so that a
// regression fails the test instead of hanging it.
func boundedCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// receive returns the next value from ch, failing the test after waitTimeout.
func receive[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// fill submits n tasks that block until the returned release func is
// called, and returns once all n are running. release is idempotent and is
// also called at cleanup, before the pool is closed.
func fill(t *testing.T, p *pool.Pool, n int) (release func()) {
	t.Helper()
	gate := make(chan struct{})
	var started sync.WaitGroup
	for i := range n {
		started.Add(1)
		err := p.Submit(boundedCtx(t), func() {
			started.Done()
			<-gate
		})
		if err != nil {
			t.Fatalf("Submit blocking task %d: %v", i, err)
		}
	}
	started.Wait()
	release = sync.OnceFunc(func() { close(gate) })
	t.Cleanup(release) // runs before newPool's Close: cleanups are LIFO
	return release
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (lw *lockedWriter) Write(b []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.w.Write(b)
}
