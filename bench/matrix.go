package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// cellOverhead is the estimated cost of a cell beyond its warm-up and
// window: starting and stopping the server, dialling, settling.
const cellOverhead = 300 * time.Millisecond

// A cell is one measurement of the matrix.
type cell struct {
	Kind    string
	Engine  string
	Size    int // echo: message bytes
	BufSize int
	Conns   int
	TLS     bool   // echo over TLS (handshake cells always are)
	UDP     bool   // echo over UDP
	Method  string // file cells: methodSendfile or methodCopy
}

func (c cell) String() string {
	switch c.Kind {
	case kindIdle:
		return fmt.Sprintf("%s idle conns=%d bufsize=%s", c.Engine, c.Conns, fmtBuf(c.BufSize))
	case kindHandshake, kindResume:
		return fmt.Sprintf("%s %s conns=%d", c.Engine, c.Kind, c.Conns)
	case kindFile:
		return fmt.Sprintf("%s file=%s conns=%d", fileLabel(c.Engine, c.Method), fmtSize(c.Size), c.Conns)
	}
	engine := c.Engine
	if c.TLS {
		engine = tlsLabel(engine)
	}
	if c.UDP {
		engine = udpLabel(engine)
	}
	return fmt.Sprintf("%s size=%s bufsize=%s conns=%d", engine, fmtSize(c.Size), fmtBuf(c.BufSize), c.Conns)
}

// cells lists the matrix with the engine varying fastest, then the
// buffer size, so that every cell of one workload (message size and
// connections) runs back to back: this shared machine has slow spells a
// minute or so long, and when cells ran engine by engine one engine could
// take a whole spell (the same engine measured 30% apart in two quick runs
// minutes apart); with the buffer size outermost, a spell made one buffer
// size look 30% slower than the next in a -tune run. The handshake and
// idle-connection cells come next, and the file cells (-file) last, both
// methods of every engine that serves files side by side. A buffer size of 0 (auto, the tuner) is
// for sockpool's engines only: the peers have no tuner, so they get no
// auto cells. UDP cells (-udp) follow the TCP cells of their workload,
// one per engine at the UDP read buffer, udpBufSize; an engine without a
// UDP server gets one too, which reports it unavailable.
func (cfg *config) cells() []cell {
	var out []cell
	for _, s := range cfg.sizes {
		for _, n := range cfg.conns {
			for _, b := range cfg.bufSizes {
				if cfg.udp == modeOn {
					break
				}
				for _, e := range cfg.engines {
					if b == 0 && !tunable(e) {
						continue
					}
					if cfg.tls != modeOn { // off (or unset) and both
						out = append(out, cell{Kind: kindEcho, Engine: e, Size: s, BufSize: b, Conns: n})
					}
					if (cfg.tls == modeOn || cfg.tls == modeBoth) && tlsEngine(e) {
						out = append(out, cell{Kind: kindEcho, Engine: e, Size: s, BufSize: b, Conns: n, TLS: true})
					}
				}
			}
			if cfg.udp == modeOn || cfg.udp == modeBoth {
				for _, e := range cfg.engines {
					out = append(out, cell{Kind: kindEcho, Engine: e, Size: s, BufSize: udpBufSize, Conns: n, UDP: true})
				}
			}
		}
	}
	for _, n := range cfg.handshakes {
		for _, kind := range []string{kindHandshake, kindResume} {
			for _, e := range cfg.engines {
				if tlsEngine(e) {
					out = append(out, cell{Kind: kind, Engine: e, Size: handshakeMsgSize, BufSize: cfg.bufSizes[len(cfg.bufSizes)-1], Conns: n})
				}
			}
		}
	}
	for _, e := range cfg.engines {
		for _, b := range cfg.bufSizes {
			if b == 0 && !tunable(e) {
				continue
			}
			for _, n := range cfg.idle {
				out = append(out, cell{Kind: kindIdle, Engine: e, BufSize: b, Conns: n})
			}
		}
	}
	for _, s := range cfg.files {
		for _, n := range cfg.conns {
			for _, e := range cfg.engines {
				if !fileEngine(e) {
					continue
				}
				for _, m := range []string{methodSendfile, methodCopy} {
					out = append(out, cell{Kind: kindFile, Engine: e, Size: s, BufSize: cfg.bufSizes[len(cfg.bufSizes)-1], Conns: n, Method: m})
				}
			}
		}
	}
	return out
}

