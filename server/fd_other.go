//go:build !linux

package server

import "os"

// unsent reports that it cannot tell: without SIOCOUTQ, write progress is
// seen only as bytes the socket accepts.
func unsent(int) (int, bool) { return 0, false }

// delivered reports false: there is no telling, and a lingering close runs
// its course (see shutdownLingerEnds).
func delivered(int) bool { return false }

// dupFile is never called: without sendfile(2) a range is read through the
// caller's file during the call.
func dupFile(f *os.File) (*os.File, int, error) { panic("unreachable") }
