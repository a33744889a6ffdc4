//go:build linux

package server

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// TestReusePortNetworks: with ReusePort, ListenAndServe on TCP opens a
// listener per loop; on a UNIX socket, which cannot be bound twice, it
// serves one, as without ReusePort. Either way every loop's clients are
// echoed. On Evented and on Uring, whose loops take the same listeners.
func TestReusePortNetworks(t *testing.T) {
	cases := []struct {
		engine        Engine
		network, addr string
	}{
		{Evented, "tcp", "127.0.0.1:0"},
		{Evented, "unix", filepath.Join(t.TempDir(), "s.sock")},
		{Uring, "tcp", "127.0.0.1:0"},
		{Uring, "unix", filepath.Join(t.TempDir(), "s.sock")},
	}
	for _, tc := range cases {
		t.Run(tc.engine.String()+"/"+tc.network, func(t *testing.T) {
			skipWithoutUring(t, tc.engine)
			srv := &Server{Network: tc.network, Addr: tc.addr, Engine: tc.engine, Loops: 2, ReusePort: true, Handler: echoHandler()}
			errc := make(chan error, 1)
			go func() { errc <- srv.ListenAndServe() }()
			waitFor(t, "the server listening", func() bool {
				select {
				case err := <-errc:
					t.Fatalf("ListenAndServe: %v", err)
				default:
				}
				return srv.ListenAddr() != nil
			})
			for i := range 4 {
				c := dial(t, srv.ListenAddr())
				msg := pattern(uint64(i), 10_000)
				checkEcho(t, roundTrip(t, c, msg), msg)
				c.Close()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			if err := <-errc; !errors.Is(err, ErrServerClosed) {
				t.Errorf("ListenAndServe returned %v, want ErrServerClosed", err)
			}
		})
	}
}
