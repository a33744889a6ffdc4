package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sockpool/sockpool/examples/internal/cmdtest"
	"github.com/sockpool/sockpool/proxyproto"
)

// TestMain lets the test binary stand in for the proxy command: run with
// SOCKPOOL_PROXY_MAIN=1 it is the proxy, so the tests drive the real
// program (flags, listening line, signals, exit status) in its own
// process. The ones at start are ants' default pool.
func TestMain(m *testing.M) {
	if os.Getenv("SOCKPOOL_PROXY_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}

// engines are the proxy's -engine values that this system runs.
var engines = cmdtest.Engines()

// startProxy runs the proxy in front of upstream with args and waits for
// its listening line.
func startProxy(t *testing.T, engine, upstream string, args ...string) *cmdtest.Command {
	t.Helper()
	c := cmdtest.Start(t, "SOCKPOOL_PROXY_MAIN=1", nil,
		append([]string{"-addr", "127.0.0.1:0", "-engine", engine, "-upstream", upstream}, args...)...)
	if c.Network != "tcp" {
		t.Fatalf("listening on %s, want tcp", c.Network)
	}
	return c
}

// startUpstream serves handle on a loopback listener until the test ends,
// closing the connections still open then and waiting for the handlers.
func startUpstream(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// echoUntilEOF echoes until the client's EOF, then writes "EOF" and
// half-closes: the trailer reaches the client only if the proxy passed the
// client's FIN on and kept relaying after it.
func echoUntilEOF(c net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if _, werr := c.Write(buf[:n]); werr != nil {
			return
		}
		if err != nil {
			if err == io.EOF {
				c.Write([]byte("EOF"))
				c.(*net.TCPConn).CloseWrite()
				io.Copy(io.Discard, c)
			}
			return
		}
	}
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestRelay sends distinct streams from several clients at once through
// the proxy to an echo upstream and back, on every engine: every byte both
// ways, in order; then each client's FIN reaches the upstream after its
// data, the upstream's trailer after it comes back, and then its FIN.
func TestRelay(t *testing.T) {
	up := startUpstream(t, echoUntilEOF)
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			p := startProxy(t, engine, up, "-write-high-water", "65536", "-log", "debug")
			const clients, size = 8, 4 << 20
			errs := make(chan error, clients)
			for i := range clients {
				go func() { errs <- echoThrough(p.Addr, randomBytes(uint64(i+1), size)) }()
			}
			for range clients {
				if err := <-errs; err != nil {
					t.Error(err)
				}
			}
			if t.Failed() {
				t.Log(p.Stderr.String())
			}
			p.Stop(t)
		})
	}
}

// echoThrough writes msg through the proxy at addr while reading, then
// half-closes and reads until EOF: msg and "EOF" must come back exactly.
func echoThrough(addr string, msg []byte) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(msg)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		werr <- err
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("write: %w", err)
	}
	want := append(append([]byte(nil), msg...), "EOF"...)
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		return fmt.Errorf("got %d bytes back, want %d (the echo and the trailer); they differ from byte %d, ending %q", len(got), len(want), i, got[max(0, len(got)-8):])
	}
	return nil
}

// rss returns the resident memory of process pid, in bytes.
func rss(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no VmRSS in /proc/%d/status", pid)
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10
}

// flood writes to c until a write makes no progress for 500 ms, up to
// limit bytes, and returns how many it wrote: a side that never reads must
// stop the other side's writes once the buffers between them are full.
func flood(c net.Conn, limit int) int {
	chunk := make([]byte, 64<<10)
	sent := 0
	for sent < limit {
		c.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
		n, err := c.Write(chunk)
		sent += n
		if err != nil {
			return sent
		}
	}
	return sent
}

