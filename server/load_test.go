//go:build unix

package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestClientNeverReads sends far more than the server may buffer to a
// server whose client never reads: the server must stop reading instead of
// queueing without bound, and once the client reads, every byte must come
// back in order.
func TestClientNeverReads(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		const high, bufSize = 128 << 10, 16 << 10
		srv := ec.configure(&Server{Handler: echoHandler(), ReadBufferSize: bufSize, WriteHighWater: high})
		addr := serve(t, srv, "tcp")
		c := dial(t, addr)
		msg := pattern(99, 100<<20)

		// Write until the server stops taking bytes: a write that cannot
		// finish within the deadline means every buffer on the path is full.
		var sent int
		c.SetWriteDeadline(time.Now().Add(2 * time.Second))
		for sent < len(msg) {
			n, err := c.Write(msg[sent:min(sent+64<<10, len(msg))])
			sent += n
			if err != nil {
				if !isTimeout(err) {
					t.Fatal(err)
				}
				break
			}
			// Keep the deadline short once the pipe is full, long while it flows.
			c.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
		}
		if sent == len(msg) {
			t.Fatalf("the server took all %d bytes from a client that never reads", sent)
		}
		st := srv.Stats()
		if st.Queued > high+bufSize {
			t.Errorf("Stats.Queued = %d with a client that never reads, want at most high water + one read (%d)", st.Queued, high+bufSize)
		}
		if ec.engine.inline() && st.Paused != 1 {
			t.Errorf("Stats.Paused = %d, want 1", st.Paused)
		}

		// Now read: the echo must be exactly what was sent, and the rest of
		// the message must flow once the queue drains.
		errc := make(chan error, 1)
		go func() {
			c.SetWriteDeadline(time.Now().Add(60 * time.Second))
			_, err := c.Write(msg[sent:min(sent+4<<20, len(msg))])
			errc <- err
		}()
		total := min(sent+4<<20, len(msg))
		got := make([]byte, total)
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("reading the echo of %d bytes: %v", total, err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		checkEcho(t, got, msg[:total])
		waitFor(t, "the queue to drain", func() bool { st := srv.Stats(); return st.Queued == 0 && st.Paused == 0 })
	})
}

// raiseFileLimit lifts the soft limit on open files to the hard limit, for
// tests that hold thousands of connections.
func raiseFileLimit(t *testing.T, need uint64) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skip("no RLIMIT_NOFILE:", err)
	}
	if uint64(lim.Cur) < need && uint64(lim.Max) >= need {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Skip("cannot raise RLIMIT_NOFILE:", err)
		}
	}
	if uint64(lim.Cur) < need {
		t.Skipf("needs %d open files, the limit is %d", need, lim.Cur)
	}
}

