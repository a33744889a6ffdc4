package main

import (
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

	"github.com/sockpool/sockpool/examples/internal/cmdtest"
)

// TestMain lets the test binary stand in for the echo command: run with
// SOCKPOOL_ECHO_MAIN=1 it is the server, so the tests below drive the real
// program (flags, listening line, signals, exit status) in its own process.
func TestMain(m *testing.M) {
	if os.Getenv("SOCKPOOL_ECHO_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestEchoCommand(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "echo.sock")
	cases := []struct {
		name string
		args []string
	}{
		{"tcp", []string{"-addr", "127.0.0.1:0"}},
		{"unix", []string{"-network", "unix", "-addr", sock}},
		{"evented", []string{"-addr", "127.0.0.1:0", "-engine", "evented", "-loops", "2"}},
		{"evented-reuseport", []string{"-addr", "127.0.0.1:0", "-engine", "evented-pool", "-reuseport"}},
		{"evented-unix", []string{"-network", "unix", "-addr", sock + "2", "-engine", "evented"}},
		{"uring", []string{"-addr", "127.0.0.1:0", "-engine", "uring", "-loops", "2"}},
		{"syscall", []string{"-addr", "127.0.0.1:0", "-engine", "threaded-syscall", "-min-bufsize", "1024", "-max-bufsize", "65536"}},
		{"syscall-unix", []string{"-network", "unix", "-addr", sock + "3", "-engine", "threaded-syscall", "-bufsize", "4096"}},
		{"flags", []string{"-addr", "127.0.0.1:0", "-bufsize", "1024", "-workers", "4", "-max-conns", "4", "-overflow", "reject", "-idle-timeout", "1m", "-engine", "threaded"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Start checks the listening line: network, and the port picked.
			cmd := cmdtest.Start(t, "SOCKPOOL_ECHO_MAIN=1", nil, tc.args...)
			c, err := net.Dial(cmd.Network, cmd.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			msg := bytes.Repeat([]byte("sockpool "), 10_000)
			go c.Write(msg)
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("echo: %v (equal: %v)", err, bytes.Equal(got, msg))
			}

			cmd.Stop(t) // SIGTERM; it must exit 0
			if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
				t.Errorf("connection still open after shutdown: %d, %v", n, err)
			}
		})
	}
}

// TestHelpExitsZero: -h prints the usage and exits 0, as asking for help
// is not an error.
func TestHelpExitsZero(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-h")
	cmd.Env = append(os.Environ(), "SOCKPOOL_ECHO_MAIN=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "-engine") {
		t.Fatalf("echo -h: %v; output %q", err, out)
	}
}

func TestBadFlag(t *testing.T) {
	if err := run([]string{"-engine", "quantum"}); err == nil || !strings.Contains(err.Error(), "quantum") {
		t.Errorf("run with a bad engine = %v, want an error naming it", err)
	}
}

// TestSIGTERMWhileClientSends: a client that keeps sending after SIGTERM,
// even after the server's EOF, must not hold the shutdown to its deadline:
// once its echoes are delivered the example exits 0, well inside
// -shutdown-timeout, on every engine.
func TestSIGTERMWhileClientSends(t *testing.T) {
	for _, mode := range [][]string{
		{"-engine", "threaded"}, {"-engine", "threaded-syscall"},
		{"-engine", "evented"}, {"-engine", "evented-pool"},
	} {
		t.Run(strings.Join(mode, " "), func(t *testing.T) {
			t.Parallel()
			cmd, addr, stderr := startEcho(t, append([]string{"-addr", "127.0.0.1:0", "-shutdown-timeout", "3s"}, mode...)...)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			msg := []byte("sockpool")
			if _, err := c.Write(msg); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(c, make([]byte, len(msg))); err != nil {
				t.Fatal(err)
			}
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				for end := time.Now().Add(10 * time.Second); time.Now().Before(end); {
					select {
					case <-stop:
						return
					case <-time.After(5 * time.Millisecond):
					}
					if _, err := c.Write(msg); err != nil {
						return
					}
				}
			}()
			go io.Copy(io.Discard, c)
			time.Sleep(100 * time.Millisecond)
			begin := time.Now()
			cmd.Process.Signal(syscall.SIGTERM)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("after SIGTERM: %v; stderr: %s", err, stderr.String())
			}
			if took := time.Since(begin); took > 2*time.Second {
				t.Errorf("exited %v after SIGTERM, want well inside -shutdown-timeout 3s", took)
			}
		})
	}
}

// TestEchoUDP runs the datagram echo (-network udp) in its own process:
// the listening line names udp and the port picked, datagrams from 1 B to
// the largest UDP payload come back byte for byte, and SIGTERM makes it
// shut down and exit 0.
func TestEchoUDP(t *testing.T) {
	cmd := cmdtest.Start(t, "SOCKPOOL_ECHO_MAIN=1", nil, "-network", "udp", "-addr", "127.0.0.1:0", "-workers", "4")
	if cmd.Network != "udp" {
		t.Fatalf("listening on %s %s, want udp", cmd.Network, cmd.Addr)
	}
	c, err := net.Dial("udp", cmd.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, n := range []int{1, 100, 1472, 9000, 65507} {
		msg := bytes.Repeat([]byte("udp "), n/4+1)[:n]
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got := make([]byte, 65536)
		k, err := c.Read(got)
		if err != nil || !bytes.Equal(got[:k], msg) {
			t.Fatalf("echo of %d bytes: %d bytes back, %v (equal: %v)", n, k, err, bytes.Equal(got[:k], msg))
		}
	}

	cmd.Stop(t)
}

// TestUDPRefusesStreamFlags: flags of the stream server are refused with
// -network udp, by name, rather than quietly ignored.
func TestUDPRefusesStreamFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-network", "udp", "-tls-self-signed"}, "-tls-self-signed"},
		{[]string{"-network", "udp", "-engine", "evented", "-allow", "10.0.0.0/8"}, "-allow, -engine"},
		{[]string{"-network", "udp7"}, `unknown network "udp7"`},
	}
	for _, tt := range tests {
		if err := run(tt.args); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run(%q) = %v, want an error naming %s", tt.args, err, tt.want)
		}
	}
}
