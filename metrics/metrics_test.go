package metrics_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sockpool/sockpool/metrics"
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
// the wrong metric shows.
var distinct = server.Stats{
	Accepted: 101, Rejected: 102, Closed: 103, Active: 4,
	BytesIn: 1 << 40, BytesOut: 106,
	Panics: 107, Timeouts: 108, AcceptErrors: 109,
	TLSHandshakes: 110, TLSHandshakeErrors: 111,
	Queued: 112, Paused: 13, BusyWorkers: 14, Waiting: 15,
}

// expected renders st in the text exposition format, as the Collector
// must report it. labels is "" or a rendered label set such as
// `{server="echo"}`.
func expected(ns, labels string, st server.Stats) string {
	var b strings.Builder
	for _, m := range []struct {
		name, typ, help string
		v               float64
	}{
		{"accept_errors_total", "counter", "Temporary accept errors (such as EMFILE) backed off from.", float64(st.AcceptErrors)},
		{"bytes_read_total", "counter", "Bytes read from connections and passed to the handler.", float64(st.BytesIn)},
		{"bytes_written_total", "counter", "Bytes written to connections.", float64(st.BytesOut)},
		{"connections_accepted_total", "counter", "Connections accepted and handed to the engine.", float64(st.Accepted)},
		{"connections_active", "gauge", "Connections open now.", float64(st.Active)},
		{"connections_closed_total", "counter", "Connections that have finished.", float64(st.Closed)},
		{"connections_paused", "gauge", "Connections whose reading is paused by their queued output now (evented engine).", float64(st.Paused)},
		{"connections_rejected_total", "counter", "Connections closed at once: MaxConns reached or no worker under the Reject policy.", float64(st.Rejected)},
		{"connections_waiting", "gauge", "Accepted connections waiting for a worker now; if it stays above 0, the pool is too small.", float64(st.Waiting)},
		{"handler_panics_total", "counter", "Handler panics; each closed its connection.", float64(st.Panics)},
		{"output_queued_bytes", "gauge", "Output queued for slow readers now (evented engine).", float64(st.Queued)},
		{"timeouts_total", "counter", "Connections closed by an idle, read, write or TLS handshake timeout.", float64(st.Timeouts)},
		{"tls_handshake_errors_total", "counter", "TLS handshakes that failed.", float64(st.TLSHandshakeErrors)},
		{"tls_handshakes_total", "counter", "TLS handshakes that succeeded.", float64(st.TLSHandshakes)},
		{"workers_busy", "gauge", "Pool workers busy now.", float64(st.BusyWorkers)},
	} {
		name := ns + "_" + m.name
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n%s%s %v\n", name, m.help, name, m.typ, name, labels, m.v)
	}
	return b.String()
}

func TestCollector(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		opts   *metrics.Options
		ns     string
		labels string
	}{
		{name: "defaults", opts: nil, ns: "sockpool"},
		{name: "zero options", opts: &metrics.Options{}, ns: "sockpool"},
		{name: "const labels", opts: &metrics.Options{ConstLabels: prometheus.Labels{"server": "echo", "engine": "evented"}},
			ns: "sockpool", labels: `{engine="evented",server="echo"}`},
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
	if err := testutil.CollectAndCompare(c, strings.NewReader(expected("sockpool", "", server.Stats{}))); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(c); n != 15 {
		t.Errorf("%d metrics, want 15", n)
	}
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
		if len(mf.GetMetric()) != 2 {
			t.Errorf("%s has %d series, want 2", mf.GetName(), len(mf.GetMetric()))
		}
	}
	if err := reg.Register(metrics.NewCollector(&fakeSource{}, &metrics.Options{ConstLabels: prometheus.Labels{"server": "echo"}})); err == nil {
		t.Error("a second collector with the same labels registered")
	}
	if err := prometheus.NewRegistry().Register(metrics.NewCollector(&fakeSource{}, &metrics.Options{ConstLabels: prometheus.Labels{"": "x"}})); err == nil {
		t.Error("a collector with an empty label name registered")
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
		if err := testutil.GatherAndCompare(reg, strings.NewReader(expected("sockpool", `{server="echo"}`, st))); err != nil {
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
