package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// engines are the servers bench knows: its own serve modes, then the peers.
var engines = append(slices.Clone(serveModes), peers...)

// presets give flag values for -preset; flags set on the command line win.
// quick is the default matrix (about two minutes on two cores); full is
// every engine over sizes, buffer sizes and connection counts, plus the
// idle-connection cells (about half an hour).
var presets = map[string]map[string]string{
	"quick": {},
	"full": {
		"engines":  "threaded,threaded-syscall,evented,evented-pool,uring,net,gnet,nbio",
		"sizes":    "64,1k,4k,16k,64k",
		"bufsizes": "4k,64k,auto",
		"conns":    "1,50,200",
		"duration": "5s",
		"idle":     "1000,10000",
	},
	// tune sweeps the read buffer for one workload, which the command line
	// gives with -sizes, -conns and -pipeline.
	"tune": {
		"engines":  "threaded,threaded-syscall,evented",
		"sizes":    "64k",
		"conns":    "5",
		"bufsizes": "1k,4k,16k,64k,256k,auto",
	},
}

// maxSize bounds message and buffer sizes, and the bytes a connection
// has in flight (-pipeline × size).
const maxSize = 64 << 20

// maxPipeline bounds -pipeline.
const maxPipeline = 4096

// config is the parsed command line.
type config struct {
	cpuProfile string // profile of bench itself: the load generator
	engines    []string
	sizes      []int
	bufSizes   []int
	conns      []int
	idle       []int
	files      []int // file cells: file sizes
	warmup     time.Duration
	duration   time.Duration
	out        string
	peersDir   string
	report     string
	charts     bool
	pipeline   int
	rounds     int // times the matrix is run; each cell reports its median round
	pin        *pinning
	pinText    string
	tls        string // modeOff, modeOn or modeBoth
	udp        string // modeOff, modeOn or modeBoth: echo cells over UDP
	handshakes []int  // handshake cells: concurrent clients
	loops      int    // event loops of the evented engines and the peers; 0: their default
	compare    []pair // engines whose ratios are shown paired by round
	// external are servers from outside the project (the calibration echo
	// servers in C), by name: a command that takes the port to listen on
	// (127.0.0.1) as its one argument and prints nothing.
	external map[string]string
}

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "-serve" {
		if err := serve(args); err != nil {
			fmt.Fprintln(os.Stderr, "bench -serve:", err)
			os.Exit(1)
		}
		return
	}
	os.Exit(run(args, os.Stdout, os.Stderr))
}

// run is the bench command: it returns the exit status, 1 when a cell
// failed or the run could not be made, 2 for a bad command line.
func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	if cfg.report != "" {
		rep, err := readJSON(cfg.report)
		if err == nil && cfg.compare != nil {
			rep.Compare = pairNames(cfg.compare)
		}
		if err == nil {
			err = writeMarkdown(stdout, rep)
		}
		if err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
		if !drawCharts(cfg, filepath.Dir(cfg.report), rep, stderr) {
			return 1
		}
		return 0
	}
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := runMatrix(ctx, cfg, args, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	if err := writeMarkdown(stdout, rep); err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	// The table the run printed, kept beside results.json.
	if err := writeFile(filepath.Join(cfg.out, "results.md"), func(w io.Writer) error { return writeMarkdown(w, rep) }); err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	fmt.Fprintf(stderr, "results in %s\n", cfg.out)
	chartsOK := drawCharts(cfg, cfg.out, rep, stderr)
	failed := 0
	for _, r := range rep.Results {
		if r.Status == statusFailed {
			failed++
		}
	}
	if ctx.Err() != nil {
		fmt.Fprintf(stderr, "bench: interrupted after %d cells\n", len(rep.Results))
		return 1
	}
	if failed > 0 {
		fmt.Fprintf(stderr, "bench: %d of %d cells FAILED\n", failed, len(rep.Results))
		return 1
	}
	if !chartsOK {
		return 1
	}
	return 0
}

