package server

import (
	"strings"
	"testing"
)

// TestEngineNames: every engine's name parses back to it, so a flag or a
// config file can name any of them, and an unknown name is an error that
// lists the known ones.
func TestEngineNames(t *testing.T) {
	for _, e := range []Engine{Threaded, ThreadedSyscall, Evented, EventedPool, Uring} {
		text, _ := e.MarshalText()
		var got Engine
		if err := got.UnmarshalText(text); err != nil || got != e {
			t.Errorf("%v: UnmarshalText(%q) = %v, %v", e, text, got, err)
		}
	}
	var e Engine
	if err := e.UnmarshalText([]byte("quantum")); err == nil || !strings.Contains(err.Error(), "uring") {
		t.Errorf("UnmarshalText(quantum) = %v, want an error listing the engines", err)
	}
}
