package main

import (
	"errors"
	"hash/maphash"
	"strconv"
	"sync"
	"time"
)

// errNotInteger and errOverflow are INCR's failures, in redis's words.
var (
	errNotInteger = errors.New("ERR value is not an integer or out of range")
	errOverflow   = errors.New("ERR increment or decrement would overflow")
)

// shardCount spreads the keys over this many locks; a power of two.
const shardCount = 256

// A store is the in-memory key space: a map split over shards, each with its
// own mutex, so that handlers on different connections (different event
// loops or workers) rarely wait for each other and never for long: no
// operation holds a lock for more than one key's copy. Keys expire lazily,
// when an access finds them past their time.
//
// A value's bytes are only read or written under its shard's lock, so SET
// of an existing key can overwrite them in place and GET copies them into
// the reply before unlocking.
type store struct {
	seed   maphash.Seed
	now    func() time.Time // the clock, replaceable in tests
	shards [shardCount]shard
}

type shard struct {
	mu sync.Mutex
	m  map[string]*entry
	_  [64 - 16]byte // one cache line per shard: no false sharing of locks
}

type entry struct {
	val []byte
	exp int64 // expiry, Unix nanoseconds; 0 for none
}

func newStore() *store {
	s := &store{seed: maphash.MakeSeed(), now: time.Now}
	for i := range s.shards {
		s.shards[i].m = make(map[string]*entry)
	}
	return s
}

func (s *store) shard(key []byte) *shard {
	return &s.shards[maphash.Bytes(s.seed, key)&(shardCount-1)]
}

// lookup returns the live entry for key; an expired one is deleted. The
// shard must be locked. The clock is read only for keys that can expire.
func (s *store) lookup(sh *shard, key []byte) *entry {
	e := sh.m[string(key)] // no allocation: the compiler converts in place for lookups
	if e != nil && e.exp != 0 && s.now().UnixNano() >= e.exp {
		delete(sh.m, string(key))
		return nil
	}
	return e
}

// appendGet appends key's value to b as a bulk string, or the null bulk
// string when key does not exist.
func (s *store) appendGet(b, key []byte) []byte {
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e := s.lookup(sh, key); e != nil {
		return appendBulk(b, e.val)
	}
	return appendNull(b)
}

// setMode is SET's condition and TTL handling.
type setMode uint8

const (
	setAlways   setMode = iota
	setIfAbsent         // NX
	setIfExists         // XX
)

// set stores val under key with expiry exp (Unix nanoseconds, 0 for none;
// keepTTL keeps the old one). It reports false when mode forbade it.
func (s *store) set(key, val []byte, exp int64, keepTTL bool, mode setMode) bool {
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := s.lookup(sh, key)
	if (mode == setIfAbsent && e != nil) || (mode == setIfExists && e == nil) {
		return false
	}
	if e == nil {
		sh.m[string(key)] = &entry{val: clone(val), exp: exp}
		return true
	}
	// Overwrite in place when the old buffer fits (and is not wastefully
	// large): redis-benchmark's SET rewrites one key over and over, and this
	// makes it allocation-free.
	if cap(e.val) >= len(val) && cap(e.val) <= 2*len(val)+64 {
		e.val = append(e.val[:0], val...)
	} else {
		e.val = clone(val)
	}
	if !keepTTL {
		e.exp = exp
	}
	return true
}

// del deletes key and reports whether it existed.
func (s *store) del(key []byte) bool {
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if s.lookup(sh, key) == nil {
		return false
	}
	delete(sh.m, string(key))
	return true
}

// exists reports whether key exists.
func (s *store) exists(key []byte) bool {
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return s.lookup(sh, key) != nil
}

// incr adds 1 to the integer stored at key (a missing key counts as 0) and
// returns the result. The key's expiry is kept, as in redis.
func (s *store) incr(key []byte) (int64, error) {
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := s.lookup(sh, key)
	if e == nil {
		sh.m[string(key)] = &entry{val: []byte("1")}
		return 1, nil
	}
	n, ok := parseInt(e.val)
	if !ok {
		return 0, errNotInteger
	}
	if n == 1<<63-1 {
		return 0, errOverflow
	}
	n++
	e.val = strconv.AppendInt(e.val[:0], n, 10) // in place: 20 digits fit any int64
	return n, nil
}

// clone copies b into a buffer of its own; unlike bytes.Clone it never
// returns nil, so a stored empty value is still a value.
func clone(b []byte) []byte {
	return append(make([]byte, 0, len(b)), b...)
}
