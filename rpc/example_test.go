package rpc_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/sockpool/sockpool/rpc"
	"github.com/sockpool/sockpool/server"
)

func Example() {
	rs, err := rpc.NewServer(nil)
	if err != nil {
		panic(err)
	}
	rs.Register("upper", func(ctx context.Context, req []byte) ([]byte, error) {
		return []byte(strings.ToUpper(string(req))), nil
	})
	rs.Register("fail", func(ctx context.Context, req []byte) ([]byte, error) {
		return nil, errors.New("no luck")
	})
	srv := &server.Server{Handler: rs}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln)

	ctx := context.Background()
	c, err := rpc.Dial(ctx, "tcp", ln.Addr().String(), nil)
	if err != nil {
		panic(err)
	}
	reply, err := c.Call(ctx, "upper", []byte("hello"))
	fmt.Println(string(reply), err)

	_, err = c.Call(ctx, "fail", nil)
	var rerr *rpc.Error
	if errors.As(err, &rerr) {
		fmt.Println(rerr.Code, "-", rerr.Message)
	}
	_, err = c.Call(ctx, "nosuch", nil)
	fmt.Println(err)

	c.Close()
	srv.Shutdown(ctx)
	rs.Close(ctx)
	// Output:
	// HELLO <nil>
	// application error - no luck
	// sockpool/rpc: method not found: nosuch
}
