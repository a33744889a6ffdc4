package main

// An argv is the arguments of one command, as the parser found them: the
// bytes they are in and one uint32 per argument, not a 24-byte slice header
// each. Most arguments are a few bytes, and a request of a million empty
// bulk strings ("$0\r\n\r\n", 6 bytes each) would otherwise cost 24 MB of
// headers for its 6 MB; this way it costs 4 MB.
//
// In the multibulk form, buf is the command's bytes as they arrived and
// offs[i] the offset of argument i's "$<length>" line, which the parser has
// checked. In the packed form (an inline command, unquoted), the arguments
// lie back to back in buf and offs[i] is the end of argument i.
type argv struct {
	buf    []byte
	offs   []uint32
	packed bool
}

// len returns the number of arguments, the command's name included.
func (a *argv) len() int { return len(a.offs) }

// at returns argument i, or nil for a null bulk string ("$-1"). Its capacity
// is its length, so appending to it cannot overwrite the next. It is valid
// as long as the argv is.
func (a *argv) at(i int) []byte {
	if a.packed {
		var start uint32
		if i > 0 {
			start = a.offs[i-1]
		}
		end := a.offs[i]
		return a.buf[start:end:end]
	}
	// A few digits to read again: cheaper than keeping the length.
	j := int(a.offs[i]) + 1
	if a.buf[j] == '-' {
		return nil
	}
	n := 0
	for ; a.buf[j] != '\r'; j++ {
		n = n*10 + int(a.buf[j]-'0')
	}
	j += 2
	return a.buf[j : j+n : j+n]
}
