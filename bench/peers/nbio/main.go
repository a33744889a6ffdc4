// Command nbio is the nbio peer of sockpool's benchmark: an echo server
// written the way nbio's own examples write one (nbio.NewEngine, and an
// OnData that writes a copy of the bytes back).
//
// It lives in a module of its own so that sockpool's go.mod never depends on
// nbio. bench builds and runs it:
//
//	go build -o peer-nbio . && ./peer-nbio -addr 127.0.0.1:0 -bufsize 65536
//
// When ready it prints "listening tcp <addr>"; SIGTERM or SIGINT stop it.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/logging"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "peer-nbio:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on; a port of 0 picks a free one")
	bufSize := flag.Int("bufsize", 64<<10, "read buffer size in bytes (nbio.Config.ReadBufferSize)")
	loops := flag.Int("loops", 0, "pollers (nbio.Config.NPoller; 0: one per CPU)")
	flag.Parse()
	if err := raiseFileLimit(); err != nil {
		return err
	}
	a, err := freeAddr(*addr)
	if err != nil {
		return err
	}
	// nbio logs its start on stdout, where the runner reads the listening line.
	logging.SetLevel(logging.LevelNone)
	engine := nbio.NewEngine(nbio.Config{
		Network:            "tcp",
		Addrs:              []string{a},
		ReadBufferSize:     *bufSize,
		MaxWriteBufferSize: 6 << 20,
		NPoller:            *loops,
	})
	engine.OnData(func(c *nbio.Conn, data []byte) {
		// data is nbio's read buffer; its examples write a copy.
		c.Write(append([]byte(nil), data...))
	})
	if err := engine.Start(); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	// Catch the signals before saying "listening": the runner may stop us
	// as soon as it reads that line.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	fmt.Printf("listening tcp %s\n", a)
	<-sig
	engine.Stop()
	return nil
}

// freeAddr returns addr with a port of 0 replaced by a free port: nbio takes
// an address, not a listener, and the runner needs the real port.
func freeAddr(addr string) (string, error) {
	if _, port, err := net.SplitHostPort(addr); err != nil || port != "0" {
		return addr, err
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
