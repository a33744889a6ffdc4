package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sockpool/sockpool/metrics"
	"github.com/sockpool/sockpool/pool"
	"github.com/sockpool/sockpool/proxyproto"
	"github.com/sockpool/sockpool/server"
)

// fakeSource returns fixed Stats and counts the calls.
type fakeSource struct {
	st    server.Stats
	calls atomic.Int64
}

func (f *fakeSource) Stats() server.Stats {
	f.calls.Add(1)
	return f.st
}

// distinct has a different value in every field, so that a field mapped to
// the wrong metric (or reason) shows. Rejected is the sum of Rejections, as
// in a server's Stats.
var distinct = server.Stats{
	Accepted: 101, Rejected: 116 + 117 + 118 + 119, Closed: 103, Active: 4,
	BytesIn: 1 << 40, BytesOut: 106,
	Panics: 107, Timeouts: 108, AcceptErrors: 109, OutputLimited: 120,
	TLSHandshakes: 110, TLSHandshakeErrors: 111,
	Queued: 112, Paused: 13, BusyWorkers: 14, Waiting: 15,

	Rejections: server.Rejections{Overload: 116, PerIP: 117, Access: 118, Proxy: 119},
}

// sample is one series of a metric: its reason label ("" for none) and value.
type sample struct {
	reason string
	v      float64
}

func one(v float64) []sample { return []sample{{v: v}} }

// byReason is connections_rejected_total's series for st, one per reason.
func byReason(st server.Stats) []sample {
	r := st.Rejections
	return []sample{{"overload", float64(r.Overload)}, {"per_ip", float64(r.PerIP)}, {"access", float64(r.Access)}, {"proxy", float64(r.Proxy)}}
}

// rejectedHelp is connections_rejected_total's help text.
const rejectedHelp = "Connections closed before they started, by reason: " +
	"overload (MaxConns reached, or no worker, under the Reject policy), per_ip (MaxConnsPerIP reached), " +
	"access (refused by the Access rules), proxy (PROXY protocol: an untrusted peer, or a bad, truncated or slow header)."

// expected renders st in the text exposition format, as the Collector
// must report it, with constLabels (nil: none) on every series.
func expected(ns string, constLabels prometheus.Labels, st server.Stats) string {
	var b strings.Builder
	for _, m := range []struct {
		name, typ, help string
		series          []sample
	}{
		{"accept_errors_total", "counter", "Temporary accept errors (such as EMFILE) backed off from.", one(float64(st.AcceptErrors))},
		{"bytes_read_total", "counter", "Bytes read from connections and passed to the handler.", one(float64(st.BytesIn))},
		{"bytes_written_total", "counter", "Bytes written to connections.", one(float64(st.BytesOut))},
		{"connections_accepted_total", "counter", "Connections accepted and handed to the engine.", one(float64(st.Accepted))},
		{"connections_active", "gauge", "Connections open now.", one(float64(st.Active))},
		{"connections_closed_total", "counter", "Connections that have finished.", one(float64(st.Closed))},
		{"connections_paused", "gauge", "Connections whose reading is paused by their queued output now (evented engine).", one(float64(st.Paused))},
		{"connections_rejected_total", "counter", rejectedHelp, byReason(st)},
		{"connections_waiting", "gauge", "Accepted connections waiting for a worker now; if it stays above 0, the pool is too small.", one(float64(st.Waiting))},
		{"handler_panics_total", "counter", "Handler panics; each closed its connection.", one(float64(st.Panics))},
		{"output_limited_total", "counter", "Connections closed because their queued output would have passed OutputLimit (evented engine).", one(float64(st.OutputLimited))},
		{"output_queued_bytes", "gauge", "Output queued for slow readers now (evented engine).", one(float64(st.Queued))},
		{"timeouts_total", "counter", "Connections closed by an idle, read, write or TLS handshake timeout.", one(float64(st.Timeouts))},
		{"tls_handshake_errors_total", "counter", "TLS handshakes that failed.", one(float64(st.TLSHandshakeErrors))},
		{"tls_handshakes_total", "counter", "TLS handshakes that succeeded.", one(float64(st.TLSHandshakes))},
		{"workers_busy", "gauge", "Pool workers busy now.", one(float64(st.BusyWorkers))},
	} {
		name := ns + "_" + m.name
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, m.help, name, m.typ)
		for _, s := range m.series {
			labels := prometheus.Labels{}
			maps.Copy(labels, constLabels)
			if s.reason != "" {
				labels["reason"] = s.reason
			}
			fmt.Fprintf(&b, "%s%s %v\n", name, renderLabels(labels), s.v)
		}
	}
	return b.String()
}

