//go:build linux

package server

func init() {
	engineCases = append(engineCases,
		engineCase{name: "threaded-syscall", engine: ThreadedSyscall},
		engineCase{name: "evented", engine: Evented},
		engineCase{name: "evented-pool", engine: EventedPool},
		engineCase{name: "evented-level", engine: Evented, level: true},
	)
}
