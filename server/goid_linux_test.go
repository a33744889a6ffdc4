//go:build linux

package server

import "testing"

func TestGoid(t *testing.T) {
	a := goid()
	ch := make(chan uint64)
	go func() { ch <- goid() }()
	b := <-ch
	if a == 0 || b == 0 || a == b {
		t.Fatalf("goid %d %d", a, b)
	}
}
