// Command proxy is an L4 TCP proxy on sockpool's engines: it accepts
// connections, dials the upstream for each onto the same server's engine
// (server.Dialer), and moves bytes both ways.
//
//	go run ./examples/proxy -addr 127.0.0.1:7100 -upstream 127.0.0.1:6379   # uring where io_uring runs, else evented
//	go run ./examples/proxy -upstream 127.0.0.1:6379 -engine evented -loops 4
//	go run ./examples/proxy -upstream 10.0.0.5:80 -send-proxy    # PROXY protocol v2 to the upstream
//	go run ./examples/proxy -upstream 127.0.0.1:6379 -max-conns 2000 -metrics-addr 127.0.0.1:9100
//
// Buffers are bounded: a side that does not read pauses the reading of
// the other (no memory beyond WriteHighWater and the kernel's buffers per
// direction); a half-close passes through (a client's FIN reaches the
// upstream after the client's last byte, and back); -send-proxy writes a
// PROXY protocol v2 header naming the client to the upstream first. Both
// connections of a pair count against -max-conns, so it admits half as
// many clients. docs/design.md, "The proxy's flow control", has the design.
//
// When it is ready it prints one line, "listening tcp <address>", with the
// real address (a port of 0 picks a free one). SIGINT or SIGTERM shut it
// down gracefully; it then exits 0.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/sockpool/sockpool/examples/internal/servercmd"
	"github.com/sockpool/sockpool/pool"
	"github.com/sockpool/sockpool/server"
)

// defaultEngine is the proxy's cheapest engine this system runs: Uring,
// else Evented, else (off Linux) Threaded. Its handlers never block, so
// relaying on a loop costs no goroutine hand-off per message, and uring
// spent the least CPU per request and relayed the most requests of the
// proxy's engines (docs/benchmarks.md, "An L4 proxy"). Asking is the
// fallback made explicit: -engine uring where io_uring is refused fails
// with the reason, as a Server does.
var defaultEngine = func() server.Engine {
	for _, e := range []server.Engine{server.Uring, server.Evented} {
		if e.Supported() == nil {
			return e
		}
	}
	return server.Threaded
}()

func main() {
	err := run(os.Args[1:])
	switch {
	case errors.Is(err, flag.ErrHelp): // -h: the usage was the answer
	case err != nil:
		fmt.Fprintln(os.Stderr, "proxy:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	srv := &server.Server{}
	p := &proxy{srv: srv}
	var (
		addr        = fs.String("addr", "127.0.0.1:7100", "address to listen on; a port of 0 picks a free one")
		grace       = fs.Duration("shutdown-timeout", 10*time.Second, "how long a graceful shutdown may take before connections are cut")
		logLevel    = fs.String("log", "", "log to stderr at this level: debug, info, warn, error (default: silent); debug says why each connection closed")
		allow       = fs.String("allow", "", "admit only these clients: comma-separated CIDRs or addresses (default: everyone)")
		deny        = fs.String("deny", "", "refuse these clients: comma-separated CIDRs or addresses")
		proxyProto  = fs.Bool("proxy-protocol", false, "every client connection begins with a PROXY protocol v1 or v2 header (from a load balancer); needs -trusted-proxies")
		trusted     = fs.String("trusted-proxies", "", "with -proxy-protocol: the load balancers' addresses, comma-separated CIDRs or addresses")
		metricsAddr = fs.String("metrics-addr", "", "serve Prometheus metrics (the server's Stats, both sides) at http://ADDR/metrics")
	)
	fs.StringVar(&p.upstream, "upstream", "127.0.0.1:6379", "the address to relay each connection to")
	fs.BoolVar(&p.sendProxy, "send-proxy", false, "begin each upstream connection with a PROXY protocol v2 header naming the client")
	fs.DurationVar(&p.dialTimeout, "dial-timeout", 5*time.Second, "how long connecting to the upstream may take")
	fs.TextVar(&srv.Engine, "engine", defaultEngine, "engine: uring (io_uring, handler on the loops, Linux 6.1+), evented (epoll, handler on the loops, Linux), evented-pool (handler on the worker pool), threaded or threaded-syscall (blocking reads, Linux); the default is uring where io_uring runs, else evented on Linux")
	fs.IntVar(&srv.Loops, "loops", 0, "evented engines: event loops (0: the engine's default, see server.Server.Loops)")
	// A fixed 16 KiB, HAProxy's tune.bufsize: the evented engines tune one
	// size per loop, from the reads of both sides of every pair it runs,
	// and a proxy's small replies pulled it down to 512 B, under the
	// requests (576 B for redis-benchmark -P 16 GETs), which then took two
	// reads and two writes each (docs/benchmarks.md, "An L4 proxy").
	fs.IntVar(&srv.ReadBufferSize, "bufsize", 16<<10, "read buffer size in bytes, rounded up to a power of two; 0: the tuner picks")
	fs.IntVar(&srv.WriteHighWater, "write-high-water", 0, "bytes queued for one side above which the other side's reading pauses (0: the server's default, 256 KiB)")
	fs.IntVar(&srv.Workers, "workers", 0, "worker pool size (0: follow -max-conns)")
	fs.IntVar(&srv.MaxConns, "max-conns", server.DefaultMaxConns, "most connections open at once, clients and upstreams together")
	fs.TextVar(&srv.Overflow, "overflow", pool.Block, "when full: block (wait in the kernel backlog) or reject (close at once)")
	fs.IntVar(&srv.MaxConnsPerIP, "max-conns-per-ip", 0, "most connections open at once from one client IP address (0: no limit)")
	fs.DurationVar(&srv.IdleTimeout, "idle-timeout", 0, "close connections that move no bytes either way this long (0: never)")
	fs.DurationVar(&srv.WriteTimeout, "write-timeout", 0, "close connections whose peer takes no output for this long (0: never)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if srv.Logger, err = servercmd.Logger(*logLevel); err != nil {
		return err
	}
	p.log = srv.Logger
	if srv.Access, err = servercmd.Access(*allow, *deny); err != nil {
		return err
	}
	if srv.ProxyProtocol, err = servercmd.ProxyPolicy(*proxyProto, *trusted); err != nil {
		return err
	}
	srv.Handler = p
	if *metricsAddr != "" {
		stop, err := servercmd.ServeMetrics(srv, "proxy", *metricsAddr)
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
	fmt.Printf("listening %s %s\n", ln.Addr().Network(), ln.Addr())
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	if err := servercmd.UntilStop(sig, serveErr, nil); err != nil {
		return err
	}
	return servercmd.StopGracefully(*grace, srv.Shutdown, serveErr, server.ErrServerClosed)
}
