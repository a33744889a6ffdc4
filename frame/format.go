package frame

// Format cuts messages out of a byte stream and frames messages for it.
// LengthPrefixed and Delimited are the formats of this package; a Format of
// your own works with Decoder and Handler as long as it keeps the contract
// of Split.
type Format interface {
	// Split looks for a whole frame at the start of data.
	//
	// If data begins with one, Split returns its message (a subslice of
	// data) and n > 0, the frame's length on the wire, header or delimiter
	// included. Otherwise n is 0 and need is the length data must reach
	// before a frame can be complete: more than len(data), and exactly the
	// frame's length when the format knows it (a length header has
	// arrived). An error means the stream is malformed or a frame is too
	// large; it must come as soon as the bytes show it, so that a frame of
	// more than MaxFrameLen bytes is never buffered.
	//
	// seen says how many leading bytes of data an earlier call already
	// examined without finding a frame (0 on a first look); the caller
	// passes the same bytes again followed by more, so a format that scans
	// (for a delimiter) may start near seen instead of at 0.
	Split(data []byte, seen int) (msg []byte, n, need int, err error)

	// AppendFrame appends msg, framed, to dst and returns the extended
	// buffer. It fails, leaving dst as it was, for a message the format
	// cannot carry (too long, or one a delimiter would cut).
	AppendFrame(dst, msg []byte) ([]byte, error)

	// MaxFrameLen returns the most bytes one frame may take on the wire,
	// header or delimiter included: the most a Decoder ever buffers.
	MaxFrameLen() int

	// Validate reports a configuration that cannot work, with an error
	// wrapping ErrInvalidConfig.
	Validate() error
}
