//go:build linux

package server

import (
	"cmp"
	"os"

	"golang.org/x/sys/unix"

	"github.com/sockpool/sockpool/bufs"
)

// SendFile on the event loops. A range joins the connection's output as an
// entry of outQueue.later, which holds what may become bytes for the socket
// only once everything before it is written. On a plain connection that is
// the range itself: when the bytes ahead of it are gone, flushLocked sends
// it with sendfile(2) until the socket is full, and goes on at the next
// EPOLLOUT, as it does for queued bytes. A Write made while a range waits
// is copied into later behind it, never written ahead.
//
// Over TLS the range must be read and encrypted, and TLS records must be
// made in the order their bytes go out: a Write encrypted while a range
// waits would take its record sequence numbers ahead of the range's. So
// while later is not empty, Writes keep their plaintext there too, and
// pumpLater encrypts later's head a record at a time, whenever the
// ciphertext waiting for the socket is below WriteLowWater: after each
// flush, and when SendFile queues a range. Memory stays within the water
// marks plus a record, however large the file.
//
// The file's pages are read on the loop (by sendfile, or by pumpLater),
// which suits files in the page cache; a read from a slow disk stalls the
// loop's other connections for its duration.

// laterOut is an entry of outQueue.later: bytes (b) or a file range (r).
type laterOut struct {
	b *bufs.Output
	r *fileRange
}

// deferring reports whether output must wait in later: something is there
// already, or being encrypted out of it. Under mu.
func (c *evConn) deferring() bool {
	return c.q != nil && (len(c.q.later) > 0 || c.q.pumping)
}

// fileQueued is the bytes of file ranges queued. Under mu.
func (c *evConn) fileQueued() int64 {
	if c.q == nil {
		return 0
	}
	return c.q.fileLen
}

// deferLocked copies p into later, behind what waits there.
func (c *evConn) deferLocked(p []byte) error {
	if c.queued.Load()-c.fileQueued()+int64(len(p)) > int64(c.l.srv.outputLimit) {
		return c.overLimitLocked()
	}
	q := c.grow(int64(len(p)))
	q.laterLen += int64(len(p))
	if k := len(q.later); k > 0 {
		if t := q.later[k-1].b; t != nil && len(t.B)+len(p) <= outChunk {
			t.B = append(t.B, p...)
			return nil
		}
	}
	b := getOutput()
	b.B = append(b.B, p...)
	q.later = append(q.later, laterOut{b: b})
	return nil
}

// popLater drops later's head.
func (q *outQueue) popLater() {
	q.later[0] = laterOut{}
	q.later = q.later[1:]
	if len(q.later) == 0 {
		q.later = nil
	}
}

// dropLater releases what waits in later, which will never be sent.
func (q *outQueue) dropLater() {
	for _, it := range q.later {
		if it.r != nil {
			it.r.done()
		} else {
			putOutput(it.b)
		}
	}
	q.later, q.laterLen, q.fileLen = nil, 0, 0
}

// advanceLaterLocked takes later's head on a plain connection whose out is
// empty: bytes move to out, a range is sent with sendfile(2). full reports
// that the socket took no more.
func (c *evConn) advanceLaterLocked() (full bool, err error) {
	q := c.q
	it := q.later[0]
	if it.r == nil {
		q.out = append(q.out, it.b)
		q.laterLen -= int64(len(it.b.B))
		q.popLater()
		return false, nil
	}
	n, err := sendfile(c.fd, it.r)
	if n > 0 {
		q.laterLen -= int64(n)
		q.fileLen -= int64(n)
		c.wroteLocked(n)
		c.signalSpaceLocked()
	}
	if it.r.n == 0 {
		it.r.done()
		q.popLater()
	}
	switch err {
	case nil, unix.EINTR:
		return false, nil
	case unix.EAGAIN:
		return true, nil
	}
	return false, err
}

