package metrics_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sockpool/sockpool/metrics"
	"github.com/sockpool/sockpool/server"
)

func ExampleNewCollector() {
	srv := &server.Server{Handler: server.HandlerFunc(func(c server.Conn, in []byte) { c.Write(in) })}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())

	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewCollector(srv, &metrics.Options{
		ConstLabels: prometheus.Labels{"server": "echo"},
	}))
	mux := http.NewServeMux() // or http.Handle on the default mux
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	// One echo round trip.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	c.Write([]byte("hello"))
	io.ReadFull(c, make([]byte, 5))

	// A scrape, as Prometheus would make it.
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "sockpool_connections_a") {
			fmt.Println(line)
		}
	}
	// Output:
	// sockpool_connections_accepted_total{server="echo"} 1
	// sockpool_connections_active{server="echo"} 1
}
