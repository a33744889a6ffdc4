package server

import (
	"errors"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// failingListener fails Accept with err while failing is set, counting calls.
type failingListener struct {
	net.Listener
	err     error
	failing atomic.Bool
	calls   atomic.Int64
}

func (l *failingListener) Accept() (net.Conn, error) {
	l.calls.Add(1)
	if l.failing.Load() {
		return nil, l.err
	}
	return l.Listener.Accept()
}

// TestAcceptBackoff runs the accept loop out of file descriptors: it must
// back off instead of spinning, count the errors, and serve again once
// descriptors are free.
func TestAcceptBackoff(t *testing.T) {
	ln := &failingListener{
		Listener: listen(t, "tcp"),
		err:      &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)},
	}
	ln.failing.Store(true)
	srv := &Server{Handler: echoHandler()}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		<-errc
	})

	// With back-off from 5 ms doubling, 300 ms hold at most 7 attempts; a
	// spinning loop would make millions. A slow machine only makes fewer.
	time.Sleep(300 * time.Millisecond)
	if n := ln.calls.Load(); n > 10 || n < 2 {
		t.Errorf("%d accept calls in 300 ms while out of fds, want 2..10", n)
	}
	if n := srv.Stats().AcceptErrors; n < 2 {
		t.Errorf("Stats.AcceptErrors = %d, want the failures counted", n)
	}

	ln.failing.Store(false)
	c := dial(t, ln.Addr())
	checkEcho(t, roundTrip(t, c, []byte("back")), []byte("back"))
}

func TestAcceptPermanentError(t *testing.T) {
	boom := errors.New("listener broke")
	ln := &failingListener{Listener: listen(t, "tcp"), err: boom}
	ln.failing.Store(true)
	srv := &Server{Handler: echoHandler()}
	if err := srv.Serve(ln); !errors.Is(err, boom) {
		t.Errorf("Serve = %v, want the listener's error", err)
	}
	srv.Close()
}
