package pool_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockpool/sockpool/pool"
)

// TestBound checks that no more than Size tasks ever run at once, with many
// more submitters than workers.
func TestBound(t *testing.T) {
	t.Parallel()
	const (
		size       = 4
		submitters = 64
		tasks      = 1000
	)
	for _, policy := range []pool.Policy{pool.Block, pool.Reject} {
		t.Run(policy.String(), func(t *testing.T) {
			t.Parallel()
			p := newPool(t, pool.Config{Size: size, Policy: policy})
			ctx := boundedCtx(t)
			var (
				next, ran, rejected atomic.Int64
				running, maxRunning atomic.Int64
				done                sync.WaitGroup
				submitting          sync.WaitGroup
			)
			task := func() {
				defer done.Done()
				n := running.Add(1)
				for m := maxRunning.Load(); n > m && !maxRunning.CompareAndSwap(m, n); m = maxRunning.Load() {
				}
				runtime.Gosched() // let other workers overlap this one
				ran.Add(1)
				running.Add(-1)
			}
			for range submitters {
				submitting.Go(func() {
					for next.Add(1) <= tasks {
						done.Add(1)
						if err := p.Submit(ctx, task); err != nil {
							done.Done()
							if policy == pool.Reject && errors.Is(err, pool.ErrOverload) {
								rejected.Add(1)
								continue
							}
							t.Errorf("Submit: %v", err)
							return
						}
					}
				})
			}
			submitting.Wait()
			done.Wait()

			if m := maxRunning.Load(); m > size || m < 1 {
				t.Errorf("max tasks running at once = %d, want 1..%d", m, size)
			}
			st := p.Stats()
			if got := ran.Load() + rejected.Load(); got != tasks {
				t.Errorf("ran %d + rejected %d = %d, want %d", ran.Load(), rejected.Load(), got, tasks)
			}
			if policy == pool.Block && ran.Load() != tasks {
				t.Errorf("ran %d tasks under Block, want %d", ran.Load(), tasks)
			}
			if st.Submitted != uint64(ran.Load()) || st.Rejected != uint64(rejected.Load()) {
				t.Errorf("Stats Submitted=%d Rejected=%d, want %d and %d", st.Submitted, st.Rejected, ran.Load(), rejected.Load())
			}
			if err := p.Close(boundedCtx(t)); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

func TestReject(t *testing.T) {
	t.Parallel()
	p := newPool(t, pool.Config{Size: 2, Policy: pool.Reject})
	release := fill(t, p, 2)

	// A canceled context must not matter: Reject never waits.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []context.Context{context.Background(), ctx} {
		if err := p.Submit(c, func() { t.Error("rejected task ran") }); !errors.Is(err, pool.ErrOverload) {
			t.Fatalf("Submit to a full pool = %v, want ErrOverload", err)
		}
	}
	if st := p.Stats(); st.Rejected != 2 || st.Submitted != 2 || st.Waiting != 0 {
		t.Errorf("Stats = %+v, want Rejected 2, Submitted 2, Waiting 0", st)
	}

	release()
	ran := make(chan struct{})
	eventually(t, "a Submit to be accepted once a worker is free", func() bool {
		return p.Submit(boundedCtx(t), func() { close(ran) }) == nil
	})
	receive(t, "the task to run", ran)
}

func TestBlockDeadline(t *testing.T) {
	t.Parallel()
	p := newPool(t, pool.Config{Size: 1})
	fill(t, p, 1)

	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		errc <- p.Submit(ctx, func() { t.Error("timed-out task ran") })
	}()
	// This can only fail if the machine stalls this test for the whole 50 ms.
	eventually(t, "Stats.Waiting == 1", func() bool { return p.Stats().Waiting == 1 })

	err := receive(t, "Submit to time out", errc)
	if !errors.Is(err, pool.ErrOverload) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Submit = %v, want an error that is ErrOverload and context.DeadlineExceeded", err)
	}
	if st := p.Stats(); st.Waiting != 0 || st.Rejected != 1 || st.Submitted != 1 {
		t.Errorf("Stats = %+v, want Waiting 0, Rejected 1, Submitted 1", st)
	}
}

// TestDoneContextFreeWorker checks the documented contract that ctx bounds
// only the wait: with a free worker, a done ctx does not stop Submit.
func TestDoneContextFreeWorker(t *testing.T) {
	t.Parallel()
	p := newPool(t, pool.Config{Size: 1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := make(chan struct{})
	if err := p.Submit(ctx, func() { close(ran) }); err != nil {
		t.Fatalf("Submit with a done ctx to a free pool: %v", err)
	}
	receive(t, "the task to run", ran)
}

func TestNilArguments(t *testing.T) {
	t.Parallel()
	p := newPool(t, pool.Config{Size: 1})
	if err := p.Submit(nil, func() {}); err == nil {
		t.Error("Submit(nil ctx) = nil, want an error")
	}
	if err := p.Submit(boundedCtx(t), nil); err == nil {
		t.Error("Submit(nil task) = nil, want an error")
	}
	if err := p.Close(nil); err == nil || errors.Is(err, pool.ErrClosed) {
		t.Errorf("Close(nil) = %v, want a nil-Context error", err)
	}
	if st := p.Stats(); st.Submitted != 0 || st.Rejected != 0 {
		t.Errorf("Stats = %+v, want nothing counted", st)
	}
}

func TestPanic(t *testing.T) {
	t.Parallel()
	type report struct {
		v     any
		stack []byte
	}
	tests := []struct {
		name    string
		handler func(reports chan<- report) func(any, []byte)
		wantLog []string // substrings of the log; nil means the log must be empty
	}{
		{
			name: "handler",
			handler: func(reports chan<- report) func(any, []byte) {
				return func(v any, stack []byte) { reports <- report{v, stack} }
			},
		},
		{
			name:    "nil handler logs",
			wantLog: []string{`"level":"ERROR"`, "task panicked", `"panic":"boom"`, `"stack":"goroutine `},
		},
		{
			// Recovered too: the worker survives, the pool still works.
			name: "panicking handler",
			handler: func(reports chan<- report) func(any, []byte) {
				return func(v any, stack []byte) {
					reports <- report{v, stack}
					panic("handler broke")
				}
			},
			wantLog: []string{`"level":"ERROR"`, "PanicHandler panicked", `"panic":"handler broke"`, `"task_panic":"boom"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var (
				logMu  sync.Mutex
				logBuf bytes.Buffer
			)
			reports := make(chan report, 1)
			cfg := pool.Config{
				Size:   1, // one worker: later tasks prove it survived or was replaced
				Logger: slog.New(slog.NewJSONHandler(&lockedWriter{mu: &logMu, w: &logBuf}, nil)),
			}
			if tt.handler != nil {
				cfg.PanicHandler = tt.handler(reports)
			}
			p := newPool(t, cfg)

			if err := p.Submit(boundedCtx(t), func() { panic("boom") }); err != nil {
				t.Fatalf("Submit: %v", err)
			}
			if tt.handler != nil {
				r := receive(t, "PanicHandler", reports)
				if r.v != "boom" {
					t.Errorf("PanicHandler value = %v, want boom", r.v)
				}
				if !bytes.Contains(r.stack, []byte("TestPanic")) {
					t.Errorf("PanicHandler stack does not show the panicking task:\n%s", r.stack)
				}
			}
			eventually(t, "Stats.Panics == 1", func() bool { return p.Stats().Panics == 1 })

			const more = 10
			var ran atomic.Int64
			var wg sync.WaitGroup
			for range more {
				wg.Add(1)
				if err := p.Submit(boundedCtx(t), func() { ran.Add(1); wg.Done() }); err != nil {
					t.Fatalf("Submit after panic: %v", err)
				}
			}
			wg.Wait()
			st := p.Stats()
			if ran.Load() != more || st.Panics != 1 || st.Size != 1 || st.Submitted != more+1 {
				t.Errorf("after panic: ran %d, Stats %+v; want ran %d, Panics 1, Size 1, Submitted %d", ran.Load(), st, more, more+1)
			}

			if err := p.Close(boundedCtx(t)); err != nil {
				t.Fatalf("Close: %v", err)
			}
			logMu.Lock()
			log := logBuf.String()
			logMu.Unlock()
			if tt.wantLog == nil && log != "" {
				t.Errorf("unexpected log output:\n%s", log)
			}
			for _, want := range tt.wantLog {
				if !strings.Contains(log, want) {
					t.Errorf("log does not contain %s:\n%s", want, log)
				}
			}
		})
	}
}

func TestClose(t *testing.T) {
	t.Parallel()

	t.Run("waits for running tasks", func(t *testing.T) {
		t.Parallel()
		p := newPool(t, pool.Config{Size: 2})
		var finished atomic.Bool
		gate := make(chan struct{})
		started := make(chan struct{})
		if err := p.Submit(boundedCtx(t), func() {
			close(started)
			<-gate
			finished.Store(true)
		}); err != nil {
			t.Fatalf("Submit: %v", err)
		}
		receive(t, "the task to start", started)

		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if err := p.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Close with a task still running = %v, want context.DeadlineExceeded", err)
		}
		if err := p.Submit(boundedCtx(t), func() { t.Error("task ran after Close") }); !errors.Is(err, pool.ErrClosed) {
			t.Errorf("Submit after a timed-out Close = %v, want ErrClosed", err)
		}

		// A second Close goes on waiting, and returns nil once the task is done.
		close(gate)
		if err := p.Close(boundedCtx(t)); err != nil {
			t.Fatalf("second Close = %v, want nil", err)
		}
		if !finished.Load() {
			t.Error("Close returned nil before the running task returned")
		}
		if st := p.Stats(); st.Running != 0 || st.Idle != 0 || st.Submitted != 1 {
			t.Errorf("Stats after Close = %+v, want Running 0, Idle 0, Submitted 1", st)
		}
		if err := p.Close(boundedCtx(t)); !errors.Is(err, pool.ErrClosed) {
			t.Errorf("Close after a successful Close = %v, want ErrClosed", err)
		}
	})

	t.Run("submit after close", func(t *testing.T) {
		t.Parallel()
		for _, policy := range []pool.Policy{pool.Block, pool.Reject} {
			p := newPool(t, pool.Config{Size: 1, Policy: policy})
			if err := p.Close(boundedCtx(t)); err != nil {
				t.Fatalf("Close of an unused %v pool: %v", policy, err)
			}
			if err := p.Submit(boundedCtx(t), func() { t.Error("task ran after Close") }); !errors.Is(err, pool.ErrClosed) {
				t.Errorf("%v: Submit after Close = %v, want ErrClosed", policy, err)
			}
		}
	})

	t.Run("wakes blocked submitters", func(t *testing.T) {
		t.Parallel()
		const blocked = 3
		p := newPool(t, pool.Config{Size: 1})
		release := fill(t, p, 1)

		errc := make(chan error, blocked)
		for range blocked {
			go func() {
				errc <- p.Submit(boundedCtx(t), func() { t.Error("blocked task ran after Close") })
			}()
		}
		eventually(t, "all submitters to wait", func() bool { return p.Stats().Waiting == blocked })

		closed := make(chan error, 1)
		go func() { closed <- p.Close(boundedCtx(t)) }()
		for range blocked {
			if err := receive(t, "a blocked Submit to return", errc); !errors.Is(err, pool.ErrClosed) {
				t.Errorf("blocked Submit woken by Close = %v, want ErrClosed", err)
			}
		}
		release()
		if err := receive(t, "Close to return", closed); err != nil {
			t.Errorf("Close = %v, want nil", err)
		}
		if st := p.Stats(); st.Waiting != 0 || st.Rejected != 0 {
			t.Errorf("Stats = %+v, want Waiting 0 and Rejected 0 (ErrClosed is not a rejection)", st)
		}
	})

	t.Run("concurrent", func(t *testing.T) {
		t.Parallel()
		const closers = 4
		p := newPool(t, pool.Config{Size: 2})
		release := fill(t, p, 2)
		errc := make(chan error, closers)
		for range closers {
			go func() { errc <- p.Close(boundedCtx(t)) }()
		}
		release()
		var nils int
		for range closers {
			switch err := receive(t, "Close to return", errc); {
			case err == nil:
				nils++
			case !errors.Is(err, pool.ErrClosed):
				t.Errorf("concurrent Close = %v, want nil or ErrClosed", err)
			}
		}
		if nils != 1 {
			t.Errorf("%d concurrent Close calls returned nil, want exactly 1", nils)
		}
	})

	// Submit and Close racing: every Submit either runs its task before
	// Close returns or fails with ErrClosed.
	t.Run("racing submits", func(t *testing.T) {
		t.Parallel()
		p := newPool(t, pool.Config{Size: 4})
		ctx := boundedCtx(t)
		var accepted, ran atomic.Int64
		var submitters sync.WaitGroup
		for range 16 {
			submitters.Go(func() {
				for {
					err := p.Submit(ctx, func() { ran.Add(1) })
					if errors.Is(err, pool.ErrClosed) {
						return
					}
					if err != nil {
						t.Errorf("Submit: %v", err)
						return
					}
					accepted.Add(1)
				}
			})
		}
		eventually(t, "some tasks to run", func() bool { return ran.Load() > 100 })
		if err := p.Close(boundedCtx(t)); err != nil {
			t.Fatalf("Close: %v", err)
		}
		ranAtClose := ran.Load()
		submitters.Wait()
		if got := accepted.Load(); got != ranAtClose || ran.Load() != ranAtClose {
			t.Errorf("accepted %d tasks, %d ran before Close returned, %d in all", got, ranAtClose, ran.Load())
		}
	})
}

// TestExpiry checks that idle workers exit after Config.Expiry.
func TestExpiry(t *testing.T) {
	t.Parallel()
	p := newPool(t, pool.Config{Size: 2, Expiry: 10 * time.Millisecond})
	fill(t, p, 2)() // start two workers, then release them
	eventually(t, "idle workers to expire", func() bool {
		st := p.Stats()
		return st.Running == 0 && st.Idle == 0
	})
	ran := make(chan struct{})
	if err := p.Submit(boundedCtx(t), func() { close(ran) }); err != nil {
		t.Fatalf("Submit after workers expired: %v", err)
	}
	receive(t, "the task to run", ran)
}

func BenchmarkSubmit(b *testing.B) {
	for _, size := range []int{1, 64} {
		b.Run("size="+strconv.Itoa(size), func(b *testing.B) {
			p, err := pool.New(pool.Config{Size: size})
			if err != nil {
				b.Fatal(err)
			}
			var ran atomic.Int64
			task := func() { ran.Add(1) } // one closure for all: count Submit's allocations only
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := p.Submit(ctx, task); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if err := p.Close(ctx); err != nil {
				b.Fatal(err)
			}
			if ran.Load() != int64(b.N) {
				b.Fatalf("ran %d tasks, want %d", ran.Load(), b.N)
			}
		})
	}
}
