// Command resp is an in-memory key-value server that speaks the Redis
// protocol (RESP2) on a sockpool server, so that real Redis clients can
// drive it:
//
//	go run ./examples/resp -addr 127.0.0.1:6380 -engine evented
//	redis-cli -p 6380 set greeting "hello world"
//	redis-cli -p 6380 get greeting
//	redis-benchmark -p 6380 -t ping,set,get,incr,mset -n 100000 -P 16 -q
//
// It knows PING, ECHO, SET (EX, PX, NX, XX, KEEPTTL), GET, DEL, EXISTS,
// INCR, MSET, MGET and QUIT, and answers COMMAND and CONFIG GET as far as
// redis-cli and redis-benchmark need. Requests may be pipelined and may be
// inline ("PING\r\n"); the replies to one read go out in one write, or in
// pieces of 64 KiB when they are larger. On the evented engine a client
// that pipelines without reading is answered as fast as it reads: the
// handler stops at WriteHighWater and goes on when the output drains.
// Malformed input is answered with "-ERR Protocol error: ..." and the
// connection is closed, as redis does; so are requests past these limits
// (a length or count over its limit is refused before any of what it
// announces is kept):
//
//	-proto-max-bulk-len  longest bulk string (redis's name; default 64mb
//	                     where redis's is 512mb; -max-bulk is an alias)
//	-max-args            most arguments in one request (default 1048576)
//	-client-query-buffer-limit
//	                     most input kept for the command in progress
//	                     (redis's name and default, 1gb; at most 2gb); past
//	                     it the connection is closed without a reply
//
// When it is ready it prints one line, "listening <network> <address>", with
// the real address (a port of 0 picks a free one), as examples/echo does.
// SIGINT or SIGTERM shut it down gracefully; it then exits 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sockpool/sockpool/server"
)

func main() {
	err := run(os.Args[1:])
	switch {
	case errors.Is(err, flag.ErrHelp): // -h: the usage was the answer
	case err != nil:
		fmt.Fprintln(os.Stderr, "resp:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("resp", flag.ContinueOnError)
	var srv server.Server
	var (
		addr    = fs.String("addr", "127.0.0.1:6380", "address to listen on; a port of 0 picks a free one; a path for -network unix")
		network = fs.String("network", "tcp", "tcp, tcp4, tcp6 or unix")
		lim     = limits{maxBulk: defaultMaxBulk, maxArgs: defaultMaxArgs, maxQuery: defaultMaxQuery}
		grace   = fs.Duration("shutdown-timeout", 10*time.Second, "how long a graceful shutdown may take before connections are cut")
	)
	fs.Var(sizeFlag{&lim.maxBulk}, "proto-max-bulk-len", "longest bulk string (key or value), a `size` in bytes or with a redis unit (1mb, 512mb); a longer one closes the connection")
	fs.Var(sizeFlag{&lim.maxBulk}, "max-bulk", "alias of -proto-max-bulk-len (a `size`)")
	fs.IntVar(&lim.maxArgs, "max-args", defaultMaxArgs, "most arguments in one request; a request announcing more closes the connection")
	fs.Var(sizeFlag{&lim.maxQuery}, "client-query-buffer-limit", "most input kept for one command in progress, a `size` of at most 2gb; more closes the connection")
	fs.TextVar(&srv.Engine, "engine", server.Threaded, "engine: threaded, evented (epoll, Linux) or uring (io_uring, Linux 6.1+)")
	fs.IntVar(&srv.Loops, "loops", 0, "evented, uring: event loops (0: the engine's default, see server.Server.Loops)")
	fs.IntVar(&srv.ReadBufferSize, "bufsize", server.DefaultReadBufferSize, "read buffer size in bytes, rounded up to a power of two")
	fs.IntVar(&srv.MaxConns, "max-conns", server.DefaultMaxConns, "most connections open at once")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case lim.maxBulk <= 0:
		return fmt.Errorf("-proto-max-bulk-len %d: must be positive", lim.maxBulk)
	case lim.maxArgs <= 0:
		return fmt.Errorf("-max-args %d: must be positive", lim.maxArgs)
	case lim.maxQuery <= 0 || lim.maxQuery > maxQueryLimit:
		return fmt.Errorf("-client-query-buffer-limit %d: must be positive and at most 2gb", lim.maxQuery)
	}
	srv.Handler = &handler{store: newStore(), limits: lim}

	// Catch the signals before saying "listening": a script may send one as
	// soon as it reads that line.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)

	if *network == "unix" {
		removeStaleSocket(*addr)
	}
	ln, err := net.Listen(*network, *addr)
	if err != nil {
		return err
	}
	fmt.Printf("listening %s %s\n", ln.Addr().Network(), ln.Addr())
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
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

// removeStaleSocket removes a UNIX socket file left by a process that died,
// but only when nothing answers on it.
func removeStaleSocket(addr string) {
	if _, err := os.Stat(addr); err != nil {
		return
	}
	if c, err := net.Dial("unix", addr); err == nil {
		c.Close()
		return // let Listen report the address in use
	}
	os.Remove(addr)
}
