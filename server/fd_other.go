//go:build !linux

package server

// delivered reports false: without SIOCOUTQ there is no telling, and a
// lingering close runs its course (see shutdownLingerEnds).
func delivered(int) bool { return false }
