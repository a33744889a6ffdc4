package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
)

// writeTuning writes the buffer-size recommendations of a run that swept
// more than one read-buffer size (-tune, or several -bufsizes): for each
// workload (message size × connections), the fastest engine and buffer
// size, each engine's best fixed size, and how the tuner (auto) did
// against it. Only ok cells count: a starved cell's total hides clients
// that got nothing, so it is never recommended. It writes nothing for a
// run with a single buffer size.
func writeTuning(w io.Writer, results []result) error {
	bufSizes := map[int]bool{}
	for _, r := range results {
		if r.Kind == kindEcho {
			bufSizes[r.BufSize] = true
		}
	}
	if len(bufSizes) < 2 {
		return nil
	}
	loads := echoWorkloads(results)
	var b strings.Builder
	b.WriteString("\n### Buffer tuning\n\n")
	b.WriteString("| size | conns | recommended | msg/s | per engine: best fixed bufsize (msg/s); auto as % of it |\n")
	b.WriteString("| ---: | ---: | --- | ---: | --- |\n")
	for _, l := range loads {
		var best *result
		var engines []string
		bestFixed := map[string]*result{}
		auto := map[string]*result{}
		for i := range results {
			r := &results[i]
			if r.Kind != kindEcho || r.workload() != l || r.Status != statusOK {
				continue
			}
			engines = addUniq(engines, r.Engine)
			if best == nil || r.MsgsPerSec > best.MsgsPerSec {
				best = r
			}
			if r.BufSize == 0 {
				auto[r.Engine] = r
			} else if f := bestFixed[r.Engine]; f == nil || r.MsgsPerSec > f.MsgsPerSec {
				bestFixed[r.Engine] = r
			}
		}
		if best == nil {
			fmt.Fprintf(&b, "| %s | %d | %s | %s | no cell completed cleanly |\n", fmtSize(l.size), l.conns, dash, dash)
			continue
		}
		slices.SortStableFunc(engines, func(a, c string) int {
			return cmp.Compare(engineRate(bestFixed[c], auto[c]), engineRate(bestFixed[a], auto[a]))
		})
		var per []string
		for _, e := range engines {
			f, a := bestFixed[e], auto[e]
			switch {
			case f != nil && a != nil:
				per = append(per, fmt.Sprintf("%s %s (%.0f); auto %.0f%%", e, fmtBuf(f.BufSize), f.MsgsPerSec, 100*a.MsgsPerSec/f.MsgsPerSec))
			case f != nil:
				per = append(per, fmt.Sprintf("%s %s (%.0f)", e, fmtBuf(f.BufSize), f.MsgsPerSec))
			default:
				per = append(per, fmt.Sprintf("%s auto (%.0f)", e, a.MsgsPerSec))
			}
		}
		fmt.Fprintf(&b, "| %s | %d | %s, bufsize %s | %.0f | %s |\n", fmtSize(l.size), l.conns,
			best.Engine, fmtBuf(best.BufSize), best.MsgsPerSec, strings.Join(per, "; "))
	}
	b.WriteString("\nauto within a few percent of the best fixed size means ReadBufferSize 0 (the tuner) is the setting to keep; " +
		"differences under about 10% are within this machine's run-to-run noise.\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// engineRate is the better of an engine's best fixed and auto rates.
func engineRate(fixed, auto *result) float64 {
	var v float64
	if fixed != nil {
		v = fixed.MsgsPerSec
	}
	if auto != nil {
		v = max(v, auto.MsgsPerSec)
	}
	return v
}
