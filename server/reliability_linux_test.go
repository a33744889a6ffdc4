package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sockpool/sockpool/tlsconf"
)

// TestResetMidStream: a client that resets its connection (SO_LINGER 0)
// while the server is echoing to it ends only that connection; another
// client's echo goes on, and nothing leaks (TestMain).
func TestResetMidStream(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		rec := newRecorder(echoHandler())
		srv := ec.configure(&Server{Handler: rec})
		addr := serve(t, srv, "tcp")
		good := dial(t, addr)
		checkEcho(t, roundTrip(t, good, []byte("before")), []byte("before"))

		bad := dial(t, addr)
		msg := pattern(5, 4<<20)
		go bad.Write(msg) // more than the buffers hold: the server is mid-echo
		bad.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(bad, make([]byte, 64<<10)); err != nil {
			t.Fatal(err)
		}
		bad.(*net.TCPConn).SetLinger(0)
		bad.Close() // RST

		waitFor(t, "the reset connection to close", func() bool { return len(rec.closes()) == 1 })
		checkEcho(t, roundTrip(t, good, []byte("after")), []byte("after"))
		if st := srv.Stats(); st.Active != 1 || st.Panics != 0 {
			t.Errorf("Active %d Panics %d, want 1 and 0", st.Active, st.Panics)
		}
	})
}

// TestPanicEvery100th runs 20 clients against a handler that panics on
// every 100th call, server-wide: each panic closes the connection it
// happened on and no other, every other client completes all its round
// trips with every byte right, and Stats counts each panic.
func TestPanicEvery100th(t *testing.T) {
	const clients, trips = 20, 100
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		var calls atomic.Int64
		srv := ec.configure(&Server{Handler: HandlerFunc(func(c Conn, in []byte) {
			if calls.Add(1)%100 == 0 {
				panic("every 100th")
			}
			c.Write(in)
		})})
		addr := serve(t, srv, "tcp")
		var wg sync.WaitGroup
		var completed, cut atomic.Int64
		errs := make(chan error, clients)
		for i := range clients {
			c := dial(t, addr)
			wg.Go(func() {
				c.SetDeadline(time.Now().Add(30 * time.Second))
				got := make([]byte, 64)
				for j := range trips {
					msg := pattern(uint64(i*trips+j), 64)
					if _, err := c.Write(msg); err != nil {
						cut.Add(1)
						return
					}
					if _, err := io.ReadFull(c, got); err != nil {
						if isTimeout(err) {
							errs <- fmt.Errorf("client %d: %w", i, err)
						}
						cut.Add(1) // its connection was the one that panicked
						return
					}
					if string(got) != string(msg) {
						errs <- fmt.Errorf("client %d trip %d: echo differs", i, j)
						return
					}
				}
				completed.Add(1)
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		st := srv.Stats()
		if st.Panics == 0 || uint64(cut.Load()) != st.Panics || completed.Load()+cut.Load() != clients {
			t.Errorf("Panics %d, connections cut %d, completed %d of %d: each panic must cut exactly its own connection",
				st.Panics, cut.Load(), completed.Load(), clients)
		}
	})
}

// emfileChildEnv names the environment variable that makes the test binary
// run emfileChild instead of the tests.
const emfileChildEnv = "SOCKPOOL_EMFILE_CHILD"

func init() { childMain = emfileChild }

// emfileChild, in the child process of TestEMFILE, is a server with few
// file descriptors: it prints its address, serves until stdin closes,
// prints its Stats and exits. Elsewhere it returns at once.
func emfileChild() {
	if os.Getenv(emfileChildEnv) == "" {
		return
	}
	limitText, engine, _ := strings.Cut(os.Getenv(emfileChildEnv), ":")
	limit, _ := strconv.Atoi(limitText)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	srv := &Server{Handler: echoHandler()}
	engine, secure := strings.CutSuffix(engine, "-tls")
	for _, ec := range engineCases {
		if ec.name == engine {
			ec.configure(srv)
		}
	}
	if secure {
		cert, err := testCert()
		if err == nil {
			srv.TLSConfig, err = tlsconf.Server(tlsconf.Config{Certificate: cert})
		}
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
	}
	go srv.Serve(ln)
	ents, _ := os.ReadDir("/proc/self/fd")
	lim := syscall.Rlimit{Cur: uint64(len(ents) + limit), Max: uint64(len(ents) + limit)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("listening", ln.Addr())
	io.Copy(io.Discard, os.Stdin)
	// Shutdown first: it returns once the accept loop has ended, so the
	// last connection's Accepted count, added after the engine took it
	// (and perhaps served it already), is in the Stats.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err = srv.Shutdown(ctx)
	cancel()
	st := srv.Stats()
	fmt.Println("stats", st.Accepted, st.AcceptErrors)
	if err != nil {
		fmt.Fprintln(os.Stderr, "shutdown:", err)
	}
	os.Exit(0)
}

// TestEMFILE runs, for each engine, a server process whose RLIMIT_NOFILE
// leaves room for about 10 connections, and opens 30: the server runs out
// of descriptors (in accept, or where the engine duplicates the accepted
// socket), backs off instead of spinning (its CPU stays low while the
// clients wait) and without dropping anyone, and serves every waiting
// client once descriptors free up.
func TestEMFILE(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		for _, secure := range []bool{false, true} {
			t.Run(map[bool]string{false: "plain", true: "tls"}[secure], func(t *testing.T) { testEMFILE(t, ec, secure) })
		}
	})
}

