// Command client drives an echo server: each connection sends messages of a
// given size, reads every echo back and checks each byte.
//
//	go run ./examples/echo/client -addr 127.0.0.1:7000 -conns 10 -n 1000 -size 1024
//	go run ./examples/echo/client -tls-ca /tmp/sockpool-echo-tls.../cert.pem   # against -tls-self-signed
//
// It prints the round trips and the rate, and exits non-zero on any
// mismatch, short read or connection error.
package main

import (
	"bytes"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"time"

	"github.com/sockpool/sockpool/tlsconf"
)

// dial opens a connection: plain, or TLS with -tls-ca.
var dial = net.Dial

func main() {
	var (
		addr    = flag.String("addr", "127.0.0.1:7000", "server address, or a socket path with -network unix")
		network = flag.String("network", "tcp", "tcp or unix")
		conns   = flag.Int("conns", 1, "connections")
		n       = flag.Int("n", 1000, "round trips per connection")
		size    = flag.Int("size", 1024, "message size in bytes")
		timeout = flag.Duration("timeout", 30*time.Second, "give up on a connection after this long")
		tlsCA   = flag.String("tls-ca", "", "speak TLS, trusting the CA (or self-signed) certificates in this PEM file")
		tlsName = flag.String("tls-server-name", "", "with -tls-ca: the name to verify (default: the -addr host)")
	)
	flag.Parse()
	if *tlsCA != "" {
		name := *tlsName
		if name == "" {
			name, _, _ = net.SplitHostPort(*addr)
		}
		conf, err := tlsconf.Client(tlsconf.ClientConfig{RootCAFile: *tlsCA, ServerName: name})
		if err != nil {
			fmt.Fprintln(os.Stderr, "client:", err)
			os.Exit(2)
		}
		dial = func(network, addr string) (net.Conn, error) { return tls.Dial(network, addr, conf) }
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, *conns)
	for i := range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = drive(*network, *addr, uint64(i), *n, *size, *timeout)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(1)
	}
	total := *conns * *n
	fmt.Printf("%d round trips of %d bytes over %d connections in %v: %.0f msg/s, all bytes checked\n",
		total, *size, *conns, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds())
}

// drive runs n round trips on one connection with a message pattern of its
// own, so an echo that crossed connections would be caught.
func drive(network, addr string, seed uint64, n, size int, timeout time.Duration) error {
	c, err := dial(network, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	r := rand.New(rand.NewPCG(seed, 1))
	msg, got := make([]byte, size), make([]byte, size)
	for i := range n {
		for j := range msg {
			msg[j] = byte(r.Uint32())
		}
		// Write from a goroutine: a message larger than the socket buffers
		// would otherwise deadlock against the echo filling ours.
		werr := make(chan error, 1)
		go func() { _, err := c.Write(msg); werr <- err }()
		if _, err := io.ReadFull(c, got); err != nil {
			return fmt.Errorf("conn %d, message %d: %w", seed, i, err)
		}
		if err := <-werr; err != nil {
			return fmt.Errorf("conn %d, message %d: %w", seed, i, err)
		}
		if !bytes.Equal(got, msg) {
			return fmt.Errorf("conn %d, message %d: echo differs", seed, i)
		}
	}
	return nil
}