// TestNonReader checks that a side that never reads leaves the proxy's
// memory bounded, both ways, on every engine: the other side's writes
// block once the kernel's buffers and one WriteHighWater are full, instead
// of the proxy queueing what it reads.
func TestNonReader(t *testing.T) {
	const limit = 512 << 20 // far beyond every buffer on the way
	// The bound: the kernel's buffers on the way (socket buffers on
	// loopback autotune to several MB each), the high water mark, and the
	// runtime; an unbounded proxy would hold hundreds of MB.
	const maxSent, maxGrowth = 96 << 20, 64 << 20
	tests := []struct {
		name        string
		clientReads bool // else the upstream never reads, and the client floods
	}{
		{"client-never-reads", false},
		{"upstream-never-reads", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sentc := make(chan int, 1)
			upc := make(chan net.Conn, 1)
			stop := make(chan struct{})
			up := startUpstream(t, func(c net.Conn) {
				upc <- c
				if tt.clientReads {
					<-stop // and never read
					return
				}
				sentc <- flood(c, limit)
				<-stop
			})
			t.Cleanup(func() { close(stop) }) // before startUpstream's cleanup waits
			for _, engine := range engines {
				t.Run(engine, func(t *testing.T) {
					p := startProxy(t, engine, up)
					before := rss(t, p.Cmd.Process.Pid)
					c, err := net.Dial("tcp", p.Addr)
					if err != nil {
						t.Fatal(err)
					}
					defer c.Close()
					var sent int
					if tt.clientReads {
						sent = flood(c, limit)
					} else {
						c.Write([]byte("x")) // and never read
						sent = <-sentc
					}
					after := rss(t, p.Cmd.Process.Pid)
					t.Logf("%d MB went before the writer blocked; RSS %d -> %d MB", sent>>20, before>>20, after>>20)
					if sent >= maxSent {
						t.Errorf("%d MB went to a side that never reads: the proxy did not stop reading", sent>>20)
					}
					if after-before > maxGrowth {
						t.Errorf("RSS grew by %d MB", (after-before)>>20)
					}
					// Both peers go, or the graceful shutdown would wait for
					// them to take what is queued.
					c.Close()
					(<-upc).Close()
					p.Stop(t)
				})
			}
		})
	}
}

// TestSendProxy checks -send-proxy: the upstream reads a valid PROXY v2
// header naming the client's address before the client's first byte.
func TestSendProxy(t *testing.T) {
	type seen struct {
		h    *proxyproto.Header
		rest string
		err  error
	}
	seenc := make(chan seen, len(engines))
	up := startUpstream(t, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(20 * time.Second))
		h, err := proxyproto.Read(c)
		var s seen
		s.h, s.err = h, err
		if err == nil {
			b := make([]byte, 5)
			_, s.err = io.ReadFull(c, b)
			s.rest = string(b)
		}
		seenc <- s
		c.Write([]byte("ok"))
	})
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			p := startProxy(t, engine, up, "-send-proxy")
			c, err := net.Dial("tcp", p.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Write([]byte("hello"))
			s := <-seenc
			if s.err != nil {
				t.Fatalf("upstream: %v", s.err)
			}
			if s.h.Version != 2 || s.h.Command != proxyproto.Proxy || s.h.Source.String() != c.LocalAddr().String() ||
				s.h.Destination.String() != p.Addr || s.rest != "hello" {
				t.Fatalf("upstream saw %v then %q; want PROXY v2 from %s to %s, then \"hello\"", s.h, s.rest, c.LocalAddr(), p.Addr)
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			b := make([]byte, 2)
			if _, err := io.ReadFull(c, b); err != nil || string(b) != "ok" {
				t.Fatalf("reply %q, %v", b, err)
			}
			c.Close()
			p.Stop(t)
		})
	}
}

// TestUpstreamDown: with nothing listening upstream, a client is closed at
// once and the reason is logged at debug level.
func TestUpstreamDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close()
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			p := startProxy(t, engine, down, "-log", "debug")
			c, err := net.Dial("tcp", p.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, err := c.Read(make([]byte, 1))
			if n != 0 || err == nil || isTimeout(err) {
				t.Fatalf("client read %d, %v; want EOF or a reset", n, err)
			}
			p.StderrMatch(t, regexp.MustCompile(`(upstream dial failed).*connection refused`))
			p.StderrMatch(t, regexp.MustCompile(`(connection closed).*reason="proxy: dial upstream`))
			p.Stop(t)
		})
	}
}

// lookRedis finds redis-server, redis-cli and redis-benchmark, or skips
// the test (CI installs them).
func lookRedis(t *testing.T) (server, cli, bench string) {
	t.Helper()
	var errs []error
	for _, p := range []*string{&server, &cli, &bench} {
		name := map[*string]string{&server: "redis-server", &cli: "redis-cli", &bench: "redis-benchmark"}[p]
		path, err := exec.LookPath(name)
		errs = append(errs, err)
		*p = path
	}
	if err := errors.Join(errs...); err != nil {
		t.Skipf("redis is not installed (Debian: apt-get install redis-server redis-tools): %v", err)
	}
	return server, cli, bench
}

