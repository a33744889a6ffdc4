//go:build linux

package server

import "os"

func init() {
	if os.Getenv("URING_ONLY") != "" {
		engineCases = []engineCase{uringCase}
	}
}
