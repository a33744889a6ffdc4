package main

import "testing"

// TestHotPathAllocs checks that GET, SET of an existing key, INCR and PING
// allocate nothing per command.
func TestHotPathAllocs(t *testing.T) {
	h := &handler{store: newStore(), limits: limits{maxBulk: 1024}}
	cmds := []*argv{
		argvOf("SET", "key:__rand_int__", "xxx"),
		argvOf("get", "key:__rand_int__"),
		argvOf("INCR", "counter:__rand_int__"),
		argvOf("PING"),
		argvOf("MGET", "key:__rand_int__", "nope"),
	}
	out := make([]byte, 0, 1024)
	for _, args := range cmds {
		h.exec(out[:0], args) // create the keys
	}
	for _, args := range cmds {
		n := testing.AllocsPerRun(200, func() { h.exec(out[:0], args) })
		if n != 0 {
			t.Errorf("%s: %v allocations per command, want 0", args.at(0), n)
		}
	}
}
