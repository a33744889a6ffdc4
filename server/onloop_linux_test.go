//go:build linux

package server

import (
	"testing"
)

// TestOnLoop: a handler called on an event loop (OnOpen, OnData, OnClose),
// however deep its own calls go, is on the loop; the pool's workers and
// other goroutines are not. A wrong yes makes a writer skip its wait for
// queue space; a wrong no makes a loop wait for itself.
func TestOnLoop(t *testing.T) {
	var deep func(n int) bool
	deep = func(n int) bool {
		if n == 0 {
			return onLoop()
		}
		return deep(n - 1)
	}
	for _, tc := range []struct {
		name   string
		engine Engine
		want   bool
	}{
		{"evented", Evented, true},
		{"evented-pool", EventedPool, false},
		{"uring", Uring, true}, // its handler runs on the loop too
	} {
		t.Run(tc.name, func(t *testing.T) {
			skipWithoutUring(t, tc.engine)
			got := make(chan [2]bool, 1)
			srv := &Server{Engine: tc.engine, Handler: HandlerFunc(func(c Conn, in []byte) {
				got <- [2]bool{onLoop(), deep(100)} // deeper than one batch of frames
				c.Write(in)
			})}
			addr := serve(t, srv, "tcp")
			c := dial(t, addr)
			checkEcho(t, roundTrip(t, c, []byte("x")), []byte("x"))
			if g := <-got; g[0] != tc.want || g[1] != tc.want {
				t.Errorf("onLoop in OnData = %v, %v at depth 100; want %v", g[0], g[1], tc.want)
			}
		})
	}
	if onLoop() {
		t.Error("onLoop in a test goroutine = true")
	}
}

// BenchmarkOnLoop is what a Write that would wait pays to learn whether it
// runs on a loop, from a test goroutine (whose stack is a few frames deep).
func BenchmarkOnLoop(b *testing.B) {
	for b.Loop() {
		if onLoop() {
			b.Fatal("on a loop")
		}
	}
}
