package main

import (
	"bytes"
	"context"
	"crypto/tls"
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

// inlineWriteMax is the most a connection writes (message size × pipeline
// depth) before reading the echoes, on the same goroutine. More could fill
// both socket buffers against a server that echoes as it reads, and
// deadlock; it is written from a goroutine of its own while the echoes are
// read.
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
	Pipeline int           // messages in flight per connection; 0 means 1
	Warmup   time.Duration // run, unmeasured, before the window
	Duration time.Duration // the measured window
	Seed     uint64        // seeds every connection's pattern
	TLS      *tls.Config   // if not nil, every connection is TLS, handshaken before the warm-up

	// ServerCPU, when set, reads the server's CPU time; it is called at the
	// start and at the end of the measured window.
	ServerCPU func() (time.Duration, error)
}

// A loadResult is what the generator measured in one cell.
type loadResult struct {
	Window    time.Duration           // the measured window's real length
	PerConn   []int64                 // messages echoed in the window, per connection
	Hist      *hdrhistogram.Histogram // per-message latency in ns, all connections
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
	msgs  [][]byte       // the messages in flight, slices of pat's block
	sent  []atomic.Int64 // when each message's write began, ns since base
	base  time.Time
	vec   net.Buffers // scratch for writev
	buf   []byte      // the echoes of msgs, back to back
	lat   *latencies
	count int64 // messages echoed in the window
	err   error
}

// runLoad runs closed-loop echo connections against spec.Addr: every
// connection writes spec.Pipeline messages, reads their echoes in full and
// in order and checks each byte, over and over. All connections are open before the warm-up; round trips
// completed during the window are counted and timed. ctx cuts the run short.
func runLoad(ctx context.Context, spec loadSpec) *loadResult {
	res := &loadResult{Hist: hdrhistogram.New(histMin, histMax, histSigFigs)}
	conns, dialErrs, err := dialAll(ctx, spec.Addr, spec.Conns, spec.TLS)
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
	depth := max(spec.Pipeline, 1)
	workers := make([]*worker, len(conns))
	for i, c := range conns {
		workers[i] = &worker{
			conn: c,
			pat:  newPattern(spec.Seed, uint64(i), spec.Size),
			msgs: make([][]byte, depth),
			sent: make([]atomic.Int64, depth),
			base: time.Now(),
			buf:  make([]byte, depth*spec.Size),
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

	interrupted := res.measure(ctx, &phase, done, spec.Warmup, spec.Duration, spec.ServerCPU)

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
	if interrupted {
		res.cutShort(ctx, "connection")
	}
	for _, s := range shards {
		res.Hist.Merge(s.h)
	}
	return res
}

// measure runs a cell's phases while its workers (which close done when
// they have all stopped) run: warm-up, then the measured window, whose
// length and client and server CPU time it records in res, then stop. It
// reports true when ctx or the workers ended it before the window was over.
func (res *loadResult) measure(ctx context.Context, phase *atomic.Int32, done <-chan struct{},
	warmup, window time.Duration, serverCPU func() (time.Duration, error)) (interrupted bool) {
	interrupted = !sleepCtx(ctx, warmup, done)
	phase.Store(phaseMeasure)
	start, cpu0 := time.Now(), selfCPU()
	var srv0 time.Duration
	if serverCPU != nil {
		srv0, res.CPUErr = serverCPU()
	}
	if !interrupted {
		interrupted = !sleepCtx(ctx, window, done)
	}
	phase.Store(phaseStop)
	res.Window, res.ClientCPU = time.Since(start), selfCPU()-cpu0
	if serverCPU != nil && res.CPUErr == nil {
		var srv1 time.Duration
		srv1, res.CPUErr = serverCPU()
		res.ServerCPU = srv1 - srv0
	}
	return interrupted
}

// cutShort fails a run whose window was cut short, unless an error of
// the workers (whom what names) already explains it.
func (res *loadResult) cutShort(ctx context.Context, what string) {
	if res.FirstErr != nil {
		return
	}
	res.Errors++
	res.FirstErr = fmt.Errorf("bench: run cut short: %w", context.Cause(ctx))
	if ctx.Err() == nil {
		res.FirstErr = fmt.Errorf("bench: every %s stopped before the window ended", what)
	}
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
		for i := range w.msgs {
			w.msgs[i] = w.pat.next()
		}
		err := w.exchange(func(d time.Duration) {
			if phase.Load() == phaseMeasure {
				w.lat.mu.Lock()
				w.lat.h.RecordValue(int64(d))
				w.lat.mu.Unlock()
				w.count++
			}
		})
		if err != nil {
			// A read cut by the runner after the window is not the server's fault.
			if phase.Load() == phaseStop && errors.Is(err, os.ErrDeadlineExceeded) {
				return
			}
			w.err = err
			return
		}
	}
}

// exchange writes the messages of w.msgs, reads their echoes into w.buf in
// order and checks each one; done gets each message's latency, from the
// start of its write to the end of its echo, as soon as its last byte is
// read.
func (w *worker) exchange(done func(time.Duration)) error {
	size := len(w.msgs[0])
	total := size * len(w.msgs)
	var werr chan error
	if total <= inlineWriteMax {
		now := time.Now()
		for i := range w.sent {
			w.sent[i].Store(int64(now.Sub(w.base)))
		}
		var err error
		if len(w.msgs) == 1 {
			_, err = w.conn.Write(w.msgs[0])
		} else {
			// One writev for the batch: a pipelined client hands the
			// kernel its messages together, as a real one would.
			w.vec = append(w.vec[:0], w.msgs...)
			vec := w.vec
			_, err = vec.WriteTo(w.conn)
		}
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
	} else {
		werr = make(chan error, 1)
		go func() {
			for i, m := range w.msgs {
				w.sent[i].Store(int64(time.Since(w.base)))
				if _, err := w.conn.Write(m); err != nil {
					werr <- err
					return
				}
			}
			werr <- nil
		}()
	}
	got, err := w.readEchoes(done)
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
			return fmt.Errorf("%w: %d of %d bytes, then %w", errShortRead, got, total, err)
		}
		if errors.Is(err, errMismatch) {
			return err
		}
		return fmt.Errorf("read after %d of %d bytes: %w", got, total, err)
	}
	return nil
}

