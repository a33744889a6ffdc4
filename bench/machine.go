package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// machineInfo is what a result depends on besides the code: machine.txt and
// the "machine" object of results.json.
type machineInfo struct {
	Host              string `json:"host"`
	CPU               string `json:"cpu"`
	Cores             int    `json:"cores"`
	GOMAXPROCS        int    `json:"gomaxprocs"`
	Kernel            string `json:"kernel"`
	Go                string `json:"go"`
	CongestionControl string `json:"tcp_congestion_control"`
	FileLimit         uint64 `json:"file_limit"`
}

// readMachine gathers the machine's facts. A fact it cannot read is
// "unknown", never an error: the run is still worth having.
func readMachine() machineInfo {
	host, _ := os.Hostname()
	return machineInfo{
		Host:              host,
		CPU:               cpuModel(),
		Cores:             runtime.NumCPU(),
		GOMAXPROCS:        runtime.GOMAXPROCS(0),
		Kernel:            kernel(),
		Go:                runtime.Version(),
		CongestionControl: readLine("/proc/sys/net/ipv4/tcp_congestion_control"),
		FileLimit:         fileLimit(),
	}
}

// write writes m as "key: value" lines.
func (m machineInfo) write(w io.Writer) error {
	_, err := fmt.Fprintf(w, "host: %s\ncpu: %s\ncores: %d\ngomaxprocs: %d\nkernel: %s\ngo: %s\ntcp_congestion_control: %s\nfile_limit: %d\n",
		m.Host, m.CPU, m.Cores, m.GOMAXPROCS, m.Kernel, m.Go, m.CongestionControl, m.FileLimit)
	return err
}

// cpuModel returns the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// kernel returns `uname -srm`, or the kernel release from /proc.
func kernel() string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "uname", "-srm").Output(); err == nil {
		return strings.TrimSpace(string(out))
	}
	return readLine("/proc/sys/kernel/osrelease")
}

// readLine returns the trimmed content of a one-line file, or "unknown".
func readLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}
