package packet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime/debug"
	"time"

	"github.com/sockpool/sockpool/bufs"
	"github.com/sockpool/sockpool/pool"
)

// Running a Server: serving sockets, handing datagrams to workers, and
// shutting down.

// ListenAndServe listens on Network and Addr and then calls Serve. It always
// returns a non-nil error; after Shutdown or Close it is ErrServerClosed.
//
// To know when the server is ready (a test, a program that prints its
// address), open the socket yourself with net.ListenPacket and pass it to
// Serve: datagrams sent once ListenPacket returns are queued in the socket
// until Serve reads them.
func (s *Server) ListenAndServe() error {
	if s.inShutdown.Load() {
		return ErrServerClosed
	}
	if err := s.init(); err != nil {
		return err
	}
	network, addr := s.Network, s.Addr
	if network == "" {
		network = DefaultNetwork
	}
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	pc, err := net.ListenPacket(network, addr)
	if err != nil {
		return err
	}
	return s.Serve(pc)
}

// Serve reads datagrams from pc, a UDP socket, and hands each to the
// Handler on a worker, until Shutdown or Close. It always returns a non-nil
// error: ErrServerClosed once Shutdown or Close has begun, or the reason it
// could not serve (no Handler, a bad field, a socket that is not UDP, pc
// closed by someone else).
//
// Serve owns pc: Shutdown closes it once the handler calls have returned
// (replies still go out through it until then), Close closes it at once,
// and Serve closes it itself when it returns for any other reason.
//
// Read errors other than a closed socket do not end Serve: a datagram
// socket has no connection to lose, and the errors a read of one returns
// (an ICMP error queued on it, a moment out of memory) pass. Each is
// counted in Stats.ReadErrors and logged, and the next read waits 5 ms,
// doubling to 1 s while reads keep failing.
func (s *Server) Serve(pc net.PacketConn) error {
	if err := s.init(); err != nil {
		pc.Close()
		return err
	}
	if _, ok := pc.LocalAddr().(*net.UDPAddr); !ok {
		pc.Close()
		network := "no address"
		if a := pc.LocalAddr(); a != nil {
			network = a.Network()
		}
		return fmt.Errorf("%w: %s", ErrNotUDP, network)
	}
	c, err := s.track(pc)
	if err != nil {
		pc.Close()
		return err
	}
	err = s.readLoop(c, s.newReader(pc))
	if !errors.Is(err, ErrServerClosed) {
		s.untrack(c)
		pc.Close()
	}
	return err
}

// track registers pc, creating the worker pool on the first call, unless
// Shutdown or Close has begun.
func (s *Server) track(pc net.PacketConn) (*conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inShutdown.Load() {
		return nil, ErrServerClosed
	}
	if s.pool == nil {
		// Reject: the reader must never wait for a worker, or datagrams
		// would pile up in the socket unseen and its counters would lie;
		// a datagram no worker takes at once is dropped and counted.
		p, err := pool.New(pool.Config{Size: s.workers, Policy: pool.Reject, Logger: s.log})
		if err != nil {
			return nil, err
		}
		s.pool = p
	}
	c := newConn(s, pc)
	s.conns[c] = struct{}{}
	if s.first == nil {
		s.first = pc.LocalAddr()
	}
	return c, nil
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
}

// A reader receives datagrams into slots: recvmmsg batches on Linux,
// ReadFrom elsewhere. The loop around it, readLoop, is the same for both.
type reader interface {
	// read fills slots from the first and returns how many it filled,
	// waiting until at least one datagram has arrived.
	read(slots []slot) (int, error)
	// batch is how many slots read can fill at once.
	batch() int
	// slotSize is the length of each slot's buffer.
	slotSize() int
}

// slot is one datagram's place in a batch.
type slot struct {
	buf      []byte // slotSize bytes, from bufs
	n        int    // bytes of the datagram in buf
	from     netip.AddrPort
	oversize bool // longer than MaxPacketSize: buf holds only its start
}

// readLoop reads one socket until Shutdown, Close or a closed socket.
func (s *Server) readLoop(c *conn, r reader) error {
	slots := make([]slot, r.batch())
	for i := range slots {
		slots[i].buf = bufs.Get(r.slotSize())
	}
	defer func() {
		for i := range slots {
			bufs.Put(slots[i].buf)
		}
	}()
	var backoff time.Duration
	for {
		n, err := r.read(slots)
		if err != nil {
			if s.inShutdown.Load() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			s.stats.readErrors.Add(1)
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("sockpool/packet: read failed; retrying", "err", err, "after", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-s.done:
				t.Stop()
				return ErrServerClosed
			}
			continue
		}
		backoff = 0
		for i := range slots[:n] {
			s.dispatch(c, &slots[i])
		}
	}
}

