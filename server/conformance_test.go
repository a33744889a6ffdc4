package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sockpool/sockpool/pool"
)

func TestEchoSizes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		for _, network := range []string{"tcp", "unix"} {
			srv := ec.configure(&Server{Handler: echoHandler(), ReadBufferSize: 4096})
			addr := serve(t, srv, network)
			for _, size := range []int{1, 1000, 4096, 65537, 4 << 20} {
				t.Run(fmt.Sprintf("%s/%d", network, size), func(t *testing.T) {
					c := dial(t, addr)
					msg := pattern(uint64(size), size)
					checkEcho(t, roundTrip(t, c, msg), msg)
				})
			}
		}
	})
}

func TestConcurrentStreams(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		srv := ec.configure(&Server{Handler: echoHandler()})
		addr := serve(t, srv, "tcp")
		const conns, streamLen = 200, 32 << 10
		var wg sync.WaitGroup
		errs := make(chan error, conns)
		for i := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- echoStream(addr, uint64(i+1), streamLen)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		st := srv.Stats()
		if st.Accepted != conns {
			t.Errorf("Stats.Accepted = %d, want %d", st.Accepted, conns)
		}
		waitFor(t, "all connections closed", func() bool { return srv.Stats().Active == 0 })
		if st := srv.Stats(); st.BytesIn != conns*streamLen || st.BytesOut != conns*streamLen {
			t.Errorf("Stats bytes in/out = %d/%d, want %d each", st.BytesIn, st.BytesOut, conns*streamLen)
		}
	})
}

// echoStream sends a distinct pseudo-random stream of n bytes in uneven
// chunks while reading the echo concurrently, and checks every byte.
func echoStream(addr net.Addr, seed uint64, n int) error {
	c, err := net.Dial(addr.Network(), addr.String())
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	msg := pattern(seed, n)
	werr := make(chan error, 1)
	go func() {
		rest := msg
		for k := 0; len(rest) > 0; k++ {
			chunk := min(len(rest), 1+int(seed*7+uint64(k)*131)%3000)
			if _, err := c.Write(rest[:chunk]); err != nil {
				werr <- err
				return
			}
			rest = rest[chunk:]
		}
		werr <- nil
	}()
	got := make([]byte, n)
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("stream %d: read: %w", seed, err)
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("stream %d: write: %w", seed, err)
	}
	for i := range got {
		if got[i] != msg[i] {
			return fmt.Errorf("stream %d: byte %d is %#x, want %#x", seed, i, got[i], msg[i])
		}
	}
	return nil
}

func TestHalfClose(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		rec := newRecorder(echoHandler())
		srv := ec.configure(&Server{Handler: rec})
		addr := serve(t, srv, "tcp")
		c := dial(t, addr).(*net.TCPConn)
		msg := pattern(7, 100_000)
		go func() {
			c.Write(msg)
			c.CloseWrite()
		}()
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		got, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("read until EOF: %v", err)
		}
		checkEcho(t, got, msg)
		waitFor(t, "OnClose", func() bool { return len(rec.closes()) == 1 })
		closes := rec.closes()
		if len(closes[0]) != 1 || closes[0][0] != nil {
			t.Errorf("OnClose calls = %v, want one with nil error", closes[0])
		}
		if rec.opened != 1 {
			t.Errorf("OnOpen ran %d times, want 1", rec.opened)
		}
	})
}

func TestCloseFromHandler(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		rec := newRecorder(HandlerFunc(func(c Conn, in []byte) {
			c.Write(in)
			if strings.Contains(string(in), "quit") {
				c.Write([]byte("bye"))
				c.Close()
				if _, err := c.Write([]byte("late")); !errors.Is(err, ErrConnClosed) {
					panic(fmt.Sprintf("Write after Close returned %v, want ErrConnClosed", err))
				}
			}
		}))
		srv := ec.configure(&Server{Handler: rec})
		addr := serve(t, srv, "tcp")
		c := dial(t, addr)
		c.Write([]byte("quit"))
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(c)
		if err != nil || string(got) != "quitbye" {
			t.Fatalf("got %q, %v; want \"quitbye\" then EOF", got, err)
		}
		waitFor(t, "OnClose", func() bool { return len(rec.closes()) == 1 })
		if errs := rec.closes()[0]; len(errs) != 1 || errs[0] != nil {
			t.Errorf("OnClose calls = %v, want one with nil error", errs)
		}
		if p := srv.Stats().Panics; p != 0 {
			t.Errorf("handler panicked %d times", p)
		}
	})
}

