package mmsg_test

import (
	"bytes"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sockpool/sockpool/packet/internal/mmsg"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}

// pair returns a server socket's Reader and a client socket that sends to it.
func pair(t *testing.T, size int) (srv *net.UDPConn, r *mmsg.Reader, client *net.UDPConn) {
	t.Helper()
	srv, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	rc, err := srv.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	client, err = net.DialUDP("udp4", nil, srv.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return srv, mmsg.NewReader(rc, size), client
}

func TestReadBatch(t *testing.T) {
	srv, r, client := pair(t, 8)
	srv.SetReadDeadline(time.Now().Add(10 * time.Second))
	sizes := []int{1, 100, 1472, 9000, 0, 300}
	var sent [][]byte
	for i, n := range sizes {
		msg := bytes.Repeat([]byte{byte('a' + i)}, n)
		if _, err := client.Write(msg); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, msg)
	}
	bufs := make([][]byte, 8)
	for i := range bufs {
		bufs[i] = make([]byte, 9000)
	}
	from := client.LocalAddr().(*net.UDPAddr).AddrPort()
	for got := 0; got < len(sent); {
		n, err := r.Read(bufs)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if n == 0 {
			t.Fatal("Read returned 0 datagrams and no error")
		}
		for i := range n {
			if b := bufs[i][:r.Len(i)]; !bytes.Equal(b, sent[got]) {
				t.Errorf("datagram %d: %d bytes, want %d (equal %v)", got, len(b), len(sent[got]), bytes.Equal(b, sent[got]))
			}
			if r.Truncated(i) {
				t.Errorf("datagram %d marked truncated", got)
			}
			if a := r.Addr(i); a != from {
				t.Errorf("datagram %d from %v, want %v", got, a, from)
			}
			got++
		}
	}
}

func TestReadTruncated(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		buf     int
		wantLen int
		trunc   bool
	}{
		{name: "fits", size: 100, buf: 100, wantLen: 100},
		{name: "one over", size: 101, buf: 100, wantLen: 100, trunc: true},
		{name: "far over", size: 65507, buf: 512, wantLen: 512, trunc: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, r, client := pair(t, 1)
			srv.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := client.Write(make([]byte, tt.size)); err != nil {
				t.Fatal(err)
			}
			bufs := [][]byte{make([]byte, tt.buf)}
			n, err := r.Read(bufs)
			if err != nil || n != 1 {
				t.Fatalf("Read = %d, %v; want 1, nil", n, err)
			}
			if r.Len(0) != tt.wantLen || r.Truncated(0) != tt.trunc {
				t.Errorf("Len %d Truncated %v, want %d %v", r.Len(0), r.Truncated(0), tt.wantLen, tt.trunc)
			}
		})
	}
}

func TestReadIPv6(t *testing.T) {
	srv, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer srv.Close()
	client, err := net.DialUDP("udp6", nil, srv.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer client.Close()
	rc, err := srv.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	r := mmsg.NewReader(rc, 4)
	srv.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := client.Write([]byte("six")); err != nil {
		t.Fatal(err)
	}
	bufs := [][]byte{make([]byte, 16)}
	if n, err := r.Read(bufs); err != nil || n != 1 || string(bufs[0][:r.Len(0)]) != "six" {
		t.Fatalf("Read = %d, %v, %q", n, err, bufs[0][:r.Len(0)])
	}
	want := client.LocalAddr().(*net.UDPAddr).AddrPort()
	if a := r.Addr(0); a != want || !a.Addr().Is6() {
		t.Errorf("Addr = %v, want %v", a, want)
	}
}

// TestReadWakes: a Read waiting on the poller returns at the read deadline
// and when the socket is closed, and receives what arrives while it waits.
func TestReadWakes(t *testing.T) {
	t.Run("deadline", func(t *testing.T) {
		srv, r, _ := pair(t, 4)
		srv.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		if _, err := r.Read([][]byte{make([]byte, 10)}); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("Read past the deadline = %v, want os.ErrDeadlineExceeded", err)
		}
	})
	t.Run("close", func(t *testing.T) {
		srv, r, _ := pair(t, 4)
		errc := make(chan error, 1)
		go func() {
			_, err := r.Read([][]byte{make([]byte, 10)})
			errc <- err
		}()
		srv.Close()
		select {
		case err := <-errc:
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("Read on a closed socket = %v, want net.ErrClosed", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Read did not return after Close")
		}
	})
	t.Run("arrival", func(t *testing.T) {
		srv, r, client := pair(t, 4)
		srv.SetReadDeadline(time.Now().Add(10 * time.Second))
		type result struct {
			n   int
			err error
		}
		res := make(chan result, 1)
		buf := make([]byte, 10)
		go func() {
			n, err := r.Read([][]byte{buf})
			res <- result{n, err}
		}()
		if _, err := client.Write([]byte("late")); err != nil {
			t.Fatal(err)
		}
		got := <-res
		if got.err != nil || got.n != 1 || string(buf[:r.Len(0)]) != "late" {
			t.Errorf("Read = %d, %v, %q", got.n, got.err, buf[:r.Len(0)])
		}
	})
}

func TestNewReaderBounds(t *testing.T) {
	srv, _, client := pair(t, 1)
	rc, err := srv.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	// Size 0 means 1: a Read of three buffers takes one datagram at a time.
	r := mmsg.NewReader(rc, 0)
	srv.SetReadDeadline(time.Now().Add(10 * time.Second))
	for range 2 {
		if _, err := client.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	bufs := [][]byte{make([]byte, 4), make([]byte, 4), make([]byte, 4)}
	if n, err := r.Read(bufs); n != 1 || err != nil {
		t.Errorf("Read with size 0 = %d, %v; want 1, nil", n, err)
	}
	if n, err := r.Read(nil); n != 0 || err != nil {
		t.Errorf("Read(nil) = %d, %v; want 0, nil", n, err)
	}
}

// TestReadAllocs holds Read to its claim of no allocation: the headers are
// reused and RawConn.Read gets a callback bound once.
func TestReadAllocs(t *testing.T) {
	srv, r, client := pair(t, 4)
	srv.SetReadDeadline(time.Now().Add(10 * time.Second))
	bufs := [][]byte{make([]byte, 64)}
	msg := []byte("x")
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := client.Write(msg); err != nil {
			t.Fatal(err)
		}
		if n, err := r.Read(bufs); n != 1 || err != nil {
			t.Fatalf("Read = %d, %v", n, err)
		}
	})
	if allocs != 0 {
		t.Errorf("Read allocates %.1f times per datagram, want 0", allocs)
	}
}