// startRedis runs a redis-server without persistence on a free port until
// the test ends, and returns its address.
func startRedis(t *testing.T, server, cli string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // free for redis-server; a race with another process is unlikely on loopback
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(server, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	var out cmdtest.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if b, err := exec.Command(cli, "-p", port, "PING").Output(); err == nil && strings.TrimSpace(string(b)) == "PONG" {
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not answer PING: %s", out.String())
		}
	}
}

// TestRedis runs redis-benchmark (GET and SET, pipelined, 50 clients)
// through the proxy on every engine, which must report no errors, and
// round-trips a binary-safe value with redis-cli.
func TestRedis(t *testing.T) {
	server, cli, bench := lookRedis(t)
	redis := startRedis(t, server, cli)
	value := string(randomBytes(7, 100<<10)) + "\r\n\x00 end"
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			p := startProxy(t, engine, redis)
			_, port, _ := net.SplitHostPort(p.Addr)
			out, err := exec.Command(bench, "-h", "127.0.0.1", "-p", port, "-t", "get,set", "-n", "20000", "-P", "16", "-c", "50", "-q").CombinedOutput()
			text := strings.ReplaceAll(string(out), "\r", "\n")
			if err != nil || strings.Contains(strings.ToLower(text), "error") || strings.Count(text, "requests per second") != 2 {
				t.Fatalf("redis-benchmark: %v\n%s", err, text)
			}
			key := "proxy-" + engine
			set := exec.Command(cli, "-p", port, "-x", "SET", key)
			set.Stdin = strings.NewReader(value)
			if b, err := set.CombinedOutput(); err != nil || strings.TrimSpace(string(b)) != "OK" {
				t.Fatalf("redis-cli SET: %v, %q", err, b)
			}
			got, err := exec.Command(cli, "-p", port, "--no-raw", "STRLEN", key).Output()
			if err != nil || strings.TrimSpace(string(got)) != fmt.Sprintf("(integer) %d", len(value)) {
				t.Fatalf("STRLEN: %v, %q", err, got)
			}
			// GET's raw output is the value and a newline.
			got, err = exec.Command(cli, "-p", port, "GET", key).Output()
			if err != nil || string(got) != value+"\n" {
				t.Fatalf("GET returned %d bytes, %v; want the %d bytes set", len(got), err, len(value))
			}
			p.Stop(t)
		})
	}
}

// TestLimits: -max-conns counts both sides of a pair, so with 2 a second
// client is rejected while the first is relayed, and the metrics
// (-metrics-addr) show it.
func TestLimits(t *testing.T) {
	up := startUpstream(t, echoUntilEOF)
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			p := startProxy(t, engine, up, "-max-conns", "2", "-overflow", "reject", "-metrics-addr", "127.0.0.1:0")
			metrics := p.StderrMatch(t, regexp.MustCompile(`metrics at (http://\S+/metrics)\n`))
			first, err := net.Dial("tcp", p.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer first.Close()
			first.SetDeadline(time.Now().Add(10 * time.Second))
			b := make([]byte, 4)
			if _, err := first.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(first, b); err != nil || string(b) != "ping" {
				t.Fatalf("first client: %q, %v", b, err)
			}
			second, err := net.Dial("tcp", p.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer second.Close()
			second.SetReadDeadline(time.Now().Add(10 * time.Second))
			if n, err := second.Read(b); n != 0 || err == nil || isTimeout(err) {
				t.Fatalf("second client read %d, %v; want it closed", n, err)
			}
			scrape(t, metrics, `sockpool_connections_active{server="proxy"} 2`, `sockpool_connections_rejected_total{reason="overload",server="proxy"} 1`)
			first.Close()
			p.Stop(t)
		})
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// scrape polls the metrics at url until they contain every want, or fails.
func scrape(t *testing.T, url string, want ...string) {
	t.Helper()
	var body string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		missing := want
		req, _ := http.NewRequest("GET", url, nil)
		req.Close = true // no idle connection left for goleak to find
		if resp, err := http.DefaultClient.Do(req); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body, missing = string(b), nil
			for _, w := range want {
				if !strings.Contains(body, w) {
					missing = append(missing, w)
				}
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics never showed %q:\n%s", missing, body)
		}
	}
}