// TestWriteFromOtherGoroutines writes numbered records from several
// goroutines at once and checks that none is torn and each goroutine's
// records arrive in order.
func TestWriteFromOtherGoroutines(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		const writers, records, recLen = 4, 2000, 64
		srv := ec.configure(&Server{Handler: HandlerFunc(func(c Conn, in []byte) {
			var wg sync.WaitGroup
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rec := make([]byte, recLen)
					for i := range records {
						binary.BigEndian.PutUint32(rec[0:], uint32(w))
						binary.BigEndian.PutUint32(rec[4:], uint32(i))
						for j := 8; j < recLen; j++ {
							rec[j] = byte(w + i + j)
						}
						if _, err := c.Write(rec); err != nil {
							return
						}
						// Reusing rec at once is allowed: Write has copied or sent it.
					}
				}()
			}
			wg.Wait()
		})})
		addr := serve(t, srv, "tcp")
		c := dial(t, addr)
		c.Write([]byte("go"))
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		next := make([]uint32, writers)
		rec := make([]byte, recLen)
		for range writers * records {
			if _, err := io.ReadFull(c, rec); err != nil {
				t.Fatal(err)
			}
			w, i := binary.BigEndian.Uint32(rec[0:]), binary.BigEndian.Uint32(rec[4:])
			if w >= writers || i != next[w] {
				t.Fatalf("record from writer %d numbered %d, want %d", w, i, next[min(w, writers-1)])
			}
			for j := 8; j < recLen; j++ {
				if rec[j] != byte(int(w)+int(i)+j) {
					t.Fatalf("record %d of writer %d torn at byte %d", i, w, j)
				}
			}
			next[w]++
		}
	})
}

func TestMaxConnsReject(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		srv := ec.configure(&Server{Handler: echoHandler(), MaxConns: 2, Overflow: pool.Reject})
		addr := serve(t, srv, "tcp")
		a, b := dial(t, addr), dial(t, addr)
		checkEcho(t, roundTrip(t, a, []byte("a")), []byte("a"))
		checkEcho(t, roundTrip(t, b, []byte("b")), []byte("b"))

		extra := dial(t, addr)
		extra.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := extra.Read(make([]byte, 1)); n != 0 || err == nil || isTimeout(err) {
			t.Fatalf("extra connection read %d, %v; want it closed at once", n, err)
		}
		if st := srv.Stats(); st.Rejected != 1 || st.Accepted != 2 {
			t.Errorf("Stats Rejected/Accepted = %d/%d, want 1/2", st.Rejected, st.Accepted)
		}

		a.Close()
		waitFor(t, "a slot to free", func() bool { return srv.Stats().Active == 1 })
		c := dial(t, addr)
		checkEcho(t, roundTrip(t, c, []byte("c")), []byte("c"))
	})
}

func TestMaxConnsBlock(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		srv := ec.configure(&Server{Handler: echoHandler(), MaxConns: 1})
		addr := serve(t, srv, "tcp")
		a := dial(t, addr)
		checkEcho(t, roundTrip(t, a, []byte("a")), []byte("a"))

		// b connects (the kernel's backlog takes it) but is not served while a
		// holds the only slot. A short wait can only under-report: nothing
		// can echo b while a is open.
		b := dial(t, addr)
		b.Write([]byte("b"))
		b.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if n, err := b.Read(make([]byte, 1)); n != 0 || !isTimeout(err) {
			t.Fatalf("b was served while a held the only slot: %d, %v", n, err)
		}
		a.Close()
		b.SetReadDeadline(time.Now().Add(10 * time.Second))
		got := make([]byte, 1)
		if _, err := io.ReadFull(b, got); err != nil || got[0] != 'b' {
			t.Fatalf("b after a closed: %q, %v", got, err)
		}
		if r := srv.Stats().Rejected; r != 0 {
			t.Errorf("Stats.Rejected = %d under Block, want 0", r)
		}
	})
}

