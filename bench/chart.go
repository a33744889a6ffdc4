package main

import (
	"cmp"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Chart size; 8×5 in at vgimg's 96 dpi is a 768×480 PNG, wide enough for
// a README and small enough to draw in a few milliseconds.
const (
	chartWidth  = 8 * vg.Inch
	chartHeight = 5 * vg.Inch
)

// chartFormats are the files each chart is saved as; plot.Save picks the
// encoder from the extension.
var chartFormats = []string{"png", "svg"}

// A chartSpec is one chart: a y figure against an x parameter, one line
// per engine, over the echo cells that keep. Name is the file name without
// extension.
type chartSpec struct {
	name, title    string
	xLabel, yLabel string
	logX           bool
	xTick          func(float64) string // tick label of an x value
	x, y           func(*result) float64
	keep           func(*result) bool
	// level, if set, picks cells drawn as a horizontal line per engine
	// across the chart instead of as points: the tuner's cells (bufsize
	// auto) on the tuning chart, which have no x of their own.
	level func(*result) bool
}

// writeCharts draws rep's charts into dir as PNG and SVG and returns the
// names of the files written, in order:
//
//   - msgs-vs-size-cN: messages/s against message size, one chart per
//     connection count, at the largest read-buffer size of the run;
//   - eff-vs-size-cN: messages per second of server CPU against message
//     size, the same cells: the figure engines are to be compared on;
//   - mbps-vs-bufsize-sS: MB/s against read-buffer size (the tuning chart),
//     one chart per message size, at the largest connection count; only
//     when the run has more than one buffer size;
//   - p99-vs-conns-sS: p99 latency against connections, one chart per
//     message size, at the largest buffer size; only when the run has more
//     than one connection count.
//
// Only cells with figures (ok or starved) are drawn: a failed or
// unavailable cell leaves a gap, never a point.
func writeCharts(dir string, rep *report) ([]string, error) {
	var echo []result
	for _, r := range rep.Results {
		if r.Kind == kindEcho && (r.Status == statusOK || r.Status == statusStarved) {
			echo = append(echo, r)
		}
	}
	// The parameters are taken from every echo cell, drawn or not, so that a
	// run's chart set does not depend on which cells failed.
	var sizes, bufs, conns []int
	for _, r := range rep.Results {
		if r.Kind == kindEcho {
			sizes, bufs, conns = addUniq(sizes, r.Size), addUniq(bufs, r.BufSize), addUniq(conns, r.Conns)
		}
	}
	if len(echo) == 0 {
		return nil, nil
	}
	sizeLabel := func(v float64) string { return fmtSize(int(v)) }
	intLabel := func(v float64) string { return fmt.Sprint(int(v)) }
	maxBuf, maxConns := slices.Max(bufs), slices.Max(conns)

	var specs []chartSpec
	for _, n := range conns {
		// By message size, one pair per connection count: msg/s and
		// msg/srv-CPU-s of the same cells.
		for _, m := range []struct {
			name, what, yLabel string
			y                  func(*result) float64
		}{
			{"msgs", "messages/s", "messages/s", func(r *result) float64 { return r.MsgsPerSec }},
			{"eff", "messages per server CPU-second", "msg/srv-CPU-s", (*result).eff},
		} {
			specs = append(specs, chartSpec{
				name:   fmt.Sprintf("%s-vs-size-c%d", m.name, n),
				title:  fmt.Sprintf("%s by message size, %d conns, bufsize %s", m.what, n, fmtSize(maxBuf)),
				xLabel: "message size (bytes)", yLabel: m.yLabel,
				logX: true, xTick: sizeLabel,
				x:    func(r *result) float64 { return float64(r.Size) },
				y:    m.y,
				keep: func(r *result) bool { return r.Conns == n && r.BufSize == maxBuf && m.y(r) > 0 },
			})
		}
	}
	if len(bufs) > 1 {
		for _, s := range sizes {
			specs = append(specs, chartSpec{
				name:   "mbps-vs-bufsize-s" + fmtSize(s),
				title:  fmt.Sprintf("MB/s by read-buffer size, %s messages, %d conns", fmtSize(s), maxConns),
				xLabel: "server read buffer (bytes)", yLabel: "MB/s (payload one way)",
				logX: true, xTick: sizeLabel,
				x:     func(r *result) float64 { return float64(r.BufSize) },
				y:     func(r *result) float64 { return r.MBPerSec },
				keep:  func(r *result) bool { return r.Size == s && r.Conns == maxConns && r.BufSize > 0 },
				level: func(r *result) bool { return r.Size == s && r.Conns == maxConns && r.BufSize == 0 },
			})
		}
	}
	if len(conns) > 1 {
		for _, s := range sizes {
			specs = append(specs, chartSpec{
				name:   "p99-vs-conns-s" + fmtSize(s),
				title:  fmt.Sprintf("p99 latency by connections, %s messages, bufsize %s", fmtSize(s), fmtSize(maxBuf)),
				xLabel: "connections", yLabel: "p99 latency (µs)",
				logX: true, xTick: intLabel,
				x:    func(r *result) float64 { return float64(r.Conns) },
				y:    func(r *result) float64 { return r.P99us },
				keep: func(r *result) bool { return r.Size == s && r.BufSize == maxBuf },
			})
		}
	}

	var files []string
	for _, spec := range specs {
		p, ok, err := spec.plot(echo)
		if err != nil {
			return files, err
		}
		if !ok {
			continue
		}
		for _, ext := range chartFormats {
			name := spec.name + "." + ext
			if err := p.Save(chartWidth, chartHeight, filepath.Join(dir, name)); err != nil {
				return files, fmt.Errorf("bench: chart %s: %w", name, err)
			}
			files = append(files, name)
		}
	}
	return files, nil
}

// plot draws spec over results; ok is false when no cell is kept.
func (spec *chartSpec) plot(results []result) (p *plot.Plot, ok bool, err error) {
	var engines []string
	lines := make(map[string]plotter.XYs)
	var xs []float64
	for i := range results {
		r := &results[i]
		if !spec.keep(r) {
			continue
		}
		x, y := spec.x(r), spec.y(r)
		if x <= 0 && spec.logX || math.IsNaN(y) || math.IsInf(y, 0) {
			continue
		}
		if _, seen := lines[r.Engine]; !seen {
			engines = append(engines, r.Engine)
		}
		lines[r.Engine] = append(lines[r.Engine], plotter.XY{X: x, Y: y})
		xs = addUniq(xs, x)
	}
	if len(xs) == 0 {
		return nil, false, nil
	}
	levels := make(map[string]float64)
	for i := range results {
		r := &results[i]
		if spec.level == nil || !spec.level(r) {
			continue
		}
		if y := spec.y(r); !math.IsNaN(y) && !math.IsInf(y, 0) {
			if _, seen := lines[r.Engine]; !seen {
				engines = addUniq(engines, r.Engine)
			}
			levels[r.Engine] = y
		}
	}
	slices.Sort(xs)

	p = plot.New()
	p.Title.Text = spec.title
	p.X.Label.Text, p.Y.Label.Text = spec.xLabel, spec.yLabel
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	for i, e := range engines {
		if xys := lines[e]; len(xys) > 0 {
			slices.SortFunc(xys, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
			l, pts, err := plotter.NewLinePoints(xys)
			if err != nil {
				return nil, false, fmt.Errorf("bench: chart %s: %w", spec.name, err)
			}
			l.Color = plotutil.Color(i)
			l.Dashes = plotutil.Dashes(i)
			pts.Color = plotutil.Color(i)
			pts.Shape = plotutil.Shape(i)
			p.Add(l, pts)
			p.Legend.Add(e, l, pts)
		}
		if y, ok := levels[e]; ok {
			l, err := plotter.NewLine(plotter.XYs{{X: xs[0], Y: y}, {X: xs[len(xs)-1], Y: y}})
			if err != nil {
				return nil, false, fmt.Errorf("bench: chart %s: %w", spec.name, err)
			}
			l.Color = plotutil.Color(i)
			l.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
			p.Add(l)
			p.Legend.Add(e+" auto", l)
		}
	}

	// Ticks at the measured values only, labelled as the flags spell them
	// (1k, 64k), and a margin on both sides so that a lone value still
	// spans an axis (a log axis cannot pad below zero by itself).
	ticks := make([]plot.Tick, len(xs))
	for i, x := range xs {
		ticks[i] = plot.Tick{Value: x, Label: spec.xTick(x)}
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	if spec.logX {
		p.X.Scale = plot.LogScale{}
		p.X.Min, p.X.Max = xs[0]/1.5, xs[len(xs)-1]*1.5
	} else {
		pad := max((xs[len(xs)-1]-xs[0])/20, 0.5)
		p.X.Min, p.X.Max = xs[0]-pad, xs[len(xs)-1]+pad
	}
	// Headroom above the highest point for the legend, a row per engine.
	p.Y.Min, p.Y.Max = 0, p.Y.Max*(1.15+0.06*float64(len(engines)))
	p.Y.Tick.Marker = shortTicks{}
	return p, true, nil
}

// shortTicks are plot's default ticks labelled short: 25k, not 25000.00.
type shortTicks struct{}

func (shortTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = shortNumber(ticks[i].Value)
		}
	}
	return ticks
}

// shortNumber writes v with a k or M suffix when it has one: 1.5k, 2M, 250.
func shortNumber(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case a >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// addUniq appends v to s unless s holds it.
func addUniq[T comparable](s []T, v T) []T {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}
