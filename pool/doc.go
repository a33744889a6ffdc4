// Package pool runs tasks on a bounded set of reused goroutines.
//
// A Pool never runs more than Config.Size tasks at once. When that many are
// running, Submit either waits for one to finish (Block, the default) or fails
// at once with ErrOverload (Reject). The wait is bounded by the context passed
// to Submit, and Close wakes every waiting submitter. A task that panics is
// recovered and counted; its worker goroutine lives on.
//
// The server package's threaded engine runs one long-lived task per
// connection, so there Size is the maximum number of connections served at
// once; the evented engine uses the pool only for Dispatch Pool handler calls.
//
//	p, err := pool.New(pool.Config{Size: 64})
//	if err != nil {
//		return err
//	}
//	if err := p.Submit(ctx, func() { serve(conn) }); err != nil {
//		conn.Close() // ErrOverload or ErrClosed: shed the connection
//	}
//	...
//	// Unblock long-lived tasks (close their connections) before Close:
//	// Close waits for every running task to return.
//	if err := p.Close(shutdownCtx); err != nil {
//		log.Printf("pool: %v", err)
//	}
//
// Workers come from github.com/panjf2000/ants/v2; each Pool owns its own ants
// pool and releases it, with all its goroutines, in Close.
package pool
