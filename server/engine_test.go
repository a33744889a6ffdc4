package server

import (
	"errors"
	"runtime"
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

// TestEngineSupported: the threaded engines run everywhere, the evented
// ones on Linux (where Uring depends on the kernel, which TestUringRow and
// TestUringRefused cover), and an engine that does not exist is an error
// naming it.
func TestEngineSupported(t *testing.T) {
	linux := runtime.GOOS == "linux"
	for _, tc := range []struct {
		engine Engine
		ok     bool
	}{
		{Threaded, true},
		{ThreadedSyscall, true},
		{Evented, linux},
		{EventedPool, linux},
		{Engine(42), false},
	} {
		err := tc.engine.Supported()
		switch {
		case tc.ok && err != nil:
			t.Errorf("%v.Supported() = %v, want nil", tc.engine, err)
		case !tc.ok && err == nil:
			t.Errorf("%v.Supported() = nil, want an error", tc.engine)
		case !tc.ok && tc.engine != Engine(42) && !errors.Is(err, ErrEngineUnsupported):
			t.Errorf("%v.Supported() = %v, want ErrEngineUnsupported", tc.engine, err)
		case !tc.ok && tc.engine == Engine(42) && !strings.Contains(err.Error(), "Engine(42)"):
			t.Errorf("Engine(42).Supported() = %v, want the engine named", err)
		}
	}
	if !linux && !errors.Is(Uring.Supported(), ErrEngineUnsupported) {
		t.Errorf("Uring.Supported() = %v off Linux, want ErrEngineUnsupported", Uring.Supported())
	}
}
