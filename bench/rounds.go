package main

import (
	"cmp"
	"fmt"
	"slices"
)

// maxRounds bounds -rounds.
const maxRounds = 100

// schedule is the order in which a run of rounds rounds measures cells:
// indices into cells, every cell once a round. Each round rotates the cells
// of one workload (consecutive cells of the same kind, message size and
// connection count, which cells() puts together) by the round's number, so
// that no engine always runs first after a server of another workload, or
// last before a slow spell.
func schedule(cells []cell, rounds int) []int {
	out := make([]int, 0, len(cells)*rounds)
	for r := range rounds {
		for start := 0; start < len(cells); {
			end := start + 1
			for end < len(cells) && sameWorkload(cells[start], cells[end]) {
				end++
			}
			n := end - start
			for k := range n {
				out = append(out, start+(k+r)%n)
			}
			start = end
		}
	}
	return out
}

// sameWorkload reports whether a and b load their servers alike: they
// differ only in engine, read buffer or TLS.
func sameWorkload(a, b cell) bool {
	return a.Kind == b.Kind && a.Size == b.Size && a.Conns == b.Conns
}

// figure is the number a cell is judged by across rounds: messages per
// second (echo), connections per second (handshake) or RSS per connection
// (idle).
func (r *result) figure() float64 {
	if r.Kind == kindIdle {
		return r.RSSPerConn
	}
	return r.MsgsPerSec
}

// medianOf returns the indices of the median of values (the lower middle
// one when the count is even), of the least and of the greatest.
func medianOf(values []float64) (mid, lo, hi int) {
	order := make([]int, len(values))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(values[a], values[b]) })
	return order[(len(order)-1)/2], order[0], order[len(order)-1]
}

// combineRounds makes one result of a cell's rounds, in the order they
// ran. A cell that failed (or was unavailable) in any round fails, with the
// first such round's error. Otherwise it is the median round, by figure
// (the lower middle one when the count is even, so that every number
// shown was measured together), with every round's figure, their minimum
// and maximum added, and the same for msg/srv-CPU-s when every round has
// one; it is starved when any round was, with the most
// connections starved of any round.
func combineRounds(rounds []result) result {
	n := len(rounds)
	if n == 1 {
		return rounds[0]
	}
	for i, r := range rounds {
		if r.Status == statusFailed || r.Status == statusUnavailable {
			r.Error = fmt.Sprintf("round %d of %d: %s", i+1, n, r.Error)
			r.Rounds = n
			return r
		}
	}
	values := make([]float64, n)
	effs := make([]float64, n)
	for i := range rounds {
		values[i] = rounds[i].figure()
		effs[i] = rounds[i].MsgsPerCPUSec
	}
	mid, lo, hi := medianOf(values)
	out := rounds[mid]
	out.Rounds = n
	out.RoundValues = values
	out.RoundMin, out.RoundMax = values[lo], values[hi]
	if !slices.Contains(effs, 0) { // every round read its server's CPU
		mid, lo, hi = medianOf(effs)
		out.EffRoundValues = effs
		out.EffMedian, out.EffMin, out.EffMax = effs[mid], effs[lo], effs[hi]
	}
	for _, r := range rounds {
		if r.Starved > out.Starved {
			out.Starved = r.Starved
		}
		if r.Status == statusStarved {
			out.Status = statusStarved
		}
	}
	return out
}
