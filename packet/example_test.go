package packet_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/sockpool/sockpool/packet"
)

func Example() {
	srv := &packet.Server{
		Handler: packet.HandlerFunc(func(w packet.Writer, p []byte, from netip.AddrPort) {
			w.WriteTo(p, from) // p is only valid during the call; WriteTo is done with it on return
		}),
	}
	// Opening the socket first means it is bound before the client sends.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(pc) }()

	c, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("hello, datagram")); err != nil {
		fmt.Println(err)
		return
	}
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s\n", buf[:n])

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fmt.Println(srv.Shutdown(ctx))
	fmt.Println(<-served)
	st := srv.Stats()
	fmt.Println(st.Received, "received,", st.Sent, "sent")
	// Output:
	// hello, datagram
	// <nil>
	// sockpool/packet: server closed
	// 1 received, 1 sent
}
