package packet_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockpool/sockpool/packet"
)

func TestEchoSizes(t *testing.T) {
	t.Parallel()
	networks := []struct{ network, addr string }{
		{"udp4", "127.0.0.1:0"},
		{"udp6", "[::1]:0"},
	}
	sizes := []int{1, 100, 1472, 9000, 65507}
	for _, rd := range readers {
		for _, nw := range networks {
			t.Run(rd.name+"/"+nw.network, func(t *testing.T) {
				t.Parallel()
				srv := &packet.Server{Handler: echo}
				addr := serve(t, srv, nw.network, nw.addr, rd.portable, rd.wrap)
				c := dial(t, addr)
				var bytesIn uint64
				for _, n := range sizes {
					roundTrip(t, c, pattern(n))
					bytesIn += uint64(n)
				}
				eventually(t, "the counters", func() bool {
					st := srv.Stats()
					return st.Sent == uint64(len(sizes)) && st.BytesOut == bytesIn
				})
				st := srv.Stats()
				want := uint64(len(sizes))
				if st.Received != want || st.BytesIn != bytesIn || st.Dropped != 0 || st.Oversize != 0 {
					t.Errorf("Stats = %+v, want Received %d, BytesIn %d, nothing dropped", st, want, bytesIn)
				}
			})
		}
	}
}

func TestManyClients(t *testing.T) {
	t.Parallel()
	const (
		clients = 16
		each    = 200
	)
	for _, rd := range readers {
		t.Run(rd.name, func(t *testing.T) {
			t.Parallel()
			srv := &packet.Server{Handler: echo}
			addr := serve(t, srv, "udp4", "127.0.0.1:0", rd.portable, rd.wrap)
			var wg sync.WaitGroup
			for i := range clients {
				c := dial(t, addr)
				wg.Go(func() {
					for j := range each {
						msg := fmt.Appendf(nil, "client %d datagram %d", i, j)
						if _, err := c.Write(msg); err != nil {
							t.Errorf("client %d: %v", i, err)
							return
						}
						c.SetReadDeadline(time.Now().Add(waitTimeout))
						buf := make([]byte, 64)
						n, err := c.Read(buf)
						if err != nil || string(buf[:n]) != string(msg) {
							t.Errorf("client %d: reply %q, %v; want %q", i, buf[:n], err, msg)
							return
						}
					}
				})
			}
			wg.Wait()
			const total = clients * each
			eventually(t, "Sent to reach every datagram", func() bool { return srv.Stats().Sent == total })
			if st := srv.Stats(); st.Received != total || st.Dropped != 0 || st.WriteErrors != 0 {
				t.Errorf("Stats = %+v, want Received %d and nothing dropped", st, total)
			}
		})
	}
}

// TestFlood: with its only worker held, a flood is dropped and counted,
// memory does not grow with it, and once the worker is free the server
// answers again.
func TestFlood(t *testing.T) {
	const flood = 100_000
	for _, rd := range readers {
		t.Run(rd.name, func(t *testing.T) {
			started, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			srv := &packet.Server{
				Workers:       1,
				MaxPacketSize: 1024,
				Handler: packet.HandlerFunc(func(w packet.Writer, p []byte, from netip.AddrPort) {
					if string(p) == "hold" {
						once.Do(func() { close(started) })
						<-release
					}
					w.WriteTo(p, from)
				}),
			}
			addr := serve(t, srv, "udp4", "127.0.0.1:0", rd.portable, rd.wrap)
			releaseOnce := sync.OnceFunc(func() { close(release) })
			t.Cleanup(releaseOnce) // before serve's Shutdown: cleanups run last first

			holder := dial(t, addr)
			if _, err := holder.Write([]byte("hold")); err != nil {
				t.Fatal(err)
			}
			receive(t, "the handler to hold the worker", started)

			before := heapInuse()
			flooder := dial(t, addr)
			msg := pattern(64)
			for range flood {
				if _, err := flooder.Write(msg); err != nil {
					t.Fatalf("flood: %v", err)
				}
			}
			// The socket buffer overflows and the kernel drops the rest;
			// what the reader takes, it drops for want of a worker. An
			// oversize datagram marks the end of the flood: the reader
			// reads in order, so once it has counted one it has read
			// everything queued before it, and nothing of the flood is
			// left to take the worker once it is released. The kernel may
			// drop a marker too while the buffer is full, so send one a
			// tick until it is counted.
			marker := pattern(2000)
			eventually(t, "the reader to reach the end of the flood", func() bool {
				if srv.Stats().Oversize > 0 {
					return true
				}
				flooder.Write(marker)
				return false
			})
			eventually(t, "the counters to add up", func() bool {
				st := srv.Stats()
				return st.Received == st.Dropped+st.Oversize+1
			})
			if grew := int64(heapInuse()) - int64(before); grew > 4<<20 {
				t.Errorf("heap in use grew %d bytes over a flood of %d datagrams", grew, flood)
			}
			if st := srv.Stats(); st.Busy != 1 || st.Sent != 0 || st.Dropped == 0 {
				t.Errorf("Stats = %+v, want Busy 1, nothing sent, some dropped", st)
			}
			t.Logf("flood of %d: %d read and dropped", flood, srv.Stats().Dropped)

			releaseOnce()
			if got := reply(t, holder); string(got) != "hold" {
				t.Errorf("held call replied %q", got)
			}
			// The held call's reply can arrive before its worker is free
			// again, so a datagram sent at once may still find it busy and
			// be dropped: send until one is answered.
			c := dial(t, addr)
			msg = []byte("after the flood")
			eventually(t, "an echo after the release", func() bool {
				if _, err := c.Write(msg); err != nil {
					t.Fatal(err)
				}
				c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
				buf := make([]byte, 64)
				n, err := c.Read(buf)
				return err == nil && string(buf[:n]) == string(msg)
			})
		})
	}
}