// renderLabels renders a label set as the text format writes it: sorted by
// name, "" when empty.
func renderLabels(l prometheus.Labels) string {
	if len(l) == 0 {
		return ""
	}
	var pairs []string
	for _, k := range slices.Sorted(maps.Keys(l)) {
		pairs = append(pairs, fmt.Sprintf("%s=%q", k, l[k]))
	}
	return "{" + strings.Join(pairs, ",") + "}"
}

func TestCollector(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		opts   *metrics.Options
		ns     string
		labels prometheus.Labels
	}{
		{name: "defaults", opts: nil, ns: "sockpool"},
		{name: "zero options", opts: &metrics.Options{}, ns: "sockpool"},
		{name: "const labels", opts: &metrics.Options{ConstLabels: prometheus.Labels{"server": "echo", "engine": "evented"}},
			ns: "sockpool", labels: prometheus.Labels{"server": "echo", "engine": "evented"}},
		{name: "namespace", opts: &metrics.Options{Namespace: "myapp"}, ns: "myapp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := &fakeSource{st: distinct}
			c := metrics.NewCollector(src, tt.opts)
			if err := testutil.CollectAndCompare(c, strings.NewReader(expected(tt.ns, tt.labels, distinct))); err != nil {
				t.Fatal(err)
			}
			if got := src.calls.Load(); got != 1 {
				t.Errorf("one scrape called Stats %d times, want 1", got)
			}
			problems, err := testutil.CollectAndLint(c)
			if err != nil || len(problems) > 0 {
				t.Errorf("CollectAndLint: %v %+v", err, problems)
			}
		})
	}
}

func TestCollectorZeroStats(t *testing.T) {
	t.Parallel()
	c := metrics.NewCollector(&fakeSource{}, nil)
	if err := testutil.CollectAndCompare(c, strings.NewReader(expected("sockpool", nil, server.Stats{}))); err != nil {
		t.Fatal(err)
	}
	// 15 metrics of one series, and connections_rejected_total's 4 reasons,
	// reported at 0 too: a series that appears only once it is non-zero
	// breaks rate() over its first increase.
	if n := testutil.CollectAndCount(c); n != 19 {
		t.Errorf("%d series, want 19", n)
	}
}

// TestCollectorRejections: each reason's series carries that reason's
// count, and the series add up to Stats.Rejected (there is no unlabelled
// total to compare with).
func TestCollectorRejections(t *testing.T) {
	t.Parallel()
	tests := []struct {
		reason string
		st     server.Stats
	}{
		{"overload", server.Stats{Rejected: 3, Rejections: server.Rejections{Overload: 3}}},
		{"per_ip", server.Stats{Rejected: 5, Rejections: server.Rejections{PerIP: 5}}},
		{"access", server.Stats{Rejected: 7, Rejections: server.Rejections{Access: 7}}},
		{"proxy", server.Stats{Rejected: 11, Rejections: server.Rejections{Proxy: 11}}},
		{"all", distinct},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			t.Parallel()
			c := metrics.NewCollector(&fakeSource{st: tt.st}, &metrics.Options{ConstLabels: prometheus.Labels{"server": "echo"}})
			got := rejectedByReason(t, c)
			want := map[string]float64{}
			for _, s := range byReason(tt.st) {
				want[s.reason] = s.v
			}
			if !maps.Equal(got, want) {
				t.Errorf("connections_rejected_total by reason = %v, want %v", got, want)
			}
			var sum float64
			for _, v := range got {
				sum += v
			}
			if sum != float64(tt.st.Rejected) {
				t.Errorf("the reasons add up to %v, want Stats.Rejected %d", sum, tt.st.Rejected)
			}
		})
	}
}