// TestManyConnsAtOnce opens 5,000 connections at once; each echoes one
// message and every one must be served, and afterwards the server's open
// descriptors return to their starting count.
func TestManyConnsAtOnce(t *testing.T) {
	const conns = 5000
	raiseFileLimit(t, 2*conns+200)
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			if ec.engine == ThreadedSyscall {
				t.Skip("the threaded-syscall engine holds an OS thread per connection: 5,000 at once is what it is not for")
			}
			// Not parallel: the engines take turns with the file descriptors.
			srv := ec.configure(&Server{Handler: echoHandler()})
			addr := serve(t, srv, "tcp")
			// One connection first, so the engine's own descriptors (epoll,
			// eventfd) exist before the count is taken.
			warm := dial(t, addr)
			checkEcho(t, roundTrip(t, warm, []byte("warm")), []byte("warm"))
			warm.Close()
			waitFor(t, "the first connection to close", func() bool { return srv.Stats().Active == 0 })
			fds := openFDs(t)
			var wg sync.WaitGroup
			var served atomic.Int64
			errs := make(chan error, conns)
			clients := make([]net.Conn, conns)
			for i := range conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					d := net.Dialer{Timeout: 30 * time.Second}
					c, err := d.Dial("tcp", addr.String())
					if err != nil {
						errs <- err
						return
					}
					clients[i] = c
					c.SetDeadline(time.Now().Add(60 * time.Second))
					msg := []byte(fmt.Sprintf("connection %05d", i))
					if _, err := c.Write(msg); err != nil {
						errs <- err
						return
					}
					got := make([]byte, len(msg))
					if _, err := io.ReadFull(c, got); err != nil {
						errs <- fmt.Errorf("connection %d: %w", i, err)
						return
					}
					if string(got) != string(msg) {
						errs <- fmt.Errorf("connection %d got %q", i, got)
						return
					}
					served.Add(1)
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
				break
			}
			if n := served.Load(); n != conns {
				t.Errorf("%d of %d connections served", n, conns)
			}
			if st := srv.Stats(); st.Accepted != conns+1 || st.Active != conns {
				t.Errorf("Stats Accepted/Active = %d/%d, want %d and %d", st.Accepted, st.Active, conns+1, conns)
			}
			for _, c := range clients {
				if c != nil {
					c.Close()
				}
			}
			waitFor(t, "all connections to close", func() bool { return srv.Stats().Active == 0 })
			// Every descriptor the server opened for them is closed again.
			waitFor(t, fmt.Sprintf("open descriptors to return to %d", fds), func() bool { return openFDs(t) == fds })
		})
	}
}

// TestBlockingHandlerOnPool shows what EventedPool is for: a handler that
// blocks does not stall the other connections of its event loop, and each
// connection's calls stay in order.
func TestBlockingHandlerOnPool(t *testing.T) {
	for _, ec := range engineCases {
		if ec.engine != EventedPool {
			continue
		}
		t.Run(ec.name, func(t *testing.T) {
			release := make(chan struct{})
			var blocked atomic.Bool
			srv := ec.configure(&Server{Loops: 1, Handler: HandlerFunc(func(c Conn, in []byte) {
				if string(in) == "block" {
					blocked.Store(true)
					<-release
				}
				c.Write(in)
			})})
			addr := serve(t, srv, "tcp")
			slow, fast := dial(t, addr), dial(t, addr)
			slow.Write([]byte("block"))
			waitFor(t, "the slow handler to block", blocked.Load)
			// The slow connection's later input must wait behind its blocked
			// call, in order, while the fast one on the same loop is served.
			slow.Write([]byte("after"))
			for i := range 50 {
				msg := []byte(fmt.Sprintf("fast %d", i))
				checkEcho(t, roundTrip(t, fast, msg), msg)
			}
			close(release)
			got := make([]byte, len("blockafter"))
			slow.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.ReadFull(slow, got); err != nil || string(got) != "blockafter" {
				t.Fatalf("slow connection got %q, %v; want \"blockafter\"", got, err)
			}
		})
	}
}

// TestShutdownWaitsForPoolHandler checks that Shutdown lets a handler running
// on the pool finish and flushes its output.
func TestShutdownWaitsForPoolHandler(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		entered := make(chan struct{})
		release := make(chan struct{})
		srv := ec.configure(&Server{Handler: HandlerFunc(func(c Conn, in []byte) {
			close(entered)
			<-release
			c.Write([]byte("done"))
		})})
		ln := listen(t, "tcp")
		go srv.Serve(ln)
		c := dial(t, ln.Addr())
		c.Write([]byte("x"))
		<-entered
		shut := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			shut <- srv.Shutdown(ctx)
		}()
		// Shutdown must still be waiting: the handler has not returned.
		select {
		case err := <-shut:
			t.Fatalf("Shutdown returned %v while a handler was running", err)
		case <-time.After(50 * time.Millisecond):
		}
		close(release)
		if err := <-shut; err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(c)
		if err != nil || string(got) != "done" {
			t.Errorf("got %q, %v; want the handler's \"done\" then EOF", got, err)
		}
	})
}