// tunable reports whether engine is one of sockpool's own, which take
// -bufsize 0 to mean the tuner.
func tunable(engine string) bool {
	switch engine {
	case "threaded", "threaded-syscall", "evented", "evented-pool", "uring":
		return true
	}
	return false
}

// estimate is the expected wall time of cell c.
func (cfg *config) estimate(c cell) time.Duration {
	if c.Kind == kindIdle {
		return cellOverhead + time.Duration(c.Conns)*100*time.Microsecond
	}
	return cfg.warmup + cfg.duration + stopGrace/10 + cellOverhead
}

// A runner runs cells: it starts each cell's server, drives it and stops it.
type runner struct {
	cfg      *config
	exe      string // the bench binary, re-executed in serve mode
	tmp      string // where peers are built
	peersDir string
	peersErr error
	bins     map[string]string // built peers
	binErrs  map[string]error  // peers that did not build
	files    map[int][]byte    // the files of file cells, by size (see fileData)
	tls      *tlsMaterial      // the certificate of TLS cells, made on first use
	tlsErr   error
}

// runMatrix runs every cell of cfg's matrix and writes the result files
// into cfg.out. It returns the report; an interrupted run (ctx done) keeps
// the cells it finished.
func runMatrix(ctx context.Context, cfg *config, args []string, stderr io.Writer) (*report, error) {
	if err := raiseFileLimit(); err != nil {
		fmt.Fprintln(stderr, "bench: warning:", err)
	}
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return nil, fmt.Errorf("bench: -out: %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: cannot re-execute itself: %w", err)
	}
	tmp, err := os.MkdirTemp("", "sockpool-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(tmp)
	r := &runner{cfg: cfg, exe: exe, tmp: tmp, peersDir: cfg.peersDir,
		bins: make(map[string]string), binErrs: make(map[string]error)}
	if r.peersDir == "" {
		r.peersDir, r.peersErr = findPeersDir()
	}

	if cfg.pin != nil {
		if err := pinProcess(os.Getpid(), cfg.pin.client); err != nil {
			return nil, err
		}
	}
	rep := &report{
		Pin:      cfg.pinText,
		Command:  commandLine(args),
		Started:  time.Now().UTC(),
		Warmup:   cfg.warmup.String(),
		Duration: cfg.duration.String(),
		Machine:  readMachine(),
		Compare:  pairNames(cfg.compare),
	}
	if err := writeFile(filepath.Join(cfg.out, "command.txt"), func(w io.Writer) error {
		_, err := fmt.Fprintln(w, rep.Command)
		return err
	}); err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(cfg.out, "machine.txt"), rep.Machine.write); err != nil {
		return nil, err
	}

	if cfg.rounds > 1 {
		rep.Rounds = cfg.rounds
	}
	cells := cfg.cells()
	order := schedule(cells, max(cfg.rounds, 1))
	run := make([]cell, len(order))
	for k, i := range order {
		run[k] = cells[i]
	}
	prog := newProgress(stderr, cfg, run)
	rounds := make([][]result, len(cells))
	for k, i := range order {
		if ctx.Err() != nil {
			break
		}
		prog.begin(k)
		rounds[i] = append(rounds[i], r.runCell(ctx, i, cells[i]))
		prog.end(k)
	}
	prog.finish()
	rep.Elapsed = time.Since(prog.start)
	// An interrupted run keeps the cells it measured at least once.
	for _, rs := range rounds {
		if len(rs) > 0 {
			rep.Results = append(rep.Results, combineRounds(rs))
		}
	}

	if err := writeJSON(filepath.Join(cfg.out, "results.json"), rep); err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(cfg.out, "results.csv"), func(w io.Writer) error {
		return writeCSV(w, rep.Results)
	}); err != nil {
		return nil, err
	}
	return rep, nil
}

