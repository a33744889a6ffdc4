package server

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// TestSyscallShutdownWakesReader: a worker blocked in read(2) is woken by
// Shutdown at once. The client sees the server's FIN (EOF) once the worker
// has left its read and begun the lingering close.
func TestSyscallShutdownWakesReader(t *testing.T) {
	srv := &Server{Handler: echoHandler(), Engine: ThreadedSyscall}
	ln := listen(t, "tcp")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	c := dial(t, ln.Addr())
	checkEcho(t, roundTrip(t, c, []byte("ping")), []byte("ping"))
	// The worker is now blocked in read(2): the client sends nothing more.

	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- srv.Shutdown(context.Background()) }()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("after Shutdown read %d, %v; want EOF", n, err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("Shutdown took %v to wake the blocked reader, want under 100ms", d)
	}
	c.Close() // ends the lingering close
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-errc; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
}

// TestSyscallNoFDLeak runs connections through every way a syscall-mode
// connection ends and checks that each descriptor is closed exactly once:
// the count returns to where it began.
func TestSyscallNoFDLeak(t *testing.T) {
	before := openFDs(t)
	rec := newRecorder(HandlerFunc(func(c Conn, in []byte) {
		switch string(in) {
		case "close":
			c.Close()
		case "panic":
			panic("boom")
		case "flood":
			chunk := make([]byte, 1<<20)
			for range 64 {
				if _, err := c.Write(chunk); err != nil {
					return
				}
			}
		default:
			c.Write(in)
		}
	}))
	srv := &Server{Handler: rec, Engine: ThreadedSyscall, WriteTimeout: 200 * time.Millisecond}
	ln := listen(t, "tcp")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	var wg sync.WaitGroup
	timedOut := make(chan struct{})
	for _, cmd := range []string{"echo", "close", "panic", "flood", "echo", "close", "panic", "flood"} {
		wg.Go(func() {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			c.Write([]byte(cmd))
			switch cmd {
			case "flood": // never reads: the write timeout closes it
				<-timedOut
			case "echo": // reads its echo and leaves first
				if _, err := io.ReadFull(c, make([]byte, len(cmd))); err != nil {
					t.Error(err)
				}
			default: // the server closes it
				io.Copy(io.Discard, c)
			}
		})
	}
	waitFor(t, "2 write timeouts", func() bool { return srv.Stats().Timeouts == 2 })
	close(timedOut)
	wg.Wait()
	waitFor(t, "8 connections to close", func() bool { return len(rec.closes()) == 8 })
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
	if st := srv.Stats(); st.Closed != 8 || st.Panics != 2 || st.Timeouts != 2 {
		t.Errorf("Stats Closed/Panics/Timeouts = %d/%d/%d, want 8/2/2", st.Closed, st.Panics, st.Timeouts)
	}
	if after := openFDs(t); after != before {
		t.Errorf("open fds went from %d to %d", before, after)
	}
}
