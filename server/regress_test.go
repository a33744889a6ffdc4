package server

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestNoDataAfterClose checks that a handler that closes its connection gets
// no further OnData, however much input is already on its way.
func TestNoDataAfterClose(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		var calls, after atomic.Int32
		var closed atomic.Bool
		rec := newRecorder(HandlerFunc(func(c Conn, in []byte) {
			calls.Add(1)
			if closed.Swap(true) {
				after.Add(1)
				return
			}
			c.Close()
		}))
		srv := ec.configure(&Server{Handler: rec, ReadBufferSize: 4096})
		addr := serve(t, srv, "tcp")
		c := dial(t, addr)
		go c.Write(make([]byte, 1<<20))
		waitFor(t, "OnClose", func() bool { return len(rec.closes()) == 1 })
		if n := after.Load(); n != 0 {
			t.Errorf("OnData ran %d times after the handler closed the connection", n)
		}
	})
}

// TestOnCloseAfterOnOpen closes the server while OnOpen is still running:
// OnClose must wait for OnOpen to return.
func TestOnCloseAfterOnOpen(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		h := &slowOpen{Handler: echoHandler(), entered: make(chan struct{}), release: make(chan struct{}), closed: make(chan bool, 1)}
		srv := ec.configure(&Server{Handler: h})
		ln := listen(t, "tcp")
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		dial(t, ln.Addr())
		<-h.entered
		srv.Close()
		<-served
		time.Sleep(20 * time.Millisecond) // give a wrong OnClose the chance to run early
		close(h.release)
		select {
		case early := <-h.closed:
			if early {
				t.Error("OnClose ran while OnOpen was still running")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("OnClose never ran")
		}
		waitFor(t, "the connection to finish", func() bool { return srv.Stats().Active == 0 })
	})
}

type slowOpen struct {
	Handler
	entered, release chan struct{}
	inOpen           atomic.Bool
	closed           chan bool
}

func (h *slowOpen) OnOpen(c Conn) {
	h.inOpen.Store(true)
	close(h.entered)
	<-h.release
	h.inOpen.Store(false)
}

func (h *slowOpen) OnClose(c Conn, err error) { h.closed <- h.inOpen.Load() }

// TestWriterWaitsForSpace pushes output from a goroutine of the handler's
// own to a client that does not read: the writer must be held back, not
// queue without bound, and every byte must arrive once the client reads.
func TestWriterWaitsForSpace(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		const high, chunk, chunks = 64 << 10, 64 << 10, 300
		var wg sync.WaitGroup
		var werr atomic.Value
		srv := ec.configure(&Server{WriteHighWater: high, Handler: HandlerFunc(func(c Conn, in []byte) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				msg := pattern(5, chunk)
				for range chunks {
					if _, err := c.Write(msg); err != nil {
						werr.Store(err)
						return
					}
				}
			}()
		})})
		addr := serve(t, srv, "tcp")
		c := dial(t, addr)
		c.Write([]byte("go"))
		// Let the writer fill every buffer on the way; it must then wait.
		time.Sleep(300 * time.Millisecond)
		if q := srv.Stats().Queued; q > high+chunk {
			t.Errorf("Stats.Queued = %d with a writer pushing to a client that does not read, want at most %d", q, high+chunk)
		}
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		want := pattern(5, chunk)
		got := make([]byte, chunk)
		for i := range chunks {
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatalf("chunk %d: %v", i, err)
			}
			checkEcho(t, got, want)
		}
		wg.Wait()
		if err, _ := werr.Load().(error); err != nil {
			t.Fatal(err)
		}
	})
}

// TestCloseWhileWaitingForWorker closes a connection whose input waits for
// a pool worker: it must still finish (OnClose, its slot) and let Shutdown
// complete.
func TestCloseWhileWaitingForWorker(t *testing.T) {
	for _, ec := range engineCases {
		if ec.engine != EventedPool {
			continue
		}
		t.Run(ec.name, func(t *testing.T) {
			release := make(chan struct{})
			entered := make(chan struct{}, 1)
			rec := newRecorder(HandlerFunc(func(c Conn, in []byte) {
				if string(in) == "block" {
					entered <- struct{}{}
					<-release
				}
			}))
			srv := ec.configure(&Server{Handler: rec, Workers: 1})
			ln := listen(t, "tcp")
			served := make(chan error, 1)
			go func() { served <- srv.Serve(ln) }()
			a := dial(t, ln.Addr())
			a.Write([]byte("block"))
			<-entered
			b := dial(t, ln.Addr()).(*net.TCPConn)
			b.Write([]byte("x")) // waits: the only worker is busy
			waitFor(t, "b to be accepted", func() bool { return srv.Stats().Accepted == 2 })
			b.SetLinger(0)
			b.Close() // RST
			waitFor(t, "b to close", func() bool { return len(rec.closes()) == 1 })
			close(release)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			if err := <-served; !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve returned %v", err)
			}
			if n := len(rec.closes()); n != 2 {
				t.Errorf("OnClose ran for %d connections, want 2", n)
			}
		})
	}
}

// TestLentWriteFlushedAtOnce pushes Writes larger than a queue chunk from a
// goroutine of the handler's own to a client that reads all the while, at
// a low WriteHighWater: on the evented engines such a Write lends its rest
// to the queue, and the flush that follows can write all of it at once and
// release the emptied queue, which once made the Write dereference a nil
// queue (a panic that cut the connection). Every byte must arrive, in
// order, and no Write may fail.
func TestLentWriteFlushedAtOnce(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		const high, chunk, chunks = 16 << 10, 80 << 10, 400
		var wg sync.WaitGroup
		werr := make(chan error, 1)
		msg := pattern(9, chunk)
		srv := ec.configure(&Server{WriteHighWater: high, Handler: HandlerFunc(func(c Conn, in []byte) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range chunks {
					if _, err := c.Write(msg); err != nil {
						werr <- err
						return
					}
				}
			}()
		})})
		addr := serve(t, srv, "tcp")
		c := dial(t, addr)
		c.Write([]byte("go"))
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		got := make([]byte, chunk)
		for i := range chunks {
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatalf("chunk %d: %v (Stats %+v)", i, err, srv.Stats())
			}
			checkEcho(t, got, msg)
		}
		wg.Wait()
		select {
		case err := <-werr:
			t.Fatal(err)
		default:
		}
		if p := srv.Stats().Panics; p != 0 {
			t.Fatalf("Stats.Panics = %d", p)
		}
	})
}
