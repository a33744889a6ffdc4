package rpc_test

import "github.com/sockpool/sockpool/server"

// engineCase is one server configuration the tests run on.
type engineCase struct {
	name   string
	engine server.Engine
}

// engineCases lists the engines of every OS; engines_linux_test.go adds
// the evented ones.
var engineCases = []engineCase{
	{name: "threaded", engine: server.Threaded},
}
