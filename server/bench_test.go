package server

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
)

// BenchmarkEcho measures closed-loop echo round trips through each engine and,
// in the same run, through a plain net server with a goroutine per connection
// and the same buffer size: the peer the threaded engine must match.
//
//	go test -run '^$' -bench Echo -count 6 ./server/ | tee new.txt; benchstat -col /server new.txt
func BenchmarkEcho(b *testing.B) {
	const bufSize = 64 << 10
	for _, size := range []int{1 << 10, 64 << 10} {
		for _, conns := range []int{1, 50} {
			for _, ec := range engineCases {
				b.Run(fmt.Sprintf("size=%d/conns=%d/server=%s", size, conns, ec.name), func(b *testing.B) {
					srv := ec.configure(&Server{Handler: echoHandler(), ReadBufferSize: bufSize})
					benchEcho(b, serve(b, srv, "tcp"), size, conns)
				})
			}
			b.Run(fmt.Sprintf("size=%d/conns=%d/server=net", size, conns), func(b *testing.B) {
				benchEcho(b, serveNet(b, bufSize), size, conns)
			})
		}
	}
}

// BenchmarkTunerCost measures what the read-buffer tuner costs once its
// size is right: 1 KiB messages through a fixed 2 KiB buffer against
// ReadBufferSize 0, whose tuner settles at 2 KiB within the first hundred
// reads (a 1 KiB read uses more than a quarter of 2 KiB, not of 4 KiB).
// On uring, ReadBufferSize 0 is its incremental buffer ring, not a tuner:
// the row compares the two rings.
//
//	go test -run '^$' -bench TunerCost -count 8 ./server/ | tee t.txt; benchstat -col /buf t.txt
func BenchmarkTunerCost(b *testing.B) {
	for _, ec := range engineCases {
		if ec.engine == EventedPool || ec.level {
			continue
		}
		for _, buf := range []int{2 << 10, 0} {
			name := "fixed-2k"
			if buf == 0 {
				name = "auto"
			}
			b.Run(fmt.Sprintf("server=%s/buf=%s", ec.name, name), func(b *testing.B) {
				srv := ec.configure(&Server{Handler: echoHandler(), ReadBufferSize: buf})
				benchEcho(b, serve(b, srv, "tcp"), 1<<10, 1)
			})
		}
	}
}

// serveNet starts the baseline: Go's net package, a goroutine per connection
// reading into a buffer of bufSize and writing back what it read.
func serveNet(b *testing.B, bufSize int) net.Addr {
	ln := listen(b, "tcp")
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				buf := make([]byte, bufSize)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	b.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr()
}

// benchEcho runs b.N round trips of size bytes spread over conns closed-loop
// clients, checking every echo.
func benchEcho(b *testing.B, addr net.Addr, size, conns int) {
	benchEchoWith(b, func() net.Conn { return dial(b, addr) }, size, conns)
}

// benchEchoWith is benchEcho over connections from dial.
func benchEchoWith(b *testing.B, dial func() net.Conn, size, conns int) {
	clients := make([]net.Conn, conns)
	for i := range clients {
		clients[i] = dial()
	}
	msg := pattern(uint64(size), size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i, c := range clients {
		n := b.N / conns
		if i < b.N%conns {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := make([]byte, size)
			for range n {
				if _, err := c.Write(msg); err != nil {
					errs <- err
					return
				}
				if _, err := io.ReadFull(c, got); err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(got, msg) {
					errs <- fmt.Errorf("echo of %d bytes differs", size)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}
