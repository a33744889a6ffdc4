package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sockpool/sockpool/pool"
)

// parkFiller is what the StartTLS connection's go-ahead is preceded by: more
// than the kernel buffers of a loopback connection whose client does not
// read take (the sender's grow to tcp_wmem's maximum, 4 MiB by default; the
// receiver's stay at their initial size until the client reads), so that
// the go-ahead stays queued on the server, and the handshake unsubmitted,
// until the client reads it. parkStartTLS checks that it does.
const parkFiller = 12 << 20

// parkHandler speaks a line protocol: "BLOCK" holds the pool worker that
// runs it until release is closed; "STARTTLS n" writes n filler bytes and
// the go-ahead, then starts TLS. Over TLS it echoes.
type parkHandler struct {
	conf    *tls.Config
	blocked chan struct{} // closed once BLOCK holds its worker
	release chan struct{}
	errs    chan error
}

func newParkHandler(conf *tls.Config) *parkHandler {
	return &parkHandler{conf: conf, blocked: make(chan struct{}), release: make(chan struct{}), errs: make(chan error, 10)}
}

func (h *parkHandler) OnData(c Conn, in []byte) {
	if c.TLS() != nil {
		c.Write(in)
		return
	}
	line, rest, ok := takeLine(c, in)
	if !ok {
		return
	}
	cmd := strings.Fields(string(line))
	switch {
	case len(cmd) == 1 && cmd[0] == "BLOCK":
		close(h.blocked)
		<-h.release
		c.Write([]byte("unblocked\n"))
	case len(cmd) == 2 && cmd[0] == "STARTTLS":
		// One Write: a second one from a pool worker would wait for the
		// client to drain the first (WriteHighWater).
		n, _ := strconv.Atoi(cmd[1])
		c.Write(append(make([]byte, n), goAhead...))
		if err := c.StartTLS(h.conf, rest); err != nil {
			h.errs <- err
		}
		c.Write([]byte(secureHello))
	default:
		h.errs <- fmt.Errorf("unexpected line %q", line)
	}
}

// parkCase is a way to hold an evented server's only pool worker while
// another connection's StartTLS handshake asks for it.
type parkCase struct {
	name string
	engineCase
	// hold takes the worker. finish frees it the ordinary way and checks
	// the holder's connection; abandon frees it during Shutdown.
	hold func(t *testing.T, srv *Server, addr net.Addr, h *parkHandler, cli *tls.Config) (finish, abandon func())
	// handshakes is Stats.TLSHandshakes after finish.
	handshakes uint64
}

var parkCases = []parkCase{
	{name: "handler/evented-pool", engineCase: engineCase{engine: EventedPool}, hold: holdByHandler, handshakes: 1},
	{name: "handler/evented-pool-level", engineCase: engineCase{engine: EventedPool, level: true}, hold: holdByHandler, handshakes: 1},
	{name: "handshake/evented", engineCase: engineCase{engine: Evented}, hold: holdByHandshake, handshakes: 2},
	{name: "handshake/evented-level", engineCase: engineCase{engine: Evented, level: true}, hold: holdByHandshake, handshakes: 2},
	// Uring runs handshakes on the pool, as Evented does.
	{name: "handshake/uring", engineCase: engineCase{engine: Uring}, hold: holdByHandshake, handshakes: 2},
}

// holdByHandler: a connection's handler (EventedPool) blocks the worker.
func holdByHandler(t *testing.T, _ *Server, addr net.Addr, h *parkHandler, _ *tls.Config) (finish, abandon func()) {
	t.Helper()
	a := dial(t, addr)
	a.SetDeadline(time.Now().Add(30 * time.Second))
	a.Write([]byte("BLOCK\n"))
	select {
	case <-h.blocked:
	case <-time.After(10 * time.Second):
		t.Fatal("the BLOCK handler did not run")
	}
	release := sync.OnceFunc(func() { close(h.release) })
	t.Cleanup(release)
	finish = func() {
		release()
		if line, err := bufio.NewReader(a).ReadString('\n'); line != "unblocked\n" {
			t.Fatalf("BLOCK reply %q, %v", line, err)
		}
		a.Close()
	}
	abandon = func() {
		release()
		a.Close() // the server's lingering close need not wait for quiet
	}
	return finish, abandon
}

