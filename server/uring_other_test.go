//go:build !linux

package server

// uringReadsFixed: the uring engine runs on Linux only (uring_linux_test.go).
func uringReadsFixed(*Server) bool { return false }