// drawCharts writes rep's charts into dir, unless -charts=false, and lists
// them on stderr. It reports false when a chart could not be written.
func drawCharts(cfg *config, dir string, rep *report, stderr io.Writer) bool {
	if !cfg.charts {
		return true
	}
	files, err := writeCharts(dir, rep)
	if len(files) > 0 {
		fmt.Fprintf(stderr, "charts in %s:\n", dir)
		for _, f := range files {
			fmt.Fprintf(stderr, "  %s\n", f)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return false
	}
	return true
}

// parseFlags parses the command line, applies the preset and checks the
// values.
func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./bench [flags]\n\nRuns the echo benchmark matrix; see the package doc (go doc ./bench).\n\n")
		fs.PrintDefaults()
	}
	var (
		engineList = fs.String("engines", "threaded,evented,net", "engines to run, comma-separated: "+strings.Join(engines, ", "))
		sizeList   = fs.String("sizes", "64,1024,4096,65536", "message sizes in bytes, comma-separated; k and m suffixes (1k = 1024)")
		bufList    = fs.String("bufsizes", "65536", "server read buffer sizes in bytes, comma-separated; k and m suffixes; auto: the tuner (sockpool engines only)")
		connList   = fs.String("conns", "1,50", "closed-loop connections per cell, comma-separated")
		idleList   = fs.String("idle", "", "idle-connection cells: connections to hold open, comma-separated (e.g. 1000,10000); none by default")
		preset     = fs.String("preset", "quick", "matrix preset: quick (the defaults, ~2 min), full (~30 min) or tune (see -tune); explicit flags win")
		tune       = fs.Bool("tune", false, "sweep read-buffer sizes for one workload (give -sizes, -conns, -pipeline): the tune preset, and recommended settings at the end")
		cfg        config
	)
	fs.DurationVar(&cfg.duration, "duration", 3*time.Second, "measured window of each echo cell")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "unmeasured warm-up before each window")
	fs.StringVar(&cfg.out, "out", "", "directory for results.json, results.csv, command.txt, machine.txt (default bench/results/<YYYYMMDD-HHMMSS>-<host>)")
	fs.StringVar(&cfg.peersDir, "peers", "", "directory holding the peers' modules (default: bench/peers, found from the working directory up)")
	fs.StringVar(&cfg.report, "report", "", "print the table of an earlier run's results.json and exit")
	fs.BoolVar(&cfg.charts, "charts", true, "draw charts (PNG and SVG) into -out at the end of the run, and beside results.json with -report")
	fs.IntVar(&cfg.pipeline, "pipeline", 1, "messages in flight per connection: each writes this many, then reads and checks their echoes in order")
	fs.IntVar(&cfg.rounds, "rounds", 1, "run the matrix this many times, rotating the order of each workload's cells, and report each cell's median round with the range of its msg/s (conn/s, RSS per conn) over the rounds")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of bench itself (the load generator) to this file")
	cfg.tls = modeOff
	fs.IntVar(&cfg.loops, "loops", 0, "event loops of the evented engines, gnet and nbio (0: each one's default: one per CPU, and one fewer for uring)")
	fs.Func("external", "NAME=COMMAND: an outside echo server to run as engine NAME, started as COMMAND PORT (it binds 127.0.0.1:PORT and prints nothing), such as the C calibration servers; repeatable", func(v string) error {
		name, command, ok := strings.Cut(v, "=")
		if !ok || name == "" || command == "" || slices.Contains(engines, name) {
			return fmt.Errorf("want NAME=COMMAND with a NAME that is not one of bench's engines, got %q", v)
		}
		if cfg.external == nil {
			cfg.external = map[string]string{}
		}
		cfg.external[strings.ToLower(name)] = command
		return nil
	})
	fs.Var(modeFlag{&cfg.tls}, "tls", "run the echo cells over TLS (tlsconf defaults, a self-signed certificate): -tls, or -tls=both for plain and TLS side by side; engines without TLS (gnet, nbio) get no TLS cells")
	cfg.udp = modeOff
	fs.Var(modeFlag{&cfg.udp}, "udp", "run the echo cells over UDP: each of -conns client sockets sends a datagram of -sizes bytes (at most 65507) and waits for its echo, which is counted lost after 1 s: -udp, or -udp=both for TCP and UDP side by side; engines with UDP: "+strings.Join(udpEngines, ", ")+" (others are reported unavailable)")
	fileList := fs.String("file", "", "file cells: file sizes, comma-separated (k and m suffixes, e.g. 64m); each of -conns connections downloads the file over and over, every byte checked, sent by each engine with Conn.SendFile (net: io.Copy, sendfile(2) too) and by ReadAt+Write (copy); sockpool's engines and net only")
	handshakeList := fs.String("handshakes", "", "handshake cells: concurrent clients, comma-separated; each client loops over new connection, full TLS handshake, one 64-byte echo, close, and again with session resumption")
	compareList := fs.String("compare", "", "A/B pairs of engines, comma-separated (e.g. evented/gnet,threaded/net): after the tables, A's msg/s and msg/srv-CPU-s over B's taken round by round, their median and range; with -report, for an earlier run")
	fs.StringVar(&cfg.pinText, "pin", "", "pin the server and the client (bench) to CPU sets, SERVER/CLIENT, e.g. 0/1 or 0-1/2-3 (Linux)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *tune {
		*preset = "tune"
	}
	values, ok := presets[*preset]
	if !ok {
		return nil, fmt.Errorf("unknown preset %q (want quick, full or tune)", *preset)
	}
	set := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for name, v := range values {
		if !set[name] {
			if err := fs.Set(name, v); err != nil {
				return nil, fmt.Errorf("preset %s: -%s: %w", *preset, name, err)
			}
		}
	}

	var err error
	if cfg.engines, err = parseEngines(*engineList, cfg.external); err != nil {
		return nil, err
	}
	if cfg.sizes, err = parseList(*sizeList, "sizes", 1, maxSize); err != nil {
		return nil, err
	}
	if cfg.bufSizes, err = parseBufSizes(*bufList); err != nil {
		return nil, err
	}
	if cfg.conns, err = parseList(*connList, "conns", 1, 100_000); err != nil {
		return nil, err
	}
	if cfg.idle, err = parseList(*idleList, "idle", 1, 1_000_000); err != nil {
		return nil, err
	}
	if cfg.files, err = parseList(*fileList, "file", 1, 1<<30); err != nil {
		return nil, err
	}
	if cfg.handshakes, err = parseList(*handshakeList, "handshakes", 1, 10_000); err != nil {
		return nil, err
	}
	if cfg.pin, err = parsePin(cfg.pinText); err != nil {
		return nil, err
	}
	if cfg.compare, err = parsePairs(*compareList); err != nil {
		return nil, err
	}
	if cfg.report == "" { // an earlier run's engines are known only once its report is read
		for _, p := range cfg.compare {
			for _, e := range []string{p.a, p.b} {
				if !slices.Contains(cfg.engines, e) {
					return nil, fmt.Errorf("-compare %s: %s is not in -engines", p, e)
				}
			}
		}
	}
	if cfg.pipeline < 1 || cfg.pipeline > maxPipeline {
		return nil, fmt.Errorf("-pipeline: %d is out of range [1, %d]", cfg.pipeline, maxPipeline)
	}
	for _, s := range cfg.sizes {
		if s > maxSize/cfg.pipeline {
			return nil, fmt.Errorf("-pipeline %d × -sizes %s is over %s in flight per connection", cfg.pipeline, fmtSize(s), fmtSize(maxSize))
		}
	}
	if cfg.udp != modeOff {
		if err := checkUDP(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.rounds < 1 || cfg.rounds > maxRounds {
		return nil, fmt.Errorf("-rounds: %d is out of range [1, %d]", cfg.rounds, maxRounds)
	}
	if cfg.duration <= 0 || cfg.warmup < 0 {
		return nil, errors.New("-duration must be positive and -warmup not negative")
	}
	if cfg.out == "" {
		host, _ := os.Hostname()
		cfg.out = filepath.Join("bench", "results", time.Now().Format("20060102-150405")+"-"+host)
	}
	return &cfg, nil
}

// checkUDP refuses what UDP cells cannot do.
func checkUDP(cfg *config) error {
	for _, s := range cfg.sizes {
		if s > maxDatagram {
			return fmt.Errorf("-udp: -sizes %s is over %d bytes, the largest UDP datagram", fmtSize(s), maxDatagram)
		}
	}
	if cfg.pipeline > 1 {
		return fmt.Errorf("-udp: a UDP client keeps one datagram in flight, -pipeline %d is for TCP cells", cfg.pipeline)
	}
	if cfg.udp == modeOn && cfg.tls != modeOff {
		return errors.New("-udp: UDP cells have no TLS; -udp=both runs TCP cells (with -tls) beside UDP ones")
	}
	return nil
}

// parseEngines splits a comma list of engine names and checks each
// against bench's engines and the external ones.
func parseEngines(s string, external map[string]string) ([]string, error) {
	var out []string
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(strings.ToLower(e))
		if e == "" {
			continue
		}
		if _, ok := external[e]; !ok && !slices.Contains(engines, e) {
			return nil, fmt.Errorf("-engines: unknown engine %q (want %s)", e, strings.Join(engines, ", "))
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("-engines: no engine")
	}
	return out, nil
}

// parseList parses a comma list of numbers in [lo, hi], each with an
// optional binary suffix k (KiB) or m (MiB). An empty list is nil.
func parseList(s, name string, lo, hi int) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(strings.ToLower(f))
		if f == "" {
			continue
		}
		n, err := parseSize(f)
		if err != nil {
			return nil, fmt.Errorf("-%s: %w", name, err)
		}
		if n < lo || n > hi {
			return nil, fmt.Errorf("-%s: %d is out of range [%d, %d]", name, n, lo, hi)
		}
		out = append(out, n)
	}
	return out, nil
}

// parseBufSizes parses -bufsizes: a size list in which "auto" stands for 0,
// the tuner.
func parseBufSizes(s string) ([]int, error) {
	var fixed []string
	var out []int
	for _, f := range strings.Split(s, ",") {
		if strings.EqualFold(strings.TrimSpace(f), "auto") {
			out = addUniq(out, 0)
			continue
		}
		fixed = append(fixed, f)
	}
	sizes, err := parseList(strings.Join(fixed, ","), "bufsizes", 1, maxSize)
	if err != nil {
		return nil, err
	}
	// auto goes last, after the fixed sizes it is compared with.
	if len(out) == 1 {
		return append(sizes, 0), nil
	}
	return sizes, nil
}

// parseSize parses "4096", "4k" or "1m" (binary multiples).
func parseSize(s string) (int, error) {
	mult := 1
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(s, "m"):
		mult, s = 1<<20, s[:len(s)-1]
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("bad number %q", s)
	}
	if n > maxSize/mult {
		return 0, fmt.Errorf("%s is too large", s)
	}
	return n * mult, nil
}

// commandLine renders the bench command as a shell would take it.
func commandLine(args []string) string {
	parts := []string{"go run ./bench"}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}