func testEMFILE(t *testing.T, ec engineCase, secure bool) {
	name := ec.name
	if secure {
		name += "-tls"
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), emfileChildEnv+"=10:"+name)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	out := bufio.NewReader(stdout)
	line, _ := out.ReadString('\n')
	f := strings.Fields(line)
	if len(f) != 2 || f[0] != "listening" {
		t.Fatalf("child said %q", line)
	}
	addr := f[1]

	// 30 clients; about 10 are served at once, the rest wait.
	const n = 30
	// Each client runs its exchange (over TLS, the handshake first, which
	// waits until the server takes the connection up) on a goroutine of its
	// own and reports on its channel; served waits up to d for that.
	conns := make([]net.Conn, n)
	done := make([]chan error, n)
	ok := make([]bool, n)
	for i := range conns {
		c, err := net.Dial("tcp", addr) // the kernel completes the handshake: the backlog holds them
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		conns[i], done[i] = c, make(chan error, 1)
		go func() {
			c.SetDeadline(time.Now().Add(40 * time.Second))
			var rw io.ReadWriter = c
			if secure {
				rw = tls.Client(c, &tls.Config{InsecureSkipVerify: true}) // the child's own certificate; what is tested is being served
			}
			msg := []byte(fmt.Sprintf("client %02d", i))
			_, err := rw.Write(msg)
			if err == nil {
				_, err = io.ReadFull(rw, msg)
			}
			done[i] <- err
		}()
	}
	served := func(i int, d time.Duration) bool {
		if !ok[i] {
			select {
			case err := <-done[i]:
				ok[i] = err == nil
			case <-time.After(d):
			}
		}
		return ok[i]
	}
	first := -1
	for i := range conns {
		if served(i, 2*time.Second) {
			first = i
			break
		}
	}
	if first < 0 {
		t.Fatal("no client was served")
	}
	cpu0 := childCPU(t, cmd.Process.Pid)
	time.Sleep(time.Second) // out of descriptors: a spinning acceptor would burn this second
	if used := childCPU(t, cmd.Process.Pid) - cpu0; used > 300*time.Millisecond {
		t.Errorf("the server used %v of CPU in 1 s while out of descriptors: it spins", used)
	}
	// Free descriptors: close the clients served so far, one by one, and
	// every waiting client must then be served.
	servedCount := 0
	for i, c := range conns {
		if i < first {
			continue
		}
		if i == first || served(i, 100*time.Millisecond) {
			servedCount++
			c.Close()
			continue
		}
		// Waiting: free more descriptors until it is served.
		deadline := time.Now().Add(15 * time.Second)
		for !served(i, 200*time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("client %d was never served after descriptors were freed", i)
			}
		}
		servedCount++
		c.Close()
	}
	stdin.Close()
	line, _ = out.ReadString('\n')
	var accepted, acceptErrors int
	if _, err := fmt.Sscanf(line, "stats %d %d", &accepted, &acceptErrors); err != nil {
		t.Fatalf("child's stats line %q: %v", line, err)
	}
	if acceptErrors == 0 || accepted < n-first {
		t.Errorf("child accepted %d with %d accept errors; want at least %d accepted and some EMFILE backed off from", accepted, acceptErrors, n-first)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}

}

// childCPU returns the CPU time (user and system) of process pid.
func childCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