// pumpLater encrypts later's head on a TLS connection, a record at a time,
// while the ciphertext waiting for the socket is at most WriteLowWater.
// Whoever calls it (the loop after a flush, SendFile) pumps alone: the
// others find pumping set and leave it to them.
func (c *evConn) pumpLater() error {
	var buf []byte
	defer func() { bufs.Put(buf) }()
	t := c.tls
	for {
		c.mu.Lock()
		q := c.q
		if q == nil || len(q.later) == 0 || q.pumping || c.wclosed ||
			c.queued.Load()-q.laterLen > int64(c.l.srv.lowWater) {
			c.mu.Unlock()
			return nil
		}
		var chunk []byte
		it := q.later[0]
		if r := it.r; r != nil {
			if buf == nil {
				buf = bufs.Get(fileChunk)
			}
			var err error
			if chunk, err = r.readChunk(buf); err != nil {
				c.mu.Unlock()
				return err
			}
			if r.n == 0 {
				r.done()
				q.popLater()
			}
			q.fileLen -= int64(len(chunk))
			c.bytesOut.Add(uint64(len(chunk))) // Writes counted theirs in writeTLS
		} else {
			chunk = it.b.B
			q.popLater()
		}
		q.laterLen -= int64(len(chunk))
		c.unqueueLocked(len(chunk)) // the ciphertext is counted as it is queued
		c.signalSpaceLocked()
		q.pumping = true
		c.mu.Unlock()
		_, err := t.conn.Write(chunk)
		if it.b != nil {
			putOutput(it.b)
		}
		c.mu.Lock()
		q.pumping = false
		c.mu.Unlock()
		if err != nil {
			return err
		}
	}
}

// pumpTask runs pumpLater on the loop, for a range queued off it.
var pumpTask = func(l *loop, c *evConn) {
	if c.state >= evClosed {
		return
	}
	if err := c.pumpLater(); err != nil {
		l.closeConn(c, err)
		return
	}
	l.finish(c)
}

// SendFile queues the range in later; see the comment at the top of the
// file.
func (c *evConn) SendFile(f *os.File, offset, count int64) (int64, error) {
	r, short, err := openRange(f, offset, count)
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	if c.upg != nil || c.up.Load() != nil {
		// A StartTLS is under way: Writes keep their plaintext until the
		// handshake is done, and so does the file.
		c.mu.Unlock()
		defer r.done()
		n, err := copyRange(c.Write, r)
		if err != nil {
			c.CloseWithError(err) // closing already if the Write failed
		}
		return n, cmp.Or(err, short)
	}
	defer c.mu.Unlock()
	off := !onLoop()
	if off && c.queued.Load() >= int64(c.l.srv.highWater) && !c.wclosed {
		if err := c.waitSpaceLocked(); err != nil {
			r.done()
			return 0, err
		}
	}
	if c.writesRefusedLocked() {
		r.done()
		return 0, ErrConnClosed
	}
	if r.n == 0 {
		return 0, short
	}
	if c.queued.Load() == 0 {
		c.stallSince.Store(c.l.clock.Load())
	}
	q := c.grow(r.n)
	q.later = append(q.later, laterOut{r: r})
	q.laterLen += r.n
	q.fileLen += r.n
	if c.tls == nil {
		if err := c.flushLocked(); err != nil {
			c.dropOutputLocked()
			return r.sent(), c.failLocked(err)
		}
		c.armLocked()
	} else if !off {
		c.mu.Unlock()
		err := c.pumpLater()
		c.mu.Lock()
		if err != nil {
			return r.sent(), c.failLocked(err)
		}
	} else {
		c.l.post(pumpTask, c)
	}
	if off && r.n > 0 {
		// As a blocking socket would, hold the caller until the file is
		// mostly out.
		if err := c.waitSpaceLocked(); err != nil || c.wclosed && r.n > 0 {
			return r.sent(), cmp.Or(err, ErrConnClosed)
		}
	}
	return r.size, short
}

// armLocked asks a level-triggered registration for EPOLLOUT while output
// waits (an edge-triggered one always has it).
func (c *evConn) armLocked() {
	if !c.l.edge && !c.outArmed && c.queued.Load() > 0 {
		c.outArmed = true
		c.modifyLocked()
	}
}
