//go:build !unix

package main

import (
	"math"
	"time"
)

// selfCPU is not measured here (no getrusage): the client CPU column reads 0%.
func selfCPU() time.Duration { return 0 }

// raiseFileLimit has nothing to raise on systems without RLIMIT_NOFILE.
func raiseFileLimit() error { return nil }

// fileLimit reports no limit on systems without RLIMIT_NOFILE.
func fileLimit() uint64 { return math.MaxUint64 }
