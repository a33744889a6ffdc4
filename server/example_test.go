package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"

	"github.com/sockpool/sockpool/server"
	"github.com/sockpool/sockpool/tlsconf"
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

// ExampleEngine_Supported serves on io_uring where this system runs it,
// and on epoll where it does not: a fallback the program asks for, since
// a Server never falls back by itself.
func ExampleEngine_Supported() {
	engine := server.Uring
	if err := engine.Supported(); err != nil {
		log.Printf("%v; serving on evented", err)
		engine = server.Evented
	}
	srv := &server.Server{
		Addr:    "127.0.0.1:7000",
		Engine:  engine,
		Handler: server.HandlerFunc(func(c server.Conn, in []byte) { c.Write(in) }),
	}
	log.Fatal(srv.ListenAndServe())
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

// ExampleServer_tls serves TLS with a development certificate; a client
// that trusts it gets its echo.
func ExampleServer_tls() {
	cert, _ := tlsconf.SelfSigned("localhost")
	conf, _ := tlsconf.Server(tlsconf.Config{Certificate: cert})
	srv := &server.Server{
		Handler:   server.HandlerFunc(func(c server.Conn, in []byte) { c.Write(in) }),
		TLSConfig: conf,
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())

	roots, _ := tlsconf.CertPool(cert)
	cliConf, _ := tlsconf.Client(tlsconf.ClientConfig{RootCAs: roots, ServerName: "localhost"})
	c, err := tls.Dial("tcp", ln.Addr().String(), cliConf)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	c.Write([]byte("hello"))
	reply := make([]byte, 5)
	io.ReadFull(c, reply)
	fmt.Println(string(reply), tls.VersionName(c.ConnectionState().Version))
	// Output: hello TLS 1.3
}

// ExampleStartTLS upgrades a line protocol's connection when the client
// asks, as SMTP does. Bytes after the command in the same read are the
// start of the client's handshake.
func ExampleConn_StartTLS() {
	cert, _ := tlsconf.SelfSigned("localhost")
	conf, _ := tlsconf.Server(tlsconf.Config{Certificate: cert})
	const cmd = "STARTTLS\r\n"
	srv := &server.Server{
		Handler: server.HandlerFunc(func(c server.Conn, in []byte) {
			if c.TLS() == nil && bytes.HasPrefix(in, []byte(cmd)) {
				c.Write([]byte("220 Ready to start TLS\r\n"))
				if err := c.StartTLS(conf, in[len(cmd):]); err != nil {
					c.Close()
				}
				return
			}
			c.Write(in) // after the handshake: plaintext
		}),
	}
	_ = srv // srv.ListenAndServe()
}
