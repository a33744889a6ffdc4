package main

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestTuneFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"-tune", "-sizes", "1k"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.engines, []string{"threaded", "threaded-syscall", "evented"}) ||
		!slices.Equal(cfg.sizes, []int{1 << 10}) || !slices.Equal(cfg.conns, []int{5}) ||
		!slices.Equal(cfg.bufSizes, []int{1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 0}) {
		t.Fatalf("-tune -sizes 1k gave engines %v sizes %v conns %v bufsizes %v", cfg.engines, cfg.sizes, cfg.conns, cfg.bufSizes)
	}
	if got, err := parseBufSizes("auto, 4k"); err != nil || !slices.Equal(got, []int{4 << 10, 0}) {
		t.Fatalf("parseBufSizes(auto, 4k) = %v, %v; want [4096 0]: auto last", got, err)
	}
	if _, err := parseBufSizes("4k,automatic"); err == nil {
		t.Fatal("parseBufSizes accepted automatic")
	}
}

func TestAutoCellsOnlyForSockpool(t *testing.T) {
	cfg := &config{engines: []string{"threaded", "net", "gnet"}, sizes: []int{64}, conns: []int{1}, bufSizes: []int{4096, 0}}
	var auto []string
	for _, c := range cfg.cells() {
		if c.BufSize == 0 {
			auto = append(auto, c.Engine)
		}
	}
	if !slices.Equal(auto, []string{"threaded"}) {
		t.Fatalf("auto cells for %v, want threaded only", auto)
	}
}

// tuneResults: two engines over three fixed sizes and auto; evented's best
// is 64k, threaded's 16k; one threaded cell is starved and must never be
// recommended, however high its total.
func tuneResults() []result {
	rates := map[string]map[int]float64{
		"threaded": {4 << 10: 100, 16 << 10: 300, 64 << 10: 900, 0: 290},
		"evented":  {4 << 10: 200, 16 << 10: 400, 64 << 10: 500, 0: 480},
	}
	var out []result
	for _, e := range []string{"threaded", "evented"} {
		for _, b := range []int{4 << 10, 16 << 10, 64 << 10, 0} {
			r := result{Kind: kindEcho, Engine: e, Size: 64 << 10, BufSize: b, Conns: 5, Status: statusOK, MsgsPerSec: rates[e][b]}
			if e == "threaded" && b == 64<<10 {
				r.Status, r.Starved = statusStarved, 2
			}
			r.MBPerSec = r.MsgsPerSec * float64(r.Size) / 1e6
			out = append(out, r)
		}
	}
	return out
}

func TestWriteTuning(t *testing.T) {
	var b strings.Builder
	if err := writeTuning(&b, tuneResults()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"| 64k | 5 | evented, bufsize 64k | 500 |",
		"evented 64k (500); auto 96%",
		"threaded 16k (300); auto 97%",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("tuning table lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "evented 64k") > strings.Index(out, "threaded 16k") {
		t.Errorf("engines not ordered fastest first:\n%s", out)
	}
	b.Reset()
	one := tuneResults()[:1]
	if err := writeTuning(&b, one); err != nil || b.Len() != 0 {
		t.Errorf("one buffer size wrote %q, %v; want nothing", b.String(), err)
	}
}

func TestTuningChartDrawsAuto(t *testing.T) {
	dir := t.TempDir()
	files, err := writeCharts(dir, &report{Results: tuneResults()})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(files, "mbps-vs-bufsize-s64k.svg") {
		t.Fatalf("charts %v lack the tuning chart", files)
	}
	svg, err := os.ReadFile(filepath.Join(dir, "mbps-vs-bufsize-s64k.svg"))
	if err != nil {
		t.Fatal(err)
	}
	// auto has no x of its own: each engine's auto cell is a level line
	// with a legend entry.
	for _, want := range []string{"evented auto", "threaded auto"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("tuning chart has no %q legend entry", want)
		}
	}
}
