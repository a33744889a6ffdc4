//go:build linux

package server

import (
	"context"
	"net"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// evented is the epoll engine, and the uring engine: Loops event loops,
// each owning the connections handed to it.
type evented struct {
	srv       *Server
	loops     []*loop
	next      atomic.Uint32
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// newEvented makes the evented engine, or the uring engine, which is the
// evented engine on completion-based loops (uring_loop_linux.go).
func newEvented(s *Server) (engine, error) {
	e := &evented{srv: s}
	for i := range s.loopCount() {
		l, err := newLoop(e, i)
		if err == nil && s.Engine == Uring {
			// A ring is set up on the thread that will use it, so
			// its loop starts now, and tells whether it could.
			if err = l.startRing(); err != nil {
				err = newRingError(err)
			}
		}
		if err != nil {
			e.close(context.Background()) // the rings already running
			for _, l := range e.loops {
				l.closeFds()
			}
			return nil, err
		}
		e.loops = append(e.loops, l)
	}
	if s.Engine != Uring {
		for _, l := range e.loops {
			e.wg.Add(1)
			go l.run()
		}
	}
	return e, nil
}

// serve hands a connection to a loop: the one hint names, or the next in
// turn. A socket the engine accepted itself (sockConn) is taken as it is;
// a listener's net.Conn is taken out of Go's netpoller: a duplicate
// descriptor for the loop's epoll, and nc closed.
func (e *evented) serve(a accepted, hint int, d *dialState) error {
	s := e.srv
	var c *evConn
	switch a := a.(type) {
	case *sockConn:
		c = newEvConn(e.pick(hint), a.take())
		c.lap, c.rap = a.local, a.remote
	case net.Conn:
		conf := s.TLSConfig
		if d != nil {
			conf = d.tls
		}
		if conf != nil {
			return e.serveTLS(a, hint, conf, d)
		}
		fd, err := dupFD(a, "evented engine")
		if err != nil {
			return err
		}
		c = newEvConn(e.pick(hint), fd)
		c.setAddrs(a.LocalAddr(), a.RemoteAddr())
		c.setDial(d)
		a.Close() // our duplicate keeps the socket open
	}
	l, fd := c.l, c.fd
	if !s.trackConn(c) {
		unix.Close(fd)
		return ErrServerClosed
	}
	l.pending.Add(1)
	if !l.post((*loop).register, c) {
		// The loop has exited (Close raced this accept): finish here.
		// closeConn leaves an unregistered connection to register, which
		// will not run, so finalize here; it never opened: no OnClose.
		l.pending.Add(-1)
		l.closeConn(c, ErrServerClosed)
		l.finalize(c)
		return nil // the caller counts it accepted; finalize counts it closed
	}
	return nil
}

// pick returns the loop hint names, or the next in turn.
func (e *evented) pick(hint int) *loop {
	if hint < 0 {
		hint = int(e.next.Add(1) % uint32(len(e.loops)))
	}
	return e.loops[hint%len(e.loops)]
}

// onLoop reports whether the caller runs on an event loop goroutine, which
// must never wait for queue space: it is the one that flushes. Go has no
// goroutine identity, but every loop goroutine starts in loop.run, and the
// unwinder tells where the caller's goroutine started: about a microsecond
// for a handler's usual depth, paid only when a Write would wait. Locking
// each loop to its thread and comparing gettid was the alternative, and
// costs every wake-up (docs/design.md, "Measurements behind choices").
func onLoop() bool {
	var pcs [32]uintptr
	for skip := 2; ; {
		n := runtime.Callers(skip, pcs[:])
		frames := runtime.CallersFrames(pcs[:n])
		for {
			f, more := frames.Next()
			if f.Entry == loopRun {
				return true
			}
			if !more {
				break
			}
		}
		if n < len(pcs) {
			return false // the goroutine's first frame has been seen
		}
		skip += n
	}
}

// loopRun is the entry of loop.run, where every loop goroutine starts.
var loopRun = runtime.FuncForPC(reflect.ValueOf((*loop).run).Pointer()).Entry()

// close asks every loop to stop once its connections are gone and waits for
// them until ctx ends.
func (e *evented) close(ctx context.Context) error {
	e.closeOnce.Do(func() {
		for _, l := range e.loops {
			l.post(quitTask, nil)
		}
	})
	done := make(chan struct{})
	go func() {
		e.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// listenReusePort opens one SO_REUSEPORT listener per loop on the same
// address, so the kernel balances new connections over the loops.
func (e *evented) listenReusePort(network, addr string) ([]net.Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	var lns []net.Listener
	for range e.loops {
		ln, err := lc.Listen(context.Background(), network, addr)
		if err != nil {
			for _, ln := range lns {
				ln.Close()
			}
			return nil, err
		}
		addr = ln.Addr().String() // a port of 0 is chosen once, then shared
		lns = append(lns, ln)
	}
	return lns, nil
}

// loopCount is the number of loops the engine runs (see Server.Loops).
func (s *Server) loopCount() int {
	if s.Loops > 0 {
		return s.Loops
	}
	n := runtime.GOMAXPROCS(0)
	if s.Engine == Uring {
		n = max(1, n-1)
	}
	return n
}
