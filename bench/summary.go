package main

import (
	"fmt"
	"io"
	"strings"
)

// writeSummary writes the engines side by side, a row per workload
// (message size × connections) and a column per engine, twice: msg/s, then
// msg/srv-CPU-s, the best of each row in bold. An engine's entry is its
// fastest clean cell of the workload, whatever its read buffer; an engine
// with none shows why (STARVED, FAILED, unavailable). It writes nothing for
// a run of a single engine.
func writeSummary(w io.Writer, results []result) error {
	loads := echoWorkloads(results)
	var engines []string
	for _, r := range results {
		if r.Kind == kindEcho {
			engines = addUniq(engines, r.Engine)
		}
	}
	if len(engines) < 2 {
		return nil
	}
	pick := pickCells(results)

	var b strings.Builder
	b.WriteString("\n### Engines side by side\n\n")
	b.WriteString("Each engine at its fastest read-buffer size for the workload; the best of each row in bold.\n")
	for _, fig := range []struct {
		name string
		get  func(*result) float64
	}{
		{"msg/s", func(r *result) float64 { return r.MsgsPerSec }},
		{"msg/srv-CPU-s", (*result).eff},
	} {
		fmt.Fprintf(&b, "\n| %s: size × conns | %s |\n", fig.name, strings.Join(engines, " | "))
		b.WriteString("| --- |" + strings.Repeat(" ---: |", len(engines)) + "\n")
		for _, l := range loads {
			best := 0.0
			for _, e := range engines {
				if r := pick[l][e]; r != nil && r.Status == statusOK {
					best = max(best, fig.get(r))
				}
			}
			row := []string{fmt.Sprintf("%s × %d", fmtSize(l.size), l.conns)}
			for _, e := range engines {
				r := pick[l][e]
				var s string
				switch {
				case r == nil:
					s = dash
				case r.Status == statusOK && fig.get(r) > 0:
					s = fmtRate(fig.get(r))
					if fig.get(r) == best {
						s = "**" + s + "**"
					}
				case r.Status == statusOK:
					s = dash // a figure that could not be read (see the cell's note)
				default:
					s = statusWord(r)
				}
				row = append(row, s)
			}
			fmt.Fprintf(&b, "| %s |\n", strings.Join(row, " | "))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// pickCells is each engine's cell per echo workload, the one the tables
// show for it: its fastest ok cell, whatever its read buffer, else its
// first cell that says why there is none.
func pickCells(results []result) map[workload]map[string]*result {
	pick := make(map[workload]map[string]*result)
	for i := range results {
		r := &results[i]
		if r.Kind != kindEcho {
			continue
		}
		l := r.workload()
		if pick[l] == nil {
			pick[l] = make(map[string]*result)
		}
		cur := pick[l][r.Engine]
		switch {
		case cur == nil:
			pick[l][r.Engine] = r
		case r.Status == statusOK && (cur.Status != statusOK || r.MsgsPerSec > cur.MsgsPerSec):
			pick[l][r.Engine] = r
		}
	}
	return pick
}
