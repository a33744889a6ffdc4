package main

import (
	"bytes"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParsePairs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []pair
	}{
		{"", nil},
		{"evented/gnet", []pair{{"evented", "gnet"}}},
		{" Threaded/net ,uring/evented", []pair{{"threaded", "net"}, {"uring", "evented"}}},
	} {
		got, err := parsePairs(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("parsePairs(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"evented", "/gnet", "evented/", "net/net", "a/b/c", "evented/gnet,"} {
		if got, err := parsePairs(bad); err == nil {
			t.Errorf("parsePairs(%q) = %v, want an error", bad, got)
		}
	}
}

func TestCompareFlag(t *testing.T) {
	t.Parallel()
	cfg, err := parseFlags([]string{"-engines", "evented,gnet,net", "-compare", "evented/gnet"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.compare, []pair{{"evented", "gnet"}}) {
		t.Errorf("compare = %v", cfg.compare)
	}
	// An engine that will not run cannot be compared.
	if _, err := parseFlags([]string{"-engines", "evented,net", "-compare", "evented/gnet"}, io.Discard); err == nil {
		t.Error("-compare with an engine missing from -engines did not fail")
	}
	// With -report the engines are the earlier run's, checked when shown.
	cfg, err = parseFlags([]string{"-report", "x/results.json", "-compare", "uring/gnet"}, io.Discard)
	if err != nil || !slices.Equal(cfg.compare, []pair{{"uring", "gnet"}}) {
		t.Errorf("-report -compare: %v, %v", cfg, err)
	}
}

func TestWritePaired(t *testing.T) {
	t.Parallel()
	echo := func(engine string, size, conns int, msgs, effs []float64, status string) result {
		r := result{Kind: kindEcho, Engine: engine, Size: size, BufSize: 65536, Conns: conns, Status: status,
			Rounds: len(msgs), RoundValues: msgs, EffRoundValues: effs}
		if len(msgs) == 1 { // one round keeps no per-round values
			r.Rounds, r.RoundValues, r.EffRoundValues = 0, nil, nil
			r.MsgsPerSec = msgs[0]
			if len(effs) == 1 {
				r.MsgsPerCPUSec = effs[0]
			}
		}
		return r
	}
	results := []result{
		// Drift: both engines slow down over the run; the paired ratio
		// stays at 1.10 while the ratio of medians would say 1.00.
		echo("evented", 64, 50, []float64{110, 88, 66}, []float64{220, 176, 132}, statusOK),
		echo("gnet", 64, 50, []float64{100, 80, 60}, []float64{200, 160, 120}, statusOK),
		echo("evented", 1024, 50, []float64{90, 100, 110}, []float64{100, 100, 100}, statusOK),
		echo("gnet", 1024, 50, []float64{100, 100, 100}, []float64{125, 80, 100}, statusOK),
		echo("evented", 64, 500, []float64{100, 100, 100}, nil, statusOK), // no server CPU read
		echo("gnet", 64, 500, []float64{100, 100, 100}, []float64{1, 1, 1}, statusOK),
		echo("evented", 64, 5, nil, nil, statusFailed),
		echo("gnet", 64, 5, []float64{1, 1, 1}, []float64{1, 1, 1}, statusOK),
		echo("evented+tls", 64, 50, []float64{50, 50, 50}, []float64{60, 60, 60}, statusOK),
		echo("gnet+tls", 64, 50, nil, nil, statusUnavailable),
		echo("net", 64, 50, []float64{1, 1, 1}, []float64{1, 1, 1}, statusOK), // not in any pair
	}
	var buf bytes.Buffer
	if err := writePaired(&buf, results, []pair{{"evented", "gnet"}}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"| evented/gnet | 64 × 50 | 1.10 (1.10–1.10) | 1.10 (1.10–1.10) | 3 of 3 |",
		"| evented/gnet | 1k × 50 | 1.00 (0.90–1.10) | 1.00 (0.80–1.25) | 2 of 3 |",
		"| evented/gnet | 64 × 500 | 1.00 (1.00–1.00) | — | — |",
		"| evented/gnet | 64 × 5 | evented FAILED, gnet ok | — | — |",
		"| evented+tls/gnet+tls | 64 × 50 | evented+tls ok, gnet+tls unavailable | — | — |",
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("paired table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "| net") || strings.Contains(out, "/net") {
		t.Errorf("paired table shows an engine outside the pairs:\n%s", out)
	}

	// One round: the single ratio, without a range.
	buf.Reset()
	one := []result{
		echo("threaded", 64, 50, []float64{90}, []float64{180}, statusOK),
		echo("net", 64, 50, []float64{100}, []float64{200}, statusOK),
	}
	if err := writePaired(&buf, one, []pair{{"threaded", "net"}}); err != nil {
		t.Fatal(err)
	}
	if want := "| threaded/net | 64 × 50 | 0.90 | 0.90 | 0 of 1 |\n"; !strings.Contains(buf.String(), want) {
		t.Errorf("one round: want %q in\n%s", want, buf.String())
	}

	// A pair whose engines never ran says so instead of an empty table.
	buf.Reset()
	if err := writePaired(&buf, one, []pair{{"uring", "gnet"}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "uring/gnet | no workload has echo cells of both engines") {
		t.Errorf("pair of absent engines:\n%s", buf.String())
	}
}

// TestCompareReport renders a saved run's pairs with -report, and lets
// -compare replace them.
func TestCompareReport(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "results.json")
	rep := &report{Command: "go run ./bench", Compare: []string{"threaded/net"}, Results: []result{
		{Kind: kindEcho, Engine: "threaded", Size: 64, Conns: 50, Status: statusOK, MsgsPerSec: 90, MsgsPerCPUSec: 180},
		{Kind: kindEcho, Engine: "net", Size: 64, Conns: 50, Status: statusOK, MsgsPerSec: 100, MsgsPerCPUSec: 200},
	}}
	if err := writeJSON(path, rep); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "| threaded/net | 64 × 50 | 0.90 | 0.90 | 0 of 1 |"},
		{[]string{"-compare", "net/threaded"}, "| net/threaded | 64 × 50 | 1.11 | 1.11 | 1 of 1 |"},
	} {
		var stdout, stderr bytes.Buffer
		args := append([]string{"-report", path, "-charts=false"}, tc.args...)
		if code := run(args, &stdout, &stderr); code != 0 {
			t.Fatalf("run %q: exit %d: %s", args, code, stderr.String())
		}
		if !strings.Contains(stdout.String(), tc.want+"\n") {
			t.Errorf("run %q: want %q in\n%s", args, tc.want, stdout.String())
		}
	}
}
