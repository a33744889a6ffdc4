package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestParsePin(t *testing.T) {
	t.Parallel()
	p, err := parsePin("0/0")
	if err != nil || !slices.Equal(p.server, []int{0}) || !slices.Equal(p.client, []int{0}) {
		t.Errorf("parsePin(0/0) = %+v, %v", p, err)
	}
	if p, err := parsePin(""); p != nil || err != nil {
		t.Errorf("parsePin(\"\") = %+v, %v; want no pinning", p, err)
	}
	if runtime.NumCPU() >= 2 {
		if cpus, err := parseCPUList("0-1"); err != nil || !slices.Equal(cpus, []int{0, 1}) {
			t.Errorf("parseCPUList(0-1) = %v, %v", cpus, err)
		}
	}
	for _, bad := range []string{"0", "x/0", "0/1-0", "0/-1", "0/99999"} {
		if _, err := parsePin(bad); err == nil {
			t.Errorf("parsePin(%q) did not fail", bad)
		}
	}
}

func TestPinProcess(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("sleep", "10")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep command:", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if err := pinProcess(cmd.Process.Pid, []int{0}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "Cpus_allowed_list:\t0\n") {
		t.Errorf("after pinning to CPU 0, status says:\n%s", b)
	}
}
