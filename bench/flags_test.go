package main

import (
	"io"
	"slices"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int{"64": 64, "1k": 1024, "4k": 4096, "64k": 65536, "1m": 1 << 20} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "k", "1.5k", "-", "99999999999m"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) did not fail", in)
		}
	}
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.engines, []string{"threaded", "evented", "net"}) || !slices.Equal(cfg.sizes, []int{64, 1024, 4096, 65536}) ||
		!slices.Equal(cfg.conns, []int{1, 50}) || cfg.duration != 3*time.Second || cfg.warmup != time.Second || cfg.idle != nil || cfg.out == "" {
		t.Errorf("defaults: %+v", cfg)
	}
	if n := len(cfg.cells()); n != 24 {
		t.Errorf("default matrix has %d cells, want 24", n)
	}

	cfg, err = parseFlags([]string{"-preset", "full", "-engines", "net", "-sizes", "1K, 64k"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.engines, []string{"net"}) || !slices.Equal(cfg.sizes, []int{1024, 65536}) ||
		!slices.Equal(cfg.idle, []int{1000, 10000}) || cfg.duration != 5*time.Second {
		t.Errorf("full preset with explicit flags: %+v", cfg)
	}

	for _, bad := range [][]string{
		{"-engines", "quantum"}, {"-sizes", "0"}, {"-conns", "x"}, {"-preset", "huge"},
		{"-duration", "0s"}, {"extra"},
	} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) did not fail", bad)
		}
	}
}

func TestCommandLine(t *testing.T) {
	t.Parallel()
	got := commandLine([]string{"-engines", "net", "-out", "my dir", "-x", "it's"})
	want := `go run ./bench -engines net -out 'my dir' -x 'it'\''s'`
	if got != want {
		t.Errorf("commandLine = %s, want %s", got, want)
	}
}

func TestParsePipelineAndCharts(t *testing.T) {
	t.Parallel()
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil || cfg.pipeline != 1 || !cfg.charts {
		t.Fatalf("defaults: pipeline %d, charts %v, %v", cfg.pipeline, cfg.charts, err)
	}
	cfg, err = parseFlags([]string{"-pipeline", "8", "-charts=false"}, io.Discard)
	if err != nil || cfg.pipeline != 8 || cfg.charts {
		t.Fatalf("-pipeline 8 -charts=false: pipeline %d, charts %v, %v", cfg.pipeline, cfg.charts, err)
	}
	for _, bad := range [][]string{{"-pipeline", "0"}, {"-pipeline", "5000"}, {"-pipeline", "4096", "-sizes", "64k"}} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) did not fail", bad)
		}
	}
}
