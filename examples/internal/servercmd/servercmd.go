// Package servercmd is what the example server commands share around
// their servers: the flags that become admission rules (-allow, -deny,
// -proxy-protocol, -trusted-proxies), a self-signed certificate for
// -tls-self-signed, the Prometheus endpoint of -metrics-addr, and the wait
// for a signal followed by a graceful shutdown.
//
//	sig, stopSignals := servercmd.Signals()
//	defer stopSignals()
//	// ... listen, print "listening", serve, sending Serve's error to serveErr
//	if err := servercmd.UntilStop(sig, serveErr, nil); err != nil {
//		return err
//	}
//	return servercmd.StopGracefully(grace, srv.Shutdown, serveErr, server.ErrServerClosed)
package servercmd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sockpool/sockpool/metrics"
	"github.com/sockpool/sockpool/proxyproto"
	"github.com/sockpool/sockpool/server"
	"github.com/sockpool/sockpool/tlsconf"
)

// Logger returns a text logger to stderr at level (debug, info, warn,
// error), or nil, the servers' silence, for "".
func Logger(level string) (*slog.Logger, error) {
	if level == "" {
		return nil, nil
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log: %w", err)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

// Signals catches SIGINT, SIGTERM and SIGHUP until stop is called. Call it
// before printing "listening": a script may send a signal as soon as it
// reads that line.
func Signals() (sig <-chan os.Signal, stop func()) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	return c, func() { signal.Stop(c) }
}

// UntilStop waits for SIGINT or SIGTERM on sig, calling onHUP (if not nil)
// for each SIGHUP. It returns Serve's error instead if Serve ends first.
func UntilStop(sig <-chan os.Signal, serveErr <-chan error, onHUP func()) error {
	for {
		select {
		case err := <-serveErr:
			return err
		case s := <-sig:
			if s != syscall.SIGHUP {
				return nil
			}
			if onHUP != nil {
				onHUP()
			}
		}
	}
}

// StopGracefully shuts the server down within grace and waits for Serve to
// return closed, the server's ErrServerClosed.
func StopGracefully(grace time.Duration, shutdown func(context.Context) error, serveErr <-chan error, closed error) error {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := shutdown(ctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-serveErr; !errors.Is(err, closed) {
		return err
	}
	return nil
}

// splitUnix removes the "unix" entry from a comma-separated list and says
// whether it was there.
func splitUnix(list string) (rest string, unix bool) {
	var keep []string
	for _, f := range strings.Split(list, ",") {
		if strings.EqualFold(strings.TrimSpace(f), "unix") {
			unix = true
			continue
		}
		keep = append(keep, f)
	}
	return strings.Join(keep, ","), unix
}

// Access builds the Access rules of -allow and -deny (comma-separated
// CIDRs or addresses; "unix" in -allow admits UNIX-socket clients), or nil
// when both are empty.
func Access(allow, deny string) (*server.Access, error) {
	if strings.TrimSpace(allow) == "" && strings.TrimSpace(deny) == "" {
		return nil, nil
	}
	rest, unix := splitUnix(allow)
	a := &server.Access{Unix: unix}
	var err error
	if a.Allow, err = proxyproto.ParsePrefixes(rest); err != nil {
		return nil, fmt.Errorf("-allow: %w", err)
	}
	if unix && len(a.Allow) == 0 {
		// "unix" alone: UNIX-socket clients only.
		a.Deny = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}
	}
	denied, err := proxyproto.ParsePrefixes(deny)
	if err != nil {
		return nil, fmt.Errorf("-deny: %w", err)
	}
	a.Deny = append(a.Deny, denied...)
	return a, nil
}

// ProxyPolicy builds the PROXY protocol policy of -proxy-protocol and
// -trusted-proxies (comma-separated CIDRs or addresses; "unix" trusts
// UNIX-socket peers), or nil when -proxy-protocol is off. A header is
// believed only from a trusted load balancer, so on needs trusted.
func ProxyPolicy(on bool, trusted string) (*proxyproto.Policy, error) {
	if !on {
		if strings.TrimSpace(trusted) != "" {
			return nil, errors.New("-trusted-proxies needs -proxy-protocol")
		}
		return nil, nil
	}
	rest, unix := splitUnix(trusted)
	prefixes, err := proxyproto.ParsePrefixes(rest)
	if err != nil {
		return nil, fmt.Errorf("-trusted-proxies: %w", err)
	}
	if len(prefixes) == 0 && !unix {
		return nil, errors.New("-proxy-protocol needs -trusted-proxies: a header is believed only from a trusted load balancer")
	}
	return &proxyproto.Policy{Trusted: prefixes, TrustUnix: unix}, nil
}

// SelfSigned makes a self-signed certificate for the host of addr (or
// localhost) and writes it to a temporary file for clients to trust,
// saying where on stderr as "<prog>: self-signed certificate for <host>
// in <file>".
func SelfSigned(prog, addr string) (*tls.Certificate, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		host = "localhost"
	}
	cert, err := tlsconf.SelfSigned(host, "localhost")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "sockpool-"+prog+"-tls")
	if err != nil {
		return nil, err
	}
	certFile := filepath.Join(dir, "cert.pem")
	if err := tlsconf.WriteFiles(cert, certFile, filepath.Join(dir, "key.pem")); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "%s: self-signed certificate for %s in %s\n", prog, host, certFile)
	return cert, nil
}

// ServeMetrics serves srv's Stats for Prometheus at http://addr/metrics,
// labelled server=prog, until stop is called, and says where on stderr
// as "<prog>: metrics at <url>".
func ServeMetrics(srv *server.Server, prog, addr string) (stop func(), err error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		metrics.NewCollector(srv, &metrics.Options{ConstLabels: prometheus.Labels{"server": prog}}),
		// What the default registry would have: the Go runtime's metrics
		// (go_goroutines, go_memstats_*) and the process's
		// (process_open_fds, process_resident_memory_bytes), so that the
		// server's counters can be read against its goroutines, memory and
		// descriptors.
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("-metrics-addr: %w", err)
	}
	fmt.Fprintf(os.Stderr, "%s: metrics at http://%s/metrics\n", prog, ln.Addr())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(ln)
	return func() { hs.Close() }, nil
}
