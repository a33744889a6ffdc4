package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/sockpool/sockpool/server"
	"github.com/sockpool/sockpool/tlsconf"
)

// serveModes are the servers the bench binary itself runs in serve mode.
// packet is sockpool's UDP server, for UDP cells only; net serves TCP and
// UDP.
var serveModes = []string{"threaded", "threaded-syscall", "evented", "evented-pool", "uring", "net", "packet"}

// serveMaxConns is the servers' connection limit in serve mode: above the
// largest idle cell, so that no cell waits for a free slot.
const serveMaxConns = 1 << 17

// shutdownTimeout bounds a served server's graceful shutdown.
const shutdownTimeout = 5 * time.Second

// serve runs the hidden serve mode:
//
//	bench -serve threaded|threaded-syscall|evented|evented-pool|net -addr 127.0.0.1:0 -bufsize N
//	bench -serve packet|net -network udp -addr 127.0.0.1:0 -bufsize N
//
// It listens, prints "listening tcp <addr>" (or "listening udp <addr>") on
// stdout when ready, echoes every byte (every datagram) it reads, and shuts
// down on SIGTERM or SIGINT.
func serve(args []string) error {
	fs := flag.NewFlagSet("bench -serve", flag.ContinueOnError)
	mode := fs.String("serve", "", "server to run: threaded, threaded-syscall, evented, evented-pool, net or packet")
	network := fs.String("network", "", "tcp, or udp for the UDP echo servers (packet, net); default udp for packet, tcp for the others")
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	bufSize := fs.Int("bufsize", 64<<10, "read buffer size in bytes; 0: the tuner picks (sockpool engines)")
	loops := fs.Int("loops", 0, "event loops of the evented engines (0: the engine's default, see server.Server.Loops)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the server to this file (for profiling one engine by hand)")
	certFile := fs.String("tls-cert", "", "serve TLS with this PEM certificate (with -tls-key)")
	keyFile := fs.String("tls-key", "", "the private key of -tls-cert")
	filePath := fs.String("file", "", "serve this file instead of echoing: every byte 'G' a client sends gets the whole file (file cells)")
	method := fs.String("method", methodSendfile, "how -file is sent: sendfile (Conn.SendFile; net: io.Copy) or copy (ReadAt and Write)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if err := raiseFileLimit(); err != nil {
		return err
	}
	var tlsConf *tls.Config
	if *certFile != "" {
		var err error
		if tlsConf, err = tlsconf.Server(tlsconf.Config{CertFile: *certFile, KeyFile: *keyFile}); err != nil {
			return err
		}
	}
	if *network == "" {
		*network = "tcp"
		if *mode == "packet" {
			*network = "udp"
		}
	}
	var (
		local    net.Addr
		serveErr <-chan error
		stop     func(context.Context) error
		err      error
	)
	switch *network {
	case "tcp":
		var files *fileSender
		if *filePath != "" {
			if *method != methodSendfile && *method != methodCopy {
				return fmt.Errorf("bench: -method: want %s or %s, got %q", methodSendfile, methodCopy, *method)
			}
			if files, err = openFileSender(*filePath, *method); err != nil {
				return err
			}
		}
		local, serveErr, stop, err = startStream(*mode, *addr, *bufSize, *loops, tlsConf, files)
	case "udp":
		if tlsConf != nil {
			return errors.New("bench: a UDP server has no TLS")
		}
		local, serveErr, stop, err = startDatagram(*mode, *addr, *bufSize)
	default:
		err = fmt.Errorf("bench: -network: want tcp or udp, got %q", *network)
	}
	if err != nil {
		return err
	}
	// Catch the signals before saying "listening": the runner may stop us
	// as soon as it reads that line.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(sig)
	fmt.Printf("listening %s %s\n", *network, local)
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-sig:
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := stop(ctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// startStream starts the TCP echo server mode on addr, with a read buffer
// of bufSize, loops event loops (the evented engines) and TLS when tlsConf
// is not nil. It returns the address it listens on, a channel that gets
// Serve's error should the server stop on its own, and the function that
// shuts it down. With files it serves a file instead of echoing.
func startStream(mode, addr string, bufSize, loops int, tlsConf *tls.Config, files *fileSender) (net.Addr, <-chan error, func(context.Context) error, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("listen: %w", err)
	}
	var stop func(context.Context) error
	serveErr := make(chan error, 1)
	switch mode {
	case "threaded", "threaded-syscall", "evented", "evented-pool", "uring":
		srv := &server.Server{
			Handler:        server.HandlerFunc(func(c server.Conn, in []byte) { c.Write(in) }),
			ReadBufferSize: bufSize, // 0: the tuner
			MaxConns:       serveMaxConns,
			TLSConfig:      tlsConf,
			Loops:          loops,
		}
		if err := srv.Engine.UnmarshalText([]byte(mode)); err != nil {
			return nil, nil, nil, err
		}
		if files != nil {
			srv.Handler = files.handler(srv.Engine)
		}
		if srv.Engine == server.ThreadedSyscall {
			// Each connection blocked in a read holds a thread: let the idle
			// cells show what that costs instead of stopping the program
			// at Go's default 10,000 threads.
			debug.SetMaxThreads(serveMaxConns + 1000)
		}
		go func() { serveErr <- srv.Serve(ln) }()
		stop = func(ctx context.Context) error {
			err := srv.Shutdown(ctx)
			if serr := <-serveErr; !errors.Is(serr, server.ErrServerClosed) && err == nil {
				err = serr
			}
			return err
		}
	case "net":
		if tlsConf != nil {
			ln = tls.NewListener(ln, tlsConf) // crypto/tls in each connection's goroutine
		}
		ns := newNetServer(ln, bufSize)
		ns.files = files
		go func() { serveErr <- ns.serve() }()
		stop = func(context.Context) error {
			ns.close()
			return nil
		}
	default:
		ln.Close()
		return nil, nil, nil, fmt.Errorf("bench: unknown serve mode %q (want one of %v)", mode, serveModes)
	}
	return ln.Addr(), serveErr, stop, nil
}

// A netServer is the baseline: Go's net package with a goroutine per
// connection, reading into a buffer of bufSize and writing back what it read.
type netServer struct {
	ln      net.Listener
	bufSize int
	files   *fileSender // serve this file instead of echoing

	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func newNetServer(ln net.Listener, bufSize int) *netServer {
	return &netServer{ln: ln, bufSize: bufSize, conns: make(map[net.Conn]struct{})}
}

// serve accepts until the listener is closed; it then returns nil.
func (s *netServer) serve() error {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) {
				time.Sleep(5 * time.Millisecond) // back off like net/http
				continue
			}
			return err
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return nil
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.echo(c)
	}
}

func (s *netServer) echo(c net.Conn) {
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
		s.wg.Done()
	}()
	if tc, ok := c.(*tls.Conn); ok {
		ctx, cancel := context.WithTimeout(context.Background(), server.DefaultHandshakeTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			return
		}
	}
	if s.files != nil {
		s.files.serveNet(c)
		return
	}
	buf := make([]byte, s.bufSize)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// close closes the listener and every connection and waits for the
// connections' goroutines.
func (s *netServer) close() {
	s.ln.Close()
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}
