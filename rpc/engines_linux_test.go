//go:build linux

package rpc_test

import "github.com/sockpool/sockpool/server"

func init() {
	engineCases = append(engineCases,
		engineCase{name: "evented", engine: server.Evented},
		engineCase{name: "evented-pool", engine: server.EventedPool},
	)
	// uring where io_uring runs; elsewhere the row is left out.
	if server.Uring.Supported() == nil {
		engineCases = append(engineCases, engineCase{name: "uring", engine: server.Uring})
	}
}
