package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
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
	Conns    int           // closed-loop clients: connections, or UDP sockets
	Pipeline int           // messages in flight per connection; 0 means 1 (TCP only)
	Warmup   time.Duration // run, unmeasured, before the window
	Duration time.Duration // the measured window
	Seed     uint64        // seeds every client's pattern
	TLS      *tls.Config   // if not nil, every connection is TLS, handshaken before the warm-up

	// UDP makes every client a UDP socket connected to Addr, which sends
	// one datagram of Size bytes at a time and waits for its echo.
	UDP bool
	// LossTimeout is how long a UDP client waits for an echo before it
	// counts the datagram lost and sends the next; 0 means udpLossTimeout.
	LossTimeout time.Duration

	// File, when not nil, makes every client a file cell's (see fileConn):
	// it asks for the file, over and over, and checks it against File.
	File []byte

	// ServerCPU, when set, reads the server's CPU time; it is called at the
	// start and at the end of the measured window.
	ServerCPU func() (time.Duration, error)
}

// A loadResult is what the generator measured in one cell.
type loadResult struct {
	Window    time.Duration           // the measured window's real length
	PerConn   []int64                 // messages echoed in the window, per client
	Hist      *hdrhistogram.Histogram // per-message latency in ns, all clients
	Errors    int64                   // failed dials, writes, reads and mismatches
	FirstErr  error                   // the first of them
	Lost      int64                   // UDP datagrams given up in the window, no echo within the loss timeout
	ClientCPU time.Duration           // this process's CPU time in the window
	ServerCPU time.Duration           // the server's CPU time in the window (if spec.ServerCPU)
	CPUErr    error                   // why ServerCPU could not be read
}

// latencies is one histogram shared by some connections.
type latencies struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
}

// A worker is one closed-loop client of an echo cell: it sends messages
// over its transport and checks their echoes, over and over.
type worker struct {
	tr    transport
	pat   *pattern
	msgs  [][]byte // the messages in flight, slices of pat's block
	lat   *latencies
	count int64 // messages echoed in the window
	lost  int64 // messages given up for lost in the window (UDP)
	err   error
}

// A transport carries one worker's messages to the server and their
// echoes back: a TCP (or TLS) connection, or a UDP socket. The worker's
// loop, the accounting and the phases are the same over either.
type transport interface {
	// exchange sends msgs, reads their echoes and checks every byte of
	// each against its message; done gets each message's latency, from
	// its send to the end of its echo, as soon as the echo is in. An error
	// wrapping errLost means an echo did not come back in time: the
	// worker counts it and goes on. Any other error ends the worker.
	exchange(msgs [][]byte, done func(time.Duration)) error
}

// runLoad runs closed-loop echo clients against spec.Addr: every TCP
// connection writes spec.Pipeline messages, reads their echoes in full and
// in order and checks each byte, over and over; every UDP socket does the
// same with one datagram at a time. All clients are open before the
// warm-up; round trips completed during the window are counted and timed.
// ctx cuts the run short.
func runLoad(ctx context.Context, spec loadSpec) *loadResult {
	res := &loadResult{Hist: hdrhistogram.New(histMin, histMax, histSigFigs)}
	network := "tcp"
	if spec.UDP {
		network = "udp"
	}
	conns, dialErrs, err := dialAll(ctx, network, spec.Addr, spec.Conns, spec.TLS)
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
	timeout := cmp.Or(spec.LossTimeout, udpLossTimeout)
	workers := make([]*worker, len(conns))
	for i, c := range conns {
		w := &worker{
			pat: newPattern(spec.Seed, uint64(i), spec.Size),
			lat: shards[i%len(shards)],
		}
		switch {
		case spec.File != nil:
			w.msgs, w.tr = make([][]byte, 1), newFileConn(c, spec.File)
		case spec.UDP:
			w.msgs, w.tr = make([][]byte, 1), newDatagramConn(c, spec.Size, timeout)
		default:
			w.msgs, w.tr = make([][]byte, depth), newStreamConn(c, spec.Size, depth)
		}
		workers[i] = w
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
	// for ever; a UDP client gives up after its loss timeout anyway).
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
		res.Lost += w.lost
		if w.err != nil {
			res.Errors++
			if res.FirstErr == nil {
				res.FirstErr = fmt.Errorf("conn %d: %w", i, w.err)
			}
		}
	}
	if interrupted {
		res.cutShort(ctx, "client")
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

// run is a client's closed loop; it returns when the phase is stop, or at
// its first error, which it keeps in w.err. A lost datagram is counted and
// the loop goes on with the next message.
func (w *worker) run(phase *atomic.Int32) {
	// One closure for the whole loop: made per exchange, it would escape
	// through the interface call and cost an allocation per round trip.
	record := func(d time.Duration) {
		if phase.Load() == phaseMeasure {
			w.lat.mu.Lock()
			w.lat.h.RecordValue(int64(d))
			w.lat.mu.Unlock()
			w.count++
		}
	}
	for phase.Load() != phaseStop {
		for i := range w.msgs {
			w.msgs[i] = w.pat.next()
		}
		err := w.tr.exchange(w.msgs, record)
		switch {
		case err == nil:
		case errors.Is(err, errLost):
			if phase.Load() == phaseMeasure {
				w.lost++
			}
		case phase.Load() == phaseStop && errors.Is(err, os.ErrDeadlineExceeded):
			// A read cut by the runner after the window is not the server's fault.
			return
		default:
			w.err = err
			return
		}
	}
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

// dialAll opens n connections to addr over network (tcp, or udp for
// connected UDP sockets), dialParallel at a time, each with a completed
// TLS handshake when conf is not nil. On an error it closes
// what it opened and returns how many dials failed and the first error.
func dialAll(ctx context.Context, network, addr string, n int, conf *tls.Config) ([]net.Conn, int, error) {
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
			conns[i], errs[i] = d.DialContext(ctx, network, addr)
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