func TestTimeouts(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		cases := []struct {
			name string
			srv  *Server
			want error
		}{
			{"idle", &Server{IdleTimeout: 100 * time.Millisecond}, ErrIdleTimeout},
			{"read", &Server{ReadTimeout: 100 * time.Millisecond}, ErrReadTimeout},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				rec := newRecorder(echoHandler())
				srv := ec.configure(tc.srv)
				srv.Handler = rec
				addr := serve(t, srv, "tcp")
				c := dial(t, addr)
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
					t.Fatalf("silent client read %d, %v; want EOF", n, err)
				}
				waitFor(t, "OnClose", func() bool { return len(rec.closes()) == 1 })
				if errs := rec.closes()[0]; !errors.Is(errs[0], tc.want) || !isTimeout(errs[0]) {
					t.Errorf("OnClose error %v, want %v (a timeout net.Error)", errs[0], tc.want)
				}
				if n := srv.Stats().Timeouts; n != 1 {
					t.Errorf("Stats.Timeouts = %d, want 1", n)
				}
			})
		}
	})
}

// TestIdleTimeoutKeepsBusyConn checks that a connection that keeps talking
// outlives several idle periods.
func TestIdleTimeoutKeepsBusyConn(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		const idle = 300 * time.Millisecond
		srv := ec.configure(&Server{Handler: echoHandler(), IdleTimeout: idle})
		addr := serve(t, srv, "tcp")
		c := dial(t, addr)
		for start := time.Now(); time.Since(start) < 3*idle; {
			checkEcho(t, roundTrip(t, c, []byte("ping")), []byte("ping"))
			time.Sleep(idle / 10) // the pause between messages is the point of the test
		}
		if n := srv.Stats().Timeouts; n != 0 {
			t.Errorf("Stats.Timeouts = %d, want 0", n)
		}
	})
}

func TestWriteTimeout(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		rec := newRecorder(HandlerFunc(func(c Conn, in []byte) {
			chunk := make([]byte, 1<<20)
			for range 32 { // far more than the socket buffers hold, less than OutputLimit
				if _, err := c.Write(chunk); err != nil {
					return
				}
			}
		}))
		srv := ec.configure(&Server{Handler: rec, WriteTimeout: 200 * time.Millisecond})
		addr := serve(t, srv, "tcp")
		c := dial(t, addr)
		c.Write([]byte("x")) // and never read
		waitFor(t, "OnClose", func() bool { return len(rec.closes()) == 1 })
		if errs := rec.closes()[0]; !errors.Is(errs[0], ErrWriteTimeout) {
			t.Errorf("OnClose error %v, want ErrWriteTimeout", errs[0])
		}
		if n := srv.Stats().Timeouts; n != 1 {
			t.Errorf("Stats.Timeouts = %d, want 1", n)
		}
	})
}

