package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sockpool/sockpool/server"
)

// table maps server.Stats to metrics: a new Stats field is one more line
// here (and one in the test's expected output). A metric broken down by a
// label names it in label and gives values, one value per value of the
// label (labelValues, in the same order), instead of value. Following
// Prometheus's naming advice, a metric that is split this way is not also
// exported as an unlabelled total: sum without the label gives it.
var table = []struct {
	name  string // without the namespace
	help  string
	typ   prometheus.ValueType
	value func(*server.Stats) float64

	label       string // "" for a metric without a label of its own
	labelValues []string
	values      func(*server.Stats) []float64
}{
	{name: "connections_accepted_total", help: "Connections accepted and handed to the engine.",
		typ: prometheus.CounterValue, value: func(s *server.Stats) float64 { return float64(s.Accepted) }},
	{name: "connections_rejected_total", help: "Connections closed before they started, by reason: " +
		"overload (MaxConns reached, or no worker, under the Reject policy), per_ip (MaxConnsPerIP reached), " +
		"access (refused by the Access rules), proxy (PROXY protocol: an untrusted peer, or a bad, truncated or slow header).",
		typ: prometheus.CounterValue, label: "reason", labelValues: rejectReasons, values: rejections},
	{name: "connections_closed_total", help: "Connections that have finished.",
		typ: prometheus.CounterValue, value: func(s *server.Stats) float64 { return float64(s.Closed) }},
	{name: "bytes_read_total", help: "Bytes read from connections and passed to the handler.",
		typ: prometheus.CounterValue, value: func(s *server.Stats) float64 { return float64(s.BytesIn) }},
	{name: "bytes_written_total", help: "Bytes written to connections.",
		typ: prometheus.CounterValue, value: func(s *server.Stats) float64 { return float64(s.BytesOut) }},
	{name: "handler_panics_total", help: "Handler panics; each closed its connection.",
		typ: prometheus.CounterValue, value: func(s *server.Stats) float64 { return float64(s.Panics) }},
	{name: "timeouts_total", help: "Connections closed by an idle, read, write or TLS handshake timeout.",
		typ: prometheus.CounterValue, value: func(s *server.Stats) float64 { return float64(s.Timeouts) }},
	{name: "accept_errors_total", help: "Temporary accept errors (such as EMFILE) backed off from.",
		typ: prometheus.CounterValue, value: func(s *server.Stats) float64 { return float64(s.AcceptErrors) }},
	{name: "output_limited_total", help: "Connections closed because their queued output would have passed OutputLimit (evented engine).",
		typ: prometheus.CounterValue, value: func(s *server.Stats) float64 { return float64(s.OutputLimited) }},
	{name: "tls_handshakes_total", help: "TLS handshakes that succeeded.",
		typ: prometheus.CounterValue, value: func(s *server.Stats) float64 { return float64(s.TLSHandshakes) }},
	{name: "tls_handshake_errors_total", help: "TLS handshakes that failed.",
		typ: prometheus.CounterValue, value: func(s *server.Stats) float64 { return float64(s.TLSHandshakeErrors) }},

	{name: "connections_active", help: "Connections open now.",
		typ: prometheus.GaugeValue, value: func(s *server.Stats) float64 { return float64(s.Active) }},
	{name: "output_queued_bytes", help: "Output queued for slow readers now (evented engine).",
		typ: prometheus.GaugeValue, value: func(s *server.Stats) float64 { return float64(s.Queued) }},
	{name: "connections_paused", help: "Connections whose reading is paused by their queued output now (evented engine).",
		typ: prometheus.GaugeValue, value: func(s *server.Stats) float64 { return float64(s.Paused) }},
	{name: "workers_busy", help: "Pool workers busy now.",
		typ: prometheus.GaugeValue, value: func(s *server.Stats) float64 { return float64(s.BusyWorkers) }},
	{name: "connections_waiting", help: "Accepted connections waiting for a worker now; if it stays above 0, the pool is too small.",
		typ: prometheus.GaugeValue, value: func(s *server.Stats) float64 { return float64(s.Waiting) }},
}

// rejectReasons are the values of connections_rejected_total's reason
// label, in the order rejections returns their counts.
var rejectReasons = []string{"overload", "per_ip", "access", "proxy"}

// rejections returns Stats.Rejections in rejectReasons's order. Their sum
// is Stats.Rejected.
func rejections(s *server.Stats) []float64 {
	r := &s.Rejections
	return []float64{float64(r.Overload), float64(r.PerIP), float64(r.Access), float64(r.Proxy)}
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
	// tell apart several servers registered in one registry. They must not
	// use a label name of the Collector's own ("reason"): the registry's
	// Register reports it.
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
		var labels []string
		if m.label != "" {
			labels = []string{m.label}
		}
		c.descs[i] = prometheus.NewDesc(prometheus.BuildFQName(o.Namespace, "", m.name), m.help, labels, o.ConstLabels)
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
		if m.label == "" {
			ch <- constMetric(c.descs[i], m.typ, m.value(&st))
			continue
		}
		for j, v := range m.values(&st) {
			ch <- constMetric(c.descs[i], m.typ, v, m.labelValues[j])
		}
	}
}

// constMetric is prometheus.NewConstMetric, with its error reported as an
// invalid metric (a registry's Gather returns it).
func constMetric(d *prometheus.Desc, typ prometheus.ValueType, v float64, labelValues ...string) prometheus.Metric {
	metric, err := prometheus.NewConstMetric(d, typ, v, labelValues...)
	if err != nil {
		return prometheus.NewInvalidMetric(d, err)
	}
	return metric
}
