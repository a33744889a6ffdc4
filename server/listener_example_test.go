package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/sockpool/sockpool/server"
)

// ExampleServer_Listener serves net/http behind the server's admission:
// here at most two connections per client address. The http.Server shuts
// down first, then the Server, which waits for the connections it handed
// out.
func ExampleServer_Listener() {
	srv := &server.Server{MaxConnsPerIP: 2}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	l, err := srv.Listener(ln)
	if err != nil {
		panic(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello over "+r.Proto)
	})}
	go hs.Serve(l)

	resp, err := http.Get("http://" + l.Addr().String() + "/")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(body))
	http.DefaultClient.CloseIdleConnections()

	hs.Shutdown(context.Background())
	srv.Shutdown(context.Background())
	fmt.Println("accepted", srv.Stats().Accepted, "closed", srv.Stats().Closed)
	// Output:
	// hello over HTTP/1.1
	// accepted 1 closed 1
}
