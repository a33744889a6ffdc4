package frame_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/sockpool/sockpool/bufs"
	"github.com/sockpool/sockpool/frame"
	"github.com/sockpool/sockpool/server"
)

func ExampleNewHandler() {
	format := frame.LengthPrefixed{HeaderSize: 2, MaxFrameSize: 1024}
	closed := make(chan error, 1)
	h, err := frame.NewHandler(format, &upper{format: format, closed: closed}, nil)
	if err != nil {
		panic(err)
	}
	srv := &server.Server{Handler: h}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	defer c.Close()
	// Two messages in one write: the server still sees two.
	var out []byte
	out, _ = format.AppendFrame(out, []byte("hello"))
	out, _ = format.AppendFrame(out, []byte("frames"))
	c.Write(out)
	reply := make([]byte, 2+5+2+6)
	io.ReadFull(c, reply)
	fmt.Printf("%q\n", reply)

	// A header announcing more than MaxFrameSize closes the connection.
	c.Write([]byte{0xff, 0xff})
	fmt.Println(errors.Is(<-closed, frame.ErrFrameTooLarge))
	// Output:
	// "\x00\x05HELLO\x00\x06FRAMES"
	// true
}

// upper replies to each message with it in upper case, and reports why
// its connection closed.
type upper struct {
	format frame.LengthPrefixed
	closed chan error
}

func (u *upper) OnMessage(c server.Conn, msg []byte) {
	out := bufs.GetOutput()
	out.B, _ = u.format.AppendHeader(out.B, len(msg))
	for _, b := range msg {
		if 'a' <= b && b <= 'z' {
			b -= 'a' - 'A'
		}
		out.B = append(out.B, b)
	}
	c.Write(out.B)
	bufs.PutOutput(out)
}

func (u *upper) OnClose(c server.Conn, err error) { u.closed <- err }

func ExampleDecoder() {
	d, err := frame.NewDecoder(frame.Delimited{Delim: []byte("\r\n"), MaxFrameSize: 64}, nil)
	if err != nil {
		panic(err)
	}
	defer d.Reset()
	print := func(line []byte) error {
		fmt.Printf("%q\n", line)
		return nil
	}
	// Pieces as reads might return them.
	for _, piece := range []string{"PING\r\nSET k", "ey va", "lue\r", "\nGET key\r\n"} {
		if err := d.Feed([]byte(piece), print); err != nil {
			panic(err)
		}
	}
	// Output:
	// "PING"
	// "SET key value"
	// "GET key"
}

func ExampleLengthPrefixed_AppendFrame() {
	f := frame.LengthPrefixed{HeaderSize: 4, MaxFrameSize: 16}
	buf, err := f.AppendFrame(nil, []byte("hi"))
	fmt.Printf("%q %v\n", buf, err)
	_, err = f.AppendFrame(nil, make([]byte, 17))
	fmt.Println(errors.Is(err, frame.ErrFrameTooLarge))
	// Output:
	// "\x00\x00\x00\x02hi" <nil>
	// true
}
