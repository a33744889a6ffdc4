package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in nanoseconds, from 1 ns to a minute, to three
// significant digits: a loopback round trip of 12.3 µs keeps its 0.1 µs.
const (
	histMin     = 1
	histMax     = int64(time.Minute)
	histSigFigs = 3
)

// histShards bounds the histograms a cell keeps: one per connection up to
// this many (no lock is ever contended), shared beyond it. Each is about
// 220 KB at this range and precision.
const histShards = 64

// inlineWriteMax is the largest message a connection writes before reading
// the echo, on the same goroutine. A larger message could fill both socket
// buffers against a server that echoes as it reads, and deadlock; it is
// written from a goroutine of its own while the echo is read.
const inlineWriteMax = 64 << 10

// stopGrace is how long connections may take to finish the round trip in
// flight when the measured window ends, before their reads are cut.
const stopGrace = 2 * time.Second

// dialParallel is how many connections are dialled at once. The listen
// backlog is about 4096; this stays well under it.
const dialParallel = 128

// dialTimeout bounds one connection's dial.
const dialTimeout = 10 * time.Second

// Phases of a load run.
const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseStop
)

// errMismatch marks an echo whose bytes differ from the message sent.
var errMismatch = errors.New("bench: echo differs from the message sent")

// errShortRead marks an echo that ended before the whole message came back.
var errShortRead = errors.New("bench: short read")

// A loadSpec describes the load of one echo cell.
type loadSpec struct {
	Addr     string        // server address, host:port
	Size     int           // message size in bytes
	Conns    int           // closed-loop connections
	Warmup   time.Duration // run, unmeasured, before the window
	Duration time.Duration // the measured window
	Seed     uint64        // seeds every connection's pattern

	// ServerCPU, when set, reads the server's CPU time; it is called at the
	// start and at the end of the measured window.
	ServerCPU func() (time.Duration, error)
}

// A loadResult is what the generator measured in one cell.
type loadResult struct {
	Window    time.Duration           // the measured window's real length
	PerConn   []int64                 // round trips completed in the window, per connection
	Hist      *hdrhistogram.Histogram // round-trip latency in ns, all connections
	Errors    int64                   // failed dials, writes, reads and mismatches
	FirstErr  error                   // the first of them
	ClientCPU time.Duration           // this process's CPU time in the window
	ServerCPU time.Duration           // the server's CPU time in the window (if spec.ServerCPU)
	CPUErr    error                   // why ServerCPU could not be read
}

// latencies is one histogram shared by some connections.
type latencies struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
}

// A worker is one closed-loop connection.
type worker struct {
	conn  net.Conn
	pat   *pattern
	buf   []byte
	lat   *latencies
	count int64 // round trips completed in the window
	err   error
}

// runLoad runs closed-loop echo connections against spec.Addr: every
// connection writes a message, reads the echo in full and checks each byte,
// over and over. All connections are open before the warm-up; round trips
// completed during the window are counted and timed. ctx cuts the run short.
func runLoad(ctx context.Context, spec loadSpec) *loadResult {
	res := &loadResult{Hist: hdrhistogram.New(histMin, histMax, histSigFigs)}
	conns, dialErrs, err := dialAll(ctx, spec.Addr, spec.Conns)
	defer closeAll(conns)
	if err != nil {
		res.Errors, res.FirstErr = int64(dialErrs), err
		res.PerConn = make([]int64, spec.Conns)
		return res
	}

	shards := make([]*latencies, min(spec.Conns, histShards))
	for i := range shards {
		shards[i] = &latencies{h: hdrhistogram.New(histMin, histMax, histSigFigs)}
	}
	workers := make([]*worker, len(conns))
	for i, c := range conns {
		workers[i] = &worker{
			conn: c,
			pat:  newPattern(spec.Seed, uint64(i), spec.Size),
			buf:  make([]byte, spec.Size),
			lat:  shards[i%len(shards)],
		}
	}

	var phase atomic.Int32
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(&phase)
		}()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()

	interrupted := !sleepCtx(ctx, spec.Warmup, done)
	phase.Store(phaseMeasure)
	start, cpu0 := time.Now(), selfCPU()
	var srv0 time.Duration
	if spec.ServerCPU != nil {
		srv0, res.CPUErr = spec.ServerCPU()
	}
	if !interrupted {
		interrupted = !sleepCtx(ctx, spec.Duration, done)
	}
	phase.Store(phaseStop)
	res.Window, res.ClientCPU = time.Since(start), selfCPU()-cpu0
	if spec.ServerCPU != nil && res.CPUErr == nil {
		var srv1 time.Duration
		srv1, res.CPUErr = spec.ServerCPU()
		res.ServerCPU = srv1 - srv0
	}

	// Let the round trips in flight finish, then cut the reads of
	// connections the server never answered (a starved connection waits
	// for ever).
	select {
	case <-done:
	case <-time.After(stopGrace):
		for _, c := range conns {
			c.SetDeadline(time.Now())
		}
		<-done
	}

	res.PerConn = make([]int64, len(workers))
	for i, w := range workers {
		res.PerConn[i] = w.count
		if w.err != nil {
			res.Errors++
			if res.FirstErr == nil {
				res.FirstErr = fmt.Errorf("conn %d: %w", i, w.err)
			}
		}
	}
	if interrupted && res.FirstErr == nil {
		res.Errors++
		res.FirstErr = fmt.Errorf("bench: run cut short: %w", context.Cause(ctx))
		if ctx.Err() == nil {
			res.FirstErr = errors.New("bench: every connection stopped before the window ended")
		}
	}
	for _, s := range shards {
		res.Hist.Merge(s.h)
	}
	return res
}

