package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sockpool/sockpool/frame"
	"github.com/sockpool/sockpool/rpc"
	"github.com/sockpool/sockpool/server"
)

// TestMain lets the test binary stand in for the rpc command: run with
// SOCKPOOL_RPC_MAIN=1 it is the server, so the tests below drive the real
// program (flags, listening line, signals, exit status) in its own process.
func TestMain(m *testing.M) {
	if os.Getenv("SOCKPOOL_RPC_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startServer runs the command with args and returns the network and
// address of its listening line.
func startServer(t *testing.T, args ...string) (cmd *exec.Cmd, network, addr string, stderr *bytes.Buffer) {
	t.Helper()
	cmd = exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "SOCKPOOL_RPC_MAIN=1")
	stderr = new(bytes.Buffer)
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("no listening line: %v; stderr: %s", err, stderr)
	}
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "listening" {
		t.Fatalf("first line %q, want \"listening <network> <address>\"", line)
	}
	if strings.HasSuffix(f[2], ":0") {
		t.Fatalf("listening line %q shows port 0, not the port picked", line)
	}
	return cmd, f[1], f[2], stderr
}

// clientBinary builds examples/rpc/client once.
var clientBinary = sync.OnceValues(func() (string, error) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "sockpool-rpc-client")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "client")
	out, err := exec.Command(gobin, "build", "-o", bin, "./client").CombinedOutput()
	if err != nil {
		return "", errors.New(string(out))
	}
	return bin, nil
})

func TestRPCCommand(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "rpc.sock")
	cases := []struct {
		name string
		args []string
	}{
		{"threaded", []string{"-addr", "127.0.0.1:0"}},
		{"evented", []string{"-addr", "127.0.0.1:0", "-engine", "evented", "-loops", "2"}},
		{"evented-pool-unix", []string{"-network", "unix", "-addr", sock, "-engine", "evented-pool"}},
		{"flags", []string{"-addr", "127.0.0.1:0", "-workers", "8", "-max-concurrent", "4", "-max-message", "65536", "-frame-timeout", "5s", "-idle-timeout", "1m"}},
	}
	if server.Uring.Supported() == nil {
		cases = append(cases, struct {
			name string
			args []string
		}{"uring", []string{"-addr", "127.0.0.1:0", "-engine", "uring"}})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd, network, addr, stderr := startServer(t, tc.args...)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := rpc.Dial(ctx, network, addr, &rpc.ClientConfig{MaxMessageSize: 65536})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()

			if resp, err := c.Call(ctx, "upper", []byte("sockpool")); err != nil || string(resp) != "SOCKPOOL" {
				t.Errorf("upper: %q, %v", resp, err)
			}
			req := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, 40), 2)
			if resp, err := c.Call(ctx, "add", req); err != nil || len(resp) != 8 || binary.BigEndian.Uint64(resp) != 42 {
				t.Errorf("add 40 2: %x, %v", resp, err)
			}
			var rerr *rpc.Error
			if _, err := c.Call(ctx, "add", []byte("x")); !errors.As(err, &rerr) || rerr.Code != rpc.CodeBadRequest {
				t.Errorf("add with a bad request: %v, want CodeBadRequest", err)
			}
			short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
			_, err = c.Call(short, "sleep", []byte("1m"))
			cancelShort()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("sleep 1m with a 100ms deadline: %v", err)
			}

			// The client program, against the same server.
			if bin, err := clientBinary(); err != nil {
				t.Logf("client program not built (%v); checked in-process only", err)
			} else {
				out, err := exec.Command(bin, "-network", network, "-addr", addr, "-n", "2000", "-concurrency", "64", "-conns", "2", "-size", "4000").CombinedOutput()
				if err != nil || !strings.Contains(string(out), "2000 calls") {
					t.Errorf("client: %v\n%s", err, out)
				}
			}

			// A call running at SIGTERM finishes and is answered. The
			// requests go by hand on one connection: the server handles a
			// connection's requests in order, so once the echo sent after
			// the sleep is answered, the sleep is running.
			nc, err := net.Dial(network, addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(30 * time.Second))
			nc.Write(append(rawRequest(1, "sleep", "300ms"), rawRequest(2, "echo", "sync")...))
			replies := frameReader(t, nc)
			if id, body := replies(); id != 2 || body != "sync" {
				t.Fatalf("first reply: call %d %q, want call 2 \"sync\"", id, body)
			}
			cmd.Process.Signal(syscall.SIGTERM)
			if id, body := replies(); id != 1 || body != "300ms" {
				t.Errorf("call running at SIGTERM: reply to call %d %q, want call 1 \"300ms\"", id, body)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("after SIGTERM: %v; stderr: %s", err, stderr)
			}
			if _, err := c.Call(ctx, "echo", []byte("gone")); err == nil {
				t.Errorf("call after the server exited succeeded")
			}
		})
	}
}

// rawRequest is a framed request with no deadline, built by hand from the
// wire format in the rpc package doc.
func rawRequest(id uint64, method, payload string) []byte {
	body := []byte{1, 1} // version, request
	body = binary.BigEndian.AppendUint64(body, id)
	body = binary.BigEndian.AppendUint64(body, 0) // no timeout
	body = append(body, byte(len(method)))
	body = append(body, method...)
	body = append(body, payload...)
	out, _ := frame.LengthPrefixed{MaxFrameSize: 1 << 20}.AppendFrame(nil, body)
	return out
}

// frameReader returns a function that reads the next reply on nc and
// returns its call id and payload; it fails the test on an error reply.
func frameReader(t *testing.T, nc net.Conn) func() (uint64, string) {
	d, err := frame.NewDecoder(frame.LengthPrefixed{MaxFrameSize: 1 << 20}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var msgs [][]byte
	buf := make([]byte, 4096)
	return func() (uint64, string) {
		t.Helper()
		for len(msgs) == 0 {
			n, err := nc.Read(buf)
			d.Feed(buf[:n], func(m []byte) error { msgs = append(msgs, bytes.Clone(m)); return nil })
			if err != nil && len(msgs) == 0 {
				t.Fatalf("reading replies: %v", err)
			}
		}
		m := msgs[0]
		msgs = msgs[1:]
		if len(m) < 10 || m[1] != 2 {
			t.Fatalf("reply %q is not a response", m)
		}
		return binary.BigEndian.Uint64(m[2:]), string(m[10:])
	}
}

func TestBadFlag(t *testing.T) {
	if err := run([]string{"-engine", "quantum"}); err == nil || !strings.Contains(err.Error(), "quantum") {
		t.Errorf("run with a bad engine = %v, want an error naming it", err)
	}
}
