package proxyproto

import "errors"

var (
	// ErrIncomplete is returned by Parse for bytes that begin a PROXY header
	// but end before it does: peek again when more bytes have arrived. It is
	// returned as is, never wrapped, so the check costs nothing.
	ErrIncomplete = errors.New("sockpool/proxyproto: incomplete header")

	// ErrNotProxy is returned by Parse and Read when the bytes cannot begin a
	// PROXY header: they differ from both signatures. Parse decides at the
	// first byte that differs. It is returned as is, never wrapped.
	ErrNotProxy = errors.New("sockpool/proxyproto: not a PROXY protocol header")

	// ErrMalformed is wrapped by the errors of Parse and Read for a header
	// that begins with a signature but breaks the specification: a version 1
	// line longer than 107 bytes, an unknown token, a bad address or port,
	// addresses of the wrong family; a version 2 header with an unknown
	// version, command or family, a length too short for its addresses, or
	// bad TLVs.
	ErrMalformed = errors.New("sockpool/proxyproto: malformed header")

	// ErrTooLarge is wrapped by the error of Parse and Read for a version 2
	// header longer than the Parser's MaxHeaderSize. The length is checked
	// as soon as the 16 fixed bytes are in, before the rest is waited for.
	ErrTooLarge = errors.New("sockpool/proxyproto: header too large")

	// ErrInvalidHeader is wrapped by the errors of AppendTo and WriteTo for
	// a Header that its Version cannot express, such as UDP addresses in
	// version 1.
	ErrInvalidHeader = errors.New("sockpool/proxyproto: header cannot be encoded")

	// ErrInvalidPrefix is wrapped by the errors of ParsePrefixes.
	ErrInvalidPrefix = errors.New("sockpool/proxyproto: invalid address or prefix")
)
