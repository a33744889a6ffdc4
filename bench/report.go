package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// Cell kinds.
const (
	kindEcho = "echo" // closed-loop echo throughput and latency
	kindIdle = "idle" // memory held by idle connections
	// TLS handshake cells: connections per second, each a new connection,
	// a handshake, one echo and a close.
	kindHandshake = "handshake" // full handshakes
	kindResume    = "resume"    // resumed sessions
	// File cells: each connection downloads a file over and over (-file).
	kindFile = "file"
)

// Cell statuses.
const (
	statusOK          = "ok"
	statusStarved     = "starved"     // some connection completed no round trip: numbers shown, flagged
	statusFailed      = "failed"      // wrong data or an error: no numbers shown
	statusUnavailable = "unavailable" // the engine could not be run (a peer that did not build)
)

// A result is one cell of the matrix. Figures a cell did not measure are
// zero; a failed cell has none but Errors and Error.
type result struct {
	Kind    string `json:"kind"`
	Engine  string `json:"engine"`
	Size    int    `json:"size,omitempty"` // message bytes (echo)
	BufSize int    `json:"bufsize"`        // server read buffer bytes
	Conns   int    `json:"conns"`          // connections (echo: closed loops; idle: held open)
	// Pipeline is the messages in flight per connection (echo; -pipeline).
	Pipeline int  `json:"pipeline,omitempty"`
	TLS      bool `json:"tls,omitempty"` // the connections were TLS (Engine then ends in "+tls")
	UDP      bool `json:"udp,omitempty"` // the clients were UDP sockets (Engine then ends in "/udp")
	// Method is how a file cell's server sent the file, sendfile or copy
	// (Engine then ends in "/" and the method); Size is the file's.
	Method string `json:"method,omitempty"`
	Status string `json:"status"`
	Error  string `json:"error,omitempty"` // the first error, or why the cell is unavailable
	Note   string `json:"note,omitempty"`  // a figure that could not be read
	Errors int64  `json:"errors"`

	// Echo cells.
	WindowSec      float64 `json:"window_s,omitempty"`
	RoundTrips     int64   `json:"round_trips,omitempty"`
	MsgsPerSec     float64 `json:"msgs_per_s,omitempty"`
	MBPerSec       float64 `json:"mb_per_s,omitempty"` // payload one way, 10^6 bytes
	P50us          float64 `json:"p50_us,omitempty"`
	P99us          float64 `json:"p99_us,omitempty"`
	P999us         float64 `json:"p999_us,omitempty"`
	ServerCPUSec   float64 `json:"server_cpu_s,omitempty"`
	MsgsPerCPUSec  float64 `json:"msgs_per_server_cpu_s,omitempty"`
	ClientCPUShare float64 `json:"client_cpu_share,omitempty"` // bench CPU seconds per wall second (1 = one core)
	Starved        int     `json:"starved,omitempty"`
	// Lost is the UDP datagrams given up in the window: no echo came
	// within the loss timeout. Loss is not an error (UDP may lose
	// datagrams), so a cell with losses keeps its figures.
	Lost       int64 `json:"lost,omitempty"`
	MinPerConn int64 `json:"min_per_conn,omitempty"`
	MaxPerConn int64 `json:"max_per_conn,omitempty"`

	// Both kinds.
	ServerPeakRSS int64 `json:"server_peak_rss,omitempty"` // bytes, VmHWM

	// Idle cells.
	RSSBefore  int64   `json:"rss_before,omitempty"` // bytes, VmRSS with one connection
	RSSAfter   int64   `json:"rss_after,omitempty"`  // bytes, VmRSS with Conns more
	RSSPerConn float64 `json:"rss_per_conn,omitempty"`

	// With -rounds N > 1 every figure above is from the cell's median
	// round; these give every round's main figure (msg/s, conn/s or RSS
	// per connection, see result.figure), in the order the rounds ran,
	// and their range.
	Rounds      int       `json:"rounds,omitempty"`
	RoundValues []float64 `json:"round_values,omitempty"`
	RoundMin    float64   `json:"round_min,omitempty"`
	RoundMax    float64   `json:"round_max,omitempty"`
	// With -rounds N > 1, every round's msg/srv-CPU-s (conn/srv-CPU-s), in
	// order, and their median and range. The round with the median msg/s
	// need not have the median efficiency, and efficiency is what tells
	// engines apart, so its own median is what the tables show.
	EffRoundValues []float64 `json:"eff_round_values,omitempty"`
	EffMedian      float64   `json:"eff_median,omitempty"`
	EffMin         float64   `json:"eff_min,omitempty"`
	EffMax         float64   `json:"eff_max,omitempty"`
}