// rejectedByReason gathers c and returns connections_rejected_total's
// value by reason.
func rejectedByReason(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "sockpool_connections_rejected_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			reason := ""
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "reason" {
					reason = lp.GetValue()
				}
			}
			if _, dup := got[reason]; dup || reason == "" {
				t.Fatalf("connections_rejected_total has a series with reason %q twice or without it", reason)
			}
			got[reason] = m.GetCounter().GetValue()
		}
	}
	return got
}

// TestCollectorRegistry registers two servers' collectors in one pedantic
// registry (which checks Describe against Collect), and checks that the
// registry refuses a duplicate and a bad label name.
func TestCollectorRegistry(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewPedanticRegistry()
	echo := metrics.NewCollector(&fakeSource{st: distinct}, &metrics.Options{ConstLabels: prometheus.Labels{"server": "echo"}})
	rpc := metrics.NewCollector(&fakeSource{}, &metrics.Options{ConstLabels: prometheus.Labels{"server": "rpc"}})
	if err := reg.Register(echo); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(rpc); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		want := 2
		if mf.GetName() == "sockpool_connections_rejected_total" {
			want = 2 * 4 // by reason
		}
		if len(mf.GetMetric()) != want {
			t.Errorf("%s has %d series, want %d", mf.GetName(), len(mf.GetMetric()), want)
		}
	}
	if err := reg.Register(metrics.NewCollector(&fakeSource{}, &metrics.Options{ConstLabels: prometheus.Labels{"server": "echo"}})); err == nil {
		t.Error("a second collector with the same labels registered")
	}
	if err := prometheus.NewRegistry().Register(metrics.NewCollector(&fakeSource{}, &metrics.Options{ConstLabels: prometheus.Labels{"": "x"}})); err == nil {
		t.Error("a collector with an empty label name registered")
	}
	if err := prometheus.NewRegistry().Register(metrics.NewCollector(&fakeSource{}, &metrics.Options{ConstLabels: prometheus.Labels{"reason": "x"}})); err == nil {
		t.Error("a collector with a const label named reason, its own label, registered")
	}
}

// recordingSource passes a real server's Stats through and keeps the last
// snapshot, so that a test can compare a scrape with exactly what it read.
type recordingSource struct {
	srv  *server.Server
	mu   sync.Mutex
	last server.Stats
}

func (r *recordingSource) Stats() server.Stats {
	st := r.srv.Stats()
	r.mu.Lock()
	r.last = st
	r.mu.Unlock()
	return st
}

func TestCollectorServer(t *testing.T) {
	t.Parallel()
	srv := &server.Server{Handler: server.HandlerFunc(func(c server.Conn, in []byte) { c.Write(in) })}
	ln := serve(t, srv)

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("hello, metrics")
	if _, err := conn.Write(msg); err != nil {
		t.Fatal(err)
	}
	reply := make([]byte, len(msg))
	if _, err := io.ReadFull(conn, reply); err != nil || string(reply) != string(msg) {
		t.Fatalf("echo: %q, %v", reply, err)
	}

	src := &recordingSource{srv: srv}
	c := metrics.NewCollector(src, &metrics.Options{ConstLabels: prometheus.Labels{"server": "echo"}})
	compare := func(when string) server.Stats {
		t.Helper()
		// Collect first: it reads the snapshot that the expected text is
		// then built from.
		got := make(chan prometheus.Metric, 100)
		c.Collect(got)
		close(got)
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(fixed{got})
		src.mu.Lock()
		st := src.last
		src.mu.Unlock()
		if err := testutil.GatherAndCompare(reg, strings.NewReader(expected("sockpool", prometheus.Labels{"server": "echo"}, st))); err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		return st
	}

	st := compare("connection open")
	if st.Accepted != 1 || st.Active != 1 || st.BytesIn != uint64(len(msg)) || st.BytesOut != uint64(len(msg)) {
		t.Errorf("with the connection open: %+v", st)
	}

	conn.Close()
	deadline := time.Now().Add(10 * time.Second)
	for srv.Stats().Closed != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the connection did not close")
		}
		time.Sleep(time.Millisecond) // poll: Stats has no signal to wait on
	}
	st = compare("connection closed")
	if st.Closed != 1 || st.Active != 0 || st.BytesIn != uint64(len(msg)) || st.BytesOut != uint64(len(msg)) {
		t.Errorf("with the connection closed: %+v", st)
	}
	// And straight from the Collector: the counters are settled now.
	want := fmt.Sprintf(`
# HELP sockpool_bytes_read_total Bytes read from connections and passed to the handler.
# TYPE sockpool_bytes_read_total counter
sockpool_bytes_read_total{server="echo"} %[1]d
# HELP sockpool_bytes_written_total Bytes written to connections.
# TYPE sockpool_bytes_written_total counter
sockpool_bytes_written_total{server="echo"} %[1]d
# HELP sockpool_connections_accepted_total Connections accepted and handed to the engine.
# TYPE sockpool_connections_accepted_total counter
sockpool_connections_accepted_total{server="echo"} 1
# HELP sockpool_connections_closed_total Connections that have finished.
# TYPE sockpool_connections_closed_total counter
sockpool_connections_closed_total{server="echo"} 1
`, len(msg))
	if err := testutil.CollectAndCompare(c, strings.NewReader(want),
		"sockpool_bytes_read_total", "sockpool_bytes_written_total",
		"sockpool_connections_accepted_total", "sockpool_connections_closed_total"); err != nil {
		t.Fatal(err)
	}
}

