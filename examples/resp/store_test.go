package main

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// fakeClock is a store clock that moves only when told to.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestStoreExpiry(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	h := &handler{store: newStore(), limits: limits{maxBulk: 1024}}
	h.store.now = clock.now
	run := func(cmd ...string) string {
		out, _ := h.exec(nil, argvOf(cmd...))
		return string(out)
	}
	steps := []struct {
		advance time.Duration
		cmd     []string
		want    string
	}{
		{0, []string{"SET", "s", "v", "EX", "10"}, "+OK\r\n"},
		{0, []string{"SET", "p", "v", "px", "1500"}, "+OK\r\n"},
		{0, []string{"SET", "n", "5", "PX", "1000"}, "+OK\r\n"},
		{0, []string{"INCR", "n"}, ":6\r\n"},
		{999 * time.Millisecond, []string{"GET", "n"}, "$1\r\n6\r\n"},
		{time.Millisecond, []string{"GET", "n"}, "$-1\r\n"}, // INCR kept the TTL
		{0, []string{"EXISTS", "s", "p", "n"}, ":2\r\n"},
		{0, []string{"SET", "p", "w", "KEEPTTL"}, "+OK\r\n"},
		{500 * time.Millisecond, []string{"GET", "p"}, "$-1\r\n"},
		{0, []string{"SET", "p", "new", "NX"}, "+OK\r\n"}, // expired keys do not block NX
		{0, []string{"SET", "s", "v2"}, "+OK\r\n"},        // a plain SET drops the TTL
		{time.Hour, []string{"GET", "s"}, "$2\r\nv2\r\n"},
		{0, []string{"SET", "s", "v", "EX", "0"}, "-ERR invalid expire time in 'set' command\r\n"},
		{0, []string{"SET", "s", "v", "PX", "-5"}, "-ERR invalid expire time in 'set' command\r\n"},
		{0, []string{"SET", "s", "v", "EX", "9223372036854775807"}, "-ERR invalid expire time in 'set' command\r\n"},
		{0, []string{"SET", "s", "v", "EX", "ten"}, "-ERR value is not an integer or out of range\r\n"},
		{0, []string{"SET", "s", "v", "EX"}, "-ERR syntax error\r\n"},
		{0, []string{"SET", "s", "v", "EX", "1", "PX", "1"}, "-ERR syntax error\r\n"},
		{0, []string{"SET", "s", "v", "NX", "XX"}, "-ERR syntax error\r\n"},
		{0, []string{"SET", "s", "v", "KEEPTTL", "EX", "1"}, "-ERR syntax error\r\n"},
		{0, []string{"SET", "s", "v", "BOGUS"}, "-ERR syntax error\r\n"},
		{0, []string{"SET", "absent", "v", "XX"}, "$-1\r\n"},
		{0, []string{"GET", "s"}, "$2\r\nv2\r\n"},
	}
	for i, st := range steps {
		clock.advance(st.advance)
		if got := run(st.cmd...); got != st.want {
			t.Errorf("step %d %q: got %q, want %q", i, st.cmd, got, st.want)
		}
	}
}

func TestStoreIncr(t *testing.T) {
	t.Parallel()
	s := newStore()
	s.set([]byte("max"), []byte("9223372036854775806"), 0, false, setAlways)
	s.set([]byte("neg"), []byte("-3"), 0, false, setAlways)
	s.set([]byte("sp"), []byte(" 1"), 0, false, setAlways)
	cases := []struct {
		key  string
		want int64
		err  error
	}{
		{"new", 1, nil}, {"new", 2, nil},
		{"max", 1<<63 - 1, nil}, {"max", 0, errOverflow},
		{"neg", -2, nil},
		{"sp", 0, errNotInteger},
	}
	for _, tc := range cases {
		if got, err := s.incr([]byte(tc.key)); got != tc.want || err != tc.err {
			t.Errorf("incr %s = %d, %v; want %d, %v", tc.key, got, err, tc.want, tc.err)
		}
	}
}

// TestStoreConcurrent runs INCR and SET/GET from many goroutines; with -race
// it checks the locking, and the final count checks that no INCR was lost.
func TestStoreConcurrent(t *testing.T) {
	t.Parallel()
	s := newStore()
	const workers, rounds = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			key := []byte(fmt.Sprint("k", w))
			var out []byte
			for i := range rounds {
				s.incr([]byte("counter"))
				s.set(key, fmt.Append(nil, i), 0, false, setAlways)
				out = s.appendGet(out[:0], key)
				if want := fmt.Sprintf("$%d\r\n%d\r\n", len(fmt.Sprint(i)), i); string(out) != want {
					t.Errorf("GET %s = %q, want %q", key, out, want)
					return
				}
			}
		})
	}
	wg.Wait()
	if got, _ := s.incr([]byte("counter")); got != workers*rounds+1 {
		t.Errorf("counter = %d, want %d", got, workers*rounds+1)
	}
}
