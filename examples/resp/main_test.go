package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain checks for leaked goroutines, and lets the test binary stand in
// for the resp command: run with SOCKPOOL_RESP_MAIN=1 it is the server, so
// TestCommand drives the real program (flags, listening line, signals, exit
// status) in its own process.
func TestMain(m *testing.M) {
	if os.Getenv("SOCKPOOL_RESP_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}

func TestCommand(t *testing.T) {
	t.Parallel()
	// past are requests past the limits the flags set, each with its reply,
	// each sent on a connection of its own.
	type past struct{ req, reply string }
	cases := []struct {
		name string
		args []string
		past []past
	}{
		{"threaded", []string{"-addr", "127.0.0.1:0"}, nil},
		{"unix", []string{"-network", "unix", "-addr", filepath.Join(t.TempDir(), "resp.sock"), "-max-bulk", "1000"},
			[]past{{resp("ECHO", strings.Repeat("x", 1001)), "-ERR Protocol error: invalid bulk length\r\n"}}},
		{"flags", []string{"-addr", "127.0.0.1:0", "-engine", "threaded", "-proto-max-bulk-len", "1kb", "-max-args", "3", "-client-query-buffer-limit", "2kb", "-bufsize", "4096", "-max-conns", "10"},
			[]past{
				{resp("ECHO", strings.Repeat("x", 1025)), "-ERR Protocol error: invalid bulk length\r\n"},
				{resp("EXISTS", "a", "b", "c"), "-ERR Protocol error: invalid multibulk length\r\n"},
				{strings.Repeat("PING ", 500), ""},
			}},
	}
	if engines := engines(); len(engines) > 1 {
		cases = append(cases, struct {
			name string
			args []string
			past []past
		}{"evented", []string{"-addr", "127.0.0.1:0", "-engine", "evented", "-loops", "2"}, nil})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], tc.args...)
			cmd.Env = append(os.Environ(), "SOCKPOOL_RESP_MAIN=1")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill() })

			line, err := bufio.NewReader(stdout).ReadString('\n')
			if err != nil {
				t.Fatalf("no listening line: %v; stderr: %s", err, stderr.String())
			}
			f := strings.Fields(line)
			if len(f) != 3 || f[0] != "listening" {
				t.Fatalf("first line %q, want \"listening <network> <address>\"", line)
			}
			if strings.HasSuffix(f[2], ":0") {
				t.Fatalf("listening line %q shows port 0, not the port picked", line)
			}
			c, err := net.Dial(f[1], f[2])
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, "SET k hello\r\nGET k\r\n")
			want := "+OK\r\n$5\r\nhello\r\n"
			got := make([]byte, len(want))
			if _, err := io.ReadFull(c, got); err != nil || string(got) != want {
				t.Fatalf("got %q, %v; want %q", got, err, want)
			}
			for _, p := range tc.past {
				pc, err := net.Dial(f[1], f[2])
				if err != nil {
					t.Fatal(err)
				}
				pc.SetDeadline(time.Now().Add(10 * time.Second))
				go io.WriteString(pc, p.req)
				got, err := io.ReadAll(pc) // until the server closes
				pc.Close()
				if string(got) != p.reply || err != nil && !isReset(err) {
					t.Errorf("past the limits: %q, %v; want %q and the connection closed", got, err, p.reply)
				}
			}

			cmd.Process.Signal(syscall.SIGTERM)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("after SIGTERM: %v; stderr: %s", err, stderr.String())
			}
			if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
				t.Errorf("connection still open after shutdown: %d, %v", n, err)
			}
		})
	}
}

func TestBadFlags(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-engine", "quantum"}, "quantum"},
		{[]string{"-max-bulk", "0"}, "proto-max-bulk-len"},
		{[]string{"-proto-max-bulk-len", "12q"}, "invalid size"},
		{[]string{"-max-args", "0"}, "max-args"},
		{[]string{"-client-query-buffer-limit", "3gb"}, "client-query-buffer-limit"},
		{[]string{"stray"}, "stray"},
	}
	for _, tc := range cases {
		if err := run(tc.args); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%q) = %v, want an error naming %q", tc.args, err, tc.want)
		}
	}
}
