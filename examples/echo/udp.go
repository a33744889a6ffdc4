package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/sockpool/sockpool/examples/internal/servercmd"
	"github.com/sockpool/sockpool/packet"
)

// udpFlags are the flags that mean something with -network udp. Any other
// flag set with it is refused, not ignored: the TCP engines quietly ignore
// one another's flags (-loops with -engine threaded), which costs nothing,
// but ignoring -tls-self-signed, -allow or -proxy-protocol here would serve
// plaintext to everyone while the command line says otherwise.
var udpFlags = map[string]bool{
	"addr": true, "network": true, "shutdown-timeout": true, "log": true, "workers": true,
}

// isUDP reports whether network asks for the UDP echo.
func isUDP(network string) bool { return strings.HasPrefix(network, "udp") }

// runUDP echoes datagrams with packet.Server until SIGINT or SIGTERM, then
// shuts down gracefully. fs has been parsed.
func runUDP(fs *flag.FlagSet, network, addr string, grace time.Duration, workers int, log *slog.Logger) error {
	var refused []string
	fs.Visit(func(f *flag.Flag) {
		if !udpFlags[f.Name] {
			refused = append(refused, "-"+f.Name)
		}
	})
	if len(refused) > 0 {
		return fmt.Errorf("-network %s takes only -addr, -workers, -shutdown-timeout and -log, not %s", network, strings.Join(refused, ", "))
	}
	switch network {
	case "udp", "udp4", "udp6":
	default:
		return fmt.Errorf("unknown network %q (want tcp, unix, udp, udp4 or udp6)", network)
	}
	srv := &packet.Server{
		Handler: packet.HandlerFunc(func(w packet.Writer, p []byte, from netip.AddrPort) { w.WriteTo(p, from) }),
		Workers: workers,
		Logger:  log,
	}

	sig, stopSignals := servercmd.Signals()
	defer stopSignals()

	pc, err := net.ListenPacket(network, addr)
	if err != nil {
		return err
	}
	fmt.Printf("listening %s %s\n", pc.LocalAddr().Network(), pc.LocalAddr())
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(pc) }()
	hup := func() { fmt.Fprintln(os.Stderr, "echo: SIGHUP: nothing to reload over UDP") }
	if err := servercmd.UntilStop(sig, serveErr, hup); err != nil {
		return err
	}
	return servercmd.StopGracefully(grace, srv.Shutdown, serveErr, packet.ErrServerClosed)
}
