package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/sockpool/sockpool/packet"
)

// startDatagram starts the UDP echo server mode on addr: packet, sockpool's
// packet.Server with its defaults (recvmmsg batches, a worker pool) and
// datagrams of up to bufSize bytes, or net, the baseline, one goroutine
// reading into a buffer of bufSize. Each echoes every datagram to its
// sender. It returns what startStream does.
func startDatagram(mode, addr string, bufSize int) (net.Addr, <-chan error, func(context.Context) error, error) {
	if mode != "packet" && mode != "net" {
		return nil, nil, nil, fmt.Errorf("bench: serve mode %q has no UDP server (packet and net have)", mode)
	}
	if bufSize < 1 {
		return nil, nil, nil, fmt.Errorf("bench: a UDP server needs a read buffer, got -bufsize %d", bufSize)
	}
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("listen: %w", err)
	}
	serveErr := make(chan error, 1)
	var stop func(context.Context) error
	switch mode {
	case "packet":
		srv := &packet.Server{
			Handler: packet.HandlerFunc(func(w packet.Writer, p []byte, from netip.AddrPort) {
				w.WriteTo(p, from)
			}),
			MaxPacketSize: min(bufSize, packet.MaxPacketSizeLimit),
		}
		go func() { serveErr <- srv.Serve(pc) }()
		stop = func(ctx context.Context) error {
			err := srv.Shutdown(ctx)
			if serr := <-serveErr; !errors.Is(serr, packet.ErrServerClosed) && err == nil {
				err = serr
			}
			return err
		}
	case "net":
		buf := make([]byte, bufSize)
		conn := pc.(*net.UDPConn)
		go func() { serveErr <- echoDatagrams(conn, buf) }()
		stop = func(context.Context) error {
			pc.Close()
			return <-serveErr
		}
	}
	return pc.LocalAddr(), serveErr, stop, nil
}

// echoDatagrams is the UDP baseline: one goroutine that reads a datagram
// into buf and writes it back to its sender, until conn is closed (then it
// returns nil). It uses the AddrPort forms of ReadFrom and WriteTo, which
// allocate nothing per datagram, so the baseline is the plain loop a Go
// programmer writes, not one slowed by an address allocated per read.
func echoDatagrams(conn *net.UDPConn, buf []byte) error {
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		// A reply that fails otherwise is a datagram lost, which the
		// client counts.
		if _, err := conn.WriteToUDPAddrPort(buf[:n], from); errors.Is(err, net.ErrClosed) {
			return nil
		}
	}
}
