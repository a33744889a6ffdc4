package uring

import (
	"os"
	"runtime"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The tests do not run in parallel: several count this process's
// descriptors, and the unsupported-path tests swap the package's system
// call hooks.

// TestMain fails the package if any goroutine outlives the tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}

// waitTimeout bounds every wait for something that should happen at once.
const waitTimeout = 10 * time.Second

// lockThread locks the test's goroutine to its thread for the test, as a
// single-issuer ring requires.
func lockThread(t testing.TB) {
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
}

// newRing locks the thread and sets up a ring that the test closes.
func newRing(t testing.TB, cfg *Config) *Ring {
	t.Helper()
	lockThread(t)
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r
}

// sqe returns the next entry, failing the test if there is none.
func sqe(t testing.TB, r *Ring) *SQE {
	t.Helper()
	s, err := r.NextSQE()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// collect submits and gathers completions until it has n, failing the
// test after waitTimeout. The CQEs are copies.
func collect(t testing.TB, r *Ring, n int) []CQE {
	t.Helper()
	var got []CQE
	deadline := time.Now().Add(waitTimeout)
	for len(got) < n {
		if time.Now().After(deadline) {
			t.Fatalf("timed out with %d of %d completions: %+v", len(got), n, got)
		}
		if _, err := r.SubmitAndWaitTimeout(1, 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		for c := range r.CQEs() {
			got = append(got, *c)
		}
	}
	return got
}

// openFDs counts this process's open descriptors.
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}
