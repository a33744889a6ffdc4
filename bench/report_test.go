package main

import (
	"bytes"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sampleResults() []result {
	return []result{
		{Kind: kindEcho, Engine: "threaded", Size: 1024, BufSize: 65536, Conns: 50, Pipeline: 4, Status: statusOK,
			WindowSec: 2.0001, RoundTrips: 123457, MsgsPerSec: 61725.3, MBPerSec: 63.2, P50us: 612.5, P99us: 2300.1,
			P999us: 9100, ServerCPUSec: 1.31, MsgsPerCPUSec: 94242.7, ClientCPUShare: 0.71, MinPerConn: 2300,
			MaxPerConn: 2700, ServerPeakRSS: 9 << 20, Note: "a note, with a comma"},
		{Kind: kindEcho, Engine: "evented", Size: 4096, BufSize: 0, Conns: 50, Status: statusOK,
			MsgsPerSec: 52210.5, MinPerConn: 900, MaxPerConn: 1200,
			Rounds: 3, RoundValues: []float64{52210.5, 49875.25, 53999}, RoundMin: 49875.25, RoundMax: 53999},
		{Kind: kindEcho, Engine: "evented-pool", Size: 64, BufSize: 4096, Conns: 50, Status: statusStarved,
			Starved: 42, MinPerConn: 0, MaxPerConn: 9000, MsgsPerSec: 40000},
		{Kind: kindEcho, Engine: "net", Size: 64, BufSize: 4096, Conns: 1, Status: statusFailed, Errors: 3,
			Error: "conn 0: bench: echo differs from the message sent: byte 5 of 64 is 0x10, want 0x00"},
		{Kind: kindEcho, Engine: "gnet", Size: 64, BufSize: 4096, Conns: 1, Status: statusUnavailable,
			Error: "build failed: \"quoted\" | piped\nsecond line"},
		{Kind: kindIdle, Engine: "evented", BufSize: 65536, Conns: 10000, Status: statusOK,
			RSSBefore: 5 << 20, RSSAfter: 25 << 20, RSSPerConn: 2097.152, ServerPeakRSS: 26 << 20},
	}
}

func TestResultsRoundTrip(t *testing.T) {
	t.Parallel()
	want := sampleResults()

	var buf bytes.Buffer
	if err := writeCSV(&buf, want); err != nil {
		t.Fatal(err)
	}
	got, err := readCSV(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CSV round trip:\n got %+v\nwant %+v", got, want)
	}

	path := filepath.Join(t.TempDir(), "results.json")
	rep := &report{Command: "go run ./bench -conns 50", Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Warmup: "1s", Duration: "3s", Machine: readMachine(), Results: want, Elapsed: time.Minute}
	if err := writeJSON(path, rep); err != nil {
		t.Fatal(err)
	}
	back, err := readJSON(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, rep) {
		t.Errorf("JSON round trip:\n got %+v\nwant %+v", back, rep)
	}
}

func TestReadCSVByName(t *testing.T) {
	t.Parallel()
	// Columns in another order, one unknown, some missing.
	in := "conns,extra,engine,msgs_per_s\n50,x,net,1.5\n"
	got, err := readCSV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []result{{Conns: 50, Engine: "net", MsgsPerSec: 1.5}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if _, err := readCSV(strings.NewReader("conns\nfifty\n")); err == nil {
		t.Error("a bad number read without error")
	}
}

func TestMarkdown(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	rep := &report{Command: "go run ./bench", Warmup: "1s", Duration: "3s", Machine: machineInfo{CPU: "cpu", Cores: 2}, Results: sampleResults()}
	if err := writeMarkdown(&buf, rep); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(buf.String(), "\n")
	row := func(prefix string) string {
		for _, l := range lines {
			if strings.HasPrefix(l, prefix) {
				return l
			}
		}
		t.Fatalf("no row starting %q in:\n%s", prefix, buf.String())
		return ""
	}
	if r := row("| threaded | 1k | 64k | 50 |"); !strings.Contains(r, "| 61725 | 63.2 | 612.5 |") || !strings.Contains(r, "| 71% |") || !strings.Contains(r, "| 2300–2700 |") {
		t.Errorf("ok row: %s", r)
	}
	if r := row("| evented | 4k | auto | 50 |"); !strings.Contains(r, "| 52210 (49.9k–54.0k) |") {
		t.Errorf("row of three rounds: %s", r)
	}
	if r := row("| evented-pool |"); !strings.Contains(r, "STARVED 42/50") {
		t.Errorf("starved row: %s", r)
	}
	if r := row("| net |"); !strings.Contains(r, "FAILED: ") || strings.Count(r, dash) != 10 {
		t.Errorf("failed row shows figures: %s", r)
	}
	if r := row("| gnet |"); !strings.Contains(r, "unavailable: build failed") || strings.Contains(r, "piped\n") || strings.Count(r, "|") != 17 {
		t.Errorf("unavailable row: %s", r)
	}
	if r := row("| evented | 64k | 10000 |"); !strings.Contains(r, "| 5.0 MiB | 25.0 MiB | 2097 B |") {
		t.Errorf("idle row: %s", r)
	}
}

// TestMarkdownPlacementNote checks that an unpinned run with one-connection
// cells says their figures depend on where the threads ran, and that no
// other run does.
func TestMarkdownPlacementNote(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		conns int
		pin   string
		want  bool
	}{
		{"one connection, unpinned", 1, "", true},
		{"one connection, pinned", 1, "1/1", false},
		{"fifty connections, unpinned", 50, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rep := &report{Command: "go run ./bench", Warmup: "1s", Duration: "3s", Pin: tt.pin, Machine: machineInfo{CPU: "cpu", Cores: 2},
				Results: []result{{Kind: kindEcho, Engine: "evented", Size: 64, Conns: tt.conns, Status: statusOK, MsgsPerSec: 1000}}}
			var buf bytes.Buffer
			if err := writeMarkdown(&buf, rep); err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(buf.String(), placementNote); got != tt.want {
				t.Errorf("placement note shown: %v, want %v, in:\n%s", got, tt.want, buf.String())
			}
		})
	}
}
