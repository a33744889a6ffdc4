package main

import "fmt"

// Modes of -tls and -udp, each a boolean flag that also takes "both".
const (
	modeOff  = "off"
	modeOn   = "on"   // every echo cell over TLS (over UDP)
	modeBoth = "both" // every echo cell as usual and over TLS (UDP), side by side
)

// modeFlag is -tls or -udp: a bare -tls means on; -tls=both runs each echo
// cell both ways.
type modeFlag struct{ mode *string }

func (f modeFlag) String() string {
	if f.mode == nil {
		return modeOff
	}
	return *f.mode
}

func (f modeFlag) Set(s string) error {
	switch s {
	case "true", modeOn:
		*f.mode = modeOn
	case "false", modeOff:
		*f.mode = modeOff
	case modeBoth:
		*f.mode = modeBoth
	default:
		return fmt.Errorf("want on, off or both, got %q", s)
	}
	return nil
}

func (f modeFlag) IsBoolFlag() bool { return true }
