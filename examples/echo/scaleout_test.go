package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sockpool/sockpool/examples/internal/cmdtest"
)

// echoRoundTrip checks one echo of msg on a new connection to addr and
// returns the connection's local address (what a server sees as the
// client).
func echoRoundTrip(t *testing.T, addr, msg string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
		t.Fatalf("echo through %s: %q, %v", addr, got, err)
	}
	return c.LocalAddr().String()
}

// freePort returns a loopback port nobody listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestBehindHAProxy runs a real HAProxy on loopback, balancing over two
// echo servers with send-proxy-v2: traffic flows through both, and each
// sees the original client's address, not HAProxy's.
func TestBehindHAProxy(t *testing.T) {
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy is not installed (Debian: apt-get install -y haproxy); CI installs it")
	}
	var backends []string
	var logs []*cmdtest.Buffer
	for _, engine := range []string{"threaded", "evented"} {
		_, addr, stderr := startEcho(t, "-addr", "127.0.0.1:0", "-engine", engine, "-log", "debug",
			"-proxy-protocol", "-trusted-proxies", "127.0.0.1")
		backends = append(backends, addr)
		logs = append(logs, stderr)
	}
	front := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	conf := fmt.Sprintf(`global
	maxconn 256
defaults
	mode tcp
	timeout connect 5s
	timeout client 30s
	timeout server 30s
frontend echo
	bind %s
	default_backend echoes
backend echoes
	balance roundrobin
	server threaded %s send-proxy-v2
	server evented %s send-proxy-v2
`, front, backends[0], backends[1])
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	hp := exec.Command(haproxy, "-db", "-f", cfg)
	var hpOut cmdtest.Buffer
	hp.Stdout, hp.Stderr = &hpOut, &hpOut
	if err := hp.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hp.Process.Signal(syscall.SIGTERM); hp.Wait() })
	clients := map[string]bool{}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.Dial("tcp", front)
		if err == nil {
			clients[c.LocalAddr().String()] = true // HAProxy relays the probe too
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy does not listen on %s: %v; output: %s", front, err, hpOut.String())
		}
	}

	for i := range 10 {
		clients[echoRoundTrip(t, front, fmt.Sprintf("message %d through haproxy", i))] = true
	}
	// Each backend logs "open ... remote=<client>" for its connections.
	open := regexp.MustCompile(`msg=open .*remote=(\S+)`)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		seen, fromClient := 0, 0
		for _, l := range logs {
			for _, m := range open.FindAllStringSubmatch(l.String(), -1) {
				seen++
				if clients[m[1]] {
					fromClient++
				}
			}
		}
		if seen >= len(clients)-1 { // the probe may not have reached a backend
			if fromClient != seen {
				t.Fatalf("backends saw %d connections, %d from a client's address; logs:\n%s\n%s", seen, fromClient, logs[0], logs[1])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("backends logged %d of 10 opens; logs:\n%s\n%s", seen, logs[0], logs[1])
		}
	}
	for i, l := range logs {
		if !strings.Contains(l.String(), "msg=open") {
			t.Errorf("backend %s served nothing: roundrobin should use both; log:\n%s", backends[i], l)
		}
	}
}

// TestReusePortProcesses starts two echo processes on one port with
// -reuseport: the second binds the port the first holds, both serve, and
// when one stops the other goes on serving the port.
func TestReusePortProcesses(t *testing.T) {
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	first, _, firstErr := startEcho(t, "-addr", addr, "-engine", "evented", "-reuseport", "-log", "debug")
	second, _, secondErr := startEcho(t, "-addr", addr, "-engine", "evented", "-reuseport", "-log", "debug")
	for i := range 40 {
		echoRoundTrip(t, addr, fmt.Sprintf("reuseport %d", i))
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		a, b := strings.Count(firstErr.String(), "msg=close"), strings.Count(secondErr.String(), "msg=close")
		if a+b == 40 {
			if a == 0 || b == 0 {
				t.Errorf("the kernel gave %d connections to one process and %d to the other: both should serve", a, b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes logged %d and %d closes, want 40 in all", a, b)
		}
	}
	first.Process.Signal(syscall.SIGTERM)
	if err := first.Wait(); err != nil {
		t.Fatalf("first process after SIGTERM: %v", err)
	}
	for i := range 10 {
		echoRoundTrip(t, addr, fmt.Sprintf("after %d", i))
	}
	second.Process.Signal(syscall.SIGTERM)
	if err := second.Wait(); err != nil {
		t.Fatalf("second process after SIGTERM: %v", err)
	}
}

// TestMetricsEndpoint scrapes -metrics-addr after some echoes and a
// refused connection: the counters match what happened, and the Go and
// process metrics are there too.
func TestMetricsEndpoint(t *testing.T) {
	cmd, addr, stderr := startEcho(t, "-addr", "127.0.0.1:0", "-metrics-addr", "127.0.0.1:0", "-max-conns-per-ip", "1")
	re := regexp.MustCompile(`metrics at (http://\S+/metrics)\n`)
	var m []string
	for deadline := time.Now().Add(10 * time.Second); m == nil; time.Sleep(10 * time.Millisecond) {
		if m = re.FindStringSubmatch(stderr.String()); m == nil && time.Now().After(deadline) {
			t.Fatalf("no metrics address in stderr: %s", stderr.String())
		}
	}
	// One connection holds the address's one slot (sequential connections
	// would race the server's release of the slot).
	hold, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	for i := range 3 {
		echoRoundTripOn(t, hold, fmt.Sprintf("metrics %d", i))
	}
	echoRoundTripOn(t, hold, "hold")
	refused, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	refused.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := refused.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("second connection from one IP: read %d, %v; want it refused", n, err)
	}
	refused.Close()

	var body string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(m[1])
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		if strings.Contains(body, `sockpool_connections_rejected_total{reason="per_ip",server="echo"} 1`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics never showed the per-IP rejection:\n%s", body)
		}
	}
	for _, want := range []string{
		`sockpool_connections_rejected_total{reason="overload",server="echo"} 0`,
		`sockpool_connections_accepted_total{server="echo"} 1`,
		`sockpool_connections_active{server="echo"} 1`,
		`sockpool_bytes_read_total{server="echo"} 31`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	// The Go and process collectors sit beside the server's.
	for _, name := range []string{"go_goroutines", "process_open_fds", "process_resident_memory_bytes"} {
		if !regexp.MustCompile(`(?m)^` + name + ` [0-9.e+]+$`).MatchString(body) {
			t.Errorf("metrics lack a sample of %s:\n%s", name, body)
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v", err)
	}
}

func echoRoundTripOn(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte(msg))
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
		t.Fatalf("echo: %q, %v", got, err)
	}
}
