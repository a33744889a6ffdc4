package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sockpool/sockpool/server"
)

// table maps server.Stats to metrics: a new Stats field is one more line
// here (and one in the test's expected output). A field broken down by a
// label, such as rejections by reason, would add a labels field and a
// value function that returns one value per label value.
var table = []struct {
	name  string // without the namespace
	help  string
	typ   prometheus.ValueType
	value func(*server.Stats) float64
}{
	{"connections_accepted_total", "Connections accepted and handed to the engine.",
		prometheus.CounterValue, func(s *server.Stats) float64 { return float64(s.Accepted) }},
	{"connections_rejected_total", "Connections closed at once: MaxConns reached or no worker under the Reject policy.",
		prometheus.CounterValue, func(s *server.Stats) float64 { return float64(s.Rejected) }},
	{"connections_closed_total", "Connections that have finished.",
		prometheus.CounterValue, func(s *server.Stats) float64 { return float64(s.Closed) }},
	{"bytes_read_total", "Bytes read from connections and passed to the handler.",
		prometheus.CounterValue, func(s *server.Stats) float64 { return float64(s.BytesIn) }},
	{"bytes_written_total", "Bytes written to connections.",
		prometheus.CounterValue, func(s *server.Stats) float64 { return float64(s.BytesOut) }},
	{"handler_panics_total", "Handler panics; each closed its connection.",
		prometheus.CounterValue, func(s *server.Stats) float64 { return float64(s.Panics) }},
	{"timeouts_total", "Connections closed by an idle, read, write or TLS handshake timeout.",
		prometheus.CounterValue, func(s *server.Stats) float64 { return float64(s.Timeouts) }},
	{"accept_errors_total", "Temporary accept errors (such as EMFILE) backed off from.",
		prometheus.CounterValue, func(s *server.Stats) float64 { return float64(s.AcceptErrors) }},
	{"tls_handshakes_total", "TLS handshakes that succeeded.",
		prometheus.CounterValue, func(s *server.Stats) float64 { return float64(s.TLSHandshakes) }},
	{"tls_handshake_errors_total", "TLS handshakes that failed.",
		prometheus.CounterValue, func(s *server.Stats) float64 { return float64(s.TLSHandshakeErrors) }},

	{"connections_active", "Connections open now.",
		prometheus.GaugeValue, func(s *server.Stats) float64 { return float64(s.Active) }},
	{"output_queued_bytes", "Output queued for slow readers now (evented engine).",
		prometheus.GaugeValue, func(s *server.Stats) float64 { return float64(s.Queued) }},
	{"connections_paused", "Connections whose reading is paused by their queued output now (evented engine).",
		prometheus.GaugeValue, func(s *server.Stats) float64 { return float64(s.Paused) }},
	{"workers_busy", "Pool workers busy now.",
		prometheus.GaugeValue, func(s *server.Stats) float64 { return float64(s.BusyWorkers) }},
	{"connections_waiting", "Accepted connections waiting for a worker now; if it stays above 0, the pool is too small.",
		prometheus.GaugeValue, func(s *server.Stats) float64 { return float64(s.Waiting) }},
}

// DefaultNamespace is the metric name prefix when Options.Namespace is
// empty.
const DefaultNamespace = "sockpool"

// StatsSource is what a Collector reads: a *server.Server, or a fake in
// tests.
type StatsSource interface {
	Stats() server.Stats
}

// Options configure a Collector. A nil *Options means the defaults.
type Options struct {
	// Namespace prefixes every metric name: Namespace_connections_active.
	// Default DefaultNamespace ("sockpool").
	Namespace string

	// ConstLabels are added to every metric, such as {"server": "echo"}, to
	// tell apart several servers registered in one registry.
	ConstLabels prometheus.Labels
}

// Collector is a prometheus.Collector for a server's Stats. It is safe for
// concurrent scrapes.
type Collector struct {
	src   StatsSource
	descs []*prometheus.Desc // one per table entry, in its order
}

// NewCollector returns a Collector that reports src's Stats. src must not
// be nil. A bad Namespace or ConstLabels name is reported by the
// registry's Register.
func NewCollector(src StatsSource, opts *Options) *Collector {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	c := &Collector{src: src, descs: make([]*prometheus.Desc, len(table))}
	for i, m := range table {
		c.descs[i] = prometheus.NewDesc(prometheus.BuildFQName(o.Namespace, "", m.name), m.help, nil, o.ConstLabels)
	}
	return c
}

// Describe sends the descriptors of every metric c reports. It implements
// prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect takes one Stats snapshot and sends every metric from it, so that
// the values of one scrape agree with each other. It implements
// prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	st := c.src.Stats()
	for i, m := range table {
		metric, err := prometheus.NewConstMetric(c.descs[i], m.typ, m.value(&st))
		if err != nil {
			metric = prometheus.NewInvalidMetric(c.descs[i], err)
		}
		ch <- metric
	}
}
