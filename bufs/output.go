package bufs

import "github.com/valyala/bytebufferpool"

// Output is a growable byte buffer for queued output. It is
// bytebufferpool.ByteBuffer: append with Write or WriteString, reach the
// bytes as B, drain with WriteTo.
type Output = bytebufferpool.ByteBuffer

// outputs is our own pool rather than bytebufferpool's default, so that the
// sizes it calibrates to are those of our output, not some other package's.
var outputs bytebufferpool.Pool

// GetOutput returns an empty output buffer. Its capacity follows the lengths
// recently passed to PutOutput.
func GetOutput() *Output { return outputs.Get() }

// PutOutput resets b and returns it to the pool, which drops buffers far
// larger than usual. PutOutput(nil) does nothing. b must not be used after
// PutOutput.
func PutOutput(b *Output) {
	if b != nil {
		outputs.Put(b)
	}
}
