package main

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// lookRedisTools finds redis-cli and redis-benchmark or skips the test.
func lookRedisTools(t *testing.T) (cli, bench string) {
	t.Helper()
	cli, err1 := exec.LookPath("redis-cli")
	bench, err2 := exec.LookPath("redis-benchmark")
	if err1 != nil || err2 != nil {
		t.Skip("redis-cli and redis-benchmark are not in PATH; install them (Debian: apt-get install redis-tools) to test with real Redis clients")
	}
	return cli, bench
}

// TestRedisBenchmark runs redis-benchmark, pipelined, against each engine:
// every test must complete and report its rate, with no errors.
func TestRedisBenchmark(t *testing.T) {
	_, bench := lookRedisTools(t)
	tests := []string{"PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET (10 keys)"}
	for _, eng := range engines() {
		t.Run(eng.String(), func(t *testing.T) {
			host, port, _ := net.SplitHostPort(startServer(t, eng, limits{}))
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bench, "-h", host, "-p", port,
				"-t", "ping,set,get,incr,mset", "-n", "100000", "-P", "16", "-q")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("redis-benchmark: %v\n%s", err, out)
			}
			// -q rewrites a progress line with CR; the results end in LF.
			text := strings.ReplaceAll(string(out), "\r", "\n")
			if strings.Contains(text, "ERR") || strings.Contains(strings.ToLower(text), "error") {
				t.Errorf("redis-benchmark reported errors:\n%s", text)
			}
			for _, name := range tests {
				if !hasLine(text, name+": ", "requests per second") {
					t.Errorf("no result for %s in:\n%s", name, text)
				}
			}
			t.Logf("%s", resultLines(text))
		})
	}
}

// hasLine reports whether a line of text starts (after spaces) with prefix
// and contains substr.
func hasLine(text, prefix, substr string) bool {
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, prefix) && strings.Contains(line, substr) {
			return true
		}
	}
	return false
}

func resultLines(text string) string {
	var sb strings.Builder
	for line := range strings.Lines(text) {
		if strings.Contains(line, "requests per second") {
			sb.WriteString(strings.TrimSpace(line) + "\n")
		}
	}
	return sb.String()
}

// TestRedisCLI round-trips values through redis-cli against each engine:
// spaces, bytes outside ASCII, a 100 KB binary value given on stdin (-x).
// Without a terminal redis-cli prints replies raw, one per line.
func TestRedisCLI(t *testing.T) {
	cli, _ := lookRedisTools(t)
	big := make([]byte, 100<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(rng.UintN(256)) // NULs, CRs and LFs included
	}
	spaced := "hello  world \t \x01\x7f\xc3\xa9\xff end"
	cases := []struct {
		args  []string
		stdin []byte
		want  string
	}{
		{[]string{"PING"}, nil, "PONG\n"},
		{[]string{"SET", "greeting", spaced}, nil, "OK\n"},
		{[]string{"GET", "greeting"}, nil, spaced + "\n"},
		{[]string{"INCR", "counter"}, nil, "1\n"},
		{[]string{"INCR", "counter"}, nil, "2\n"},
		{[]string{"INCR", "greeting"}, nil, "ERR value is not an integer or out of range\n\n"}, // redis-cli adds a blank line after an error
		{[]string{"MSET", "a", "x y", "b", ""}, nil, "OK\n"},
		{[]string{"MGET", "greeting", "counter", "a", "b", "missing"}, nil, spaced + "\n2\nx y\n\n\n"},
		{[]string{"-x", "SET", "big"}, big, "OK\n"},
		{[]string{"GET", "big"}, nil, string(big) + "\n"},
		{[]string{"EXISTS", "big", "missing"}, nil, "1\n"},
		{[]string{"DEL", "big"}, nil, "1\n"},
		{[]string{"CONFIG", "GET", "save"}, nil, "save\n\n"},
		{[]string{"COMMAND", "COUNT"}, nil, "12\n"},
		{[]string{"NOSUCH", "x"}, nil, "ERR unknown command 'NOSUCH', with args beginning with: 'x' \n\n"},
	}
	for _, eng := range engines() {
		t.Run(eng.String(), func(t *testing.T) {
			host, port, _ := net.SplitHostPort(startServer(t, eng, limits{}))
			for _, tc := range cases {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				cmd := exec.CommandContext(ctx, cli, append([]string{"-h", host, "-p", port}, tc.args...)...)
				cmd.Stdin = bytes.NewReader(tc.stdin)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				cancel()
				if err != nil {
					t.Errorf("redis-cli %q: %v; stderr: %s", tc.args[:min(len(tc.args), 3)], err, stderr.String())
					continue
				}
				if string(out) != tc.want {
					if len(out) > 200 || len(tc.want) > 200 {
						t.Errorf("redis-cli %q: %d bytes out, want %d (differ)", tc.args, len(out), len(tc.want))
					} else {
						t.Errorf("redis-cli %q: %q, want %q", tc.args, out, tc.want)
					}
				}
			}

			// Interactive redis-cli asks for COMMAND DOCS first; fed from a
			// pipe it reads commands line by line.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, cli, "-h", host, "-p", port)
			cmd.Stdin = strings.NewReader("SET piped \"a b\"\nGET piped\nCOMMAND DOCS\n")
			out, err := cmd.CombinedOutput()
			if err != nil || string(out) != "OK\na b\n\n" {
				t.Errorf("redis-cli with commands on stdin: %q, %v; want %q", out, err, "OK\na b\n\n")
			}
		})
	}
}

// TestRedisCLILimits checks what redis-cli shows for a request past a limit:
// the error, then the blank line it prints after an error. Against
// redis-server 7 --proto-max-bulk-len 1mb, the bulk case prints the same
// bytes; redis's own count limit (10 arguments before AUTH, with
// --requirepass) prints "unauthenticated multibulk length" in the same form.
func TestRedisCLILimits(t *testing.T) {
	cli, _ := lookRedisTools(t)
	keys := strings.Fields("a b c d e f g h i j k")
	cases := []struct {
		name   string
		limits limits
		args   []string
		stdin  []byte
		want   string
	}{
		{"bulk", limits{maxBulk: 1 << 20}, []string{"-x", "SET", "big"}, make([]byte, 2<<20), "ERR Protocol error: invalid bulk length\n\n"},
		{"bulk within", limits{maxBulk: 1 << 20}, []string{"-x", "SET", "big"}, make([]byte, 1<<20-1), "OK\n"},
		{"count", limits{maxArgs: 10}, append([]string{"DEL"}, keys...), nil, "ERR Protocol error: invalid multibulk length\n\n"},
		{"count within", limits{maxArgs: 10}, append([]string{"DEL"}, keys[:9]...), nil, "0\n"},
	}
	for _, eng := range engines() {
		for _, tc := range cases {
			t.Run(eng.String()+"/"+tc.name, func(t *testing.T) {
				host, port, _ := net.SplitHostPort(startServer(t, eng, tc.limits))
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				cmd := exec.CommandContext(ctx, cli, append([]string{"-h", host, "-p", port}, tc.args...)...)
				cmd.Stdin = bytes.NewReader(tc.stdin)
				out, err := cmd.CombinedOutput()
				if err != nil || string(out) != tc.want {
					t.Errorf("redis-cli %q: %q, %v; want %q", tc.args[:min(len(tc.args), 3)], out, err, tc.want)
				}
			})
		}
	}
}
