package main

import (
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// TestSmokeUDP runs UDP echo cells through the real runner: packet and
// net re-executed from this binary, gnet built from bench/peers (reported
// unavailable when it does not build here), and threaded, which has no
// UDP server and must say so.
func TestSmokeUDP(t *testing.T) {
	if testing.Short() {
		t.Skip("runs servers for a few seconds")
	}
	out := filepath.Join(t.TempDir(), "run")
	args := []string{"-engines", "packet,net,gnet,threaded", "-udp", "-sizes", "1000", "-conns", "3",
		"-duration", "500ms", "-warmup", "100ms", "-charts=false", "-out", out}
	rep, stdout, _ := runOK(t, args, out)
	got := map[string]result{}
	for _, r := range rep.Results {
		got[r.Engine] = r
	}
	if len(rep.Results) != 4 {
		t.Fatalf("%d results, want 4: %+v", len(rep.Results), rep.Results)
	}
	for _, e := range []string{"packet/udp", "net/udp", "gnet/udp"} {
		r := got[e]
		if e == "gnet/udp" && r.Status == statusUnavailable && strings.Contains(r.Error, "build failed") {
			t.Logf("gnet does not build here: %s", r.Error)
			continue
		}
		if r.Status != statusOK || !r.UDP || r.BufSize != udpBufSize || r.Errors != 0 {
			t.Errorf("%s: status %s (%s), udp %v, bufsize %d, errors %d", e, r.Status, r.Error, r.UDP, r.BufSize, r.Errors)
			continue
		}
		if r.MsgsPerSec <= 0 || r.P50us <= 0 || r.P50us > r.P99us || r.MinPerConn <= 0 || r.MsgsPerCPUSec <= 0 || r.ServerPeakRSS <= 0 {
			t.Errorf("%s has implausible figures: %+v", e, r)
		}
	}
	if r := got["threaded/udp"]; r.Status != statusUnavailable || !strings.Contains(r.Error, "no UDP server") {
		t.Errorf("threaded/udp: status %s (%s), want unavailable: no UDP server", r.Status, r.Error)
	}
	for _, want := range []string{"| packet/udp | 1000 | 64k | 3 |", "| net/udp | 1000 |", " lost |", "| msg/s: size × conns | packet/udp | net/udp | gnet/udp |"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, stdout.String())
		}
	}
}

func TestParseUDP(t *testing.T) {
	t.Parallel()
	cfg, err := parseFlags([]string{"-udp=both", "-engines", "net,packet", "-sizes", "64,65507", "-conns", "1",
		"-bufsizes", "4k,64k", "-tls=both"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var tcp, tls, udp []string
	for _, c := range cfg.cells() {
		switch {
		case c.UDP:
			udp = append(udp, c.String())
			if c.BufSize != udpBufSize || c.TLS {
				t.Errorf("UDP cell %s: bufsize %d, TLS %v", c, c.BufSize, c.TLS)
			}
		case c.TLS:
			tls = append(tls, c.String())
		default:
			tcp = append(tcp, c.String())
		}
	}
	// Per size: net and packet at two buffers over TCP, net over TLS at
	// two buffers, and one UDP cell each.
	if len(tcp) != 8 || len(tls) != 4 || len(udp) != 4 {
		t.Errorf("cells: tcp %q, tls %q, udp %q", tcp, tls, udp)
	}
	if udp[0] != "net/udp size=64 bufsize=64k conns=1" {
		t.Errorf("first UDP cell is %q", udp[0])
	}

	cfg, err = parseFlags([]string{"-udp", "-engines", "net", "-sizes", "64", "-conns", "1"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cells := cfg.cells(); len(cells) != 1 || !cells[0].UDP {
		t.Errorf("-udp cells: %v, want one UDP cell", cells)
	}

	for _, bad := range [][]string{
		{"-udp", "-sizes", "65508"},
		{"-udp=both", "-sizes", "64k"},
		{"-udp", "-sizes", "64", "-pipeline", "2"},
		{"-udp", "-sizes", "64", "-tls"},
		{"-udp=sometimes", "-sizes", "64"},
	} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) did not fail", bad)
		}
	}
}
