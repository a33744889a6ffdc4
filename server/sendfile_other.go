//go:build !linux

package server

// canSendfile: elsewhere a range is read and written a chunk at a time.
const canSendfile = false

func sendfile(int, *fileRange) (int, error) { panic("unreachable") }
