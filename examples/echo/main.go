// Command echo is the smallest complete sockpool server: it writes back every
// byte it reads.
//
//	go run ./examples/echo -addr 127.0.0.1:7000
//	go run ./examples/echo -network unix -addr /tmp/echo.sock
//	go run ./examples/echo -network udp            # datagrams, with packet.Server
//	go run ./examples/echo -tls-self-signed        # TLS; prints where the certificate is
//	go run ./examples/echo -tls-cert c.pem -tls-key k.pem -tls-client-ca ca.pem
//
// With -tls-cert and -tls-key, SIGHUP reloads the certificate from the files
// (connections already open keep theirs).
//
// When it is ready it prints one line, "listening <network> <address>", with
// the real address (a port of 0 picks a free one), so scripts can wait for
// it. SIGINT or SIGTERM shut it down gracefully; it then exits 0.
//
// examples/echo/client drives it and checks every echoed byte.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/sockpool/sockpool/examples/internal/servercmd"
	"github.com/sockpool/sockpool/pool"
	"github.com/sockpool/sockpool/server"
	"github.com/sockpool/sockpool/tlsconf"
)

// defaultAddr is the echo server's address unless -addr says otherwise.
const defaultAddr = "127.0.0.1:7000"

func main() {
	err := run(os.Args[1:])
	switch {
	case errors.Is(err, flag.ErrHelp): // -h: the usage was the answer
	case err != nil:
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("echo", flag.ContinueOnError)
	h := &echo{}
	srv := &server.Server{Handler: h}
	var (
		addr     = fs.String("addr", defaultAddr, "address to listen on; a port of 0 picks a free one; a path for -network unix")
		network  = fs.String("network", "tcp", "tcp, unix, or udp (udp4, udp6: a datagram echo, which takes only -addr, -workers, -shutdown-timeout and -log)")
		grace    = fs.Duration("shutdown-timeout", 10*time.Second, "how long a graceful shutdown may take before connections are cut")
		logLevel = fs.String("log", "", "log to stderr at this level: debug, info, warn, error (default: silent)")
	)
	fs.TextVar(&srv.Engine, "engine", server.Threaded, "engine: threaded, threaded-syscall (blocking reads, Linux), evented (epoll, handler on the loops, Linux), evented-pool (handler on the worker pool) or uring (io_uring, handler on the loops, Linux 6.1+)")
	fs.IntVar(&srv.Loops, "loops", 0, "evented, uring: event loops (0: the engine's default, see server.Server.Loops)")
	fs.BoolVar(&srv.ReusePort, "reuseport", false, "evented: one SO_REUSEPORT listener per loop; also lets several processes share the port")
	fs.IntVar(&srv.OutputLimit, "output-limit", 0, "evented: close a connection with more output than this queued, in bytes (0: 64 MiB)")
	fs.IntVar(&srv.ReadBufferSize, "bufsize", 0, "read buffer size in bytes, rounded up to a power of two; 0: the tuner picks per connection")
	fs.IntVar(&srv.MinReadBufferSize, "min-bufsize", 0, "with -bufsize 0: the tuner's smallest size (0: 512)")
	fs.IntVar(&srv.MaxReadBufferSize, "max-bufsize", 0, "with -bufsize 0: the tuner's largest size (0: 256 KiB)")
	fs.IntVar(&srv.Workers, "workers", 0, "worker pool size (0: follow -max-conns; with -network udp, the most handler calls at once, 0: packet.Server's default)")
	fs.IntVar(&srv.MaxConns, "max-conns", server.DefaultMaxConns, "most connections open at once")
	fs.TextVar(&srv.Overflow, "overflow", pool.Block, "when full: block (wait in the kernel backlog) or reject (close at once)")
	fs.DurationVar(&srv.IdleTimeout, "idle-timeout", 0, "close connections idle this long (0: never)")
	fs.DurationVar(&srv.ReadTimeout, "read-timeout", 0, "close connections that send nothing this long (0: never)")
	fs.DurationVar(&srv.WriteTimeout, "write-timeout", 0, "close connections whose peer takes no output for this long (0: never)")
	fs.IntVar(&srv.MaxConnsPerIP, "max-conns-per-ip", 0, "most connections open at once from one client IP address (0: no limit)")
	allow := fs.String("allow", "", "admit only these clients: comma-separated CIDRs or addresses, and \"unix\" for UNIX-socket clients (default: everyone)")
	deny := fs.String("deny", "", "refuse these clients: comma-separated CIDRs or addresses")
	proxyProto := fs.Bool("proxy-protocol", false, "every connection begins with a PROXY protocol v1 or v2 header (from a load balancer such as HAProxy); needs -trusted-proxies")
	trusted := fs.String("trusted-proxies", "", "with -proxy-protocol: the load balancers' addresses, comma-separated CIDRs or addresses; \"unix\" trusts UNIX-socket peers")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus metrics (the server's Stats) at http://ADDR/metrics")
	var tf tlsFlags
	fs.BoolVar(&tf.selfSigned, "tls-self-signed", false, "serve TLS with a fresh self-signed certificate for the -addr host (written to a temporary file for clients to trust)")
	fs.StringVar(&tf.cert, "tls-cert", "", "serve TLS with this PEM certificate chain (with -tls-key)")
	fs.StringVar(&tf.key, "tls-key", "", "the PEM private key of -tls-cert")
	fs.StringVar(&tf.clientCA, "tls-client-ca", "", "require client certificates signed by a CA in this PEM file (mutual TLS)")
	fs.DurationVar(&srv.HandshakeTimeout, "handshake-timeout", 0, "close a connection whose TLS handshake takes longer (0: the server's default, 10s)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if srv.Logger, err = servercmd.Logger(*logLevel); err != nil {
		return err
	}
	h.log = srv.Logger
	if isUDP(*network) {
		return runUDP(fs, *network, *addr, *grace, srv.Workers, srv.Logger)
	}
	if *network == "unix" && *addr == defaultAddr {
		*addr = filepath.Join(os.TempDir(), "sockpool-echo.sock")
	}

	reloader, err := tf.apply(srv, *addr)
	if err != nil {
		return err
	}
	if srv.Access, err = servercmd.Access(*allow, *deny); err != nil {
		return err
	}
	if srv.ProxyProtocol, err = servercmd.ProxyPolicy(*proxyProto, *trusted); err != nil {
		return err
	}

	if *metricsAddr != "" {
		stop, err := servercmd.ServeMetrics(srv, "echo", *metricsAddr)
		if err != nil {
			return err
		}
		defer stop()
	}

	sig, stopSignals := servercmd.Signals()
	defer stopSignals()

	serveErr := make(chan error, 1)
	if srv.ReusePort && srv.Engine == server.Evented && *network != "unix" {
		// The server opens one listener per loop; port 0 is resolved by the
		// first, so read the address back once it is listening.
		srv.Network, srv.Addr = *network, *addr
		go func() { serveErr <- srv.ListenAndServe() }()
		a, err := waitListening(srv, serveErr)
		if err != nil {
			return err
		}
		fmt.Printf("listening %s %s\n", a.Network(), a)
	} else {
		ln, err := listen(*network, *addr)
		if err != nil {
			return err
		}
		fmt.Printf("listening %s %s\n", ln.Addr().Network(), ln.Addr())
		go func() { serveErr <- srv.Serve(ln) }()
	}
	reload := func() {
		if reloader == nil {
			fmt.Fprintln(os.Stderr, "echo: SIGHUP: no certificate files to reload")
		} else if err := reloader.Reload(); err != nil {
			fmt.Fprintln(os.Stderr, "echo: reload, keeping the old certificate:", err)
		} else {
			fmt.Fprintln(os.Stderr, "echo: certificate reloaded")
		}
	}
	if err := servercmd.UntilStop(sig, serveErr, reload); err != nil {
		return err
	}
	return servercmd.StopGracefully(*grace, srv.Shutdown, serveErr, server.ErrServerClosed)
}

// waitListening polls until srv has a listener or Serve failed.
func waitListening(srv *server.Server, serveErr chan error) (net.Addr, error) {
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		if a := srv.ListenAddr(); a != nil {
			return a, nil
		}
		select {
		case err := <-serveErr:
			return nil, err
		case <-time.After(wait):
		}
	}
}

// listen listens on network and addr. A UNIX socket file left behind by a
// process that died is removed first, but only when nothing answers on it.
func listen(network, addr string) (net.Listener, error) {
	if network == "unix" {
		if _, err := os.Stat(addr); err == nil {
			if c, err := net.Dial("unix", addr); err == nil {
				c.Close()
				return nil, fmt.Errorf("%s: another server is listening there", addr)
			}
			os.Remove(addr)
		}
	}
	return net.Listen(network, addr)
}

// echo writes back every byte it reads. With -log debug it logs each
// connection's open and close, with the client's address (the one a PROXY
// header names, behind a load balancer).
type echo struct{ log *slog.Logger }

func (e *echo) OnData(c server.Conn, in []byte) { c.Write(in) }

func (e *echo) OnOpen(c server.Conn) {
	if e.log != nil {
		e.log.Debug("open", "id", c.ID(), "remote", c.RemoteAddr().String(), "local", c.LocalAddr().String())
	}
}

func (e *echo) OnClose(c server.Conn, err error) {
	if e.log != nil {
		e.log.Debug("close", "id", c.ID(), "remote", c.RemoteAddr().String(), "err", err)
	}
}

// tlsFlags are the TLS command-line options.
type tlsFlags struct {
	selfSigned bool
	cert, key  string
	clientCA   string
}

// apply sets srv.TLSConfig from the flags. With certificate files it
// returns the Reloader that SIGHUP reloads.
func (f *tlsFlags) apply(srv *server.Server, addr string) (*tlsconf.Reloader, error) {
	conf := tlsconf.Config{CertFile: f.cert, KeyFile: f.key, ClientCAFile: f.clientCA}
	if f.clientCA != "" {
		conf.ClientAuth = tlsconf.RequireClientCert
	}
	switch {
	case f.selfSigned && (f.cert != "" || f.key != ""):
		return nil, errors.New("-tls-self-signed and -tls-cert/-tls-key exclude each other")
	case f.selfSigned:
		cert, err := servercmd.SelfSigned("echo", addr)
		if err != nil {
			return nil, err
		}
		conf.Certificate = cert
		srv.TLSConfig, err = tlsconf.Server(conf)
		return nil, err
	case f.cert != "" || f.key != "":
		r, err := tlsconf.NewReloader(conf)
		if err != nil {
			return nil, err
		}
		srv.TLSConfig = r.TLSConfig()
		return r, nil
	case f.clientCA != "":
		return nil, errors.New("-tls-client-ca needs -tls-cert and -tls-key, or -tls-self-signed")
	}
	return nil, nil
}