// command returns the argv and extra environment that start the server of
// cell c, building a peer on first use; an error says why the cell's
// engine cannot serve it.
func (r *runner) command(ctx context.Context, c cell) ([]string, []string, error) {
	engine := c.Engine
	withTLS := c.TLS || c.Kind == kindHandshake || c.Kind == kindResume
	switch {
	case c.UDP && !udpEngine(engine):
		return nil, nil, fmt.Errorf("%s has no UDP server in bench (%s have)", engine, strings.Join(udpEngines, ", "))
	case !c.UDP && engine == "packet":
		return nil, nil, errors.New("packet is a UDP server: it runs in UDP cells only (-udp)")
	}
	flags := []string{"-addr", "127.0.0.1:0", "-bufsize", strconv.Itoa(c.BufSize)}
	if c.UDP {
		flags = append(flags, "-network", "udp")
	}
	if c.Kind == kindFile {
		path, _, err := r.fileData(c.Size)
		if err != nil {
			return nil, nil, err
		}
		flags = append(flags, "-file", path, "-method", c.Method)
	}
	if withTLS {
		if r.tls == nil && r.tlsErr == nil {
			r.tls, r.tlsErr = newTLSMaterial(r.tmp)
		}
		if r.tlsErr != nil {
			return nil, nil, r.tlsErr
		}
		flags = append(flags, "-tls-cert", r.tls.certFile, "-tls-key", r.tls.keyFile)
	}
	if command, ok := r.cfg.external[engine]; ok {
		if withTLS {
			return nil, nil, fmt.Errorf("%s: an external server serves plain TCP only", engine)
		}
		return []string{command, portArg}, nil, nil
	}
	if r.cfg.loops > 0 {
		flags = append(flags, "-loops", strconv.Itoa(r.cfg.loops))
	}
	for _, m := range serveModes {
		if engine == m {
			return append([]string{r.exe, "-serve", engine}, flags...), []string{serveEnv + "=1"}, nil
		}
	}
	if err, ok := r.binErrs[engine]; ok {
		return nil, nil, err
	}
	bin, ok := r.bins[engine]
	if !ok {
		err := r.peersErr
		if err == nil {
			bin, err = buildPeer(ctx, r.peersDir, engine, r.tmp)
		}
		if err != nil {
			r.binErrs[engine] = err
			return nil, nil, err
		}
		r.bins[engine] = bin
	}
	return append([]string{bin}, flags...), nil, nil
}

