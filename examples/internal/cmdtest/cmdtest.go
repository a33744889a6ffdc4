// Package cmdtest runs an example command in a child process for the
// command's own tests, so that they drive the real program: its flags, its
// "listening <network> <address>" line, its signals and its exit status.
// The test binary is the command: its TestMain runs main when the
// environment variable the test passes is set.
//
//	func TestMain(m *testing.M) {
//		if os.Getenv("SOCKPOOL_ECHO_MAIN") == "1" {
//			main()
//			os.Exit(0)
//		}
//		os.Exit(m.Run())
//	}
//
//	c := cmdtest.Start(t, "SOCKPOOL_ECHO_MAIN=1", nil, "-addr", "127.0.0.1:0")
//	// ... dial c.Addr ...
//	c.Stop(t) // SIGTERM; the command must exit 0
package cmdtest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sockpool/sockpool/server"
)

// Buffer is a bytes.Buffer that exec's copying goroutine and the test may
// use at once: a child's stderr.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Command is the command running in a child process.
type Command struct {
	Cmd     *exec.Cmd
	Network string // from its listening line
	Addr    string
	Stderr  *Buffer
	wrapped bool
}

// Start runs the test binary as the command, with env ("NAME=1") added
// to the environment and args, under wrapper (a program and its
// arguments, such as strace; nil for none), and waits for its listening
// line. The child is killed when the test ends, if it still runs.
func Start(t testing.TB, env string, wrapper []string, args ...string) *Command {
	t.Helper()
	argv := append(append(append([]string(nil), wrapper...), os.Args[0]), args...)
	c := &Command{Cmd: exec.Command(argv[0], argv[1:]...), Stderr: new(Buffer), wrapped: len(wrapper) > 0}
	c.Cmd.Env = append(os.Environ(), env)
	c.Cmd.Stderr = c.Stderr
	stdout, err := c.Cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Cmd.Process.Kill(); c.Cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != 3 || f[0] != "listening" || strings.HasSuffix(f[2], ":0") {
		t.Fatalf("listening line %q, %v, want \"listening <network> <address with the port picked>\"; stderr: %s", line, err, c.Stderr.String())
	}
	c.Network, c.Addr = f[1], f[2]
	return c
}

// Stop sends SIGTERM and fails the test unless the command exits 0. Under
// a wrapper the signal goes to the command, the wrapper's child (Linux):
// strace would detach on it and leave the command running.
func (c *Command) Stop(t testing.TB) {
	t.Helper()
	p := c.Cmd.Process
	if c.wrapped {
		pid := p.Pid
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		if _, serr := fmt.Sscan(string(b), &pid); err != nil || serr != nil {
			t.Fatalf("the wrapper's child: %q, %v, %v", b, err, serr)
		}
		if p, err = os.FindProcess(pid); err != nil {
			t.Fatal(err)
		}
	}
	p.Signal(syscall.SIGTERM)
	if err := c.Cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v; stderr: %s", err, c.Stderr.String())
	}
}

// StderrMatch waits up to 10 s for re to match the command's stderr and
// returns its first group.
func (c *Command) StderrMatch(t testing.TB, re *regexp.Regexp) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if m := re.FindStringSubmatch(c.Stderr.String()); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("stderr never matched %s: %s", re, c.Stderr.String())
		}
	}
}

// Engines are the names of the server engines this system runs (see
// server.Engine.Supported), in the order of their values, so that an
// example's tests run a row for each, uring only where io_uring works.
func Engines() []string {
	var out []string
	for e := server.Threaded; e <= server.Uring; e++ {
		if e.Supported() == nil {
			out = append(out, e.String())
		}
	}
	return out
}
