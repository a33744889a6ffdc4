package main

import (
	"flag"
	"testing"
)

func TestParseSize(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want int
		ok   bool
	}{
		{"0", 0, true}, {"1048576", 1 << 20, true}, {"512mb", 512 << 20, true}, {"1GB", 1 << 30, true},
		{"64kb", 64 << 10, true}, {"64k", 64000, true}, {"2m", 2e6, true}, {"1g", 1e9, true}, {"10b", 10, true},
		{"", 0, false}, {"mb", 0, false}, {"-1", 0, false}, {"1.5mb", 0, false}, {"12q", 0, false}, {"1 mb", 0, false},
		{"99999999999gb", 0, false},
	}
	for _, tc := range cases {
		got, err := parseSize(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("parseSize(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// TestSizeFlag checks that a sizeFlag's default prints in the unit it was
// written in and that setting it round-trips.
func TestSizeFlag(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n    int
		text string
	}{{defaultMaxBulk, "64mb"}, {defaultMaxQuery, "1gb"}, {3072, "3kb"}, {1000, "1000"}, {0, "0"}} {
		n := tc.n
		f := sizeFlag{&n}
		if got := f.String(); got != tc.text {
			t.Errorf("String of %d = %q, want %q", tc.n, got, tc.text)
		}
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		var m int
		fs.Var(sizeFlag{&m}, "size", "")
		if err := fs.Parse([]string{"-size", tc.text}); err != nil || m != tc.n {
			t.Errorf("-size %s: %d, %v; want %d", tc.text, m, err, tc.n)
		}
	}
}
