package main

import (
	"bytes"
	"path"
	"strings"
	"time"
)

// A command is one entry of the command table. arity follows redis: n > 0
// means exactly n arguments counting the name, n < 0 at least -n.
type command struct {
	name              string
	arity             int
	flags             []string
	firstKey, lastKey int
	step              int
	run               func(h *handler, out []byte, args *argv) []byte
	quit              bool   // the connection closes after the reply
	errArity          string // the reply to a wrong number of arguments
}

// commands is the command table, filled by init (COMMAND reads it, so it
// cannot be a plain initialized variable).
var commands []*command

// commandsByName finds a command by its lower-case name.
var commandsByName = map[string]*command{}

func init() {
	commands = []*command{
		{name: "ping", arity: -1, flags: []string{"fast"}, run: (*handler).ping},
		{name: "echo", arity: 2, flags: []string{"fast"}, run: (*handler).echo},
		{name: "set", arity: -3, flags: []string{"write", "denyoom"}, firstKey: 1, lastKey: 1, step: 1, run: (*handler).set},
		{name: "get", arity: 2, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: 1, step: 1, run: (*handler).get},
		{name: "del", arity: -2, flags: []string{"write"}, firstKey: 1, lastKey: -1, step: 1, run: (*handler).del},
		{name: "exists", arity: -2, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: -1, step: 1, run: (*handler).exists},
		{name: "incr", arity: 2, flags: []string{"write", "denyoom", "fast"}, firstKey: 1, lastKey: 1, step: 1, run: (*handler).incr},
		{name: "mset", arity: -3, flags: []string{"write", "denyoom"}, firstKey: 1, lastKey: -1, step: 2, run: (*handler).mset},
		{name: "mget", arity: -2, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: -1, step: 1, run: (*handler).mget},
		{name: "quit", arity: -1, flags: []string{"fast"}, run: func(_ *handler, out []byte, _ *argv) []byte { return appendSimple(out, "OK") }, quit: true},
		{name: "command", arity: -1, flags: []string{"loading", "stale"}, run: (*handler).command},
		{name: "config", arity: -2, flags: []string{"admin", "loading", "stale"}, run: (*handler).config},
	}
	for _, c := range commands {
		c.errArity = "ERR wrong number of arguments for '" + c.name + "' command"
		commandsByName[c.name] = c
	}
}

// exec runs one command and appends its reply to out. quit reports that the
// connection should close after the reply.
func (h *handler) exec(out []byte, args *argv) (_ []byte, quit bool) {
	var buf [16]byte
	cmd := commandsByName[string(lower(buf[:0], args.at(0)))] // no allocation: lookup by converted bytes
	if cmd == nil {
		return appendUnknown(out, args), false
	}
	if n := args.len(); cmd.arity > 0 && n != cmd.arity || n < -cmd.arity {
		return appendError(out, cmd.errArity), false
	}
	return cmd.run(h, out, args), cmd.quit
}

