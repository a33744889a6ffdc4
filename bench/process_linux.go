package main

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal makes the kernel kill the server if the bench process
// dies without stopping it, so that no server outlives an interrupted run.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
