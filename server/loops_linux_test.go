//go:build linux

package server

import (
	"runtime"
	"testing"
)

// TestConnSlots: a loop's table gives each connection a slot of its own,
// reuses a freed slot, and only from the turn after the one that freed it.
func TestConnSlots(t *testing.T) {
	type step struct {
		op   string // "add", "remove" (conn i) or "turn"
		conn int
		slot int32 // the slot an add must give
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"new slots in order", []step{{"add", 0, 0}, {"add", 1, 1}, {"add", 2, 2}}},
		{"no reuse in the same turn", []step{
			{"add", 0, 0}, {"add", 1, 1}, {"remove", 0, 0}, {"add", 2, 2},
		}},
		{"reuse from the next turn", []step{
			{"add", 0, 0}, {"add", 1, 1}, {"remove", 0, 0}, {"turn", 0, 0}, {"add", 2, 0}, {"add", 3, 2},
		}},
		{"last freed, first reused", []step{
			{"add", 0, 0}, {"add", 1, 1}, {"add", 2, 2}, {"remove", 0, 0}, {"remove", 2, 0},
			{"turn", 0, 0}, {"add", 3, 2}, {"add", 4, 0}, {"add", 5, 3},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &loop{}
			conns := make([]*evConn, 8)
			for i := range conns {
				conns[i] = &evConn{fd: 100 + i}
			}
			for i, s := range tc.steps {
				c := conns[s.conn]
				switch s.op {
				case "add":
					l.addConn(c)
					if c.slot != s.slot {
						t.Fatalf("step %d: conn %d got slot %d, want %d", i, s.conn, c.slot, s.slot)
					}
				case "remove":
					l.removeConn(c)
				case "turn":
					l.reuseFreed()
				}
			}
			// Every connection added and not removed is at its slot, and
			// every other slot is empty.
			live := map[*evConn]bool{}
			for _, s := range tc.steps {
				switch s.op {
				case "add":
					live[conns[s.conn]] = true
				case "remove":
					live[conns[s.conn]] = false
				}
			}
			for slot, c := range l.conns {
				if c != nil && (!live[c] || c.slot != int32(slot)) {
					t.Errorf("slot %d holds conn fd %d (slot %d, live %v)", slot, c.fd, c.slot, live[c])
				}
			}
			for c, ok := range live {
				if ok && (int(c.slot) >= len(l.conns) || l.conns[c.slot] != c) {
					t.Errorf("live conn fd %d is not at its slot %d", c.fd, c.slot)
				}
			}
		})
	}
}

// TestLoopCount: Loops when set; by default one loop per P, and one fewer
// (at least one) for Uring, whose loops hold their threads.
func TestLoopCount(t *testing.T) {
	p := runtime.GOMAXPROCS(0)
	for _, tc := range []struct {
		engine Engine
		loops  int
		want   int
	}{
		{Evented, 0, p},
		{EventedPool, 0, p},
		{Uring, 0, max(1, p-1)},
		{Evented, 3, 3},
		{Uring, 3, 3},
		{Uring, 1, 1},
	} {
		s := &Server{Engine: tc.engine, Loops: tc.loops}
		if got := s.loopCount(); got != tc.want {
			t.Errorf("%v with Loops %d: %d loops at GOMAXPROCS %d, want %d", tc.engine, tc.loops, got, p, tc.want)
		}
	}
}
