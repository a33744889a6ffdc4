package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// dash stands for a figure a cell does not have.
const dash = "—"

// placementNote heads an unpinned run with one-connection cells: there a
// message wakes the other side's thread, and whether the two share a CPU
// decides the cell (on a 2-vCPU VM, 10x apart in msg/s for every engine,
// C loops included; docs/benchmarks.md, "One connection is a placement
// lottery").
const placementNote = "unpinned: a one-connection cell measures whether the scheduler put the server's thread and the client's on one CPU (up to 10x apart in msg/s) more than the engine; compare those cells with -pin, e.g. 1/1 and 0/1"

// writeMarkdown writes the run's facts and its results as Markdown tables:
// one for echo cells, one for handshake cells, one for idle-connection
// cells, then the engines side by side and the buffer-tuning table when
// the run compared engines and buffer sizes.
func writeMarkdown(w io.Writer, rep *report) error {
	var b strings.Builder
	m := rep.Machine
	fmt.Fprintf(&b, "machine: %s, %d cores, %s, %s, tcp_congestion_control %s  \n", m.CPU, m.Cores, m.Kernel, m.Go, m.CongestionControl)
	fmt.Fprintf(&b, "command: `%s`  \n", rep.Command)
	if rep.Pin != "" {
		fmt.Fprintf(&b, "pinned: server/client on CPUs %s  \n", rep.Pin)
	}
	var echo, idle, hs, files []result
	for _, r := range rep.Results {
		switch r.Kind {
		case kindIdle:
			idle = append(idle, r)
		case kindFile:
			files = append(files, r)
		case kindHandshake, kindResume:
			hs = append(hs, r)
		default:
			echo = append(echo, r)
		}
	}
	latency := "latency is per round trip"
	if len(echo) > 0 && echo[0].Pipeline > 1 {
		latency = fmt.Sprintf("%d messages in flight per connection (-pipeline), msg/s counts messages and latency is per message, from its write to its echo", echo[0].Pipeline)
	}
	fmt.Fprintf(&b, "each echo cell: %s warm-up, then a %s window; MB/s is payload one way (10^6 B); %s; client CPU is the bench process's CPU per wall second (100%% = one core)\n", rep.Warmup, rep.Duration, latency)
	if rep.Pin == "" && slices.ContainsFunc(echo, func(r result) bool { return r.Conns == 1 }) {
		b.WriteString(placementNote + "\n")
	}
	if rep.Rounds > 1 {
		fmt.Fprintf(&b, "%d rounds: each row is its cell's median round (by msg/s, conn/s or RSS per conn), whose range over the rounds follows in brackets; msg/srv-CPU-s (conn/srv-CPU-s) is the median of every round's, with its own range\n", rep.Rounds)
	}
	b.WriteString("\n")
	if len(echo) > 0 {
		// A run with UDP cells gets a lost column: datagrams given up,
		// and their share of those sent.
		withUDP := slices.ContainsFunc(echo, func(r result) bool { return r.UDP })
		lostHead, lostAlign := "", ""
		if withUDP {
			lostHead, lostAlign = " lost |", " ---: |"
		}
		b.WriteString("| engine | size | bufsize | conns | msg/s | MB/s | p50 µs | p99 µs | p99.9 µs | srv CPU s | msg/srv-CPU-s | client CPU | srv peak RSS | rt/conn min–max | errors |" + lostHead + " status |\n")
		b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |" + lostAlign + " --- |\n")
		for _, r := range echo {
			row := []string{r.Engine, fmtSize(r.Size), fmtBuf(r.BufSize), fmt.Sprint(r.Conns)}
			if r.Status == statusOK || r.Status == statusStarved {
				row = append(row,
					fmt.Sprintf("%.0f", r.MsgsPerSec)+roundRange(r, fmtRate),
					fmt.Sprintf("%.1f", r.MBPerSec),
					fmt.Sprintf("%.1f", r.P50us),
					fmt.Sprintf("%.1f", r.P99us),
					fmt.Sprintf("%.1f", r.P999us),
					orDash(r.ServerCPUSec > 0, "%.2f", r.ServerCPUSec),
					fmtEff(r),
					fmt.Sprintf("%.0f%%", 100*r.ClientCPUShare),
					orDash(r.ServerPeakRSS > 0, "%s", fmtMiB(r.ServerPeakRSS)),
					fmt.Sprintf("%d–%d", r.MinPerConn, r.MaxPerConn),
				)
			} else {
				row = append(row, dash, dash, dash, dash, dash, dash, dash, dash, dash, dash)
			}
			row = append(row, fmt.Sprint(r.Errors))
			if withUDP {
				row = append(row, fmtLost(r))
			}
			row = append(row, statusText(r))
			fmt.Fprintf(&b, "| %s |\n", strings.Join(row, " | "))
		}
	}
	if len(hs) > 0 {
		if len(echo) > 0 {
			b.WriteString("\n")
		}
		b.WriteString("| engine | TLS handshake | clients | conn/s | p50 µs | p99 µs | srv CPU s | conn/srv-CPU-s | client CPU | errors | status |\n")
		b.WriteString("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")
		for _, r := range hs {
			kind := "full"
			if r.Kind == kindResume {
				kind = "resumed"
			}
			row := []string{r.Engine, kind, fmt.Sprint(r.Conns)}
			if r.Status == statusOK || r.Status == statusStarved {
				row = append(row,
					fmt.Sprintf("%.0f", r.MsgsPerSec)+roundRange(r, fmtRate),
					fmt.Sprintf("%.1f", r.P50us),
					fmt.Sprintf("%.1f", r.P99us),
					orDash(r.ServerCPUSec > 0, "%.2f", r.ServerCPUSec),
					fmtEff(r),
					fmt.Sprintf("%.0f%%", 100*r.ClientCPUShare),
				)
			} else {
				row = append(row, dash, dash, dash, dash, dash, dash)
			}
			row = append(row, fmt.Sprint(r.Errors), statusText(r))
			fmt.Fprintf(&b, "| %s |\n", strings.Join(row, " | "))
		}
	}
	if len(idle) > 0 {
		if len(echo) > 0 || len(hs) > 0 {
			b.WriteString("\n")
		}
		b.WriteString("| engine | bufsize | idle conns | RSS before | RSS after | RSS per conn | srv peak RSS | errors | status |\n")
		b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")
		for _, r := range idle {
			row := []string{r.Engine, fmtBuf(r.BufSize), fmt.Sprint(r.Conns)}
			if r.Status == statusOK {
				row = append(row, fmtMiB(r.RSSBefore), fmtMiB(r.RSSAfter), fmtPerConn(r.RSSPerConn)+roundRange(r, fmtPerConn),
					orDash(r.ServerPeakRSS > 0, "%s", fmtMiB(r.ServerPeakRSS)))
			} else {
				row = append(row, dash, dash, dash, dash)
			}
			row = append(row, fmt.Sprint(r.Errors), statusText(r))
			fmt.Fprintf(&b, "| %s |\n", strings.Join(row, " | "))
		}
	}
	if len(files) > 0 {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		writeFiles(&b, files)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if err := writeSummary(w, echo); err != nil {
		return err
	}
	pairs, err := parsePairs(strings.Join(rep.Compare, ","))
	if err != nil {
		return err
	}
	if err := writePaired(w, echo, pairs); err != nil {
		return err
	}
	// Read-buffer tuning is about TCP: a UDP cell runs at one buffer,
	// udpBufSize, whatever -bufsizes says.
	return writeTuning(w, slices.DeleteFunc(slices.Clone(echo), func(r result) bool { return r.UDP }))
}

// roundRange is " (min–max)" of r's figure over its rounds, each written
// by f, or "" for a single round.
func roundRange(r result, f func(float64) string) string {
	if r.Rounds < 2 {
		return ""
	}
	return " (" + f(r.RoundMin) + "–" + f(r.RoundMax) + ")"
}

// fmtEff writes a cell's msg/srv-CPU-s: the median over its rounds with
// their range, or its one round's; a dash when it could not be read.
func fmtEff(r result) string {
	switch {
	case r.EffMedian > 0:
		return fmt.Sprintf("%.0f (%s–%s)", r.EffMedian, fmtRate(r.EffMin), fmtRate(r.EffMax))
	case r.MsgsPerCPUSec > 0:
		return fmt.Sprintf("%.0f", r.MsgsPerCPUSec)
	}
	return dash
}

// fmtLost writes a UDP cell's lost datagrams and their share of those
// sent in the window, "12 (0.03%)"; a dash for a TCP cell or one without
// figures.
func fmtLost(r result) string {
	switch {
	case !r.UDP || (r.Status != statusOK && r.Status != statusStarved):
		return dash
	case r.Lost == 0:
		return "0"
	}
	return fmt.Sprintf("%d (%.2g%%)", r.Lost, 100*float64(r.Lost)/float64(r.Lost+r.RoundTrips))
}

// fmtRate writes a rate to about three digits: 987, 61.7k, 1.23M.
func fmtRate(v float64) string {
	suffix, a := "", math.Abs(v)
	switch {
	case a >= 999.5e3:
		v, a, suffix = v/1e6, a/1e6, "M"
	case a >= 999.5:
		v, a, suffix = v/1e3, a/1e3, "k"
	}
	digits := 0
	switch {
	case suffix == "":
	case a < 9.995:
		digits = 2
	case a < 99.95:
		digits = 1
	}
	return strconv.FormatFloat(v, 'f', digits, 64) + suffix
}

// statusText is a cell's status as the table shows it: starved and failed
// cells stand out.
func statusText(r result) string {
	switch r.Status {
	case statusStarved:
		return fmt.Sprintf("STARVED %d/%d", r.Starved, r.Conns)
	case statusFailed:
		return "FAILED: " + shortErr(r.Error)
	case statusUnavailable:
		return "unavailable: " + shortErr(r.Error)
	}
	if r.Note != "" {
		return r.Status + " (" + shortErr(r.Note) + ")"
	}
	return r.Status
}

func orDash(ok bool, format string, v any) string {
	if !ok {
		return dash
	}
	return fmt.Sprintf(format, v)
}

// fmtBuf writes a read-buffer size as -bufsizes spells it: 0 is "auto",
// the tuner.
func fmtBuf(n int) string {
	if n == 0 {
		return "auto"
	}
	return fmtSize(n)
}

// fmtSize writes a byte count with a binary suffix when it is a whole
// number of KiB or MiB: 64, 1k, 64k, 1m.
func fmtSize(n int) string {
	switch {
	case n == 0:
		return dash
	case n%(1<<20) == 0:
		return fmt.Sprintf("%dm", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%dk", n>>10)
	}
	return fmt.Sprint(n)
}

func fmtMiB(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func fmtPerConn(b float64) string {
	if b >= 10<<10 || b <= -10<<10 {
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}

// writeFiles writes the file cells' table, then sendfile against copy for
// each engine and workload: the ratio of their MB per server CPU-second
// and of their MB/s.
func writeFiles(b *strings.Builder, files []result) {
	b.WriteString("| engine | file | conns | files/s | MB/s | srv CPU s | MB/srv-CPU-s | srv peak RSS | errors | status |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")
	for _, r := range files {
		row := []string{r.Engine, fmtSize(r.Size), fmt.Sprint(r.Conns)}
		if r.Status == statusOK || r.Status == statusStarved {
			row = append(row,
				fmt.Sprintf("%.1f", r.MsgsPerSec)+roundRange(r, fmtRate),
				fmt.Sprintf("%.0f", r.MBPerSec),
				orDash(r.ServerCPUSec > 0, "%.2f", r.ServerCPUSec),
				orDash(fileEff(r) > 0, "%.0f", fileEff(r)),
				orDash(r.ServerPeakRSS > 0, "%s", fmtMiB(r.ServerPeakRSS)))
		} else {
			row = append(row, dash, dash, dash, dash, dash)
		}
		row = append(row, fmt.Sprint(r.Errors), statusText(r))
		fmt.Fprintf(b, "| %s |\n", strings.Join(row, " | "))
	}
	type key struct {
		engine      string
		size, conns int
	}
	copies := make(map[key]result)
	for _, r := range files {
		if r.Method == methodCopy && r.Status == statusOK {
			copies[key{strings.TrimSuffix(r.Engine, "/"+methodCopy), r.Size, r.Conns}] = r
		}
	}
	head := false
	for _, r := range files {
		if r.Method != methodSendfile || r.Status != statusOK {
			continue
		}
		engine := strings.TrimSuffix(r.Engine, "/"+methodSendfile)
		c, ok := copies[key{engine, r.Size, r.Conns}]
		if !ok || fileEff(c) == 0 || fileEff(r) == 0 || c.MBPerSec == 0 {
			continue
		}
		if !head {
			b.WriteString("\n| engine | file | conns | sendfile / copy, MB/srv-CPU-s | sendfile / copy, MB/s |\n| --- | ---: | ---: | ---: | ---: |\n")
			head = true
		}
		fmt.Fprintf(b, "| %s | %s | %d | %.2f | %.2f |\n", engine, fmtSize(r.Size), r.Conns, fileEff(r)/fileEff(c), r.MBPerSec/c.MBPerSec)
	}
}

// fileEff is a file cell's MB (10^6 B) per server CPU-second: the median
// over its rounds when it has them.
func fileEff(r result) float64 {
	files := r.MsgsPerCPUSec
	if r.EffMedian > 0 {
		files = r.EffMedian
	}
	return files * float64(r.Size) / 1e6
}

// statusWord is a cell's status as the tables write it.
func statusWord(r *result) string {
	switch r.Status {
	case statusStarved:
		return "STARVED"
	case statusFailed:
		return "FAILED"
	}
	return r.Status
}
