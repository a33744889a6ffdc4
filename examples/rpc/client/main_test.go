package main

import (
	"context"
	"encoding/binary"
	"net"
	"strings"
	"testing"

	"github.com/sockpool/sockpool/rpc"
	"github.com/sockpool/sockpool/server"
)

// TestRun drives run against an in-process server with the example's echo
// and add, and against one whose add is wrong, which run must catch.
func TestRun(t *testing.T) {
	good := func(ctx context.Context, req []byte) ([]byte, error) {
		return binary.BigEndian.AppendUint64(nil, binary.BigEndian.Uint64(req)+binary.BigEndian.Uint64(req[8:])), nil
	}
	bad := func(ctx context.Context, req []byte) ([]byte, error) {
		return binary.BigEndian.AppendUint64(nil, binary.BigEndian.Uint64(req)+binary.BigEndian.Uint64(req[8:])+1), nil
	}
	for _, tc := range []struct {
		name string
		add  rpc.Func
		ok   bool
	}{{"good", good, true}, {"wrong sums", bad, false}} {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := rpc.NewServer(nil)
			if err != nil {
				t.Fatal(err)
			}
			rs.Register("echo", func(ctx context.Context, req []byte) ([]byte, error) { return req, nil })
			rs.Register("add", tc.add)
			srv := &server.Server{Handler: rs}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go srv.Serve(ln)
			defer func() {
				srv.Shutdown(context.Background())
				rs.Close(context.Background())
			}()
			err = run([]string{"-addr", ln.Addr().String(), "-n", "500", "-concurrency", "20", "-conns", "2"})
			if tc.ok && err != nil {
				t.Fatalf("run: %v", err)
			}
			if !tc.ok && (err == nil || !strings.Contains(err.Error(), "(add)")) {
				t.Fatalf("run against a wrong add = %v, want the add failure", err)
			}
		})
	}
}