// sleepCtx waits for d and reports true, or reports false as soon as ctx is
// done or every worker has stopped.
func sleepCtx(ctx context.Context, d time.Duration, done <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-done:
		return false
	}
}

// run is a connection's closed loop; it returns when the phase is stop, or
// at its first error, which it keeps in w.err.
func (w *worker) run(phase *atomic.Int32) {
	for phase.Load() != phaseStop {
		msg := w.pat.next()
		start := time.Now()
		if err := w.roundTrip(msg); err != nil {
			// A read cut by the runner after the window is not the server's fault.
			if phase.Load() == phaseStop && errors.Is(err, os.ErrDeadlineExceeded) {
				return
			}
			w.err = err
			return
		}
		if phase.Load() == phaseMeasure {
			d := time.Since(start)
			w.lat.mu.Lock()
			w.lat.h.RecordValue(int64(d))
			w.lat.mu.Unlock()
			w.count++
		}
	}
}

// roundTrip writes msg, reads the echo into w.buf and checks it.
func (w *worker) roundTrip(msg []byte) error {
	var werr chan error
	if len(msg) <= inlineWriteMax {
		if _, err := w.conn.Write(msg); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	} else {
		werr = make(chan error, 1)
		go func() {
			_, err := w.conn.Write(msg)
			werr <- err
		}()
	}
	n, err := io.ReadFull(w.conn, w.buf)
	if werr != nil {
		if err != nil {
			w.conn.SetDeadline(time.Now()) // unblock the writer
		}
		if e := <-werr; e != nil && err == nil {
			return fmt.Errorf("write: %w", e)
		}
	}
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: %d of %d bytes, then %w", errShortRead, n, len(msg), err)
		}
		return fmt.Errorf("read after %d of %d bytes: %w", n, len(msg), err)
	}
	if !bytes.Equal(w.buf, msg) {
		return mismatch(w.buf, msg)
	}
	return nil
}

// mismatch describes where got first differs from want. It runs only on
// failure, so the check itself stays one bytes.Equal.
func mismatch(got, want []byte) error {
	i := 0
	for i < len(got) && got[i] == want[i] {
		i++
	}
	return fmt.Errorf("%w: byte %d of %d is %#02x, want %#02x", errMismatch, i, len(want), got[i], want[i])
}

// dialAll opens n TCP connections to addr, dialParallel at a time. On an
// error it closes what it opened and returns how many dials failed and the
// first error.
func dialAll(ctx context.Context, addr string, n int) ([]net.Conn, int, error) {
	conns := make([]net.Conn, n)
	errs := make([]error, n)
	d := net.Dialer{Timeout: dialTimeout}
	sem := make(chan struct{}, dialParallel)
	var wg sync.WaitGroup
	for i := range conns {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			conns[i], errs[i] = d.DialContext(ctx, "tcp", addr)
		}()
	}
	wg.Wait()
	failed, first := 0, error(nil)
	for i, err := range errs {
		if err != nil {
			failed++
			if first == nil {
				first = fmt.Errorf("dial %d of %d: %w", i+1, n, err)
			}
		}
	}
	if first != nil {
		closeAll(conns)
		return nil, failed, first
	}
	return conns, 0, nil
}

// closeAll closes every non-nil connection of conns.
func closeAll(conns []net.Conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}
