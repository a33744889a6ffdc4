package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// chartReport is a synthetic run of 2 engines × 3 sizes × 2 conns × 2
// bufsizes, with one failed and one unavailable cell.
func chartReport() *report {
	rep := &report{}
	for _, e := range []string{"threaded", "evented"} {
		for _, b := range []int{4 << 10, 64 << 10} {
			for _, s := range []int{64, 1 << 10, 64 << 10} {
				for _, n := range []int{1, 50} {
					r := result{Kind: kindEcho, Engine: e, Size: s, BufSize: b, Conns: n, Status: statusOK,
						MsgsPerSec: 1e5 / float64(n) * float64(b>>10), P99us: 10 * float64(n)}
					r.MBPerSec = r.MsgsPerSec * float64(s) / 1e6
					r.MsgsPerCPUSec = 2 * r.MsgsPerSec
					rep.Results = append(rep.Results, r)
				}
			}
		}
	}
	rep.Results[3].fail(errMismatch)
	rep.Results[5].Status = statusUnavailable
	rep.Results = append(rep.Results, result{Kind: kindIdle, Engine: "threaded", BufSize: 4 << 10, Conns: 1000, Status: statusOK})
	return rep
}

func TestWriteCharts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files, err := writeCharts(dir, chartReport())
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, name := range []string{"msgs-vs-size-c1", "eff-vs-size-c1", "msgs-vs-size-c50", "eff-vs-size-c50",
		"mbps-vs-bufsize-s64", "mbps-vs-bufsize-s1k", "mbps-vs-bufsize-s64k",
		"p99-vs-conns-s64", "p99-vs-conns-s1k", "p99-vs-conns-s64k"} {
		want = append(want, name+".png", name+".svg")
	}
	if !slices.Equal(files, want) {
		t.Fatalf("files = %q\nwant %q", files, want)
	}
	for _, name := range files {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		switch filepath.Ext(name) {
		case ".png":
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Errorf("%s: %v", name, err)
			} else if r := img.Bounds(); r.Dx() < 200 || r.Dy() < 100 {
				t.Errorf("%s is %v", name, r)
			}
		case ".svg":
			if !bytes.HasPrefix(b, []byte("<?xml")) && !bytes.HasPrefix(b, []byte("<svg")) {
				t.Errorf("%s starts %q", name, b[:min(len(b), 40)])
			}
		}
	}
}

// TestWriteChartsOptional checks that a run of one buffer size and one
// connection count gets only the size chart, and one without figures none.
func TestWriteChartsOptional(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rep := &report{Results: []result{
		{Kind: kindEcho, Engine: "net", Size: 64, BufSize: 4096, Conns: 1, Status: statusOK, MsgsPerSec: 1000, MsgsPerCPUSec: 2000},
	}}
	files, err := writeCharts(dir, rep)
	if err != nil || !slices.Equal(files, []string{"msgs-vs-size-c1.png", "msgs-vs-size-c1.svg", "eff-vs-size-c1.png", "eff-vs-size-c1.svg"}) {
		t.Fatalf("one cell: files %q, %v", files, err)
	}
	rep.Results[0].fail(errShortRead)
	if files, err := writeCharts(t.TempDir(), rep); err != nil || len(files) != 0 {
		t.Fatalf("failed cell only: files %q, %v; want none", files, err)
	}
}

func TestShortNumber(t *testing.T) {
	t.Parallel()
	for v, want := range map[float64]string{0: "0", 250: "250", 2.5: "2.5", 25000: "25k", 1500: "1.5k", 2e6: "2M"} {
		if got := shortNumber(v); got != want {
			t.Errorf("shortNumber(%v) = %q, want %q", v, got, want)
		}
	}
}
