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
// inline ("PING\r\n"); all the replies to one read go out in one write.
// Malformed input is answered with "-ERR Protocol error: ..." and the
// connection is closed; so is a bulk string longer than -max-bulk, before
// any of it is stored.
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
	if err := run(os.Args[1:]); err != nil {
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
		maxBulk = fs.Int("max-bulk", defaultMaxBulk, "longest bulk string (key or value) in bytes; a longer one closes the connection")
		grace   = fs.Duration("shutdown-timeout", 10*time.Second, "how long a graceful shutdown may take before connections are cut")
	)
	fs.TextVar(&srv.Engine, "engine", server.Threaded, "engine: threaded or evented (Linux)")
	fs.IntVar(&srv.Loops, "loops", 0, "evented: event loops (0: GOMAXPROCS)")
	fs.IntVar(&srv.ReadBufferSize, "bufsize", server.DefaultReadBufferSize, "read buffer size in bytes, rounded up to a power of two")
	fs.IntVar(&srv.MaxConns, "max-conns", server.DefaultMaxConns, "most connections open at once")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *maxBulk <= 0 {
		return fmt.Errorf("-max-bulk %d: must be positive", *maxBulk)
	}
	srv.Handler = &handler{store: newStore(), maxBulk: *maxBulk}

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