// fixed is a Collector of already collected metrics.
type fixed struct{ ms chan prometheus.Metric }

func (f fixed) Describe(ch chan<- *prometheus.Desc) {}
func (f fixed) Collect(ch chan<- prometheus.Metric) {
	for m := range f.ms {
		ch <- m
	}
}

// TestCollectorServerRejections: a real server refuses one connection for
// each reason, and the Collector's series by reason match its Stats. The
// server speaks the PROXY protocol, so that clients can come from any
// address through loopback: the Access rules and MaxConnsPerIP apply to
// the header's client, and a bad header is the proxy reason.
func TestCollectorServerRejections(t *testing.T) {
	t.Parallel()
	srv := &server.Server{
		Handler:       server.HandlerFunc(func(c server.Conn, in []byte) { c.Write(in) }),
		ProxyProtocol: &proxyproto.Policy{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
		Access:        &server.Access{Deny: []netip.Prefix{netip.MustParsePrefix("192.0.2.66/32")}},
		MaxConnsPerIP: 1,
		MaxConns:      2,
		Overflow:      pool.Reject,
	}
	ln := serve(t, srv)

	header := func(client string) string { return "PROXY TCP4 " + client + " 192.0.2.200 40000 7000\r\n" }
	connect := func(first string) net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, first); err != nil {
			t.Fatal(err)
		}
		return c
	}
	open := func(client string) net.Conn {
		t.Helper()
		c := connect(header(client) + "ping")
		got := make([]byte, 4)
		if _, err := io.ReadFull(c, got); err != nil || string(got) != "ping" {
			t.Fatalf("a connection from %s: echo %q, %v", client, got, err)
		}
		return c
	}
	refused := func(why, first string) {
		t.Helper()
		// The server counts a refusal before it closes the connection.
		if n, err := connect(first).Read(make([]byte, 1)); n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("%s: read %d, %v; want the connection closed", why, n, err)
		}
	}

	open("192.0.2.1")
	refused("per_ip", header("192.0.2.1")) // 192.0.2.1 has its one connection
	refused("access", header("192.0.2.66"))
	refused("proxy", "GET / HTTP/1.1\r\n\r\n")
	open("192.0.2.2") // the second of MaxConns
	refused("overload", header("192.0.2.3"))

	st := srv.Stats()
	if r := st.Rejections; r != (server.Rejections{Overload: 1, PerIP: 1, Access: 1, Proxy: 1}) || st.Rejected != 4 {
		t.Fatalf("Stats Rejected %d, Rejections %+v; want 4, one of each", st.Rejected, r)
	}
	got := rejectedByReason(t, metrics.NewCollector(srv, nil))
	want := map[string]float64{}
	for _, s := range byReason(st) {
		want[s.reason] = s.v
	}
	if !maps.Equal(got, want) {
		t.Errorf("connections_rejected_total by reason = %v, want %v", got, want)
	}
}

// serve runs srv on a loopback listener, which it returns, until the test
// ends; then it shuts srv down and checks that went cleanly.
func serve(t *testing.T, srv *server.Server) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		<-served
	})
	return ln
}
