package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sockpool/sockpool/examples/internal/cmdtest"
	"github.com/sockpool/sockpool/proxyproto"
)

// TestMain lets the test binary stand in for the http command: run with
// SOCKPOOL_HTTP_MAIN=1 it is the server, so the tests drive the real
// program (flags, listening line, signals, exit status) in its own
// process. The tests' own goroutines must all end; the ones at start are
// ants' default pool, started when ants is imported.
func TestMain(m *testing.M) {
	if os.Getenv("SOCKPOOL_HTTP_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}

// start runs the command with args (under wrapper, such as strace, when
// not nil) and waits for its listening line, which must name tcp.
func start(t *testing.T, wrapper []string, args ...string) *cmdtest.Command {
	t.Helper()
	c := cmdtest.Start(t, "SOCKPOOL_HTTP_MAIN=1", wrapper, args...)
	if c.Network != "tcp" {
		t.Fatalf("listening on %s, want tcp", c.Network)
	}
	return c
}

// needCurl returns curl's path, or skips the test (CI installs curl).
func needCurl(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed")
	}
	return p
}

// curl runs curl with args and returns its output and error.
func curl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(needCurl(t), append([]string{"-sS", "--max-time", "10"}, args...)...).CombinedOutput()
	return string(out), err
}

// TestCurl runs the command and asks it with curl: plain HTTP/1.1, and
// HTTPS with --http2, which ALPN makes HTTP/2; then SIGTERM exits 0.
func TestCurl(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		curl  []string
		proto string
	}{
		{"plain", nil, nil, "HTTP/1.1"},
		{"tls-http2", []string{"-tls-self-signed"}, []string{"--http2"}, "HTTP/2.0"},
		{"tls-http1", []string{"-tls-self-signed"}, []string{"--http1.1"}, "HTTP/1.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			needCurl(t)
			t.Parallel()
			c := start(t, nil, append([]string{"-addr", "127.0.0.1:0"}, tt.args...)...)
			url, extra := "http://"+c.Addr+"/hello", tt.curl
			if len(tt.args) > 0 {
				cert := c.StderrMatch(t, regexp.MustCompile(`certificate for \S+ in (\S+)\n`))
				url, extra = "https://"+c.Addr+"/hello", append(extra, "--cacert", cert)
			}
			out, err := curl(t, append(extra, "-w", "\n%{http_version}", url)...)
			want := map[string]string{"HTTP/1.1": "1.1", "HTTP/2.0": "2"}[tt.proto]
			if err != nil || !strings.HasPrefix(out, "hello from 127.0.0.1:") || !strings.Contains(out, " over "+tt.proto+"\n") || !strings.HasSuffix(out, "\n"+want) {
				t.Fatalf("curl: %v; output %q, want a hello over %s (curl's http_version %s)", err, out, tt.proto, want)
			}
			c.Stop(t)
		})
	}
}

