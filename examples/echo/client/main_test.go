package main

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sockpool/sockpool/examples/internal/cmdtest"
	"github.com/sockpool/sockpool/server"
)

// TestMain fails the package if a goroutine outlives the tests (ants starts
// its default pool's at init: those are not ours).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m, goleak.IgnoreCurrent()) }

// engines are what the client runs its connections on: net, and every
// sockpool engine this system runs, dialed onto.
var engines = append([]string{"net"}, cmdtest.Engines()...)

// TestClientEngines runs the checked load of each client engine against an
// echo server on each server engine.
func TestClientEngines(t *testing.T) {
	for _, srvEngine := range engines[1:] {
		t.Run("server="+srvEngine, func(t *testing.T) {
			addr := echoServer(t, srvEngine)
			for _, cliEngine := range engines {
				for _, size := range []int{1, 1000, 300 << 10} {
					t.Run(fmt.Sprintf("client=%s/size=%d", cliEngine, size), func(t *testing.T) {
						if err := load(cliEngine, addr.String(), 4, 20, size); err != nil {
							t.Fatal(err)
						}
					})
				}
			}
		})
	}
}

// load is main's run: conns connections of n checked round trips each.
func load(engine, addr string, conns, n, size int) error {
	run := func(i int) error { return drive("tcp", addr, uint64(i), n, size, 30*time.Second) }
	if engine != "net" {
		srv := &server.Server{MaxConns: conns}
		if err := srv.Engine.UnmarshalText([]byte(engine)); err != nil {
			return err
		}
		defer srv.Close()
		run = func(i int) error {
			return driveDialed(srv, nil, "tcp", addr, uint64(i), n, size, 30*time.Second)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- run(i)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// echoServer serves echo on engine until the test ends.
func echoServer(t *testing.T, engine string) net.Addr {
	t.Helper()
	srv := &server.Server{Handler: server.HandlerFunc(func(c server.Conn, in []byte) { c.Write(in) })}
	if err := srv.Engine.UnmarshalText([]byte(engine)); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		<-errc
	})
	return ln.Addr()
}
