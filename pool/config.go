package pool

import (
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"
)

// DefaultSize is the number of tasks a Pool runs at once when Config.Size is 0.
const DefaultSize = 1024

// DefaultExpiry is how long an idle worker goroutine lives when Config.Expiry is 0.
const DefaultExpiry = 10 * time.Second

// maxSize is the largest Size the ants pool underneath can hold: its capacity is an int32.
const maxSize = math.MaxInt32

// Policy says what Submit does when Size tasks are already running.
type Policy int

const (
	// Block makes Submit wait until a running task returns and frees a worker.
	// If the context passed to Submit is done first, Submit returns an error
	// that wraps both ErrOverload and the context's error.
	Block Policy = iota

	// Reject makes Submit return ErrOverload at once.
	Reject
)

// String returns "block" or "reject", or "Policy(n)" for any other value.
func (p Policy) String() string {
	switch p {
	case Block:
		return "block"
	case Reject:
		return "reject"
	}
	return "Policy(" + strconv.Itoa(int(p)) + ")"
}

// MarshalText returns the policy's name, so a Policy can be a flag
// (flag.TextVar) or a config file value.
func (p Policy) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText sets p from its name: "block" or "reject".
func (p *Policy) UnmarshalText(b []byte) error {
	switch strings.ToLower(string(b)) {
	case "block":
		*p = Block
	case "reject":
		*p = Reject
	default:
		return fmt.Errorf("sockpool/pool: unknown policy %q (want block or reject)", b)
	}
	return nil
}

// Config configures a Pool. The zero value is valid: DefaultSize tasks at
// once, Block policy, DefaultExpiry, panics logged to a silent logger.
type Config struct {
	// Size is the maximum number of tasks running at once. 0 means
	// DefaultSize; a negative Size, or one above math.MaxInt32, makes New fail.
	Size int

	// Policy is what Submit does when Size tasks are running. The zero value
	// is Block.
	Policy Policy

	// Expiry is how long a worker goroutine may sit idle before it exits; the
	// check runs every Expiry, so an idle worker lives between one and two
	// Expiry periods. 0 means DefaultExpiry; negative makes New fail.
	Expiry time.Duration

	// PanicHandler is called, on the worker goroutine and before the worker
	// is freed, with the value of a recovered task panic and the stack of the
	// panicking goroutine. The panic has already been counted in
	// Stats.Panics and the worker keeps serving. A panic in PanicHandler is
	// recovered and logged too. nil means log the task's panic at Error
	// level with Logger.
	PanicHandler func(v any, stack []byte)

	// Logger receives the pool's log records. nil means discard them.
	Logger *slog.Logger
}

// validate reports the first invalid field of c.
func (c *Config) validate() error {
	switch {
	case c.Size < 0:
		return fmt.Errorf("sockpool/pool: Size must not be negative, got %d", c.Size)
	case c.Size > maxSize:
		return fmt.Errorf("sockpool/pool: Size must not be larger than %d, got %d", maxSize, c.Size)
	case c.Policy != Block && c.Policy != Reject:
		return fmt.Errorf("sockpool/pool: unknown Policy %d", int(c.Policy))
	case c.Expiry < 0:
		return fmt.Errorf("sockpool/pool: Expiry must not be negative, got %v", c.Expiry)
	}
	return nil
}
