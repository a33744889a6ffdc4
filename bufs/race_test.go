//go:build race

package bufs_test

// raceEnabled reports a -race build. Under the race detector sync.Pool drops
// a quarter of Puts at random, so allocation counts are not meaningful.
const raceEnabled = true
