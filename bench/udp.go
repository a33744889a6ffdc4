package main

import "slices"

// maxDatagram is the largest UDP payload over IPv4: a 65,535-byte packet
// less its IP (20) and UDP (8) headers. -sizes above it are refused for
// UDP cells.
const maxDatagram = 65507

// udpBufSize is the read buffer of every UDP cell's server, whatever
// -bufsizes says: a datagram is read whole or not at all, so each server
// reads into a buffer that holds the largest one. (A read buffer smaller
// than the datagrams would measure losses, not a server.)
const udpBufSize = 64 << 10

// udpEngines are the engines with a UDP echo server in bench: sockpool's
// packet.Server, the net baseline (one ReadFrom/WriteTo loop) and gnet's
// UDP server. The others get UDP cells that say they are unavailable.
var udpEngines = []string{"packet", "net", "gnet"}

// udpEngine reports whether engine has a UDP echo server in bench.
func udpEngine(engine string) bool { return slices.Contains(udpEngines, engine) }

// udpLabel is the engine name a UDP cell is reported under, so that its
// table rows, columns and chart lines stand apart from the TCP ones.
func udpLabel(engine string) string { return engine + "/udp" }
