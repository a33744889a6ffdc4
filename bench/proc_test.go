package main

import (
	"errors"
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		stat string
		want time.Duration
		ok   bool
	}{
		// utime 250 and stime 50 ticks: 3 s.
		{"plain", "4242 (bench) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 4 0 100 1000000 500", 3 * time.Second, true},
		{"odd name", "4242 (a) b (c) S 1 4242 4242 0 -1 4194560 1000 0 0 0 7 3 0 0 20 0 4 0 100 1000000 500", 100 * time.Millisecond, true},
		{"no name", "4242 bench S 1", 0, false},
		{"short", "4242 (bench) S 1 2 3", 0, false},
		{"not a number", "4242 (bench) S 1 4242 4242 0 -1 4194560 1000 0 0 0 x 50 0", 0, false},
	}
	for _, tc := range cases {
		got, err := parseStatCPU([]byte(tc.stat))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%s: got %v, %v; want %v, ok %v", tc.name, got, err, tc.want, tc.ok)
		}
	}
}

func TestProcSelf(t *testing.T) {
	t.Parallel()
	pid := os.Getpid()
	if _, err := procCPU(pid); err != nil {
		t.Errorf("procCPU(self): %v", err)
	}
	rss, err := procMem(pid, "VmRSS")
	if err != nil || rss <= 0 {
		t.Errorf("VmRSS of self = %d, %v", rss, err)
	}
	if hwm, err := procMem(pid, "VmHWM"); err != nil || hwm < rss/2 {
		t.Errorf("VmHWM of self = %d, %v (VmRSS %d)", hwm, err, rss)
	}
	if _, err := procMem(pid, "VmNothing"); !errors.Is(err, errNoField) {
		t.Errorf("missing field: %v, want errNoField", err)
	}
}
