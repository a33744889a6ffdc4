package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// testUDPServer runs an in-process UDP server on loopback that answers the
// k-th datagram it reads (k from 0, over all senders) with the datagrams
// reply(k, p) returns, none to drop it. The socket is closed and the
// goroutine waited for when the test ends.
func testUDPServer(t *testing.T, reply func(k int, p []byte) [][]byte) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, maxDatagram+1)
		for k := 0; ; k++ {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			for _, p := range reply(k, buf[:n]) {
				pc.WriteTo(p, from)
			}
		}
	})
	t.Cleanup(func() {
		pc.Close()
		wg.Wait()
	})
	return pc.LocalAddr().String()
}

func udpEcho(_ int, p []byte) [][]byte { return [][]byte{p} }

// TestLoadUDP runs the UDP client loop against in-process servers: a good
// echo passes with nothing lost at 1 B and at the largest datagram; a
// server that drops every other datagram loses some, which are counted
// while the run completes with figures; an echo that comes after its
// datagram was given up is skipped; a flipped byte, a short and a long
// echo fail the cell.
func TestLoadUDP(t *testing.T) {
	t.Parallel()
	var held []byte // the datagram the late server answers late
	cases := []struct {
		name     string
		size     int
		conns    int
		reply    func(k int, p []byte) [][]byte
		wantErr  error // nil: the cell must pass
		wantLost bool
	}{
		{"good", 100, 3, udpEcho, nil, false},
		{"good-1B", 1, 3, udpEcho, nil, false},
		{"good-largest", maxDatagram, 2, udpEcho, nil, false},
		{"drops-every-other", 100, 3, func(k int, p []byte) [][]byte {
			if k%2 == 1 {
				return nil
			}
			return [][]byte{p}
		}, nil, true},
		{"late-echo", 100, 1, func(k int, p []byte) [][]byte {
			switch k {
			case 5: // answered with the next one, after its client gave up
				held = bytes.Clone(p)
				return nil
			case 6:
				return [][]byte{held, p}
			}
			return [][]byte{p}
		}, nil, true},
		{"flipped-byte", 100, 3, func(k int, p []byte) [][]byte {
			if k == 30 {
				p[57] ^= 0x10
			}
			return [][]byte{p}
		}, errMismatch, false},
		{"short-echo", 100, 2, func(_ int, p []byte) [][]byte { return [][]byte{p[:len(p)-1]} }, errShortRead, false},
		{"long-echo", 100, 2, func(_ int, p []byte) [][]byte { return [][]byte{append(p, 0)} }, errMismatch, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := testUDPServer(t, tc.reply)
			start := time.Now()
			// A short loss timeout makes the losses the cases expect happen
			// within the window; where none are expected, a server's echo
			// late by a busy machine's scheduling is not a loss.
			loss := time.Second
			if tc.wantLost {
				loss = 20 * time.Millisecond
			}
			lr := runLoad(context.Background(), loadSpec{Addr: addr, UDP: true, Size: tc.size, Conns: tc.conns,
				Warmup: 0, Duration: 300 * time.Millisecond, Seed: 5, LossTimeout: loss})
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("the run took %v", d)
			}
			res := result{Kind: kindEcho, Engine: "test", UDP: true, Size: tc.size, Conns: tc.conns}
			res.fillEcho(lr)
			var table bytes.Buffer
			writeMarkdown(&table, &report{Results: []result{res}})
			if tc.wantErr != nil {
				if !errors.Is(lr.FirstErr, tc.wantErr) || lr.Errors < 1 {
					t.Fatalf("errors = %d, first %v; want %v", lr.Errors, lr.FirstErr, tc.wantErr)
				}
				if res.Status != statusFailed || res.MsgsPerSec != 0 || res.RoundTrips != 0 {
					t.Errorf("a failed cell shows figures: %+v", res)
				}
				if !strings.Contains(table.String(), "FAILED: ") {
					t.Errorf("table does not flag the failure:\n%s", table.String())
				}
				return
			}
			if lr.FirstErr != nil || res.Status != statusOK || res.MsgsPerSec <= 0 || res.MinPerConn == 0 {
				t.Fatalf("first error %v, result %+v", lr.FirstErr, res)
			}
			if got := lr.Hist.TotalCount(); got != res.RoundTrips {
				t.Errorf("%d latencies recorded for %d round trips", got, res.RoundTrips)
			}
			if tc.wantLost != (res.Lost > 0) {
				t.Fatalf("lost %d datagrams; want some: %v", res.Lost, tc.wantLost)
			}
			if tc.name == "drops-every-other" && res.Lost < res.RoundTrips/2 {
				t.Errorf("lost %d of %d round trips, want about as many lost as echoed", res.Lost, res.RoundTrips)
			}
			if !strings.Contains(table.String(), " lost |") || res.Lost > 0 && !strings.Contains(table.String(), fmt.Sprintf("| %d (", res.Lost)) {
				t.Errorf("table does not show the loss:\n%s", table.String())
			}
		})
	}
}

// TestLoadUDPNoServer checks that a UDP cell with nothing listening fails
// with the socket's error rather than counting every datagram lost.
func TestLoadUDPNoServer(t *testing.T) {
	t.Parallel()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close() // nothing listens there now: the kernel answers port unreachable
	lr := runLoad(context.Background(), loadSpec{Addr: addr, UDP: true, Size: 64, Conns: 2,
		Duration: 200 * time.Millisecond, LossTimeout: 20 * time.Millisecond})
	if lr.FirstErr == nil || errors.Is(lr.FirstErr, errLost) || lr.Errors != 2 {
		t.Fatalf("errors = %d, first %v; want both clients refused", lr.Errors, lr.FirstErr)
	}
}
