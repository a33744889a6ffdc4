// Command gnet is the gnet v2 peer of sockpool's benchmark: an echo server
// written the way gnet's own examples write one (OnTraffic takes every
// buffered byte with c.Next(-1) and writes it back with c.Write, on the
// event loop), with multicore on. With -network udp it is gnet's UDP echo
// server: the same OnTraffic, which for a datagram gets the one datagram
// and replies to its sender with c.Write (one sendto on the event loop,
// as gnet's UDP examples do); gnet binds a socket per event loop with
// SO_REUSEPORT.
//
// It lives in a module of its own so that sockpool's go.mod never depends on
// gnet. bench builds and runs it:
//
//	go build -o peer-gnet . && ./peer-gnet -addr 127.0.0.1:0 -bufsize 65536
//	./peer-gnet -network udp -addr 127.0.0.1:0 -bufsize 65536
//
// When ready it prints "listening tcp <addr>" (or "listening udp <addr>");
// SIGTERM or SIGINT stop it.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
)

type echoServer struct {
	gnet.BuiltinEventEngine
	network string // tcp or udp
	addr    string
	booted  chan gnet.Engine
}

// OnBoot runs once gnet listens and its loops run: the server is ready.
func (s *echoServer) OnBoot(eng gnet.Engine) gnet.Action {
	fmt.Printf("listening %s %s\n", s.network, s.addr)
	s.booted <- eng
	return gnet.None
}

// OnTraffic echoes what the connection has buffered: over UDP, the one
// datagram read, sent back to its sender.
func (s *echoServer) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Next(-1)
	c.Write(buf)
	return gnet.None
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "peer-gnet:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on; a port of 0 picks a free one")
	network := flag.String("network", "tcp", "tcp, or udp for the UDP echo server")
	bufSize := flag.Int("bufsize", 64<<10, "read buffer capacity in bytes (gnet.WithReadBufferCap; over UDP the largest datagram read whole)")
	loops := flag.Int("loops", 0, "event loops (gnet.WithNumEventLoop; 0: one per CPU)")
	flag.Parse()
	if *network != "tcp" && *network != "udp" {
		return fmt.Errorf("-network: want tcp or udp, got %q", *network)
	}
	if err := raiseFileLimit(); err != nil {
		return err
	}
	a, err := freeAddr(*network, *addr)
	if err != nil {
		return err
	}
	s := &echoServer{network: *network, addr: a, booted: make(chan gnet.Engine, 1)}
	// Catch the signals before OnBoot says "listening": the runner may stop
	// us as soon as it reads that line.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	runErr := make(chan error, 1)
	go func() {
		opts := []gnet.Option{gnet.WithMulticore(true), gnet.WithReadBufferCap(*bufSize)}
		if *loops > 0 {
			opts = append(opts, gnet.WithNumEventLoop(*loops))
		}
		runErr <- gnet.Run(s, *network+"://"+a, opts...)
	}()
	var eng gnet.Engine
	select {
	case eng = <-s.booted:
	case err := <-runErr:
		return fmt.Errorf("run: %w", err)
	}
	select {
	case err := <-runErr:
		return fmt.Errorf("run: %w", err)
	case <-sig:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return eng.Stop(ctx)
}

// freeAddr returns addr with a port of 0 replaced by a port free on
// network: gnet takes an address, not a listener, and the runner needs the
// real port.
func freeAddr(network, addr string) (string, error) {
	if _, port, err := net.SplitHostPort(addr); err != nil || port != "0" {
		return addr, err
	}
	if network == "udp" {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return "", err
		}
		defer pc.Close()
		return pc.LocalAddr().String(), nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// raiseFileLimit raises the soft limit on open files to the hard limit, for
// the idle-connection cells.
func raiseFileLimit() error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("getrlimit: %w", err)
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("setrlimit: %w", err)
	}
	return nil
}