func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// TestShutdownWaits: Shutdown stops reading at once, waits for the running
// handler call, whose reply goes out, then closes the socket.
func TestShutdownWaits(t *testing.T) {
	t.Parallel()
	for _, rd := range readers {
		t.Run(rd.name, func(t *testing.T) {
			t.Parallel()
			started, release := make(chan struct{}), make(chan struct{})
			srv := &packet.Server{Handler: packet.HandlerFunc(func(w packet.Writer, p []byte, from netip.AddrPort) {
				close(started)
				<-release
				w.WriteTo(p, from)
			})}
			pc := listen(t, "udp4", "127.0.0.1:0")
			addr := pc.LocalAddr().(*net.UDPAddr).AddrPort()
			if rd.portable {
				packet.UsePortableReader(srv)
			}
			if rd.wrap {
				pc = opaque{pc}
			}
			serveErr := make(chan error, 1)
			go func() { serveErr <- srv.Serve(pc) }()

			c := dial(t, addr)
			if _, err := c.Write([]byte("last words")); err != nil {
				t.Fatal(err)
			}
			receive(t, "the handler to start", started)

			shutdown := make(chan error, 1)
			go func() { shutdown <- srv.Shutdown(context.Background()) }()
			if err := receive(t, "Serve to return", serveErr); !errors.Is(err, packet.ErrServerClosed) {
				t.Errorf("Serve = %v, want ErrServerClosed", err)
			}
			select {
			case err := <-shutdown:
				t.Fatalf("Shutdown returned %v while a handler call was running", err)
			default:
			}
			if st := srv.Stats(); st.Busy != 1 {
				t.Errorf("Busy = %d during Shutdown, want 1", st.Busy)
			}

			close(release)
			if got := reply(t, c); string(got) != "last words" {
				t.Errorf("reply %q, want %q", got, "last words")
			}
			if err := receive(t, "Shutdown to return", shutdown); err != nil {
				t.Errorf("Shutdown = %v", err)
			}
			if _, _, err := pc.ReadFrom(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
				t.Errorf("socket after Shutdown: %v, want net.ErrClosed", err)
			}
			if err := srv.Shutdown(context.Background()); err != nil {
				t.Errorf("second Shutdown = %v, want nil", err)
			}
			if err := srv.Serve(listen(t, "udp4", "127.0.0.1:0")); !errors.Is(err, packet.ErrServerClosed) {
				t.Errorf("Serve after Shutdown = %v, want ErrServerClosed", err)
			}
		})
	}
}

