//go:build linux

package server

import "testing"

func init() {
	engineCases = append(engineCases,
		engineCase{name: "threaded-syscall", engine: ThreadedSyscall},
		engineCase{name: "evented", engine: Evented},
		engineCase{name: "evented-pool", engine: EventedPool},
		engineCase{name: "evented-level", engine: Evented, level: true},
	)
	// Uring is a row where io_uring runs, and absent elsewhere, so that a
	// system without it still passes; TestUringRow says why it is absent.
	if uringUnavailable = Uring.Supported(); uringUnavailable == nil {
		engineCases = append(engineCases, engineCase{name: "uring", engine: Uring})
	}
}

// skipWithoutUring skips a test of engine e, in a test's own list of
// engines, where this system cannot run the uring engine.
func skipWithoutUring(t testing.TB, e Engine) {
	t.Helper()
	if e == Uring && uringUnavailable != nil {
		t.Skip(uringUnavailable)
	}
}