// dispatch hands the datagram in sl to a worker, or drops it.
//
// A datagram whose size class is at most a quarter of the slot's is copied
// into a buffer of its own class, and the slot is read into again; a
// larger one is handed over in the slot's buffer, and the slot gets a
// fresh one. Not measured, reasoned: handing every datagram over would make
// each running handler call hold a whole slot (64 KiB by default) for what
// is most often a few hundred bytes, and churn the pool's largest class,
// while copying a small datagram costs far less than the system call and
// the hand-off to a worker that come with it anyway; copying a large one
// would cost up to 64 KiB of memory traffic per datagram for nothing. A
// dropped datagram costs neither: its slot is simply read into again.
func (s *Server) dispatch(c *conn, sl *slot) {
	s.stats.received.Add(1)
	if sl.oversize {
		s.stats.oversize.Add(1)
		return
	}
	s.stats.bytesIn.Add(uint64(sl.n))
	p, copied := sl.buf[:sl.n], false
	if bufs.ClassSize(sl.n) <= cap(sl.buf)/4 {
		p, copied = bufs.Get(sl.n), true
		copy(p, sl.buf[:sl.n])
	}
	from := netip.AddrPortFrom(sl.from.Addr().Unmap(), sl.from.Port())
	// Reject never waits, so the context is only there to satisfy Submit.
	if err := s.pool.Submit(context.Background(), func() { s.call(c, p, from) }); err != nil {
		// ErrOverload: every worker busy; ErrClosed: shutting down.
		s.stats.dropped.Add(1)
		if copied {
			bufs.Put(p)
		}
		return
	}
	if !copied {
		sl.buf = bufs.Get(len(sl.buf))
	}
}

// call runs the handler for one datagram on a worker. A panic is recovered
// here rather than by the pool so that it is counted in the server's Stats
// and logged with the sender.
func (s *Server) call(c *conn, p []byte, from netip.AddrPort) {
	defer bufs.Put(p)
	defer func() {
		if v := recover(); v != nil {
			s.stats.panics.Add(1)
			s.log.Error("sockpool/packet: handler panicked",
				"from", from.String(), "panic", v, "stack", string(debug.Stack()))
		}
	}()
	s.Handler.ServePacket(c, p, from)
}

// beginClose marks the server as shutting down, once, and returns the
// sockets it serves and its pool (nil if Serve never got that far).
func (s *Server) beginClose() ([]*conn, *pool.Pool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.inShutdown.Swap(true) && s.done != nil {
		close(s.done)
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	return conns, s.pool
}

// aLongTimeAgo is a read deadline in the past: setting it wakes a reader
// waiting on the poller, and every later read fails at once.
var aLongTimeAgo = time.Unix(1, 0)

// Shutdown stops the server gracefully: it stops reading at once (a
// datagram already read but not yet handed to a worker is dropped), waits
// for the running handler calls to return, so that their replies go out,
// and then closes the sockets. It returns nil once they are closed.
//
// If ctx ends first, Shutdown closes the sockets anyway and returns
// ctx.Err(): the handler calls still running go on, their writes fail, and
// the workers exit as they return. Serve returns ErrServerClosed as soon as
// Shutdown begins; wait for Shutdown to return before exiting. Shutdown may
// be called again, after a timeout, to go on waiting.
func (s *Server) Shutdown(ctx context.Context) error {
	conns, p := s.beginClose()
	for _, c := range conns {
		c.pc.SetReadDeadline(aLongTimeAgo)
	}
	var err error
	if p != nil {
		if err = p.Close(ctx); errors.Is(err, pool.ErrClosed) {
			err = nil // an earlier Shutdown saw the calls return
		}
	}
	closeAll(conns)
	if err != nil {
		releaseAsync(p)
	}
	return err
}

// Close closes the sockets at once. It does not wait for running handler
// calls: they go on, their writes fail, and the workers exit as they
// return. Use Shutdown to let their replies go out. Close returns nil.
func (s *Server) Close() error {
	conns, p := s.beginClose()
	closeAll(conns)
	if p != nil {
		releaseAsync(p)
	}
	return nil
}

// closeAll closes the sockets. An error can only say that a socket was
// closed already (by someone else, or by an earlier Close), which is
// where we want it.
func closeAll(conns []*conn) {
	for _, c := range conns {
		c.pc.Close()
	}
}

// releaseAsync closes p once its running tasks return, on a goroutine that
// lives as long as they do.
func releaseAsync(p *pool.Pool) {
	go p.Close(context.Background())
}
