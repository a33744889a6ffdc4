package frame

import "errors"

// A Decoder cuts the messages of one byte stream, fed to it in pieces as
// they are read, using a Format. Messages that lie whole inside one piece
// are passed on straight from it, without a copy; only a frame that spans
// pieces is gathered, in a buffer from the decoder's BufferPool that grows
// with the bytes actually received (so a header announcing a large frame
// commits no memory until the frame arrives) and goes back to the pool as
// soon as the frame is complete. A Decoder never holds more than the
// format's MaxFrameLen bytes.
//
// A Decoder is for one stream and one goroutine at a time.
type Decoder struct {
	f     Format
	pool  BufferPool // nil: make, and leave old buffers to the GC
	bound int        // f.MaxFrameLen()
	buf   []byte     // the partial frame, from pool; nil when there is none
	seen  int        // bytes of buf that Split has examined
	need  int        // the length buf must reach before Split can find a frame
}

// BufferPool supplies a Decoder's buffers. *bufs.Pool satisfies it: Get
// returns a buffer of length n (its capacity may be larger), and Put takes
// back one that is no longer used.
type BufferPool interface {
	Get(n int) []byte
	Put(b []byte)
}

// NewDecoder returns a Decoder for f that takes its buffers from pool, or
// an error wrapping ErrInvalidConfig if f does not validate. A nil pool
// means buffers are allocated and left to the garbage collector.
func NewDecoder(f Format, pool BufferPool) (*Decoder, error) {
	if f == nil {
		return nil, errNilFormat
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	d := new(Decoder)
	d.init(f, pool)
	return d, nil
}

func (d *Decoder) init(f Format, pool BufferPool) {
	d.f = f
	d.pool = pool
	d.bound = f.MaxFrameLen()
}

// Feed passes the next piece of the stream through the decoder, calling fn
// with each message it completes, in order. msg is valid only until fn
// returns: it points into p or into the decoder's buffer, which is reused.
//
// Feed returns the first error of the format (a wrapped ErrFrameTooLarge,
// say) or of fn, at once, with the rest of p unread. After an error the
// stream is out of step: Reset the decoder before feeding it another.
func (d *Decoder) Feed(p []byte, fn func(msg []byte) error) error {
	_, err := d.feed(p, fn)
	return err
}

// errPause, returned by fn, stops a feed after the message fn was given:
// feed then returns the input that follows it, for a later feed.
var errPause = errors.New("sockpool/frame: paused")

// feed is Feed that can pause (see errPause): it returns the unread rest of
// p, which is empty unless err is errPause.
func (d *Decoder) feed(p []byte, fn func(msg []byte) error) (rest []byte, err error) {
	for len(p) > 0 {
		if d.buf == nil {
			// Fast path: frames that lie whole inside p go to fn from p.
			msg, n, need, err := d.f.Split(p, 0)
			if err != nil {
				return nil, err
			}
			if n > 0 {
				if n > len(p) {
					return nil, errBadSplit
				}
				if err := fn(msg); err != nil {
					if err == errPause {
						return p[n:], err
					}
					return nil, err
				}
				p = p[n:]
				continue
			}
			// p ends with the start of a frame: keep it.
			if len(p) > d.bound {
				return nil, errBadSplit
			}
			d.need = max(need, len(p)+1)
			d.reserve(len(p))
			d.buf = append(d.buf, p...)
			d.seen = len(p)
			return nil, nil
		}

		old := len(d.buf)
		take := min(len(p), d.bound-old)
		if d.need > old+1 {
			// The format knows how long the frame is: copy no more of p
			// than it needs; what follows goes through the fast path.
			take = min(take, d.need-old)
		}
		if take <= 0 {
			return nil, errBadSplit // the format let a frame outgrow MaxFrameLen
		}
		d.reserve(take)
		d.buf = append(d.buf, p[:take]...)
		if len(d.buf) < d.need {
			return nil, nil // take was all of p
		}
		msg, n, need, err := d.f.Split(d.buf, d.seen)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			if len(d.buf) >= d.bound {
				return nil, errBadSplit
			}
			d.seen, d.need = len(d.buf), max(need, len(d.buf)+1)
			p = p[take:]
			continue
		}
		if n <= old || n > len(d.buf) {
			// A frame ending inside bytes already examined was missed by
			// an earlier Split.
			return nil, errBadSplit
		}
		err = fn(msg)
		if err != nil && err != errPause {
			return nil, err
		}
		// The frame took n-old bytes of p; the rest, already copied into
		// buf, is read again from p.
		p = p[n-old:]
		d.release()
		if err != nil {
			return p, err
		}
	}
	return nil, nil
}

// reserve makes room in buf for n more bytes. It grows by doubling, never past the frame's known length or
// the format's bound.
func (d *Decoder) reserve(n int) {
	want := len(d.buf) + n
	if want <= cap(d.buf) {
		return
	}
	size := max(want, 2*cap(d.buf))
	if d.need > want {
		size = min(size, d.need)
	}
	size = min(size, d.bound)
	var nb []byte
	if d.pool != nil {
		nb = d.pool.Get(size)[:len(d.buf)]
	} else {
		nb = make([]byte, len(d.buf), size)
	}
	copy(nb, d.buf)
	d.put()
	d.buf = nb
}

func (d *Decoder) put() {
	if d.buf != nil && d.pool != nil {
		d.pool.Put(d.buf)
	}
}

func (d *Decoder) release() {
	d.put()
	d.buf, d.seen, d.need = nil, 0, 0
}

// Buffered returns the number of bytes of a partial frame the decoder
// holds: 0 between frames.
func (d *Decoder) Buffered() int { return len(d.buf) }

// Reset drops any partial frame and returns the decoder's buffer to the
// pool. The decoder is then ready for a new stream.
func (d *Decoder) Reset() { d.release() }
