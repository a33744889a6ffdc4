package rpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/sockpool/sockpool/bufs"
	"github.com/sockpool/sockpool/frame"
)

// clientConn is one connection of a Client: a reader goroutine matches
// replies to pending calls by id, and a writer goroutine sends requests,
// gathering those that queue up into one writev.
type clientConn struct {
	nc     net.Conn
	format frame.LengthPrefixed
	writes chan *bufs.Output
	done   chan struct{} // closed by fail

	mu      sync.Mutex
	pending map[uint64]chan<- result
	err     error // why the connection died; set once, with done
}

type result struct {
	resp []byte
	err  error
}

// writeQueue is how many requests may wait for the writer.
const writeQueue = 256

func newClientConn(nc net.Conn, f frame.LengthPrefixed) *clientConn {
	return &clientConn{
		nc:      nc,
		format:  f,
		writes:  make(chan *bufs.Output, writeQueue),
		done:    make(chan struct{}),
		pending: make(map[uint64]chan<- result),
	}
}

func (cc *clientConn) isDead() bool {
	select {
	case <-cc.done:
		return true
	default:
		return false
	}
}

// call sends one request and waits for its reply. sent reports whether the
// request may have reached the server.
func (cc *clientConn) call(ctx context.Context, id uint64, method string, req []byte) (resp []byte, sent bool, err error) {
	ch := make(chan result, 1)
	cc.mu.Lock()
	if cc.err != nil {
		cc.mu.Unlock()
		return nil, false, cc.err
	}
	cc.pending[id] = ch
	cc.mu.Unlock()

	var timeout time.Duration
	if dl, ok := ctx.Deadline(); ok {
		if timeout = time.Until(dl); timeout <= 0 {
			cc.forget(id)
			return nil, false, context.DeadlineExceeded
		}
	}
	out := bufs.GetOutput()
	out.B, err = appendRequest(out.B, cc.format, id, timeout, method, req)
	if err != nil { // Call checked the size: not expected
		cc.forget(id)
		bufs.PutOutput(out)
		return nil, false, err
	}
	select {
	case cc.writes <- out:
	case <-cc.done:
		cc.forget(id)
		bufs.PutOutput(out)
		return nil, false, cc.deadErr()
	case <-ctx.Done():
		cc.forget(id)
		bufs.PutOutput(out)
		return nil, false, ctx.Err()
	}
	select {
	case r := <-ch:
		return r.resp, true, r.err
	case <-ctx.Done():
		if cc.forget(id) {
			// Tell the server, if there is room; it is only a courtesy.
			out := bufs.GetOutput()
			out.B = appendCancel(out.B, cc.format, id)
			select {
			case cc.writes <- out:
			default:
				bufs.PutOutput(out)
			}
		}
		return nil, true, ctx.Err()
	}
}

// forget removes call id from the pending calls, so that its reply, if one
// comes, is discarded. It reports whether the call was still pending.
func (cc *clientConn) forget(id uint64) bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	_, ok := cc.pending[id]
	delete(cc.pending, id)
	return ok
}

func (cc *clientConn) deadErr() error {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.err
}

// fail kills the connection, once: the socket closes, both goroutines end
// and every pending call gets an error wrapping ErrConnLost (or
// ErrClientClosed when the Client is closing).
func (cc *clientConn) fail(cause error) {
	cc.mu.Lock()
	if cc.err != nil {
		cc.mu.Unlock()
		return
	}
	if errors.Is(cause, ErrClientClosed) {
		cc.err = ErrClientClosed
	} else {
		cc.err = fmt.Errorf("%w: %w", ErrConnLost, cause)
	}
	pending := cc.pending
	cc.pending = nil
	close(cc.done)
	cc.mu.Unlock()
	cc.nc.Close()
	for _, ch := range pending {
		ch <- result{err: cc.err}
	}
}

// readLoop reads replies and hands each to its call.
func (cc *clientConn) readLoop(wg *sync.WaitGroup) {
	defer wg.Done()
	d, _ := frame.NewDecoder(cc.format, &readPool) // the format is valid
	defer d.Reset()
	buf := readPool.Get(readSize)
	defer readPool.Put(buf)
	for {
		n, err := cc.nc.Read(buf)
		if n > 0 {
			if ferr := d.Feed(buf[:n], cc.deliver); ferr != nil {
				cc.fail(ferr)
				return
			}
		}
		if err != nil {
			cc.fail(err)
			return
		}
	}
}

const readSize = 64 << 10

// readPool holds the clients' read buffers and partial replies, apart from
// the server's.
var readPool bufs.Pool

// deliver matches one reply to its call.
func (cc *clientConn) deliver(msg []byte) error {
	h, body, err := parseHeader(msg)
	if err != nil {
		return err
	}
	var r result
	switch h.kind {
	case kindResponse:
		r.resp = bytes.Clone(body)
		if r.resp == nil {
			r.resp = []byte{}
		}
	case kindError:
		if len(body) < 1 {
			return errMalformed
		}
		r.err = &Error{Code: Code(body[0]), Message: string(body[1:])}
	default:
		return nil // a kind from a newer server: not for us
	}
	cc.mu.Lock()
	ch, ok := cc.pending[h.id]
	delete(cc.pending, h.id)
	cc.mu.Unlock()
	if ok {
		ch <- r // buffered: never blocks
	}
	return nil
}

// writeLoop sends queued requests, as many as are waiting in one writev.
func (cc *clientConn) writeLoop(wg *sync.WaitGroup) {
	defer wg.Done()
	outs := make([]*bufs.Output, 0, 64)
	iov := make([][]byte, 0, 64)
	for {
		select {
		case out := <-cc.writes:
			outs = append(outs, out)
		case <-cc.done:
			return
		}
	gather:
		for len(outs) < 64 {
			select {
			case out := <-cc.writes:
				outs = append(outs, out)
			default:
				break gather
			}
		}
		iov = iov[:0]
		for _, o := range outs {
			iov = append(iov, o.B)
		}
		vec := net.Buffers(iov) // WriteTo consumes vec, not iov
		_, err := vec.WriteTo(cc.nc)
		for i, o := range outs {
			bufs.PutOutput(o)
			outs[i] = nil
		}
		outs = outs[:0]
		if err != nil {
			cc.fail(err)
			return
		}
	}
}
