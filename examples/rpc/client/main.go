// Command client calls an examples/rpc server: it makes n calls from a
// number of goroutines over one or more multiplexed connections, alternating
// echo (random payloads) and add, and checks every reply.
//
//	go run ./examples/rpc/client -addr 127.0.0.1:7001 -n 10000 -concurrency 100
//
// It prints the calls made and the rate, and exits non-zero on any wrong
// reply or failed call.
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockpool/sockpool/rpc"
)

func main() {
	err := run(os.Args[1:])
	switch {
	case errors.Is(err, flag.ErrHelp): // -h: the usage was the answer
	case err != nil:
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	var (
		addr        = fs.String("addr", "127.0.0.1:7001", "server address, or a socket path with -network unix")
		network     = fs.String("network", "tcp", "tcp or unix")
		n           = fs.Int("n", 1000, "calls in all")
		concurrency = fs.Int("concurrency", 50, "calls in flight at once")
		conns       = fs.Int("conns", 1, "connections the calls are multiplexed over")
		size        = fs.Int("size", 256, "largest echo payload in bytes")
		timeout     = fs.Duration("timeout", 30*time.Second, "give up after this long")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 0 || *concurrency < 1 || *size < 0 {
		return errors.New("-n must not be negative, -concurrency must be positive, -size must not be negative")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	c, err := rpc.Dial(ctx, *network, *addr, &rpc.ClientConfig{Conns: *conns})
	if err != nil {
		return err
	}
	defer c.Close()

	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, *concurrency)
	for g := range *concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(*n) {
					return
				}
				if err := check(ctx, c, uint64(i), *size); err != nil {
					errs[g] = err
					cancel() // stop the others
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	elapsed := time.Since(start)
	fmt.Printf("%d calls over %d connection(s), %d in flight, in %v: %.0f calls/s, all replies checked\n",
		*n, *conns, *concurrency, elapsed.Round(time.Millisecond), float64(*n)/elapsed.Seconds())
	return nil
}

// check makes call i (echo when i is even, add when odd, with arguments
// determined by i) and verifies its reply.
func check(ctx context.Context, c *rpc.Client, i uint64, size int) error {
	r := rand.New(rand.NewPCG(i, 42))
	if i%2 == 0 {
		req := make([]byte, r.IntN(size+1))
		for j := range req {
			req[j] = byte(r.Uint32())
		}
		resp, err := c.Call(ctx, "echo", req)
		if err != nil {
			return fmt.Errorf("call %d (echo): %w", i, err)
		}
		if !bytes.Equal(resp, req) {
			return fmt.Errorf("call %d (echo): reply of %d bytes differs from the %d sent", i, len(resp), len(req))
		}
		return nil
	}
	a, b := r.Uint64(), r.Uint64()
	req := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, a), b)
	resp, err := c.Call(ctx, "add", req)
	if err != nil {
		return fmt.Errorf("call %d (add): %w", i, err)
	}
	if len(resp) != 8 || binary.BigEndian.Uint64(resp) != a+b {
		return fmt.Errorf("call %d (add): reply %x, want %d", i, resp, a+b)
	}
	return nil
}
