package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// A pair is two engines compared round by round (-compare A/B): a over b.
type pair struct{ a, b string }

func (p pair) String() string { return p.a + "/" + p.b }

// parsePairs splits -compare's comma list of A/B pairs. The names are
// engines as -engines gives them; each pair also compares the engines'
// TLS and UDP cells, which bench names with a suffix ("evented+tls",
// "evented/udp").
func parsePairs(s string) ([]pair, error) {
	if s == "" {
		return nil, nil
	}
	var out []pair
	for _, f := range strings.Split(s, ",") {
		a, b, ok := strings.Cut(strings.ToLower(strings.TrimSpace(f)), "/")
		if !ok || a == "" || b == "" || a == b || strings.Contains(b, "/") {
			return nil, fmt.Errorf("-compare: want A/B with two different engines, got %q", f)
		}
		out = append(out, pair{a, b})
	}
	return out, nil
}

// pairVariants are the suffixes a pair's engines are compared under: the
// plain TCP cells, then TLS, then UDP.
var pairVariants = []string{"", "+tls", "/udp"}

// errUnpaired is why a row of the paired table has no ratio: one engine's
// cell has figures that the other's lacks.
var errUnpaired = errors.New("rounds do not pair")

// roundRatios returns a's figure over b's for every round, got from each
// result by get (every round's values) or one (a single round's). It
// fails when the two have no figure for the same rounds.
func roundRatios(a, b *result, get func(*result) []float64, one func(*result) float64) ([]float64, error) {
	va, vb := get(a), get(b)
	if len(va) == 0 && len(vb) == 0 && a.Rounds < 2 && b.Rounds < 2 {
		va, vb = []float64{one(a)}, []float64{one(b)}
	}
	if len(va) == 0 || len(va) != len(vb) {
		return nil, errUnpaired
	}
	out := make([]float64, len(va))
	for i := range va {
		if va[i] <= 0 || vb[i] <= 0 {
			return nil, errUnpaired
		}
		out[i] = va[i] / vb[i]
	}
	return out, nil
}

// fmtRatios writes ratios as their median and, for more than one, their
// range: "1.04 (0.93–1.12)".
func fmtRatios(ratios []float64) string {
	mid, lo, hi := medianOf(ratios)
	if len(ratios) == 1 {
		return fmt.Sprintf("%.2f", ratios[mid])
	}
	return fmt.Sprintf("%.2f (%.2f–%.2f)", ratios[mid], ratios[lo], ratios[hi])
}

// writePaired writes, for each pair, a row per workload in which both
// engines have a cell: the ratio a/b of msg/s and of msg/srv-CPU-s taken
// in each round, then their median (the lower middle one for an even
// count, as elsewhere) and range, and in how many rounds a's efficiency
// was at least b's. The two engines of a workload run in the same round,
// seconds apart, so a round's ratio cancels a drift of the machine's speed
// over the run, which a ratio of the two medians does not. Each engine's
// cell is the one the side-by-side table shows.
func writePaired(w io.Writer, results []result, pairs []pair) error {
	if len(pairs) == 0 {
		return nil
	}
	picks := pickCells(results)
	loads := echoWorkloads(results)
	var b strings.Builder
	b.WriteString("\n### Paired by round\n\n")
	b.WriteString("A/B is engine A's figure over engine B's, taken in each round and then summarised: median (range).\n\n")
	b.WriteString("| A/B | size × conns | msg/s | msg/srv-CPU-s | A ≥ B on msg/srv-CPU-s |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: |\n")
	rows := 0
	for _, p := range pairs {
		for _, suffix := range pairVariants {
			for _, l := range loads {
				ra, rb := picks[l][p.a+suffix], picks[l][p.b+suffix]
				if ra == nil || rb == nil {
					continue
				}
				rows++
				row := []string{p.a + suffix + "/" + p.b + suffix, fmt.Sprintf("%s × %d", fmtSize(l.size), l.conns)}
				if ra.Status != statusOK || rb.Status != statusOK {
					why := fmt.Sprintf("%s %s, %s %s", ra.Engine, statusWord(ra), rb.Engine, statusWord(rb))
					row = append(row, why, dash, dash)
					fmt.Fprintf(&b, "| %s |\n", strings.Join(row, " | "))
					continue
				}
				msgs, err := roundRatios(ra, rb, func(r *result) []float64 { return r.RoundValues }, func(r *result) float64 { return r.MsgsPerSec })
				if err != nil {
					row = append(row, err.Error())
				} else {
					row = append(row, fmtRatios(msgs))
				}
				effs, err := roundRatios(ra, rb, func(r *result) []float64 { return r.EffRoundValues }, func(r *result) float64 { return r.MsgsPerCPUSec })
				if err != nil {
					row = append(row, dash, dash) // a server CPU figure was not read
				} else {
					ahead := 0
					for _, x := range effs {
						if x >= 1 {
							ahead++
						}
					}
					row = append(row, fmtRatios(effs), fmt.Sprintf("%d of %d", ahead, len(effs)))
				}
				fmt.Fprintf(&b, "| %s |\n", strings.Join(row, " | "))
			}
		}
	}
	if rows == 0 {
		names := make([]string, len(pairs))
		for i, p := range pairs {
			names[i] = p.String()
		}
		fmt.Fprintf(&b, "| %s | no workload has echo cells of both engines | | | |\n", strings.Join(names, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// pairNames is pairs as -compare writes them, for the report.
func pairNames(pairs []pair) []string {
	var out []string
	for _, p := range pairs {
		out = append(out, p.String())
	}
	return out
}