// eff is the cell's messages (connections) per server CPU-second: the
// median over its rounds, or its one round's.
func (r *result) eff() float64 {
	if r.EffMedian > 0 {
		return r.EffMedian
	}
	return r.MsgsPerCPUSec
}

// A workload is what an echo cell's clients do, whatever the engine and
// its read buffer: the message size and the number of connections.
type workload struct{ size, conns int }

// workload is r's message size and connections.
func (r *result) workload() workload { return workload{r.Size, r.Conns} }

// echoWorkloads lists the workloads of results' echo cells, each once, in
// the order they first appear.
func echoWorkloads(results []result) []workload {
	var loads []workload
	for i := range results {
		if results[i].Kind == kindEcho {
			loads = addUniq(loads, results[i].workload())
		}
	}
	return loads
}

// A report is a whole run: what results.json holds.
type report struct {
	Command  string    `json:"command"`
	Started  time.Time `json:"started"`
	Warmup   string    `json:"warmup"`
	Pin      string    `json:"pin,omitempty"` // -pin SERVER/CLIENT CPU lists
	Duration string    `json:"duration"`
	Rounds   int       `json:"rounds,omitempty"` // -rounds, when over 1
	// Compare is -compare's pairs, "A/B", whose ratios follow the tables.
	Compare []string      `json:"compare,omitempty"`
	Machine machineInfo   `json:"machine"`
	Results []result      `json:"results"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

// fillEcho sets r's figures from what the generator measured. A cell with
// any error gets none: wrong or partial data is never shown as a number.
func (r *result) fillEcho(lr *loadResult) {
	r.Errors = lr.Errors
	if lr.FirstErr != nil {
		r.Status, r.Error = statusFailed, lr.FirstErr.Error()
		return
	}
	secs := lr.Window.Seconds()
	r.WindowSec = secs
	r.MinPerConn, r.MaxPerConn = -1, 0
	for _, n := range lr.PerConn {
		r.RoundTrips += n
		if n == 0 {
			r.Starved++
		}
		if r.MinPerConn < 0 || n < r.MinPerConn {
			r.MinPerConn = n
		}
		r.MaxPerConn = max(r.MaxPerConn, n)
	}
	if len(lr.PerConn) == 0 {
		r.MinPerConn = 0
	}
	r.MsgsPerSec = float64(r.RoundTrips) / secs
	r.MBPerSec = r.MsgsPerSec * float64(r.Size) / 1e6
	r.P50us = float64(lr.Hist.ValueAtQuantile(50)) / 1e3
	r.P99us = float64(lr.Hist.ValueAtQuantile(99)) / 1e3
	r.P999us = float64(lr.Hist.ValueAtQuantile(99.9)) / 1e3
	r.ClientCPUShare = lr.ClientCPU.Seconds() / secs
	if lr.CPUErr != nil {
		r.Note = lr.CPUErr.Error()
	} else if lr.ServerCPU > 0 {
		r.ServerCPUSec = lr.ServerCPU.Seconds()
		r.MsgsPerCPUSec = float64(r.RoundTrips) / r.ServerCPUSec
	}
	r.Lost = lr.Lost
	r.Status = statusOK
	if r.Starved > 0 {
		r.Status = statusStarved
	}
}

// fillIdle sets r's figures from an idle-connection cell.
func (r *result) fillIdle(ir *idleResult) {
	r.Errors = ir.Errors
	if ir.FirstErr != nil {
		r.Status, r.Error = statusFailed, ir.FirstErr.Error()
		return
	}
	r.RSSBefore, r.RSSAfter = ir.RSSBefore, ir.RSSAfter
	r.RSSPerConn = float64(ir.RSSAfter-ir.RSSBefore) / float64(r.Conns)
	r.Status = statusOK
}

// fail marks r failed with err, dropping any figure it had.
func (r *result) fail(err error) {
	*r = result{Kind: r.Kind, Engine: r.Engine, Size: r.Size, BufSize: r.BufSize, Conns: r.Conns,
		Pipeline: r.Pipeline, UDP: r.UDP, Method: r.Method, Errors: max(r.Errors, 1), Status: statusFailed, Error: err.Error()}
}

// writeJSON writes rep to path, indented.
func writeJSON(path string, rep *report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	return nil
}

// readJSON reads a report that writeJSON wrote.
func readJSON(path string) (*report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("results: %s: %w", path, err)
	}
	return &rep, nil
}

// A column is one field of results.csv, both ways.
type column struct {
	name string
	get  func(*result) string
	set  func(*result, string) error
}

func strCol(name string, f func(*result) *string) column {
	return column{name,
		func(r *result) string { return *f(r) },
		func(r *result, s string) error { *f(r) = s; return nil }}
}

func intCol[T int | int64](name string, f func(*result) *T) column {
	return column{name,
		func(r *result) string { return strconv.FormatInt(int64(*f(r)), 10) },
		func(r *result, s string) error {
			n, err := strconv.ParseInt(s, 10, 64)
			*f(r) = T(n)
			return err
		}}
}

func boolCol(name string, f func(*result) *bool) column {
	return column{name,
		func(r *result) string { return strconv.FormatBool(*f(r)) },
		func(r *result, s string) error {
			v, err := strconv.ParseBool(s)
			*f(r) = v
			return err
		}}
}

func floatCol(name string, f func(*result) *float64) column {
	return column{name,
		func(r *result) string { return strconv.FormatFloat(*f(r), 'g', -1, 64) },
		func(r *result, s string) error {
			v, err := strconv.ParseFloat(s, 64)
			*f(r) = v
			return err
		}}
}

// floatsCol is a list of numbers in one field, separated by spaces.
func floatsCol(name string, f func(*result) *[]float64) column {
	return column{name,
		func(r *result) string {
			parts := make([]string, len(*f(r)))
			for i, v := range *f(r) {
				parts[i] = strconv.FormatFloat(v, 'g', -1, 64)
			}
			return strings.Join(parts, " ")
		},
		func(r *result, s string) error {
			*f(r) = nil
			for _, part := range strings.Fields(s) {
				v, err := strconv.ParseFloat(part, 64)
				if err != nil {
					return err
				}
				*f(r) = append(*f(r), v)
			}
			return nil
		}}
}

// csvColumns are results.csv's columns, in order; their names are the
// JSON field names.
var csvColumns = []column{
	strCol("kind", func(r *result) *string { return &r.Kind }),
	strCol("engine", func(r *result) *string { return &r.Engine }),
	intCol("size", func(r *result) *int { return &r.Size }),
	strCol("method", func(r *result) *string { return &r.Method }),
	intCol("bufsize", func(r *result) *int { return &r.BufSize }),
	intCol("conns", func(r *result) *int { return &r.Conns }),
	intCol("pipeline", func(r *result) *int { return &r.Pipeline }),
	boolCol("udp", func(r *result) *bool { return &r.UDP }),
	strCol("status", func(r *result) *string { return &r.Status }),
	intCol("errors", func(r *result) *int64 { return &r.Errors }),
	floatCol("window_s", func(r *result) *float64 { return &r.WindowSec }),
	intCol("round_trips", func(r *result) *int64 { return &r.RoundTrips }),
	floatCol("msgs_per_s", func(r *result) *float64 { return &r.MsgsPerSec }),
	floatCol("mb_per_s", func(r *result) *float64 { return &r.MBPerSec }),
	floatCol("p50_us", func(r *result) *float64 { return &r.P50us }),
	floatCol("p99_us", func(r *result) *float64 { return &r.P99us }),
	floatCol("p999_us", func(r *result) *float64 { return &r.P999us }),
	floatCol("server_cpu_s", func(r *result) *float64 { return &r.ServerCPUSec }),
	floatCol("msgs_per_server_cpu_s", func(r *result) *float64 { return &r.MsgsPerCPUSec }),
	floatCol("client_cpu_share", func(r *result) *float64 { return &r.ClientCPUShare }),
	intCol("starved", func(r *result) *int { return &r.Starved }),
	intCol("lost", func(r *result) *int64 { return &r.Lost }),
	intCol("min_per_conn", func(r *result) *int64 { return &r.MinPerConn }),
	intCol("max_per_conn", func(r *result) *int64 { return &r.MaxPerConn }),
	intCol("server_peak_rss", func(r *result) *int64 { return &r.ServerPeakRSS }),
	intCol("rss_before", func(r *result) *int64 { return &r.RSSBefore }),
	intCol("rss_after", func(r *result) *int64 { return &r.RSSAfter }),
	floatCol("rss_per_conn", func(r *result) *float64 { return &r.RSSPerConn }),
	intCol("rounds", func(r *result) *int { return &r.Rounds }),
	floatsCol("round_values", func(r *result) *[]float64 { return &r.RoundValues }),
	floatCol("round_min", func(r *result) *float64 { return &r.RoundMin }),
	floatCol("round_max", func(r *result) *float64 { return &r.RoundMax }),
	floatsCol("eff_round_values", func(r *result) *[]float64 { return &r.EffRoundValues }),
	floatCol("eff_median", func(r *result) *float64 { return &r.EffMedian }),
	floatCol("eff_min", func(r *result) *float64 { return &r.EffMin }),
	floatCol("eff_max", func(r *result) *float64 { return &r.EffMax }),
	strCol("error", func(r *result) *string { return &r.Error }),
	strCol("note", func(r *result) *string { return &r.Note }),
}

// writeCSV writes results as CSV with a header row.
func writeCSV(w io.Writer, results []result) error {
	cw := csv.NewWriter(w)
	row := make([]string, len(csvColumns))
	for i, c := range csvColumns {
		row[i] = c.name
	}
	cw.Write(row)
	for i := range results {
		for j, c := range csvColumns {
			row[j] = c.get(&results[i])
		}
		cw.Write(row)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("results csv: %w", err)
	}
	return nil
}

// readCSV reads results that writeCSV wrote. Columns are found by name, so
// a file with columns added later still reads.
func readCSV(r io.Reader) ([]result, error) {
	rows, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("results csv: %w", err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("results csv: no header")
	}
	index := make(map[string]int)
	for i, name := range rows[0] {
		index[name] = i
	}
	var out []result
	for n, row := range rows[1:] {
		var res result
		for _, c := range csvColumns {
			i, ok := index[c.name]
			if !ok {
				continue
			}
			if err := c.set(&res, row[i]); err != nil {
				return nil, fmt.Errorf("results csv: row %d, %s: %w", n+2, c.name, err)
			}
		}
		out = append(out, res)
	}
	return out, nil
}

// writeFile creates path and lets write fill it.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// shortErr cuts an error message for a table cell.
func shortErr(s string) string {
	s = strings.ReplaceAll(s, "|", "/")
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}
