// Command echo is the smallest complete sockpool server: it writes back every
// byte it reads.
//
//	go run ./examples/echo -addr 127.0.0.1:7000
//	go run ./examples/echo -network unix -addr /tmp/echo.sock
//
// When it is ready it prints one line, "listening <network> <address>", with
// the real address (a port of 0 picks a free one), so scripts can wait for
// it. SIGINT or SIGTERM shut it down gracefully; it then exits 0.
//
// examples/echo/client drives it and checks every echoed byte.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/sockpool/sockpool/pool"
	"github.com/sockpool/sockpool/server"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("echo", flag.ContinueOnError)
	srv := &server.Server{
		Handler: server.HandlerFunc(func(c server.Conn, in []byte) { c.Write(in) }),
	}
	var (
		addr     = fs.String("addr", server.DefaultAddr, "address to listen on; a port of 0 picks a free one; a path for -network unix")
		network  = fs.String("network", "tcp", "tcp or unix")
		grace    = fs.Duration("shutdown-timeout", 10*time.Second, "how long a graceful shutdown may take before connections are cut")
		logLevel = fs.String("log", "", "log to stderr at this level: debug, info, warn, error (default: silent)")
	)
	fs.TextVar(&srv.Engine, "engine", server.Threaded, "engine: threaded or evented (Linux)")
	fs.IntVar(&srv.Loops, "loops", 0, "evented: event loops (0: GOMAXPROCS)")
	fs.BoolVar(&srv.ReusePort, "reuseport", false, "evented: one SO_REUSEPORT listener per loop; also lets several processes share the port")
	fs.TextVar(&srv.Dispatch, "dispatch", server.Inline, "evented: call the handler inline on the loop or on the worker pool")
	fs.TextVar(&srv.ReadMode, "read-mode", server.Netpoll, "threaded: read through Go's netpoller (netpoll) or with blocking read(2) on the worker's thread (syscall, Linux)")
	fs.IntVar(&srv.ReadBufferSize, "bufsize", 0, "read buffer size in bytes, rounded up to a power of two; 0: the tuner picks per connection")
	fs.IntVar(&srv.MinReadBufferSize, "min-bufsize", 0, "with -bufsize 0: the tuner's smallest size (0: 512)")
	fs.IntVar(&srv.MaxReadBufferSize, "max-bufsize", 0, "with -bufsize 0: the tuner's largest size (0: 256 KiB)")
	fs.IntVar(&srv.Workers, "workers", 0, "worker pool size (0: follow -max-conns)")
	fs.IntVar(&srv.MaxConns, "max-conns", server.DefaultMaxConns, "most connections open at once")
	fs.TextVar(&srv.Overflow, "overflow", pool.Block, "when full: block (wait in the kernel backlog) or reject (close at once)")
	fs.DurationVar(&srv.IdleTimeout, "idle-timeout", 0, "close connections idle this long (0: never)")
	fs.DurationVar(&srv.ReadTimeout, "read-timeout", 0, "close connections that send nothing this long (0: never)")
	fs.DurationVar(&srv.WriteTimeout, "write-timeout", 0, "close connections that do not read for this long (0: never)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *logLevel != "" {
		var level slog.Level
		if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
			return err
		}
		srv.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	}
	if *network == "unix" && *addr == server.DefaultAddr {
		*addr = filepath.Join(os.TempDir(), "sockpool-echo.sock")
	}

	// Catch the signals before saying "listening": a script may send one as
	// soon as it reads that line.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)

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
	select {
	case err := <-serveErr:
		return err
	case <-sig:
	}
	ctx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-serveErr; !errors.Is(err, server.ErrServerClosed) {
		return err
	}
	return nil
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
