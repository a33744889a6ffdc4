package pool

// Stats is a snapshot of a Pool's state and counters. Its fields are read
// one by one without a lock, so under load they need not add up exactly.
type Stats struct {
	// Size is the maximum number of tasks running at once.
	Size int

	// Running is the number of tasks executing now.
	Running int

	// Idle is the number of worker goroutines alive but not running a task.
	Idle int

	// Waiting is the number of Submit calls blocked waiting for a worker.
	Waiting int

	// Submitted is the number of tasks accepted since New.
	Submitted uint64

	// Rejected is the number of Submit calls that returned ErrOverload,
	// including Block-policy waits ended by their context.
	Rejected uint64

	// Panics is the number of tasks that panicked.
	Panics uint64
}

// Stats returns a snapshot of the pool's state and counters.
// It is safe to call at any time, including after Close.
func (p *Pool) Stats() Stats {
	running := int(p.running.Load())
	// ants counts a worker as running from its spawn to its exit, idle or not.
	idle := max(p.workers.Running()-running, 0)
	return Stats{
		Size:      cap(p.sem),
		Running:   running,
		Idle:      idle,
		Waiting:   int(p.waiting.Load()),
		Submitted: p.submitted.Load(),
		Rejected:  p.rejected.Load(),
		Panics:    p.panics.Load(),
	}
}
