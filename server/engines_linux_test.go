//go:build linux

package server

func init() {
	engineCases = append(engineCases,
		engineCase{name: "threaded-syscall", engine: Threaded, mode: Syscall},
		engineCase{name: "evented", engine: Evented},
		engineCase{name: "evented-pool", engine: Evented, dispatch: Pool},
		engineCase{name: "evented-level", engine: Evented, level: true},
	)
}
