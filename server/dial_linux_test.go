//go:build linux

package server

import (
	"context"
	"testing"
	"time"
)

// TestDialBeside: on the evented engines (uring's loops are evented
// loops) a connection dialed Beside another runs on that one's loop;
// without Beside, dialed connections are dealt to the loops in turn.
func TestDialBeside(t *testing.T) {
	for _, engine := range []Engine{Evented, EventedPool, Uring} {
		t.Run(engine.String(), func(t *testing.T) {
			skipWithoutUring(t, engine)
			peer := peerEcho(t, "tcp", nil, nil)
			srv := dialServer(t, engineCase{engine: engine}, &Server{Handler: HandlerFunc(func(Conn, []byte) {}), Loops: 4})
			d := &Dialer{Server: srv, Timeout: 10 * time.Second}
			loops := map[*loop]bool{}
			for range 8 {
				anchor, err := d.DialContext(context.Background(), "tcp", peer.String())
				if err != nil {
					t.Fatal(err)
				}
				beside, err := (&Dialer{Server: srv, Beside: anchor}).DialContext(context.Background(), "tcp", peer.String())
				if err != nil {
					t.Fatal(err)
				}
				a, b := anchor.(*evConn).l, beside.(*evConn).l
				if a != b {
					t.Errorf("dialed Beside a connection of loop %d, it runs on loop %d", a.id, b.id)
				}
				loops[a] = true
			}
			if len(loops) < 2 {
				t.Errorf("8 connections dialed without Beside all ran on one loop of 4")
			}
		})
	}
}