// lower appends b in lower case to dst, or returns nil when b is longer than
// any command name (dst's capacity).
func lower(dst, b []byte) []byte {
	if len(b) > cap(dst) {
		return nil
	}
	for _, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// appendUnknown appends redis's reply to an unknown command.
func appendUnknown(out []byte, args *argv) []byte {
	var sb strings.Builder
	sb.WriteString("ERR unknown command '")
	sb.Write(errText(args.at(0)))
	sb.WriteString("', with args beginning with: ")
	for i := 1; i < args.len(); i++ {
		if sb.Len() > 1024 {
			break
		}
		sb.WriteByte('\'')
		sb.Write(errText(args.at(i)))
		sb.WriteString("' ")
	}
	return appendError(out, sb.String())
}

// errText makes client bytes safe inside an error reply: at most 128 bytes,
// no CR or LF.
func errText(b []byte) []byte {
	b = bytes.Clone(b[:min(len(b), 128)])
	for i, c := range b {
		if c == '\r' || c == '\n' {
			b[i] = ' '
		}
	}
	return b
}

func (h *handler) ping(out []byte, args *argv) []byte {
	switch args.len() {
	case 1:
		return appendSimple(out, "PONG")
	case 2:
		return appendBulk(out, args.at(1))
	}
	return appendError(out, "ERR wrong number of arguments for 'ping' command")
}

func (h *handler) echo(out []byte, args *argv) []byte { return appendBulk(out, args.at(1)) }

func (h *handler) get(out []byte, args *argv) []byte { return h.store.appendGet(out, args.at(1)) }

// set is SET key value [NX|XX] [EX seconds|PX milliseconds|KEEPTTL].
func (h *handler) set(out []byte, args *argv) []byte {
	var (
		mode    setMode
		exp     int64
		keepTTL bool
		hasTTL  bool
	)
	for i := 3; i < args.len(); i++ {
		var buf [8]byte
		switch opt := string(lower(buf[:0], args.at(i))); {
		case opt == "nx" && mode != setIfExists:
			mode = setIfAbsent
		case opt == "xx" && mode != setIfAbsent:
			mode = setIfExists
		case opt == "keepttl" && !hasTTL:
			keepTTL = true
		case (opt == "ex" || opt == "px") && !keepTTL && !hasTTL && i+1 < args.len():
			i++
			n, ok := parseInt(args.at(i))
			if !ok {
				return appendError(out, errNotInteger.Error())
			}
			unit := int64(time.Second)
			if opt == "px" {
				unit = int64(time.Millisecond)
			}
			now := h.store.now().UnixNano()
			if n <= 0 || n > (1<<63-1-now)/unit {
				return appendError(out, "ERR invalid expire time in 'set' command")
			}
			exp, hasTTL = now+n*unit, true
		default:
			return appendError(out, "ERR syntax error")
		}
	}
	if !h.store.set(args.at(1), args.at(2), exp, keepTTL, mode) {
		return appendNull(out)
	}
	return appendSimple(out, "OK")
}

func (h *handler) del(out []byte, args *argv) []byte {
	var n int64
	for i := 1; i < args.len(); i++ {
		if h.store.del(args.at(i)) {
			n++
		}
	}
	return appendInt(out, n)
}

func (h *handler) exists(out []byte, args *argv) []byte {
	var n int64
	for i := 1; i < args.len(); i++ {
		if h.store.exists(args.at(i)) {
			n++
		}
	}
	return appendInt(out, n)
}

func (h *handler) incr(out []byte, args *argv) []byte {
	n, err := h.store.incr(args.at(1))
	if err != nil {
		return appendError(out, err.Error())
	}
	return appendInt(out, n)
}

// mset sets each key in turn. Unlike redis's, it is not atomic: another
// connection may see some of the keys set and not yet others.
func (h *handler) mset(out []byte, args *argv) []byte {
	if args.len()%2 != 1 {
		return appendError(out, "ERR wrong number of arguments for 'mset' command")
	}
	for i := 1; i < args.len(); i += 2 {
		h.store.set(args.at(i), args.at(i+1), 0, false, setAlways)
	}
	return appendSimple(out, "OK")
}

func (h *handler) mget(out []byte, args *argv) []byte {
	out = appendArray(out, args.len()-1)
	for i := 1; i < args.len(); i++ {
		out = h.store.appendGet(out, args.at(i))
	}
	return out
}

// command answers COMMAND, COMMAND COUNT, COMMAND INFO and COMMAND DOCS,
// enough for redis-cli: its hints come from COMMAND DOCS, which gets an empty
// reply, and redis-cli then uses its built-in table.
func (h *handler) command(out []byte, args *argv) []byte {
	if args.len() == 1 {
		out = appendArray(out, len(commands))
		for _, c := range commands {
			out = appendCommandInfo(out, c)
		}
		return out
	}
	switch strings.ToLower(string(args.at(1))) {
	case "count":
		return appendInt(out, int64(len(commands)))
	case "docs":
		return appendArray(out, 0)
	case "info":
		out = appendArray(out, args.len()-2)
		for i := 2; i < args.len(); i++ {
			if c := commandsByName[strings.ToLower(string(args.at(i)))]; c != nil {
				out = appendCommandInfo(out, c)
			} else {
				out = append(out, "*-1\r\n"...)
			}
		}
		return out
	}
	return appendError(out, "ERR unknown subcommand '"+string(errText(args.at(1)))+"'. Try COMMAND HELP.")
}

// appendCommandInfo appends c in COMMAND's classic six-element form.
func appendCommandInfo(out []byte, c *command) []byte {
	out = appendArray(out, 6)
	out = appendBulkString(out, c.name)
	out = appendInt(out, int64(c.arity))
	out = appendArray(out, len(c.flags))
	for _, f := range c.flags {
		out = appendSimple(out, f)
	}
	out = appendInt(out, int64(c.firstKey))
	out = appendInt(out, int64(c.lastKey))
	return appendInt(out, int64(c.step))
}

// configParams are what CONFIG GET reports: redis-benchmark asks for "save"
// and "appendonly" when it starts.
var configParams = [][2]string{
	{"save", ""},
	{"appendonly", "no"},
	{"databases", "1"},
	{"maxmemory", "0"},
}

// config answers CONFIG GET with glob patterns, as redis 7 does (several
// patterns, each name reported once); other subcommands are errors.
func (h *handler) config(out []byte, args *argv) []byte {
	if strings.ToLower(string(args.at(1))) != "get" {
		return appendError(out, "ERR unknown subcommand '"+string(errText(args.at(1)))+"'. Only CONFIG GET is supported.")
	}
	if args.len() < 3 {
		return appendError(out, "ERR wrong number of arguments for 'config|get' command")
	}
	var matched [][2]string
	for _, p := range configParams {
		for i := 2; i < args.len(); i++ {
			if ok, _ := path.Match(strings.ToLower(string(args.at(i))), p[0]); ok {
				matched = append(matched, p)
				break
			}
		}
	}
	out = appendArray(out, 2*len(matched))
	for _, p := range matched {
		out = appendBulkString(out, p[0])
		out = appendBulkString(out, p[1])
	}
	return out
}
