//go:build linux

package rpc_test

import "github.com/sockpool/sockpool/server"

func init() {
	engineCases = append(engineCases,
		engineCase{name: "evented", engine: server.Evented},
		engineCase{name: "evented-pool", engine: server.EventedPool},
	)
}
