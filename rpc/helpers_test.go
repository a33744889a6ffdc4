package rpc_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/sockpool/sockpool/rpc"
	"github.com/sockpool/sockpool/server"
)

// waitTimeout bounds every wait for something that should happen soon.
const waitTimeout = 10 * time.Second

func forEachEngine(t *testing.T, f func(t *testing.T, ec engineCase)) {
	t.Helper()
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			f(t, ec)
		})
	}
}

// fixture is an rpc.Server with the test methods, served on one engine.
type fixture struct {
	rs      *rpc.Server
	srv     *server.Server
	addr    net.Addr
	release chan struct{} // closing it lets "block" calls return
	started chan string   // "block" and "watch" calls report here
	ctxErrs chan error    // "watch" reports its ctx's end here
	// configure, if set, adjusts the server.Server serve makes.
	configure func(*server.Server)
}

func newRPCServer(t *testing.T, cfg *rpc.ServerConfig) *fixture {
	t.Helper()
	rs, err := rpc.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{rs: rs, release: make(chan struct{}), started: make(chan string, 2000), ctxErrs: make(chan error, 100)}
	rs.Register("echo", func(ctx context.Context, req []byte) ([]byte, error) { return req, nil })
	rs.Register("add", func(ctx context.Context, req []byte) ([]byte, error) {
		if len(req) != 16 {
			return nil, fmt.Errorf("add wants 16 bytes, got %d", len(req))
		}
		sum := binary.BigEndian.Uint64(req) + binary.BigEndian.Uint64(req[8:])
		return binary.BigEndian.AppendUint64(nil, sum), nil
	})
	rs.Register("fail", func(ctx context.Context, req []byte) ([]byte, error) {
		return nil, errors.New("failed: " + string(req))
	})
	rs.Register("coded", func(ctx context.Context, req []byte) ([]byte, error) {
		return nil, &rpc.Error{Code: rpc.CodeOverloaded, Message: "try later"}
	})
	rs.Register("panic", func(ctx context.Context, req []byte) ([]byte, error) { panic("boom") })
	rs.Register("deadline", func(ctx context.Context, req []byte) ([]byte, error) {
		dl, ok := ctx.Deadline()
		if !ok {
			return []byte("none"), nil
		}
		return []byte(time.Until(dl).String()), nil
	})
	// block waits for release (or its ctx), reporting that it started.
	rs.Register("block", func(ctx context.Context, req []byte) ([]byte, error) {
		fx.started <- string(req)
		select {
		case <-fx.release:
			return req, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	// watch waits for its ctx to end and reports how.
	rs.Register("watch", func(ctx context.Context, req []byte) ([]byte, error) {
		fx.started <- string(req)
		<-ctx.Done()
		fx.ctxErrs <- ctx.Err()
		return nil, ctx.Err()
	})
	// late ignores its ctx and answers after the duration in req.
	rs.Register("late", func(ctx context.Context, req []byte) ([]byte, error) {
		d, _ := time.ParseDuration(string(req))
		<-time.After(d)
		return []byte("late"), nil
	})
	t.Cleanup(func() {
		select {
		case <-fx.release:
		default:
			close(fx.release)
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := rs.Close(ctx); err != nil {
			t.Errorf("rpc.Server.Close: %v", err)
		}
	})
	return fx
}

// serve starts fx's rpc.Server on a server.Server of engine ec, listening
// on addr ("127.0.0.1:0" for a new port); it is shut down when the test ends
// or when the returned stop is called.
func (fx *fixture) serve(t *testing.T, ec engineCase, addr string) (stop func()) {
	t.Helper()
	srv := &server.Server{Handler: fx.rs, Engine: ec.engine}
	if fx.configure != nil {
		fx.configure(srv)
	}
	var ln net.Listener
	var err error
	for deadline := time.Now().Add(waitTimeout); ; {
		if ln, err = net.Listen("tcp", addr); err == nil || time.Now().After(deadline) {
			break
		}
		<-time.After(10 * time.Millisecond) // the old port may linger a moment
	}
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fx.srv, fx.addr = srv, ln.Addr()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-errc; !errors.Is(err, server.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

func dial(t *testing.T, addr net.Addr, cfg *rpc.ClientConfig) *rpc.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, err := rpc.Dial(ctx, addr.Network(), addr.String(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func bounded(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

func receive[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// codeOf returns the code of err's *rpc.Error, or 0.
func codeOf(err error) rpc.Code {
	var re *rpc.Error
	if errors.As(err, &re) {
		return re.Code
	}
	return 0
}
