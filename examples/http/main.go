// Command http serves net/http on sockpool's drop-in listener
// (server.Server.Listener): the server's admission (connection limits,
// per-IP limits, access rules, PROXY protocol from trusted load
// balancers, TLS with the handshake off the accept path) and its metrics,
// under an unchanged http.Server.
//
//	go run ./examples/http -addr 127.0.0.1:8080             # GET /hello
//	go run ./examples/http -dir ./public                    # static files
//	go run ./examples/http -tls-self-signed                 # HTTPS, HTTP/2 by ALPN
//	go run ./examples/http -max-conns-per-ip 8 -metrics-addr 127.0.0.1:9100
//	go run ./examples/http -proxy-protocol -trusted-proxies 10.0.0.0/8
//
// GET /hello answers "hello from <client address> over <protocol>" (the
// client a PROXY header names, behind a load balancer); with -dir, every
// other path is a file under the directory, sent with sendfile on plain
// TCP. -net-listener serves the same handler on the net.Listener itself,
// without sockpool, for comparison (scripts/http-bench.sh).
//
// When it is ready it prints one line, "listening tcp <address>", with the
// real address (a port of 0 picks a free one). SIGINT or SIGTERM shut it
// down gracefully, the http.Server and then the sockpool Server; it then
// exits 0.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/sockpool/sockpool/examples/internal/servercmd"
	"github.com/sockpool/sockpool/pool"
	"github.com/sockpool/sockpool/server"
	"github.com/sockpool/sockpool/tlsconf"
)

func main() {
	err := run(os.Args[1:])
	switch {
	case errors.Is(err, flag.ErrHelp): // -h: the usage was the answer
	case err != nil:
		fmt.Fprintln(os.Stderr, "http:", err)
		os.Exit(1)
	}
}

// baselineFlags are the flags that mean something with -net-listener; the
// others configure sockpool, and are refused with it rather than ignored.
var baselineFlags = map[string]bool{
	"addr": true, "dir": true, "tls-self-signed": true, "shutdown-timeout": true, "net-listener": true,
}

func run(args []string) error {
	fs := flag.NewFlagSet("http", flag.ContinueOnError)
	srv := &server.Server{}
	var (
		addr        = fs.String("addr", "127.0.0.1:8080", "address to listen on; a port of 0 picks a free one")
		dir         = fs.String("dir", "", "serve the files under this directory (GET /hello still answers)")
		selfSigned  = fs.Bool("tls-self-signed", false, "serve HTTPS (HTTP/2 and HTTP/1.1 by ALPN) with a fresh self-signed certificate for the -addr host, written to a temporary file for clients to trust")
		grace       = fs.Duration("shutdown-timeout", 10*time.Second, "how long a graceful shutdown may take before connections are cut")
		logLevel    = fs.String("log", "", "log the sockpool server to stderr at this level: debug, info, warn, error (default: silent)")
		allow       = fs.String("allow", "", "admit only these clients: comma-separated CIDRs or addresses (default: everyone)")
		deny        = fs.String("deny", "", "refuse these clients: comma-separated CIDRs or addresses")
		proxyProto  = fs.Bool("proxy-protocol", false, "every connection begins with a PROXY protocol v1 or v2 header (from a load balancer such as HAProxy); needs -trusted-proxies")
		trusted     = fs.String("trusted-proxies", "", "with -proxy-protocol: the load balancers' addresses, comma-separated CIDRs or addresses")
		metricsAddr = fs.String("metrics-addr", "", "serve Prometheus metrics (the sockpool server's Stats) at http://ADDR/metrics")
		baseline    = fs.Bool("net-listener", false, "serve on the net.Listener itself, without sockpool (a baseline for benchmarks); takes only -addr, -dir, -tls-self-signed and -shutdown-timeout")
	)
	fs.IntVar(&srv.MaxConns, "max-conns", server.DefaultMaxConns, "most connections open at once")
	fs.TextVar(&srv.Overflow, "overflow", pool.Block, "when full: block (wait in the kernel backlog) or reject (close at once)")
	fs.IntVar(&srv.MaxConnsPerIP, "max-conns-per-ip", 0, "most connections open at once from one client IP address (0: no limit)")
	fs.DurationVar(&srv.HandshakeTimeout, "handshake-timeout", 0, "close a connection whose TLS handshake takes longer (0: the server's default, 10s)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *baseline {
		var refused []string
		fs.Visit(func(f *flag.Flag) {
			if !baselineFlags[f.Name] {
				refused = append(refused, "-"+f.Name)
			}
		})
		if len(refused) > 0 {
			return fmt.Errorf("-net-listener serves without sockpool: %s would be ignored", strings.Join(refused, ", "))
		}
	}
	var err error
	if srv.Logger, err = servercmd.Logger(*logLevel); err != nil {
		return err
	}
	if srv.Access, err = servercmd.Access(*allow, *deny); err != nil {
		return err
	}
	if srv.ProxyProtocol, err = servercmd.ProxyPolicy(*proxyProto, *trusted); err != nil {
		return err
	}
	if *selfSigned {
		cert, err := servercmd.SelfSigned("http", *addr)
		if err != nil {
			return err
		}
		// net/http serves HTTP/2 on a *tls.Conn whose ALPN chose "h2".
		if srv.TLSConfig, err = tlsconf.Server(tlsconf.Config{Certificate: cert, NextProtos: []string{"h2", "http/1.1"}}); err != nil {
			return err
		}
	}
	if *metricsAddr != "" {
		stop, err := servercmd.ServeMetrics(srv, "http", *metricsAddr)
		if err != nil {
			return err
		}
		defer stop()
	}

	sig, stopSignals := servercmd.Signals()
	defer stopSignals()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	// The sockpool Server stops after the http.Server, which closes the
	// listener and its idle connections and waits for the others: then
	// the Server has no connection left to wait for.
	stopServer := srv.Shutdown
	if *baseline {
		if srv.TLSConfig != nil {
			ln = tls.NewListener(ln, srv.TLSConfig)
		}
		stopServer = func(context.Context) error { return nil }
	} else if ln, err = srv.Listener(ln); err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           handler(*dir),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// A client that goes away mid-request is its own business, not
		// the log's.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	fmt.Printf("listening %s %s\n", ln.Addr().Network(), ln.Addr())
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	if err := servercmd.UntilStop(sig, serveErr, nil); err != nil {
		return err
	}
	shutdown := func(ctx context.Context) error {
		return errors.Join(hs.Shutdown(ctx), stopServer(ctx))
	}
	return servercmd.StopGracefully(*grace, shutdown, serveErr, http.ErrServerClosed)
}

// handler answers GET /hello and, with a directory, serves its files.
func handler(dir string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", hello)
	if dir != "" {
		mux.Handle("/", http.FileServer(http.Dir(dir)))
	} else {
		mux.HandleFunc("GET /{$}", hello)
	}
	return mux
}

// hello is the small response: who asked, over what.
func hello(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "hello from %s over %s\n", r.RemoteAddr, r.Proto)
}
