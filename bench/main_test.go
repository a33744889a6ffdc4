package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain lets the test binary stand in for the bench binary: the runner
// re-executes itself (os.Executable) in serve mode with serveEnv set, and
// here that is the test binary, which then serves instead of testing. It
// also fails the run if a goroutine outlives the tests; ants starts two
// goroutines for its default pool when imported, which IgnoreCurrent skips.
func TestMain(m *testing.M) {
	if os.Getenv(serveEnv) == "1" {
		if err := serve(os.Args[1:]); err != nil {
			os.Stderr.WriteString("bench -serve: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}

// TestSmoke runs a small matrix through the real runner: two echo cells of
// one second (threaded and net, servers re-executed from this binary) and
// two idle cells, and checks the table and the files it writes.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("runs servers for a few seconds")
	}
	out := filepath.Join(t.TempDir(), "run")
	args := []string{"-engines", "threaded,net", "-sizes", "256", "-conns", "4",
		"-duration", "1s", "-warmup", "200ms", "-idle", "50", "-rounds", "2", "-out", out}
	rep, stdout, stderr := runOK(t, args, out)
	if md, err := os.ReadFile(filepath.Join(out, "results.md")); err != nil || string(md) != stdout.String() {
		t.Errorf("results.md is not the table printed (%v):\n%s", err, md)
	}
	if len(rep.Results) != 4 {
		t.Fatalf("results.json has %d results, want 4: %+v", len(rep.Results), rep.Results)
	}
	for _, r := range rep.Results {
		if r.Status != statusOK {
			t.Errorf("%s %s cell: status %s (%s)", r.Engine, r.Kind, r.Status, r.Error)
			continue
		}
		if r.Rounds != 2 || len(r.RoundValues) != 2 || r.RoundMin > r.figure() || r.figure() > r.RoundMax {
			t.Errorf("%s %s cell: rounds %d, values %v, range %v–%v, figure %v", r.Engine, r.Kind,
				r.Rounds, r.RoundValues, r.RoundMin, r.RoundMax, r.figure())
		}
		switch r.Kind {
		case kindEcho:
			if r.MsgsPerSec <= 0 || r.P50us <= 0 || r.P50us > r.P99us || r.ServerPeakRSS <= 0 || r.MinPerConn <= 0 {
				t.Errorf("%s echo cell has implausible figures: %+v", r.Engine, r)
			}
		case kindIdle:
			if r.RSSBefore <= 0 || r.RSSAfter <= 0 {
				t.Errorf("%s idle cell has no RSS: %+v", r.Engine, r)
			}
		}
	}
	f, err := os.Open(filepath.Join(out, "results.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := readCSV(f)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rows, rep.Results) {
		t.Errorf("results.csv differs from results.json:\n%+v\n%+v", rows, rep.Results)
	}
	for _, name := range []string{"command.txt", "machine.txt"} {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil || len(bytes.TrimSpace(b)) == 0 {
			t.Errorf("%s: %v, %d bytes", name, err, len(b))
		}
	}
	if cmd, _ := os.ReadFile(filepath.Join(out, "command.txt")); !strings.Contains(string(cmd), "-engines threaded,net") {
		t.Errorf("command.txt = %q, want the command line", cmd)
	}
	table := stdout.String()
	for _, want := range []string{"| engine | size |", "| threaded | 256 |", "| net | 256 |", "| engine | bufsize | idle conns |"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	var again bytes.Buffer
	if code := run([]string{"-report", filepath.Join(out, "results.json")}, &again, io.Discard); code != 0 || again.String() != table {
		t.Errorf("-report = %d, printed:\n%s\nwant the run's table:\n%s", code, again.String(), table)
	}
	for _, name := range []string{"msgs-vs-size-c4.png", "msgs-vs-size-c4.svg"} {
		if fi, err := os.Stat(filepath.Join(out, name)); err != nil || fi.Size() == 0 {
			t.Errorf("chart %s: %v", name, err)
		}
		if !strings.Contains(stderr.String(), "  "+name+"\n") {
			t.Errorf("stderr does not list chart %s:\n%s", name, stderr.String())
		}
	}
	if !strings.Contains(stderr.String(), "round 2/2  cell 8/8") {
		t.Errorf("no progress line for the last cell in stderr:\n%s", stderr.String())
	}
}

// TestUnavailablePeer checks that a peer that cannot be built is reported
// as unavailable, and the run goes on.
func TestUnavailablePeer(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	args := []string{"-engines", "gnet", "-sizes", "64", "-conns", "1", "-duration", "10ms",
		"-warmup", "0s", "-peers", t.TempDir(), "-out", out}
	var stdout, stderr bytes.Buffer
	start := time.Now()
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("run = %d, want 0 (unavailable is not a failure); stderr:\n%s", code, stderr.String())
	}
	rep, err := readJSON(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 1 || rep.Results[0].Status != statusUnavailable || rep.Results[0].Error == "" {
		t.Fatalf("results = %+v, want one unavailable cell with a reason", rep.Results)
	}
	if !strings.Contains(stdout.String(), "unavailable: ") {
		t.Errorf("table does not say unavailable:\n%s", stdout.String())
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("an unavailable peer took %v", d)
	}
}

// runOK runs bench with args, which write to out, and returns the report it
// wrote, and what it printed on stdout (the table) and stderr; a failed run
// fails t.
func runOK(t *testing.T, args []string, out string) (rep *report, stdout, stderr *bytes.Buffer) {
	t.Helper()
	stdout, stderr = new(bytes.Buffer), new(bytes.Buffer)
	if code := run(args, stdout, stderr); code != 0 {
		t.Fatalf("run = %d; stderr:\n%s\nstdout:\n%s", code, stderr.String(), stdout.String())
	}
	rep, err := readJSON(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	return rep, stdout, stderr
}

// TestExternal runs an outside server as an engine: a command that takes
// the port as its argument and prints nothing (here a script that starts
// this binary's net server on that port, its output thrown away), measured
// like any other, and refused for TLS cells.
func TestExternal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a server for a second")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "echo.sh")
	body := "#!/bin/sh\n" + serveEnv + "=1 exec '" + exe + "' -serve net -addr 127.0.0.1:$1 >/dev/null\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "run")
	args := []string{"-engines", "ext", "-external", "ext=" + script, "-sizes", "256", "-conns", "2",
		"-duration", "500ms", "-warmup", "100ms", "-out", out, "-charts=false"}
	rep, _, _ := runOK(t, args, out)
	if len(rep.Results) != 1 || rep.Results[0].Status != statusOK || rep.Results[0].MsgsPerCPUSec <= 0 {
		t.Fatalf("results %+v, want one ok cell with a server CPU figure", rep.Results)
	}
	if _, err := parseFlags([]string{"-external", "net=/bin/true"}, io.Discard); err == nil {
		t.Error("-external may not take the name of one of bench's engines")
	}
}