// TestOutputLimit: a handler on an event loop that ignores Congested and
// writes far more than its peer reads has its connection closed at
// OutputLimit (the other engines' Writes wait instead, which TestWriteTimeout
// covers), Write says why, and the rest of the server goes on.
func TestOutputLimit(t *testing.T) {
	forEachSecurity(t, func(t *testing.T, ec engineCase, secure bool) {
		if !ec.engine.inline() {
			t.Skip("only a handler on an event loop queues without waiting")
		}
		const limit = 4 << 20
		writeErr := make(chan error, 1)
		rec := newRecorder(HandlerFunc(func(c Conn, in []byte) {
			if string(in) != "flood" {
				c.Write(in)
				return
			}
			chunk := make([]byte, 256<<10)
			for range 64 { // 16 MiB, and the peer never reads
				if _, err := c.Write(chunk); err != nil {
					writeErr <- err
					return
				}
			}
			writeErr <- nil
		}))
		srv := ec.configure(&Server{Handler: rec, OutputLimit: limit})
		var cli *tls.Config
		if secure {
			srv.TLSConfig, cli = tlsConfigs(t) // the limit counts ciphertext
		}
		addr := serve(t, srv, "tcp")
		dialer := func() net.Conn {
			if secure {
				return dialTLS(t, addr, cli)
			}
			return dial(t, addr)
		}
		flood := dialer()
		flood.Write([]byte("flood"))
		if err := <-writeErr; !errors.Is(err, ErrOutputLimit) {
			t.Fatalf("Write returned %v, want ErrOutputLimit", err)
		}
		waitFor(t, "OnClose", func() bool { return len(rec.closes()) == 1 })
		if errs := rec.closes()[0]; !errors.Is(errs[0], ErrOutputLimit) {
			t.Errorf("OnClose error %v, want ErrOutputLimit", errs[0])
		}
		if st := srv.Stats(); st.OutputLimited != 1 || st.Queued != 0 {
			t.Errorf("Stats.OutputLimited = %d, Queued = %d; want 1 and 0", st.OutputLimited, st.Queued)
		}
		other := dialer()
		checkEcho(t, roundTrip(t, other, []byte("still here")), []byte("still here"))
	})
}

func TestHandlerPanic(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		rec := newRecorder(HandlerFunc(func(c Conn, in []byte) {
			if string(in) == "boom" {
				panic("boom")
			}
			c.Write(in)
		}))
		srv := ec.configure(&Server{Handler: rec})
		addr := serve(t, srv, "tcp")
		good, bad := dial(t, addr), dial(t, addr)
		checkEcho(t, roundTrip(t, good, []byte("1")), []byte("1"))
		bad.Write([]byte("boom"))
		bad.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := bad.Read(make([]byte, 1)); n != 0 || err == nil || isTimeout(err) {
			t.Fatalf("panicking connection read %d, %v; want it closed", n, err)
		}
		checkEcho(t, roundTrip(t, good, []byte("2")), []byte("2"))
		waitFor(t, "OnClose", func() bool { return len(rec.closes()) == 1 })
		var pe *PanicError
		if errs := rec.closes()[0]; !errors.As(errs[0], &pe) || pe.Value != "boom" || len(pe.Stack) == 0 || !errors.Is(errs[0], ErrHandlerPanic) {
			t.Errorf("OnClose error %v, want a *PanicError for \"boom\"", errs[0])
		}
		if st := srv.Stats(); st.Panics != 1 || st.Active != 1 {
			t.Errorf("Stats Panics/Active = %d/%d, want 1/1", st.Panics, st.Active)
		}
	})
}

func TestSeveralListeners(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		srv := ec.configure(&Server{Handler: echoHandler()})
		tcp, unix := serve(t, srv, "tcp"), serve(t, srv, "unix")
		for _, addr := range []net.Addr{tcp, unix, tcp} {
			msg := pattern(uint64(len(addr.String())), 10_000)
			checkEcho(t, roundTrip(t, dial(t, addr), msg), msg)
		}
		if a := srv.ListenAddr(); a == nil || (a.String() != tcp.String() && a.String() != unix.String()) {
			t.Errorf("ListenAddr() = %v, want one of %v, %v", a, tcp, unix)
		}
	})
}

