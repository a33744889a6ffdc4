package main

import (
	"encoding/binary"
	"math/rand/v2"
)

// patternSlack is how far a message's window may move inside a
// connection's pattern block: the block is the message size plus this.
const patternSlack = 4096

// A pattern gives one connection's message payloads: windows into a block of
// pseudo-random bytes drawn from a PCG stream seeded by the connection's id,
// at an offset drawn from the same stream for every message. Connections
// therefore send different bytes, and consecutive messages of a connection
// differ, so a server that mixes up connections, echoes a stale message or
// flips a byte is caught by comparing the echo with the message sent.
//
// Messages are slices of the block, not copies: the check costs one
// bytes.Equal per round trip, and nothing is generated on the hot path.
type pattern struct {
	rng   *rand.PCG
	block []byte
	size  int
	off   int
}

// newPattern returns the pattern of connection id in a run seeded by seed,
// for messages of size bytes.
func newPattern(seed, id uint64, size int) *pattern {
	p := &pattern{rng: rand.NewPCG(seed, id), size: size}
	p.block = make([]byte, (size+patternSlack+7)&^7)
	for i := 0; i < len(p.block); i += 8 {
		binary.LittleEndian.PutUint64(p.block[i:], p.rng.Uint64())
	}
	p.off = int(p.rng.Uint64() % patternSlack)
	return p
}

// next returns the payload of the connection's next message. The offset
// always moves, so no message equals the one before it.
func (p *pattern) next() []byte {
	p.off = (p.off + 1 + int(p.rng.Uint64()%(patternSlack-1))) % patternSlack
	return p.block[p.off : p.off+p.size]
}