// holdByHandshake: a StartTLS handshake whose client has not sent its
// ClientHello yet holds the worker (Evented uses the pool for
// handshakes only).
func holdByHandshake(t *testing.T, srv *Server, addr net.Addr, _ *parkHandler, cli *tls.Config) (finish, abandon func()) {
	t.Helper()
	a := dial(t, addr)
	a.SetDeadline(time.Now().Add(30 * time.Second))
	a.Write([]byte("STARTTLS 0\n"))
	if line, err := bufio.NewReader(a).ReadString('\n'); line != goAhead {
		t.Fatalf("STARTTLS reply %q, %v", line, err)
	}
	waitFor(t, "the handshake to hold the worker", func() bool { return srv.Stats().BusyWorkers == 1 })
	finish = func() {
		tc := tls.Client(a, cli)
		if err := tc.Handshake(); err != nil {
			t.Fatalf("the holder's handshake: %v", err)
		}
		hello := make([]byte, len(secureHello))
		if _, err := io.ReadFull(tc, hello); err != nil || string(hello) != secureHello {
			t.Fatalf("the holder's first TLS data %q, %v", hello, err)
		}
		msg := pattern(7, 1000)
		checkEcho(t, roundTrip(t, tc, msg), msg)
		tc.Close()
	}
	abandon = func() { a.Close() } // Shutdown has interrupted its handshake
	return finish, abandon
}

// poolStats reads the server's pool counters (under the lock that guards
// s.pool's setting).
func poolStats(s *Server) pool.Stats {
	s.mu.Lock()
	p := s.pool
	s.mu.Unlock()
	return p.Stats()
}

// parked is a StartTLS connection whose handshake found the pool full.
type parked struct {
	raw net.Conn
	tc  *tls.Conn
	hs  chan error // the client's Handshake result
}

// parkStartTLS holds srv's only worker with pc.hold, then has a second
// connection ask for StartTLS and waits until its handshake has been
// refused by the full pool (and so parked on the loop).
func parkStartTLS(t *testing.T, pc parkCase, srv *Server, addr net.Addr, h *parkHandler, cli *tls.Config) (p *parked, finish, abandon func()) {
	t.Helper()
	b := dial(t, addr)
	b.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(b, "STARTTLS %d\n", parkFiller)
	waitFor(t, "the go-ahead to queue", func() bool { return srv.Stats().Queued > 0 })

	finish, abandon = pc.hold(t, srv, addr, h, cli)
	if q := srv.Stats().Queued; q == 0 {
		t.Fatal("the go-ahead was flushed before the worker was held: make parkFiller larger than the socket buffers")
	}
	base := poolStats(srv).Rejected

	// The handshake is submitted once the go-ahead is flushed, that is once
	// the client has read it.
	got := make([]byte, parkFiller+len(goAhead))
	if _, err := io.ReadFull(b, got); err != nil {
		t.Fatalf("reading the go-ahead: %v", err)
	}
	if tail := string(got[parkFiller:]); tail != goAhead {
		t.Fatalf("go-ahead %q, want %q", tail, goAhead)
	}
	p = &parked{raw: b, tc: tls.Client(b, cli), hs: make(chan error, 1)}
	go func() { p.hs <- p.tc.Handshake() }()
	waitFor(t, "the full pool to refuse the handshake", func() bool { return poolStats(srv).Rejected > base })
	select {
	case err := <-p.hs:
		t.Fatalf("the handshake ended while the only worker was held: %v", err)
	default:
	}
	return p, finish, abandon
}