// TestShutdownDeadline: a handler call that outlives Shutdown's context
// makes it return the context's error with the socket closed; the call's
// write then fails, and its worker exits when it returns (TestMain checks).
func TestShutdownDeadline(t *testing.T) {
	t.Parallel()
	started, release := make(chan struct{}), make(chan struct{})
	wrote := make(chan error, 1)
	srv := &packet.Server{Handler: packet.HandlerFunc(func(w packet.Writer, p []byte, from netip.AddrPort) {
		close(started)
		<-release
		_, err := w.WriteTo(p, from)
		wrote <- err
	})}
	pc := listen(t, "udp4", "127.0.0.1:0")
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(pc) }()
	c := dial(t, pc.LocalAddr().(*net.UDPAddr).AddrPort())
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	receive(t, "the handler to start", started)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown with a handler running past its context = %v, want context.Canceled", err)
	}
	if err := receive(t, "Serve to return", serveErr); !errors.Is(err, packet.ErrServerClosed) {
		t.Errorf("Serve = %v, want ErrServerClosed", err)
	}
	close(release)
	if err := receive(t, "the handler's write", wrote); !errors.Is(err, net.ErrClosed) {
		t.Errorf("WriteTo after the socket closed = %v, want net.ErrClosed", err)
	}
	if st := srv.Stats(); st.WriteErrors != 1 {
		t.Errorf("WriteErrors = %d, want 1", st.WriteErrors)
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	t.Run("serving", func(t *testing.T) {
		t.Parallel()
		srv := &packet.Server{Handler: echo}
		pc := listen(t, "udp4", "127.0.0.1:0")
		serveErr := make(chan error, 1)
		go func() { serveErr <- srv.Serve(pc) }()
		c := dial(t, pc.LocalAddr().(*net.UDPAddr).AddrPort())
		roundTrip(t, c, []byte("before Close"))
		if err := srv.Close(); err != nil {
			t.Errorf("Close = %v", err)
		}
		if err := receive(t, "Serve to return", serveErr); !errors.Is(err, packet.ErrServerClosed) {
			t.Errorf("Serve = %v, want ErrServerClosed", err)
		}
		if _, _, err := pc.ReadFrom(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
			t.Errorf("socket after Close: %v, want net.ErrClosed", err)
		}
		if err := srv.ListenAndServe(); !errors.Is(err, packet.ErrServerClosed) {
			t.Errorf("ListenAndServe after Close = %v, want ErrServerClosed", err)
		}
	})
	t.Run("before serving", func(t *testing.T) {
		t.Parallel()
		srv := &packet.Server{Handler: echo}
		if err := srv.Close(); err != nil {
			t.Errorf("Close = %v", err)
		}
		pc := listen(t, "udp4", "127.0.0.1:0")
		if err := srv.Serve(pc); !errors.Is(err, packet.ErrServerClosed) {
			t.Errorf("Serve after Close = %v, want ErrServerClosed", err)
		}
		if _, _, err := pc.ReadFrom(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Serve after Close left its socket open: %v", err)
		}
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown after Close = %v, want nil", err)
		}
	})
	t.Run("socket closed under Serve", func(t *testing.T) {
		t.Parallel()
		srv := &packet.Server{Handler: echo}
		pc := listen(t, "udp4", "127.0.0.1:0")
		serveErr := make(chan error, 1)
		go func() { serveErr <- srv.Serve(pc) }()
		eventually(t, "LocalAddr", func() bool { return srv.LocalAddr() != nil })
		pc.Close()
		if err := receive(t, "Serve to return", serveErr); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Serve on a socket closed by someone else = %v, want net.ErrClosed", err)
		}
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown = %v", err)
		}
	})
}

func TestListenAndServe(t *testing.T) {
	t.Parallel()
	srv := &packet.Server{Handler: echo}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.ListenAndServe() }()
	eventually(t, "LocalAddr", func() bool { return srv.LocalAddr() != nil })
	a := srv.LocalAddr().(*net.UDPAddr)
	if !a.IP.IsLoopback() || a.Port == 0 {
		t.Errorf("LocalAddr = %v, want a loopback address with the port picked", a)
	}
	roundTrip(t, dial(t, a.AddrPort()), []byte("default address"))
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	if err := receive(t, "ListenAndServe to return", serveErr); !errors.Is(err, packet.ErrServerClosed) {
		t.Errorf("ListenAndServe = %v, want ErrServerClosed", err)
	}
}

func TestPanic(t *testing.T) {
	t.Parallel()
	for _, rd := range readers {
		t.Run(rd.name, func(t *testing.T) {
			t.Parallel()
			var log lockedBuffer
			srv := &packet.Server{
				Logger: slog.New(slog.NewJSONHandler(&log, nil)),
				Handler: packet.HandlerFunc(func(w packet.Writer, p []byte, from netip.AddrPort) {
					if string(p) == "panic" {
						panic("handler broke")
					}
					w.WriteTo(p, from)
				}),
			}
			addr := serve(t, srv, "udp4", "127.0.0.1:0", rd.portable, rd.wrap)
			c := dial(t, addr)
			if _, err := c.Write([]byte("panic")); err != nil {
				t.Fatal(err)
			}
			eventually(t, "the panic to be counted", func() bool { return srv.Stats().Panics == 1 })
			roundTrip(t, c, []byte("still serving"))
			for _, want := range []string{`"level":"ERROR"`, "handler panicked", `"panic":"handler broke"`, `"from":"127.0.0.1:`} {
				if !strings.Contains(log.String(), want) {
					t.Errorf("log lacks %s:\n%s", want, log.String())
				}
			}
		})
	}
}

