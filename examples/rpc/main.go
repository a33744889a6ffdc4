// Command rpc serves a few methods with sockpool/rpc:
//
//	echo   replies with the request
//	add    takes two big-endian uint64s (16 bytes), replies with their sum (8 bytes)
//	upper  replies with the request in upper case
//	sleep  takes a duration ("250ms"), waits that long or until the call's
//	       deadline, then replies with the duration
//
//	go run ./examples/rpc -addr 127.0.0.1:7001
//	go run ./examples/rpc -engine evented -network unix -addr /tmp/rpc.sock
//
// When it is ready it prints one line, "listening <network> <address>", with
// the real address (a port of 0 picks a free one), so scripts can wait for
// it. SIGINT or SIGTERM shut it down gracefully: calls that are running
// finish (new ones are refused with CodeShuttingDown), then connections
// close; it then exits 0.
//
// examples/rpc/client calls it and checks every reply.
package main

import (
	"bytes"
	"context"
	"encoding/binary"
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

	"github.com/sockpool/sockpool/rpc"
	"github.com/sockpool/sockpool/server"
)

func main() {
	err := run(os.Args[1:])
	switch {
	case errors.Is(err, flag.ErrHelp): // -h: the usage was the answer
	case err != nil:
		fmt.Fprintln(os.Stderr, "rpc:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("rpc", flag.ContinueOnError)
	srv := &server.Server{}
	var cfg rpc.ServerConfig
	var (
		addr     = fs.String("addr", "127.0.0.1:7001", "address to listen on; a port of 0 picks a free one; a path for -network unix")
		network  = fs.String("network", "tcp", "tcp or unix")
		grace    = fs.Duration("shutdown-timeout", 10*time.Second, "how long a graceful shutdown may take before calls are cancelled and connections cut")
		logLevel = fs.String("log", "", "log to stderr at this level: debug, info, warn, error (default: silent)")
	)
	fs.TextVar(&srv.Engine, "engine", server.Threaded, "engine: threaded, threaded-syscall (blocking reads, Linux), evented (epoll, handler on the loops, Linux) or evented-pool (handler on the worker pool)")
	fs.IntVar(&srv.Loops, "loops", 0, "evented, uring: event loops (0: the engine's default, see server.Server.Loops)")
	fs.IntVar(&srv.MaxConns, "max-conns", server.DefaultMaxConns, "most connections open at once")
	fs.DurationVar(&srv.IdleTimeout, "idle-timeout", 0, "close connections idle this long (0: never)")
	fs.IntVar(&cfg.Workers, "workers", 0, "goroutines running methods, for all connections (0: the pool's default)")
	fs.IntVar(&cfg.MaxConcurrent, "max-concurrent", rpc.DefaultMaxConcurrent, "calls of one connection running at once")
	fs.IntVar(&cfg.MaxMessageSize, "max-message", rpc.DefaultMaxMessageSize, "largest request or reply in bytes")
	fs.DurationVar(&cfg.FrameTimeout, "frame-timeout", 0, "close connections whose request does not arrive whole this fast (0: never)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *logLevel != "" {
		var level slog.Level
		if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
			return err
		}
		srv.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
		cfg.Logger = srv.Logger
	}
	if *network == "unix" && *addr == "127.0.0.1:7001" {
		*addr = filepath.Join(os.TempDir(), "sockpool-rpc.sock")
	}
	rs, err := rpc.NewServer(&cfg)
	if err != nil {
		return err
	}
	register(rs)
	srv.Handler = rs

	// Catch the signals before saying "listening": a script may send one as
	// soon as it reads that line.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)

	ln, err := listen(*network, *addr)
	if err != nil {
		return err
	}
	fmt.Printf("listening %s %s\n", ln.Addr().Network(), ln.Addr())
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		rs.Close(context.Background())
		return err
	case <-sig:
	}
	ctx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	// Let running calls finish and answer (new ones are refused), then
	// flush and close the connections.
	rerr := rs.Close(ctx)
	if err := srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if rerr != nil {
		return fmt.Errorf("waiting for calls: %w", rerr)
	}
	if err := <-serveErr; !errors.Is(err, server.ErrServerClosed) {
		return err
	}
	return nil
}

// register adds the example's methods to rs.
func register(rs *rpc.Server) {
	rs.Register("echo", func(ctx context.Context, req []byte) ([]byte, error) {
		return req, nil
	})
	rs.Register("add", func(ctx context.Context, req []byte) ([]byte, error) {
		if len(req) != 16 {
			return nil, &rpc.Error{Code: rpc.CodeBadRequest, Message: fmt.Sprintf("add takes 16 bytes, got %d", len(req))}
		}
		sum := binary.BigEndian.Uint64(req) + binary.BigEndian.Uint64(req[8:])
		return binary.BigEndian.AppendUint64(nil, sum), nil
	})
	rs.Register("upper", func(ctx context.Context, req []byte) ([]byte, error) {
		return bytes.ToUpper(req), nil
	})
	rs.Register("sleep", func(ctx context.Context, req []byte) ([]byte, error) {
		d, err := time.ParseDuration(string(req))
		if err != nil {
			return nil, &rpc.Error{Code: rpc.CodeBadRequest, Message: err.Error()}
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return req, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
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