// readEchoes reads the echoes of w.msgs into w.buf, checking and timing
// each message as soon as its last byte is in; it returns the bytes read.
// Reads ask for the whole rest of the batch, so a pipelined connection
// takes several echoes per read when they are there.
func (w *worker) readEchoes(done func(time.Duration)) (int, error) {
	size := len(w.msgs[0])
	got, next := 0, 0
	for next < len(w.msgs) {
		n, err := w.conn.Read(w.buf[got:])
		got += n
		for next < len(w.msgs) && got >= (next+1)*size {
			echo := w.buf[next*size : (next+1)*size]
			if !bytes.Equal(echo, w.msgs[next]) {
				err := mismatch(echo, w.msgs[next])
				if len(w.msgs) > 1 {
					err = fmt.Errorf("message %d of %d in flight: %w", next+1, len(w.msgs), err)
				}
				return got, err
			}
			done(time.Since(w.base) - time.Duration(w.sent[next].Load()))
			next++
		}
		if err != nil && next < len(w.msgs) {
			return got, err
		}
	}
	return got, nil
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

// dialAll opens n TCP connections to addr, dialParallel at a time, each
// with a completed TLS handshake when conf is not nil. On an error it closes
// what it opened and returns how many dials failed and the first error.
func dialAll(ctx context.Context, addr string, n int, conf *tls.Config) ([]net.Conn, int, error) {
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
			if errs[i] == nil && conf != nil {
				tc := tls.Client(conns[i], conf)
				conns[i] = tc
				hctx, cancel := context.WithTimeout(ctx, dialTimeout)
				if err := tc.HandshakeContext(hctx); err != nil {
					errs[i] = fmt.Errorf("TLS handshake: %w", err)
				}
				cancel()
			}
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