// writeRandomFile writes n random bytes to a file in dir and returns its
// name and sha256.
func writeRandomFile(t *testing.T, dir string, n int) (name, sum string) {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	if err := os.WriteFile(filepath.Join(dir, "blob.bin"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return "blob.bin", hex.EncodeToString(s[:])
}

// fileSum returns the sha256 of the file at path.
func fileSum(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestStaticFile downloads a file from -dir with curl, plain and over
// HTTP/2, and checks it by sha256.
func TestStaticFile(t *testing.T) {
	needCurl(t)
	dir := t.TempDir()
	name, sum := writeRandomFile(t, dir, 8<<20+123)
	for _, tls := range []bool{false, true} {
		args := []string{"-addr", "127.0.0.1:0", "-dir", dir}
		if tls {
			args = append(args, "-tls-self-signed")
		}
		c := start(t, nil, args...)
		out := filepath.Join(t.TempDir(), "got")
		curlArgs := []string{"-o", out, "http://" + c.Addr + "/" + name}
		if tls {
			cert := c.StderrMatch(t, regexp.MustCompile(`certificate for \S+ in (\S+)\n`))
			curlArgs = []string{"--http2", "--cacert", cert, "-o", out, "https://" + c.Addr + "/" + name}
		}
		if msg, err := curl(t, curlArgs...); err != nil {
			t.Fatalf("curl (TLS %v): %v: %s", tls, err, msg)
		}
		if got := fileSum(t, out); got != sum {
			t.Errorf("TLS %v: downloaded sha256 %s, want %s", tls, got, sum)
		}
		c.Stop(t)
	}
}

// TestSendfile runs the command under strace and downloads a file over
// plain HTTP: net/http's ReadFrom path reaches the socket through the
// listener's connection, so the file goes out by sendfile(2). It skips
// where strace is missing or may not trace.
func TestSendfile(t *testing.T) {
	needCurl(t)
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("strace is not installed")
	}
	if out, err := exec.Command(strace, "-f", "-e", "trace=none", "true").CombinedOutput(); err != nil {
		t.Skipf("strace cannot trace here: %v: %s", err, out)
	}
	dir := t.TempDir()
	name, sum := writeRandomFile(t, dir, 4<<20)
	trace := filepath.Join(t.TempDir(), "trace")
	c := start(t, []string{strace, "-f", "-qq", "-e", "trace=sendfile", "-o", trace}, "-addr", "127.0.0.1:0", "-dir", dir)
	out := filepath.Join(t.TempDir(), "got")
	if msg, err := curl(t, "-o", out, "http://"+c.Addr+"/"+name); err != nil {
		t.Fatalf("curl: %v: %s", err, msg)
	}
	if got := fileSum(t, out); got != sum {
		t.Errorf("downloaded sha256 %s, want %s", got, sum)
	}
	c.Stop(t)
	b, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`sendfile\(\d+, \d+, .*= \d+`).Match(b) {
		t.Errorf("no sendfile call in the trace:\n%s", b)
	}
}

// scrape returns the command's metrics once they contain want, or fails.
func scrape(t *testing.T, url, want string) string {
	t.Helper()
	var body string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		out, err := curl(t, url)
		if body = out; err == nil && strings.Contains(body, want) {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics never showed %q (%v):\n%s", want, err, body)
		}
	}
}

