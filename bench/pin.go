package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// A pinning puts the server and the client (bench itself) on CPU sets of
// their own, so that on a small machine they do not take turns on the same
// cores and the server's CPU figures mean one thing.
type pinning struct {
	server, client []int
}

// parsePin parses -pin: "SERVER/CLIENT", each a CPU list such as "0",
// "0-1" or "0,2-3". An empty string is no pinning.
func parsePin(s string) (*pinning, error) {
	if s == "" {
		return nil, nil
	}
	srv, cli, ok := strings.Cut(s, "/")
	if !ok {
		return nil, fmt.Errorf("-pin %q: want SERVER/CLIENT CPU lists, e.g. 0/1", s)
	}
	var p pinning
	var err error
	if p.server, err = parseCPUList(srv); err != nil {
		return nil, fmt.Errorf("-pin server: %w", err)
	}
	if p.client, err = parseCPUList(cli); err != nil {
		return nil, fmt.Errorf("-pin client: %w", err)
	}
	return &p, nil
}

// parseCPUList parses a CPU list like "0,2-3" into CPU numbers below
// runtime.NumCPU().
func parseCPUList(s string) ([]int, error) {
	var cpus []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || a < 0 || b < a {
			return nil, fmt.Errorf("bad CPU list %q", s)
		}
		for c := a; c <= b; c++ {
			if c >= runtime.NumCPU() {
				return nil, fmt.Errorf("CPU %d: this machine has %d", c, runtime.NumCPU())
			}
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}

// pinProcess sets the CPU affinity of every thread of process pid. A thread
// inherits its creator's affinity, so threads started later follow; the
// task list is read again until no unpinned thread is left.
func pinProcess(pid int, cpus []int) error {
	pinned := make(map[int]bool)
	for range 10 {
		entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			return fmt.Errorf("pin: %w", err)
		}
		fresh := 0
		for _, e := range entries {
			tid, err := strconv.Atoi(e.Name())
			if err != nil || pinned[tid] {
				continue
			}
			if err := setAffinity(tid, cpus); err != nil {
				return fmt.Errorf("pin thread %d of %d: %w", tid, pid, err)
			}
			pinned[tid] = true
			fresh++
		}
		if fresh == 0 {
			return nil
		}
	}
	return errors.New("bench: pin: the process keeps starting threads")
}