func TestOversize(t *testing.T) {
	t.Parallel()
	const limit = 1000
	for _, rd := range readers {
		t.Run(rd.name, func(t *testing.T) {
			t.Parallel()
			srv := &packet.Server{Handler: echo, MaxPacketSize: limit}
			addr := serve(t, srv, "udp4", "127.0.0.1:0", rd.portable, rd.wrap)
			c := dial(t, addr)
			for _, n := range []int{limit + 1, 5000, 65507} {
				if _, err := c.Write(pattern(n)); err != nil {
					t.Fatal(err)
				}
			}
			// One reader reads in order: once this echo is back, the three
			// before it have been read and counted.
			roundTrip(t, c, pattern(limit))
			if st := srv.Stats(); st.Oversize != 3 || st.Received != 4 || st.BytesIn != limit {
				t.Errorf("Stats = %+v, want Oversize 3, Received 4, BytesIn %d", st, limit)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		srv  *packet.Server
		want string
	}{
		{"no handler", &packet.Server{}, "no Handler"},
		{"network", &packet.Server{Handler: echo, Network: "tcp"}, `Network must be udp, udp4 or udp6, got "tcp"`},
		{"workers", &packet.Server{Handler: echo, Workers: -1}, "Workers must not be negative, got -1"},
		{"batch", &packet.Server{Handler: echo, BatchSize: -1}, "BatchSize must not be negative"},
		{"big batch", &packet.Server{Handler: echo, BatchSize: packet.MaxBatchSize + 1}, "BatchSize must not be larger than 1024, got 1025"},
		{"size", &packet.Server{Handler: echo, MaxPacketSize: -5}, "MaxPacketSize must not be negative"},
		{"big size", &packet.Server{Handler: echo, MaxPacketSize: 70000}, "MaxPacketSize must not be larger than 65535, got 70000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pc := listen(t, "udp4", "127.0.0.1:0")
			err := tt.srv.Serve(pc)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "sockpool/packet: ") {
				t.Errorf("Serve = %v, want a sockpool/packet error containing %q", err, tt.want)
			}
			if _, _, err := pc.ReadFrom(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
				t.Errorf("Serve failed and left its socket open: %v", err)
			}
		})
	}
	t.Run("not udp", func(t *testing.T) {
		t.Parallel()
		pc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: t.TempDir() + "/s", Net: "unixgram"})
		if err != nil {
			t.Skipf("no unixgram sockets: %v", err)
		}
		srv := &packet.Server{Handler: echo}
		if err := srv.Serve(pc); !errors.Is(err, packet.ErrNotUDP) {
			t.Errorf("Serve(unixgram) = %v, want ErrNotUDP", err)
		}
	})
}

// TestWriterElsewhere: a Writer kept past the handler call sends from any
// goroutine, here to an address other than the sender's.
func TestWriterElsewhere(t *testing.T) {
	t.Parallel()
	other := listen(t, "udp4", "127.0.0.1:0")
	t.Cleanup(func() { other.Close() })
	to := other.LocalAddr().(*net.UDPAddr).AddrPort()
	writers := make(chan packet.Writer, 1)
	srv := &packet.Server{Handler: packet.HandlerFunc(func(w packet.Writer, p []byte, from netip.AddrPort) { writers <- w })}
	addr := serve(t, srv, "udp4", "127.0.0.1:0", false, false)
	c := dial(t, addr)
	if _, err := c.Write([]byte("hand me a writer")); err != nil {
		t.Fatal(err)
	}
	w := receive(t, "the Writer", writers)
	done := make(chan error, 1)
	go func() {
		_, err := w.WriteTo([]byte("forwarded"), to)
		done <- err
	}()
	if err := receive(t, "WriteTo", done); err != nil {
		t.Fatal(err)
	}
	other.SetReadDeadline(time.Now().Add(waitTimeout))
	buf := make([]byte, 64)
	n, from, err := other.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "forwarded" || from.(*net.UDPAddr).AddrPort() != addr {
		t.Errorf("other socket got %q from %v, %v; want %q from %v", buf[:n], from, err, "forwarded", addr)
	}
}
