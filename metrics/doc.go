// Package metrics exports a sockpool server's Stats to Prometheus, so that
// the server package itself stays free of Prometheus.
//
// A Collector reads one Stats snapshot per scrape and reports it as
// counters and gauges named sockpool_*:
//
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(metrics.NewCollector(srv, &metrics.Options{
//		ConstLabels: prometheus.Labels{"server": "echo"},
//	}))
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// Rejected connections are one counter split by a reason label, one series
// per field of server.Rejections:
//
//	sockpool_connections_rejected_total{reason="overload"}  // also per_ip, access, proxy
//
// There is no unlabelled total beside it, as Prometheus's naming guidance
// advises; the total, Stats.Rejected, is the sum over the reasons:
// sum without (reason) (sockpool_connections_rejected_total).
//
// Several servers in one process each get a Collector with their own
// ConstLabels. Every metric and its help text is in one table, metrics.go.
package metrics