// runCell measures cell c (the i-th) in a server process of its own, so that
// the server's peak RSS belongs to this cell alone.
func (r *runner) runCell(ctx context.Context, i int, c cell) result {
	res := result{Kind: c.Kind, Engine: c.Engine, Size: c.Size, BufSize: c.BufSize, Conns: c.Conns}
	if c.Kind == kindEcho {
		res.Pipeline = r.cfg.pipeline
	}
	if c.TLS {
		res.TLS, res.Engine = true, tlsLabel(c.Engine)
	}
	network := "tcp"
	if c.UDP {
		res.UDP, res.Engine, network = true, udpLabel(c.Engine), "udp"
	}
	if c.Kind == kindFile {
		res.Method, res.Engine = c.Method, fileLabel(c.Engine, c.Method)
	}
	if need := uint64(c.Conns) + 64; fileLimit() < need {
		res.fail(fmt.Errorf("needs %d open files, the limit is %d", need, fileLimit()))
		return res
	}
	argv, env, err := r.command(ctx, c)
	if err != nil {
		res.Status, res.Error = statusUnavailable, err.Error()
		return res
	}
	srv, err := startServer(ctx, network, argv, env)
	if err != nil {
		res.fail(err)
		return res
	}
	defer srv.stop()
	pid := srv.pid()
	if r.cfg.pin != nil {
		if err := pinProcess(pid, r.cfg.pin.server); err != nil {
			res.fail(err)
			return res
		}
	}
	seed := uint64(i+1) * 0x9e3779b97f4a7c15

	serverCPU := func() (time.Duration, error) { return procCPU(pid) }
	switch c.Kind {
	case kindEcho:
		spec := loadSpec{
			Addr: srv.addr, Size: c.Size, Conns: c.Conns, Pipeline: r.cfg.pipeline, UDP: c.UDP,
			Warmup: r.cfg.warmup, Duration: r.cfg.duration, Seed: seed, ServerCPU: serverCPU,
		}
		if c.TLS {
			spec.TLS = r.tls.client
		}
		res.fillEcho(runLoad(ctx, spec))
	case kindHandshake, kindResume:
		res.fillEcho(runHandshakes(ctx, handshakeSpec{
			Addr: srv.addr, Conns: c.Conns, Resume: c.Kind == kindResume, TLS: r.tls.client,
			Warmup: r.cfg.warmup, Duration: r.cfg.duration, Seed: seed, ServerCPU: serverCPU,
		}))
	case kindFile:
		_, data, err := r.fileData(c.Size)
		if err != nil {
			res.fail(err)
			return res
		}
		res.fillEcho(runLoad(ctx, loadSpec{
			Addr: srv.addr, Size: 1, Conns: c.Conns, File: data,
			Warmup: r.cfg.warmup, Duration: r.cfg.duration, Seed: seed, ServerCPU: serverCPU,
		}))
	case kindIdle:
		ir := runIdle(ctx, srv.addr, c.Conns, seed, func() (int64, error) { return procMem(pid, "VmRSS") })
		res.fillIdle(ir)
	}
	if err := srv.died(); err != nil {
		res.fail(err)
		return res
	}
	if res.Status != statusFailed {
		peak, err := procMem(pid, "VmHWM")
		if err != nil {
			res.Note = err.Error()
		}
		res.ServerPeakRSS = peak
	}
	return res
}

// progress draws the live progress line on stderr: the cell (and round), the time
// elapsed and an estimate of the time left. On a terminal the line is
// redrawn in place; otherwise each cell gets a line.
type progress struct {
	w       io.Writer
	tty     bool
	cfg     *config
	cells   []cell
	start   time.Time
	spent   time.Duration // estimated cost of the cells done
	elapsed time.Duration // their real cost
}

func newProgress(w io.Writer, cfg *config, cells []cell) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progress{w: w, tty: tty, cfg: cfg, cells: cells, start: time.Now()}
}

func (p *progress) begin(i int) {
	var left time.Duration
	for _, c := range p.cells[i:] {
		left += p.cfg.estimate(c)
	}
	if p.spent > 0 {
		// Scale the estimate by how the cells so far compared with theirs.
		left = time.Duration(float64(left) * float64(p.elapsed) / float64(p.spent))
	}
	round := ""
	if p.cfg.rounds > 1 {
		round = fmt.Sprintf("round %d/%d  ", i/(len(p.cells)/p.cfg.rounds)+1, p.cfg.rounds)
	}
	line := fmt.Sprintf("%scell %d/%d  %-44s elapsed %s  remaining ~%s",
		round, i+1, len(p.cells), p.cells[i], clock(time.Since(p.start)), clock(left))
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

func (p *progress) end(i int) {
	p.spent += p.cfg.estimate(p.cells[i])
	p.elapsed = time.Since(p.start)
}

func (p *progress) finish() {
	line := fmt.Sprintf("%d cells in %s", len(p.cells), clock(time.Since(p.start)))
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s\n", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

// clock formats d as m:ss.
func clock(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
