package main

import "bytes"

// stepInline parses an inline command: one line, arguments separated by
// spaces, quoted as redis-cli quotes them ("a b", "\x00\n", 'it”s' is not
// supported: single quotes take \' only).
func (p *parser) stepInline(b []byte) (bool, error) {
	p.isInline = true
	i := bytes.IndexByte(b[p.pos:], '\n')
	if i < 0 {
		if len(b) > maxInline {
			return false, errInlineTooBig
		}
		p.pos = len(b) // resume the search here: no quadratic rescan
		return false, nil
	}
	nl := p.pos + i
	if nl > maxInline {
		return false, errInlineTooBig
	}
	line := b[:nl]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	p.pos = nl + 1
	var ok bool
	p.inline, p.offs, ok = splitArgs(p.inline[:0], p.offs[:0], line)
	if !ok {
		return false, errUnbalancedQuotes
	}
	return true, nil
}

// splitArgs splits an inline line into arguments, appended unquoted to dst
// back to back, each located by its end in ends (argv's packed form), the
// way redis's sdssplitargs does. A line is at most maxInline bytes, so the
// ends fit in uint32.
func splitArgs(dst []byte, ends []uint32, line []byte) ([]byte, []uint32, bool) {
	i := 0
	for {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i == len(line) {
			return dst, ends, true
		}
		inDouble, inSingle := false, false
		for done := false; !done; {
			switch {
			case inDouble:
				if i >= len(line) {
					return dst, ends, false
				}
				c := line[i]
				if c == '\\' && i+3 < len(line) && line[i+1] == 'x' && isHex(line[i+2]) && isHex(line[i+3]) {
					dst = append(dst, unhex(line[i+2])<<4|unhex(line[i+3]))
					i += 3
				} else if c == '\\' && i+1 < len(line) {
					i++
					switch line[i] {
					case 'n':
						dst = append(dst, '\n')
					case 'r':
						dst = append(dst, '\r')
					case 't':
						dst = append(dst, '\t')
					case 'b':
						dst = append(dst, '\b')
					case 'a':
						dst = append(dst, '\a')
					default:
						dst = append(dst, line[i])
					}
				} else if c == '"' {
					// A closing quote must be followed by a space or the end.
					if i+1 < len(line) && !isSpace(line[i+1]) {
						return dst, ends, false
					}
					done = true
				} else {
					dst = append(dst, c)
				}
			case inSingle:
				if i >= len(line) {
					return dst, ends, false
				}
				c := line[i]
				if c == '\\' && i+1 < len(line) && line[i+1] == '\'' {
					dst = append(dst, '\'')
					i++
				} else if c == '\'' {
					if i+1 < len(line) && !isSpace(line[i+1]) {
						return dst, ends, false
					}
					done = true
				} else {
					dst = append(dst, c)
				}
			default:
				if i >= len(line) {
					done = true
					break
				}
				switch c := line[i]; {
				case isSpace(c):
					done = true
				case c == '"':
					inDouble = true
				case c == '\'':
					inSingle = true
				default:
					dst = append(dst, c)
				}
			}
			if i < len(line) {
				i++
			}
		}
		ends = append(ends, uint32(len(dst)))
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