// TestPerIPLimit: with -max-conns-per-ip 1 and one connection open, curl's
// connection is refused, and the metrics count it; once the first
// connection closes, curl is served.
func TestPerIPLimit(t *testing.T) {
	needCurl(t)
	c := start(t, nil, "-addr", "127.0.0.1:0", "-max-conns-per-ip", "1", "-metrics-addr", "127.0.0.1:0")
	metrics := c.StderrMatch(t, regexp.MustCompile(`metrics at (http://\S+/metrics)\n`))
	hold, err := net.Dial("tcp", c.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	// A request answered on it proves it was admitted before curl comes.
	hold.Write([]byte("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"))
	hold.SetReadDeadline(time.Now().Add(10 * time.Second))
	if line, err := bufio.NewReader(hold).ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 200") {
		t.Fatalf("held connection: %q, %v", line, err)
	}
	if out, err := curl(t, "http://"+c.Addr+"/hello"); err == nil {
		t.Fatalf("curl beyond the per-IP limit was served: %q", out)
	}
	body := scrape(t, metrics, `sockpool_connections_rejected_total{reason="per_ip",server="http"} 1`)
	for _, want := range []string{`sockpool_connections_accepted_total{server="http"} 1`, `sockpool_connections_active{server="http"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	hold.Close()
	scrape(t, metrics, `sockpool_connections_active{server="http"} 0`)
	if out, err := curl(t, "http://"+c.Addr+"/hello"); err != nil || !strings.HasPrefix(out, "hello") {
		t.Fatalf("curl after the held connection closed: %q, %v", out, err)
	}
	scrape(t, metrics, `sockpool_connections_closed_total{server="http"} 2`)
	c.Stop(t)
}

// TestProxyProtocol: from a trusted peer, the handler sees the address a
// v2 header names, and curl's own v1 header (--haproxy-protocol) is read
// too; from an untrusted peer the connection is closed.
func TestProxyProtocol(t *testing.T) {
	needCurl(t)
	trusted := start(t, nil, "-addr", "127.0.0.1:0", "-proxy-protocol", "-trusted-proxies", "127.0.0.1")
	h := &proxyproto.Header{
		Version: 2, Command: proxyproto.Proxy,
		Source:      net.TCPAddrFromAddrPort(netip.MustParseAddrPort("203.0.113.7:4242")),
		Destination: net.TCPAddrFromAddrPort(netip.MustParseAddrPort("198.51.100.1:80")),
	}
	hdr, err := h.AppendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", trusted.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	conn.Write(append(hdr, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"...))
	resp, err := io.ReadAll(conn)
	if err != nil || !bytes.Contains(resp, []byte("hello from 203.0.113.7:4242 over HTTP/1.1")) {
		t.Fatalf("response %q, %v; want the header's client", resp, err)
	}
	if out, err := curl(t, "--haproxy-protocol", "http://"+trusted.Addr+"/hello"); err != nil || !strings.HasPrefix(out, "hello from 127.0.0.1:") {
		t.Fatalf("curl --haproxy-protocol: %q, %v", out, err)
	}
	trusted.Stop(t)

	untrusted := start(t, nil, "-addr", "127.0.0.1:0", "-proxy-protocol", "-trusted-proxies", "10.0.0.0/8")
	if out, err := curl(t, "--haproxy-protocol", "http://"+untrusted.Addr+"/hello"); err == nil {
		t.Fatalf("an untrusted peer was served: %q", out)
	}
	untrusted.Stop(t)
}

// TestHandshakeTimeout: a client that connects and sends nothing is
// closed at -handshake-timeout, and curl is served over TLS meanwhile.
func TestHandshakeTimeout(t *testing.T) {
	needCurl(t)
	c := start(t, nil, "-addr", "127.0.0.1:0", "-tls-self-signed", "-handshake-timeout", "300ms")
	cert := c.StderrMatch(t, regexp.MustCompile(`certificate for \S+ in (\S+)\n`))
	silent, err := net.Dial("tcp", c.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	if out, err := curl(t, "--cacert", cert, "https://"+c.Addr+"/hello"); err != nil || !strings.HasPrefix(out, "hello") {
		t.Fatalf("curl beside a silent client: %q, %v", out, err)
	}
	begin := time.Now()
	silent.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := silent.Read(make([]byte, 1)); n != 0 || err == nil || isTimeout(err) {
		t.Fatalf("silent client: read %d, %v; want it closed", n, err)
	}
	if took := time.Since(begin); took > 5*time.Second {
		t.Errorf("silent client closed after %v, want about 300ms", took)
	}
	c.Stop(t)
}

// isTimeout reports whether err is a passed deadline.
func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func TestFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-net-listener", "-max-conns-per-ip", "2"}, "-max-conns-per-ip"},
		{[]string{"-proxy-protocol"}, "-trusted-proxies"},
		{[]string{"-overflow", "maybe"}, "maybe"},
		{[]string{"stray"}, "stray"},
	}
	for _, tt := range tests {
		if err := run(tt.args); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run(%q) = %v, want an error naming %s", tt.args, err, tt.want)
		}
	}
	// -h prints the usage and exits 0: asking for help is not an error.
	cmd := exec.Command(os.Args[0], "-h")
	cmd.Env = append(os.Environ(), "SOCKPOOL_HTTP_MAIN=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "-max-conns-per-ip") {
		t.Errorf("http -h: %v; output %q", err, out)
	}
}

// TestWrk loads the command with wrk for a second over 8 connections:
// every response is a 200, no socket errors, and once wrk is done the
// metrics count as many connections closed as accepted, at least 8 (wrk
// opens one more of its own first), none open. It skips without wrk (CI
// installs it).
func TestWrk(t *testing.T) {
	needCurl(t)
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Skip("wrk is not installed")
	}
	c := start(t, nil, "-addr", "127.0.0.1:0", "-metrics-addr", "127.0.0.1:0")
	metrics := c.StderrMatch(t, regexp.MustCompile(`metrics at (http://\S+/metrics)\n`))
	out, err := exec.Command(wrk, "-t", "1", "-c", "8", "-d", "1s", "http://"+c.Addr+"/hello").CombinedOutput()
	if err != nil || !regexp.MustCompile(`(?m)^Requests/sec: +[1-9]`).Match(out) || bytes.Contains(out, []byte("Socket errors")) || bytes.Contains(out, []byte("Non-2xx")) {
		t.Fatalf("wrk: %v:\n%s", err, out)
	}
	body := scrape(t, metrics, `sockpool_connections_active{server="http"} 0`)
	count := func(name string) int {
		m := regexp.MustCompile(`(?m)^sockpool_` + name + `\{server="http"\} (\d+)$`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("metrics lack sockpool_%s", name)
		}
		var n int
		fmt.Sscan(m[1], &n)
		return n
	}
	if accepted, closed := count("connections_accepted_total"), count("connections_closed_total"); accepted < 8 || closed != accepted {
		t.Errorf("%d connections accepted, %d closed; want 8 or more, all closed", accepted, closed)
	}
	c.Stop(t)
}
