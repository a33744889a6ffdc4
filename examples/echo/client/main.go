// Command client drives an echo server: each connection sends messages of a
// given size, reads every echo back and checks each byte.
//
//	go run ./examples/echo/client -addr 127.0.0.1:7000 -conns 10 -n 1000 -size 1024
//	go run ./examples/echo/client -tls-ca /tmp/sockpool-echo-tls.../cert.pem   # against -tls-self-signed
//	go run ./examples/echo/client -engine evented -conns 50   # the connections dialed onto sockpool's evented engine
//
// With -engine net (the default) each connection is a net.Conn driven by a
// goroutine. With a sockpool engine the connections are opened by a
// server.Dialer and run on that engine: each one's handler checks the echo
// as it arrives and sends the next message when it is complete.
//
// It prints the round trips and the rate, and exits non-zero on any
// mismatch, short read or connection error.
package main

import (
	"bytes"
	"context"
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

	"github.com/sockpool/sockpool/server"
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
		engine  = flag.String("engine", "net", "what runs the connections: net (a goroutine each), or a sockpool engine dialed onto: threaded, threaded-syscall, evented, evented-pool, uring (Linux)")
	)
	flag.Parse()
	var conf *tls.Config
	if *tlsCA != "" {
		name := *tlsName
		if name == "" {
			name, _, _ = net.SplitHostPort(*addr)
		}
		var err error
		if conf, err = tlsconf.Client(tlsconf.ClientConfig{RootCAFile: *tlsCA, ServerName: name}); err != nil {
			fmt.Fprintln(os.Stderr, "client:", err)
			os.Exit(2)
		}
		dial = func(network, addr string) (net.Conn, error) { return tls.Dial(network, addr, conf) }
	}
	run := func(i int) error { return drive(*network, *addr, uint64(i), *n, *size, *timeout) }
	if *engine != "net" {
		srv := &server.Server{MaxConns: *conns}
		if err := srv.Engine.UnmarshalText([]byte(*engine)); err != nil {
			fmt.Fprintln(os.Stderr, "client: -engine:", err)
			os.Exit(2)
		}
		defer srv.Close()
		run = func(i int) error {
			return driveDialed(srv, conf, *network, *addr, uint64(i), *n, *size, *timeout)
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, *conns)
	for i := range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = run(i)
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

// driveDialed is drive on a connection dialed onto srv's engine: the
// connection's checker sends each message and checks its echo in OnData.
func driveDialed(srv *server.Server, conf *tls.Config, network, addr string, seed uint64, n, size int, timeout time.Duration) error {
	ck := &checker{seed: seed, n: n, r: rand.New(rand.NewPCG(seed, 1)), msg: make([]byte, size),
		inline: srv.Engine == server.Evented || srv.Engine == server.Uring, wrote: make(chan error, 1), done: make(chan error, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := (&server.Dialer{Server: srv, Handler: ck, TLSConfig: conf}).DialContext(ctx, network, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	select {
	case err := <-ck.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("conn %d: %w", seed, ctx.Err())
	}
}

// checker is the handler of one dialed connection: it writes a message,
// checks its echo as the pieces arrive, and writes the next one once the
// echo is complete, n times; done gets the outcome.
type checker struct {
	seed    uint64
	n       int
	r       *rand.Rand
	msg     []byte
	inline  bool       // the handler runs on an event loop, where Write never waits
	wrote   chan error // the outcome of a Write made on a goroutine of its own
	pending bool       // such a Write has not been waited for
	sent    int        // messages written
	got     int        // bytes of the current echo checked
	done    chan error
}

// next writes the next message, from OnOpen or OnData. Off an event loop
// a Write waits for the peer to take the bytes, and the
// peer's echo of a message larger than the socket buffers would fill ours
// meanwhile: the Write runs on a goroutine of its own, as in drive, and
// the next message is made only once the echo is complete and that Write
// has returned (the kernel's having sent the bytes orders nothing for the
// race detector).
func (ck *checker) next(c server.Conn) {
	if ck.pending {
		ck.pending = false
		if err := <-ck.wrote; err != nil {
			ck.finish(c, fmt.Errorf("conn %d, message %d: %w", ck.seed, ck.sent-1, err))
			return
		}
	}
	for j := range ck.msg {
		ck.msg[j] = byte(ck.r.Uint32())
	}
	ck.sent++
	if ck.inline {
		c.Write(ck.msg)
		return
	}
	ck.pending = true
	go func() {
		_, err := c.Write(ck.msg)
		ck.wrote <- err
	}()
}

// OnOpen writes the first message. It runs where OnData will, so the
// checker's state is only ever touched there (and by the Write goroutines
// next starts, which it waits for).
func (ck *checker) OnOpen(c server.Conn) { ck.next(c) }

func (ck *checker) OnData(c server.Conn, in []byte) {
	for len(in) > 0 {
		k := min(len(in), len(ck.msg)-ck.got)
		if !bytes.Equal(in[:k], ck.msg[ck.got:ck.got+k]) {
			ck.finish(c, fmt.Errorf("conn %d, message %d: echo differs", ck.seed, ck.sent-1))
			return
		}
		ck.got += k
		in = in[k:]
		if ck.got < len(ck.msg) {
			continue
		}
		ck.got = 0
		if ck.sent == ck.n {
			ck.finish(c, nil)
			return
		}
		if len(in) > 0 {
			ck.finish(c, fmt.Errorf("conn %d, message %d: more bytes than were sent", ck.seed, ck.sent-1))
			return
		}
		ck.next(c)
	}
}

func (ck *checker) OnClose(_ server.Conn, err error) {
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	ck.report(fmt.Errorf("conn %d: closed after %d of %d messages: %w", ck.seed, ck.sent-1, ck.n, err))
}

// finish reports err (nil: every echo checked) and closes c.
func (ck *checker) finish(c server.Conn, err error) {
	ck.report(err)
	c.Close()
}

// report sends the first outcome to done.
func (ck *checker) report(err error) {
	select {
	case ck.done <- err:
	default:
	}
}