// serveParked starts an evented server with a pool of one worker and one
// loop, and checks at the test's end that no goroutine is left. Its
// Shutdown is the test's to call and check; a cleanup calls it again for a
// test that failed before.
func serveParked(t *testing.T, pc parkCase, rec *recorder) (*Server, net.Addr, chan error) {
	t.Helper()
	leaks := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, leaks) }) // cleanups run last to first: this one last
	// WriteHighWater above parkFiller: a connection paused by its queued
	// go-ahead would not begin its StartTLS on the loop (Evented)
	// until it was read again, which is not what these tests are about.
	srv := pc.configure(&Server{Handler: rec, Workers: 1, Loops: 1, WriteHighWater: 2 * parkFiller})
	ln := listen(t, "tcp")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return srv, ln.Addr(), errc
}

// shutdownPark shuts srv down, checks that Serve (which sends on errc)
// returned ErrServerClosed, and reports every error h's handler met.
func shutdownPark(t *testing.T, srv *Server, errc <-chan error, h *parkHandler) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-errc; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
	close(h.errs)
	for err := range h.errs {
		t.Error(err)
	}
}

// TestStartTLSParked: a StartTLS handshake that finds the only pool worker
// busy waits for it, parked on the loop, instead of closing the connection,
// and completes once the worker is free. Not parallel: the pool counts and
// the goroutine and descriptor checks must be its own.
func TestStartTLSParked(t *testing.T) {
	for _, pc := range parkCases {
		t.Run(pc.name, func(t *testing.T) {
			skipWithoutUring(t, pc.engine)
			before := openFDs(t)
			srvConf, cliConf := tlsConfigs(t)
			h := newParkHandler(srvConf)
			rec := newRecorder(h)
			srv, addr, errc := serveParked(t, pc, rec)

			p, finish, _ := parkStartTLS(t, pc, srv, addr, h, cliConf)
			finish()
			select {
			case err := <-p.hs:
				if err != nil {
					t.Fatalf("handshake after the worker was freed: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the parked handshake did not complete after the worker was freed")
			}
			hello := make([]byte, len(secureHello))
			if _, err := io.ReadFull(p.tc, hello); err != nil || string(hello) != secureHello {
				t.Fatalf("first TLS data %q, %v; want %q", hello, err, secureHello)
			}
			for _, size := range []int{1, 5, 100_000} {
				msg := pattern(uint64(size), size)
				checkEcho(t, roundTrip(t, p.tc, msg), msg)
			}
			p.tc.Close()

			shutdownPark(t, srv, errc, h)
			st := srv.Stats()
			if st.TLSHandshakes != pc.handshakes || st.TLSHandshakeErrors != 0 || st.Closed != 2 || st.Active != 0 {
				t.Errorf("Stats TLSHandshakes/TLSHandshakeErrors/Closed/Active = %d/%d/%d/%d, want %d/0/2/0",
					st.TLSHandshakes, st.TLSHandshakeErrors, st.Closed, st.Active, pc.handshakes)
			}
			if n := len(rec.closes()); n != 2 {
				t.Errorf("OnClose ran for %d connections, want 2", n)
			}
			if after := openFDs(t); after != before {
				t.Errorf("open fds went from %d to %d", before, after)
			}
		})
	}
}

// TestStartTLSParkedShutdown: Shutdown closes a connection whose StartTLS
// handshake is parked for a worker, without waiting for one, finalizes it
// once (OnClose with ErrServerClosed), and returns.
func TestStartTLSParkedShutdown(t *testing.T) {
	for _, pc := range parkCases {
		t.Run(pc.name, func(t *testing.T) {
			skipWithoutUring(t, pc.engine)
			before := openFDs(t)
			srvConf, cliConf := tlsConfigs(t)
			h := newParkHandler(srvConf)
			rec := newRecorder(h)
			srv, addr, errc := serveParked(t, pc, rec)

			p, _, abandon := parkStartTLS(t, pc, srv, addr, h, cliConf)
			done := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				done <- srv.Shutdown(ctx)
			}()
			// In the handler rows the worker stays held until abandon
			// (Shutdown lets that handler finish), so only the loop can
			// close the parked connection.
			select {
			case err := <-p.hs:
				if err == nil || isTimeout(err) {
					t.Fatalf("the parked connection's handshake returned %v, want the connection closed", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Shutdown did not close the parked connection")
			}
			p.raw.Close()
			abandon()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Shutdown: %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Fatal("Shutdown did not return")
			}
			if err := <-errc; !errors.Is(err, ErrServerClosed) {
				t.Fatalf("Serve returned %v", err)
			}
			close(h.errs)
			for err := range h.errs {
				t.Error(err)
			}
			st := srv.Stats()
			if st.TLSHandshakes != 0 || st.TLSHandshakeErrors != 0 || st.Closed != 2 || st.Active != 0 {
				t.Errorf("Stats TLSHandshakes/TLSHandshakeErrors/Closed/Active = %d/%d/%d/%d, want 0/0/2/0",
					st.TLSHandshakes, st.TLSHandshakeErrors, st.Closed, st.Active)
			}
			closes := rec.closes()
			if len(closes) != 2 {
				t.Errorf("OnClose ran for %d connections, want 2", len(closes))
			}
			for _, errs := range closes {
				if len(errs) != 1 || !errors.Is(errs[0], ErrServerClosed) {
					t.Errorf("OnClose errors %v, want one ErrServerClosed", errs)
				}
			}
			if after := openFDs(t); after != before {
				t.Errorf("open fds went from %d to %d", before, after)
			}
		})
	}
}

// TestStartTLSAfterBackpressure: a handler on a loop (Evented, Uring) that
// writes past WriteHighWater and then calls StartTLS pauses its
// connection; the handshake still begins once the client has read the
// output, rather than waiting for input that the paused connection never
// reads.
func TestStartTLSAfterBackpressure(t *testing.T) {
	for _, ec := range []engineCase{
		{name: "evented", engine: Evented},
		{name: "evented-level", engine: Evented, level: true},
		{name: "uring", engine: Uring},
	} {
		t.Run(ec.name, func(t *testing.T) {
			skipWithoutUring(t, ec.engine)
			leaks := goleak.IgnoreCurrent()
			defer goleak.VerifyNone(t, leaks)
			srvConf, cliConf := tlsConfigs(t)
			h := newParkHandler(srvConf)
			srv := ec.configure(&Server{Handler: h, Loops: 1}) // the default high water
			ln := listen(t, "tcp")
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()

			c := dial(t, ln.Addr())
			c.SetDeadline(time.Now().Add(30 * time.Second))
			fmt.Fprintf(c, "STARTTLS %d\n", parkFiller)
			waitFor(t, "the connection to pause on its queued output", func() bool { return srv.Stats().Paused == 1 })
			got := make([]byte, parkFiller+len(goAhead))
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatalf("reading the go-ahead: %v", err)
			}
			if !bytes.Equal(got[:parkFiller], make([]byte, parkFiller)) || string(got[parkFiller:]) != goAhead {
				t.Fatalf("the filler and go-ahead came back wrong (tail %q)", got[parkFiller:])
			}
			tc := tls.Client(c, cliConf)
			if err := tc.Handshake(); err != nil {
				t.Fatalf("handshake after the paused output drained: %v", err)
			}
			hello := make([]byte, len(secureHello))
			if _, err := io.ReadFull(tc, hello); err != nil || string(hello) != secureHello {
				t.Fatalf("first TLS data %q, %v; want %q", hello, err, secureHello)
			}
			for _, size := range []int{1, 100_000} {
				msg := pattern(uint64(size), size)
				checkEcho(t, roundTrip(t, tc, msg), msg)
			}
			tc.Close()

			shutdownPark(t, srv, errc, h)
			if st := srv.Stats(); st.TLSHandshakes != 1 || st.TLSHandshakeErrors != 0 {
				t.Errorf("Stats TLSHandshakes/TLSHandshakeErrors = %d/%d, want 1/0", st.TLSHandshakes, st.TLSHandshakeErrors)
			}
		})
	}
}
