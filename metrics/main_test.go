package metrics_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests.
// IgnoreCurrent ignores those that exist at start: ants' default pool,
// started when ants is imported (through server), which sockpool never uses.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}
