package main

import (
	"cmp"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// limits bound what one request may cost, with redis's names where redis
// has the limit. A zero field means its default.
type limits struct {
	// maxBulk is proto-max-bulk-len: the longest bulk string. A longer one
	// is answered "-ERR Protocol error: invalid bulk length" before any of
	// it is kept, and the connection is closed.
	maxBulk int
	// maxArgs is the largest count of a multibulk request; a larger one is
	// answered "-ERR Protocol error: invalid multibulk length" before any
	// argument is kept. Redis allows up to INT_MAX (and 10 before AUTH).
	maxArgs int
	// maxQuery is client-query-buffer-limit: the most input kept for the
	// command in progress and what follows it. The connection is closed,
	// without a reply as in redis, when more would be kept.
	maxQuery int
}

const (
	// defaultMaxBulk is 64 MiB where redis's is 512 MiB: an in-memory
	// example has no use for values that large.
	defaultMaxBulk = 64 << 20
	// defaultMaxArgs is far beyond any real command (an MSET of half a
	// million pairs).
	defaultMaxArgs = 1 << 20
	// defaultMaxQuery is redis's default, 1 GiB.
	defaultMaxQuery = 1 << 30
	// maxQueryLimit is the highest maxQuery: argv keeps offsets within a
	// command as uint32, and the parser holds at most maxQuery bytes; on a
	// 32-bit machine, the largest int.
	maxQueryLimit = min(2<<30, math.MaxInt)
)

func (l limits) withDefaults() limits {
	l.maxBulk = cmp.Or(l.maxBulk, defaultMaxBulk)
	l.maxArgs = cmp.Or(l.maxArgs, defaultMaxArgs)
	l.maxQuery = min(cmp.Or(l.maxQuery, defaultMaxQuery), maxQueryLimit)
	return l
}

// A sizeFlag is a flag.Value for a byte count written as redis writes them
// in its configuration: "512mb", "1gb", "64k" (k, m and g are powers of
// 1000; kb, mb and gb of 1024), or a plain number of bytes.
type sizeFlag struct{ p *int }

func (f sizeFlag) String() string {
	if f.p == nil {
		return "0"
	}
	return formatSize(*f.p)
}

func (f sizeFlag) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	*f.p = n
	return nil
}

// sizeUnits are redis's memory units (memtoull), longest suffix first.
var sizeUnits = []struct {
	suffix string
	mul    int64
}{
	{"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10},
	{"g", 1e9}, {"m", 1e6}, {"k", 1e3}, {"b", 1},
}

// parseSize parses a byte count with an optional redis unit.
func parseSize(s string) (int, error) {
	num, mul := strings.ToLower(s), int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(num, u.suffix) {
			num, mul = strings.TrimSuffix(num, u.suffix), u.mul
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mul {
		return 0, fmt.Errorf("invalid size %q: want a count of bytes such as 1048576, 512mb or 1gb", s)
	}
	return int(n * mul), nil
}

// formatSize writes n in the largest binary unit that divides it.
func formatSize(n int) string {
	for _, u := range sizeUnits[:3] {
		if n != 0 && int64(n)%u.mul == 0 {
			return strconv.FormatInt(int64(n)/u.mul, 10) + u.suffix
		}
	}
	return strconv.Itoa(n)
}
