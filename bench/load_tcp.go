package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"
)

// inlineWriteMax is the most a connection writes (message size × pipeline
// depth) before reading the echoes, on the same goroutine. More could fill
// both socket buffers against a server that echoes as it reads, and
// deadlock; it is written from a goroutine of its own while the echoes are
// read.
const inlineWriteMax = 64 << 10

// A streamConn is the transport of a TCP (or TLS) echo client: a batch of
// messages written together, their echoes read back in order from the
// byte stream.
type streamConn struct {
	conn net.Conn
	sent []atomic.Int64 // when each message's write began, ns since base
	base time.Time
	vec  net.Buffers // scratch for writev
	buf  []byte      // the echoes of a batch, back to back
}

// newStreamConn returns the transport of conn for batches of depth
// messages of size bytes.
func newStreamConn(conn net.Conn, size, depth int) *streamConn {
	return &streamConn{conn: conn, sent: make([]atomic.Int64, depth), base: time.Now(), buf: make([]byte, depth*size)}
}

// exchange writes msgs, reads their echoes into s.buf in order and checks
// each one; done gets each message's latency, from the start of its write
// to the end of its echo, as soon as its last byte is read.
func (s *streamConn) exchange(msgs [][]byte, done func(time.Duration)) error {
	size := len(msgs[0])
	total := size * len(msgs)
	var werr chan error
	if total <= inlineWriteMax {
		now := time.Now()
		for i := range s.sent {
			s.sent[i].Store(int64(now.Sub(s.base)))
		}
		var err error
		if len(msgs) == 1 {
			_, err = s.conn.Write(msgs[0])
		} else {
			// One writev for the batch: a pipelined client hands the
			// kernel its messages together, as a real one would.
			s.vec = append(s.vec[:0], msgs...)
			vec := s.vec
			_, err = vec.WriteTo(s.conn)
		}
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
	} else {
		werr = make(chan error, 1)
		go func() {
			for i, m := range msgs {
				s.sent[i].Store(int64(time.Since(s.base)))
				if _, err := s.conn.Write(m); err != nil {
					werr <- err
					return
				}
			}
			werr <- nil
		}()
	}
	got, err := s.readEchoes(msgs, done)
	if werr != nil {
		if err != nil {
			s.conn.SetDeadline(time.Now()) // unblock the writer
		}
		if e := <-werr; e != nil && err == nil {
			return fmt.Errorf("write: %w", e)
		}
	}
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: %d of %d bytes, then %w", errShortRead, got, total, err)
		}
		if errors.Is(err, errMismatch) {
			return err
		}
		return fmt.Errorf("read after %d of %d bytes: %w", got, total, err)
	}
	return nil
}

// readEchoes reads the echoes of msgs into s.buf, checking and timing
// each message as soon as its last byte is in; it returns the bytes read.
// Reads ask for the whole rest of the batch, so a pipelined connection
// takes several echoes per read when they are there.
func (s *streamConn) readEchoes(msgs [][]byte, done func(time.Duration)) (int, error) {
	size := len(msgs[0])
	got, next := 0, 0
	for next < len(msgs) {
		n, err := s.conn.Read(s.buf[got:])
		got += n
		for next < len(msgs) && got >= (next+1)*size {
			echo := s.buf[next*size : (next+1)*size]
			if !bytes.Equal(echo, msgs[next]) {
				err := mismatch(echo, msgs[next])
				if len(msgs) > 1 {
					err = fmt.Errorf("message %d of %d in flight: %w", next+1, len(msgs), err)
				}
				return got, err
			}
			done(time.Since(s.base) - time.Duration(s.sent[next].Load()))
			next++
		}
		if err != nil && next < len(msgs) {
			return got, err
		}
	}
	return got, nil
}
