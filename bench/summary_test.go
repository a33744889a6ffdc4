package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestWriteSummary(t *testing.T) {
	t.Parallel()
	echo := func(engine string, size, buf, conns int, msgs, perCPU float64, status string) result {
		return result{Kind: kindEcho, Engine: engine, Size: size, BufSize: buf, Conns: conns,
			MsgsPerSec: msgs, MsgsPerCPUSec: perCPU, Status: status}
	}
	results := []result{
		echo("threaded", 64, 4096, 50, 90_000, 110_000, statusOK),
		echo("threaded", 64, 65536, 50, 95_000, 105_000, statusOK), // the faster buffer is picked
		echo("threaded", 64, 0, 50, 99_000, 0, statusStarved),      // never picked: starved
		echo("evented", 64, 4096, 50, 93_000, 120_000, statusOK),
		echo("gnet", 64, 4096, 50, 0, 0, statusUnavailable),
		echo("threaded", 1024, 4096, 1, 20_000, 40_000, statusOK),
		echo("evented", 1024, 4096, 1, 0, 0, statusStarved),
		{Kind: kindIdle, Engine: "nbio", Conns: 1000, Status: statusOK}, // not an echo engine column
	}
	var buf bytes.Buffer
	if err := writeSummary(&buf, results); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"| msg/s: size × conns | threaded | evented | gnet |",
		"| 64 × 50 | **95.0k** | 93.0k | unavailable |",
		"| 1k × 1 | **20.0k** | STARVED | — |",
		"| msg/srv-CPU-s: size × conns | threaded | evented | gnet |",
		"| 64 × 50 | 105k | **120k** | unavailable |",
		"| 1k × 1 | **40.0k** | STARVED | — |",
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}

	buf.Reset()
	if err := writeSummary(&buf, results[:3]); err != nil || buf.Len() != 0 {
		t.Errorf("one engine: err %v, wrote %q; want nothing", err, buf.String())
	}
}
