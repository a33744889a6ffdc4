package server_test

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/sockpool/sockpool/server"
)

func ExampleServer() {
	srv := &server.Server{
		Handler: server.HandlerFunc(func(c server.Conn, in []byte) { c.Write(in) }),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln)

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	c.Write([]byte("hello"))
	reply := make([]byte, 5)
	io.ReadFull(c, reply)
	fmt.Println(string(reply))
	c.Close()

	srv.Shutdown(context.Background())
	// Output: hello
}

// connCounter shows the optional OnOpen and OnClose methods.
type connCounter struct {
	server.HandlerFunc
	opened, closed chan uint64
}

func (h connCounter) OnOpen(c server.Conn)             { h.opened <- c.ID() }
func (h connCounter) OnClose(c server.Conn, err error) { h.closed <- c.ID() }

func ExampleHandler_onOpenOnClose() {
	h := connCounter{
		HandlerFunc: func(c server.Conn, in []byte) { c.Write(in) },
		opened:      make(chan uint64, 1),
		closed:      make(chan uint64, 1),
	}
	srv := &server.Server{Handler: h}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())

	c, _ := net.Dial("tcp", ln.Addr().String())
	fmt.Println("opened", <-h.opened)
	c.Close()
	fmt.Println("closed", <-h.closed)
	// Output:
	// opened 1
	// closed 1
}
