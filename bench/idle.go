package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// idleProbeSize is the size of the one echo each idle connection makes.
const idleProbeSize = 64

// An idleResult is what an idle-connection cell measured.
type idleResult struct {
	RSSBefore int64 // server VmRSS with one connection open
	RSSAfter  int64 // server VmRSS with all n open and served
	Errors    int64
	FirstErr  error
}

// runIdle opens n connections to addr, makes each echo one checked message
// (so that each is known to be accepted and served, not waiting in the
// backlog), and reads the server's resident memory before and after. The
// connections are closed when it returns. rss reads the server's VmRSS.
func runIdle(ctx context.Context, addr string, n int, seed uint64, rss func() (int64, error)) *idleResult {
	res := &idleResult{}
	fail := func(count int, err error) *idleResult {
		res.Errors += int64(count)
		if res.FirstErr == nil {
			res.FirstErr = err
		}
		return res
	}
	// One connection served first, so the server's per-process start-up
	// costs (first buffers, first loop wake-up) are in the baseline.
	warm, failed, err := dialAll(ctx, "tcp", addr, 1, nil)
	if err != nil {
		return fail(failed, err)
	}
	defer closeAll(warm)
	if err := probe(warm[0], seed, n); err != nil {
		return fail(1, fmt.Errorf("warm-up conn: %w", err))
	}
	if res.RSSBefore, err = rss(); err != nil {
		return fail(0, err)
	}

	conns, failed, err := dialAll(ctx, "tcp", addr, n, nil)
	if err != nil {
		return fail(failed, err)
	}
	defer closeAll(conns)
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		sem = make(chan struct{}, dialParallel)
	)
	for i, c := range conns {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := probe(c, seed, i); err != nil {
				mu.Lock()
				fail(1, fmt.Errorf("conn %d: %w", i, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if res.FirstErr != nil {
		return res
	}
	if res.RSSAfter, err = rss(); err != nil {
		return fail(0, err)
	}
	return res
}

// probe makes connection id echo one message and checks it.
func probe(c net.Conn, seed uint64, id int) error {
	msg := newPattern(seed, uint64(id), idleProbeSize).next()
	c.SetDeadline(time.Now().Add(dialTimeout))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(msg); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	got := make([]byte, len(msg))
	if n, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("%w: %d of %d bytes: %w", errShortRead, n, len(msg), err)
	}
	if !bytes.Equal(got, msg) {
		return mismatch(got, msg)
	}
	return nil
}
