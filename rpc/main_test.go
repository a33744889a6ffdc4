package rpc_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests: every
// test closes its clients, servers and rpc.Servers. IgnoreCurrent ignores
// the goroutines that exist at start, ants' default pool.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}
