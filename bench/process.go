package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// serveEnv is set in the environment of a server the runner re-executes, so
// that a test binary standing in for the bench binary (TestMain) knows to
// serve instead of running its tests.
const serveEnv = "SOCKPOOL_BENCH_SERVE"

// readyTimeout bounds how long a server may take to print its listening line.
const readyTimeout = 15 * time.Second

// peerBuildTimeout bounds the build of a peer, module downloads included.
const peerBuildTimeout = 5 * time.Minute

// peers are the engines built from their own modules under bench/peers.
var peers = []string{"gnet", "nbio"}

// A serverProc is a server under test running in its own process.
type serverProc struct {
	cmd    *exec.Cmd
	addr   string
	stderr *tailBuffer

	exited  chan struct{} // closed when the process has been waited for
	waitErr error
}

// portArg in a server's argv stands for a free port that startServer
// picks: a server started so (an external one) prints no listening line,
// and is ready once the port accepts a connection.
const portArg = "{port}"

// startServer starts argv with env added to this process's environment and
// waits until it prints "listening <network> <addr>" on stdout, network
// being tcp or udp. Other lines before it are ignored (a library may log at
// start).
func startServer(ctx context.Context, network string, argv, env []string) (*serverProc, error) {
	if i := slices.Index(argv, portArg); i >= 0 {
		return startExternal(ctx, argv, i)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	setParentDeathSignal(cmd)
	p := &serverProc{cmd: cmd, stderr: &tailBuffer{max: 4 << 10}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", filepath.Base(argv[0]), err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", filepath.Base(argv[0]), err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		found := false
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); !found && len(f) == 3 && f[0] == "listening" && f[1] == network {
				found = true
				ready <- f[2]
			}
		}
		io.Copy(io.Discard, stdout)
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	timer := time.NewTimer(readyTimeout)
	defer timer.Stop()
	select {
	case p.addr = <-ready:
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("server exited before listening: %v%s", p.waitErr, p.stderrNote())
	case <-timer.C:
		err = fmt.Errorf("server printed no listening line within %v%s", readyTimeout, p.stderrNote())
	case <-ctx.Done():
		err = context.Cause(ctx)
	}
	p.stop()
	return nil, err
}

// startExternal starts argv with a free port in place of argv[i] and waits
// until that port on 127.0.0.1 accepts a connection.
func startExternal(ctx context.Context, argv []string, i int) (*serverProc, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	argv = slices.Clone(argv)
	argv[i] = port
	cmd := exec.Command(argv[0], argv[1:]...)
	setParentDeathSignal(cmd)
	p := &serverProc{cmd: cmd, addr: addr, stderr: &tailBuffer{max: 4 << 10}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", filepath.Base(argv[0]), err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	for end := time.Now().Add(readyTimeout); ; {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return p, nil
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("server exited before listening: %v%s", p.waitErr, p.stderrNote())
		case <-ctx.Done():
			p.stop()
			return nil, context.Cause(ctx)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(end) {
			p.stop()
			return nil, fmt.Errorf("server did not accept on %s within %v%s", addr, readyTimeout, p.stderrNote())
		}
	}
}

// pid returns the server's process id.
func (p *serverProc) pid() int { return p.cmd.Process.Pid }

// died returns an error when the server has exited on its own.
func (p *serverProc) died() error {
	select {
	case <-p.exited:
		return fmt.Errorf("server exited during the cell: %v%s", p.waitErr, p.stderrNote())
	default:
		return nil
	}
}

// stop sends SIGTERM, waits for a graceful exit, and kills the server if it
// takes longer than shutdownTimeout.
func (p *serverProc) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(shutdownTimeout + time.Second)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// stderrNote returns the end of the server's stderr, for an error message.
func (p *serverProc) stderrNote() string {
	s := strings.TrimSpace(p.stderr.String())
	if s == "" {
		return ""
	}
	return "; stderr: " + s
}

// tailBuffer is an io.Writer that keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// errNoPeers is returned when the peers' sources cannot be found.
var errNoPeers = errors.New("bench: peer sources not found (run from the sockpool checkout or set -peers)")

// findPeersDir looks for bench/peers in the working directory and its
// parents, so that `go run ./bench` works from anywhere in the checkout.
func findPeersDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	for {
		for _, cand := range []string{filepath.Join(dir, "bench", "peers"), filepath.Join(dir, "peers")} {
			if _, err := os.Stat(filepath.Join(cand, "gnet", "go.mod")); err == nil {
				return cand, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errNoPeers
		}
		dir = parent
	}
}

// buildPeer builds the peer name (its module is dir/name) into tmp and
// returns the binary's path. Its dependencies come through the module
// proxy: -mod=mod lets the build resolve them and record go.sum in the
// peer's directory on first use.
func buildPeer(ctx context.Context, dir, name, tmp string) (string, error) {
	if dir == "" {
		return "", errNoPeers
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("building %s needs the go command: %w", name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, peerBuildTimeout)
	defer cancel()
	bin := filepath.Join(tmp, "peer-"+name)
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", bin, ".")
	cmd.Dir = filepath.Join(dir, name)
	cmd.Env = append(os.Environ(), "GOFLAGS="+strings.TrimSpace(os.Getenv("GOFLAGS")+" -mod=mod"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build failed: %s: %w", lastLine(string(out)), err)
	}
	return bin, nil
}

// lastLine returns the last non-empty line of s, cut to 200 bytes.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	l := strings.TrimSpace(lines[len(lines)-1])
	if len(l) > 200 {
		l = l[:200] + "..."
	}
	return l
}