// TestShutdownMidStream shuts the server down while 50 clients stream: every
// byte the server read must come back before the connection closes, Shutdown
// must return, and no goroutine may be left. It is not parallel, so that the
// leak check sees only its own goroutines.
func TestShutdownMidStream(t *testing.T) {
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			rec := newRecorder(echoHandler())
			srv := ec.configure(&Server{Handler: rec})
			ln := listen(t, "tcp")
			serveErr := make(chan error, 1)
			go func() { serveErr <- srv.Serve(ln) }()

			const clients = 50
			st := startStreams(clients, 100, false, func() (net.Conn, error) { return net.Dial("tcp", ln.Addr().String()) })
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			if err := <-serveErr; !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve returned %v", err)
			}
			for _, err := range st.wait() {
				t.Error(err)
			}
			stats := srv.Stats()
			if stats.BytesIn != stats.BytesOut || stats.BytesOut != st.received.Load() {
				t.Errorf("server read %d, wrote %d; clients received %d: all three must match", stats.BytesIn, stats.BytesOut, st.received.Load())
			}
			if stats.Active != 0 || stats.Closed != clients {
				t.Errorf("Stats Active/Closed = %d/%d, want 0/%d", stats.Active, stats.Closed, clients)
			}
			for _, errs := range rec.closes() {
				if len(errs) != 1 || !errors.Is(errs[0], ErrServerClosed) {
					t.Errorf("OnClose calls %v, want one with ErrServerClosed", errs)
				}
			}
		})
	}
}

// streams are clients that each stream until the server closes them (see
// streamOn).
type streams struct {
	wg       sync.WaitGroup
	received atomic.Uint64
	errs     chan error
}

// startStreams starts n streams, the i-th on a connection from dial with
// seed base+i, and returns once each has its first echo (or failed).
func startStreams(n int, base uint64, persistent bool, dial func() (net.Conn, error)) *streams {
	st := &streams{errs: make(chan error, n)}
	started := make(chan struct{}, n)
	for i := range n {
		st.wg.Add(1)
		go func() {
			defer st.wg.Done()
			c, err := dial()
			if err != nil {
				started <- struct{}{}
				st.errs <- err
				return
			}
			got, err := streamOn(c, base+uint64(i), started, persistent)
			st.received.Add(uint64(got))
			st.errs <- err
		}()
	}
	for range n {
		<-started
	}
	return st
}

// wait waits for every stream to end and returns their errors.
func (st *streams) wait() []error {
	st.wg.Wait()
	close(st.errs)
	var errs []error
	for err := range st.errs {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// streamOn writes a pseudo-random stream on c until the server closes the
// connection, checking that what comes back is exactly a prefix of what was
// sent. It signals started once the first echo has arrived, returns the
// bytes received and closes c. A persistent client goes on sending after
// the server's EOF, until a write fails, as a hostile or careless one does.
func streamOn(c net.Conn, seed uint64, started chan<- struct{}, persistent bool) (int, error) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	const limit = 64 << 20
	msg := pattern(seed, 1<<20)
	stop := make(chan struct{})
	writing := make(chan struct{})
	go func() {
		defer close(writing)
		for sent := 0; sent < limit; sent += 4096 {
			select {
			case <-stop:
				return
			default:
			}
			off := sent % len(msg)
			if _, err := c.Write(msg[off : off+4096]); err != nil {
				return
			}
		}
		// A persistent client trickles on after its burst, until the
		// server cuts it (or its 10 s are up).
		for end := time.Now().Add(10 * time.Second); persistent && time.Now().Before(end); {
			if _, err := c.Write(msg[:64]); err != nil {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	defer close(stop)
	buf := make([]byte, 8192)
	total, signalled := 0, false
	for {
		n, err := c.Read(buf)
		if err := checkPrefix(buf[:n], msg, total); err != nil {
			return total, fmt.Errorf("stream %d: %w", seed, err)
		}
		total += n
		if !signalled && total > 0 {
			signalled = true
			started <- struct{}{}
		}
		if err == io.EOF {
			if !signalled {
				started <- struct{}{}
			}
			if persistent {
				<-writing
			}
			return total, nil
		}
		if err != nil {
			if !signalled {
				started <- struct{}{}
			}
			return total, fmt.Errorf("stream %d after %d bytes: %w", seed, total, err)
		}
	}
}

// TestShutdownWhileClientsSend shuts down while clients keep sending (plain
// and TLS), even after the server's EOF: once the handlers have returned and the peers have every byte
// written to them, Shutdown must return nil well inside its deadline, not
// wait out the lingering close of peers that never stop; and every byte the
// server wrote must have arrived.
func TestShutdownWhileClientsSend(t *testing.T) {
	forEachSecurity(t, func(t *testing.T, ec engineCase, secure bool) {
		defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
		srv := ec.configure(&Server{Handler: echoHandler()})
		var cli *tls.Config
		if secure {
			srv.TLSConfig, cli = tlsConfigs(t)
		}
		ln := listen(t, "tcp")
		serveErr := make(chan error, 1)
		go func() { serveErr <- srv.Serve(ln) }()

		st := startStreams(10, 500, true, func() (net.Conn, error) {
			if secure {
				return tlsDial(ln.Addr(), cli)
			}
			return net.Dial("tcp", ln.Addr().String())
		})
		const grace = 3 * time.Second
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		begin := time.Now()
		if err := srv.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown after %v: %v", time.Since(begin).Round(time.Millisecond), err)
		}
		took := time.Since(begin)
		t.Logf("Shutdown returned nil after %v", took.Round(time.Millisecond))
		if took > grace/2 {
			t.Errorf("Shutdown took %v, want well inside its %v deadline", took, grace)
		}
		if err := <-serveErr; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
		for _, err := range st.wait() {
			t.Error(err)
		}
		if stats := srv.Stats(); stats.BytesOut != st.received.Load() || stats.BytesIn < stats.BytesOut {
			t.Errorf("server read %d, wrote %d; clients received %d: what was written must all arrive", stats.BytesIn, stats.BytesOut, st.received.Load())
		}
	})
}

func TestShutdownDeadline(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		release := make(chan struct{})
		entered := make(chan struct{})
		srv := ec.configure(&Server{Handler: HandlerFunc(func(c Conn, in []byte) {
			close(entered)
			<-release
		})})
		ln := listen(t, "tcp")
		go srv.Serve(ln)
		c := dial(t, ln.Addr())
		c.Write([]byte("x"))
		<-entered
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown with a stuck handler returned %v, want DeadlineExceeded", err)
		}
		close(release)
		waitFor(t, "the stuck connection to finish", func() bool { return srv.Stats().Active == 0 })
	})
}

