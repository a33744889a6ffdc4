//go:build !linux

package main

import "errors"

// setAffinity is Linux only.
func setAffinity(int, []int) error {
	return errors.New("bench: -pin needs Linux (sched_setaffinity)")
}