func TestServeAfterShutdown(t *testing.T) {
	srv := &Server{Handler: echoHandler()}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(listen(t, "tcp")); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Shutdown = %v, want ErrServerClosed", err)
	}
	if err := srv.ListenAndServe(); !errors.Is(err, ErrServerClosed) {
		t.Errorf("ListenAndServe after Shutdown = %v, want ErrServerClosed", err)
	}
}

func TestNoHandler(t *testing.T) {
	if err := new(Server).Serve(listen(t, "tcp")); !errors.Is(err, ErrNoHandler) {
		t.Errorf("Serve without a Handler = %v, want ErrNoHandler", err)
	}
}

func TestCloseServer(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		rec := newRecorder(echoHandler())
		srv := ec.configure(&Server{Handler: rec})
		ln := listen(t, "tcp")
		serveErr := make(chan error, 1)
		go func() { serveErr <- srv.Serve(ln) }()
		c := dial(t, ln.Addr())
		checkEcho(t, roundTrip(t, c, []byte("x")), []byte("x"))
		if err := srv.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-serveErr; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
			t.Errorf("read after Close = %v, want the connection closed", err)
		}
		waitFor(t, "OnClose", func() bool { return len(rec.closes()) == 1 })
		if errs := rec.closes()[0]; !errors.Is(errs[0], ErrServerClosed) {
			t.Errorf("OnClose error %v, want ErrServerClosed", errs[0])
		}
	})
}

// checkPrefix checks that got continues the endlessly repeated msg at offset
// off. It compares whole runs with bytes.Equal: a byte loop is slow enough
// under -race to change the timing the test is about.
func checkPrefix(got, msg []byte, off int) error {
	for len(got) > 0 {
		i := off % len(msg)
		n := min(len(got), len(msg)-i)
		if !bytes.Equal(got[:n], msg[i:i+n]) {
			for j := range n {
				if got[j] != msg[i+j] {
					return fmt.Errorf("byte %d is %#x, want %#x", off+j, got[j], msg[i+j])
				}
			}
		}
		got, off = got[n:], off+n
	}
	return nil
}
