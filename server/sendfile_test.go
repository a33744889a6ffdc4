package server

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fileServer is a Handler that answers each request line "offset count"
// with "<", the range of the file at path sent by SendFile, and ">": a
// Write before and after the range, to check that the three keep their
// order. It opens the file for each request and closes it as soon as
// SendFile returns, which SendFile allows. Each SendFile's result goes to
// results.
type fileServer struct {
	path    string
	results chan sendResult
}

type sendResult struct {
	n   int64
	err error
}

func newFileServer(path string) *fileServer {
	return &fileServer{path: path, results: make(chan sendResult, 64)}
}

func (h *fileServer) OnData(c Conn, in []byte) {
	pending, _ := c.Value().([]byte)
	pending = append(pending, in...)
	for {
		i := bytes.IndexByte(pending, '\n')
		if i < 0 {
			break
		}
		var off, count int64
		if _, err := fmt.Sscan(string(pending[:i]), &off, &count); err != nil {
			c.CloseWithError(err)
			return
		}
		pending = pending[i+1:]
		f, err := os.Open(h.path)
		if err != nil {
			c.CloseWithError(err)
			return
		}
		c.Write([]byte("<"))
		n, err := c.SendFile(f, off, count)
		f.Close()
		c.Write([]byte(">"))
		h.results <- sendResult{n, err}
	}
	c.SetValue(pending)
}

// writeFile writes n pattern bytes to a new file in t's temporary
// directory and returns its path and contents.
func writeFile(t testing.TB, n int) (string, []byte) {
	t.Helper()
	data := pattern(uint64(n)+11, n)
	path := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, data
}

// dialFor connects to addr, over TLS when cli is not nil.
func dialFor(t testing.TB, addr net.Addr, cli *tls.Config) net.Conn {
	t.Helper()
	if cli == nil {
		return dial(t, addr)
	}
	return dialTLS(t, addr, cli)
}

// sendfileNetworks are the networks SendFile is tested on.
func sendfileNetworks() []string {
	if runtime.GOOS == "windows" {
		return []string{"tcp"}
	}
	return []string{"tcp", "unix"}
}

func TestSendFileOrder(t *testing.T) {
	const size = 3<<20 + 7
	path, data := writeFile(t, size)
	cases := []struct {
		name     string
		off, n   int64
		want     []byte // the range that arrives
		shortErr bool   // SendFile reports io.ErrUnexpectedEOF
	}{
		{"whole", 0, -1, data, false},
		{"middle", 100, 1000, data[100:1100], false},
		{"tail", size - 10, 10, data[size-10:], false},
		{"empty", 5, 0, nil, false},
		{"one-byte", size - 1, 1, data[size-1:], false},
		{"past the end", size - 5, 100, data[size-5:], true},
		{"beyond the file", size + 10, 5, nil, true},
		{"whole again", 0, size, data, false},
	}
	forEachSecurity(t, func(t *testing.T, ec engineCase, secure bool) {
		t.Parallel()
		for _, network := range sendfileNetworks() {
			t.Run(network, func(t *testing.T) {
				h := newFileServer(path)
				srv := &Server{Handler: h}
				var cli *tls.Config
				if secure {
					srv.TLSConfig, cli = tlsConfigs(t)
				}
				addr := serve(t, ec.configure(srv), network)
				c := dialFor(t, addr, cli)
				c.SetDeadline(time.Now().Add(60 * time.Second))
				r := bufio.NewReader(c)
				var total int64
				for _, tc := range cases {
					fmt.Fprintf(c, "%d %d\n", tc.off, tc.n)
					got := make([]byte, len(tc.want)+2)
					if _, err := io.ReadFull(r, got); err != nil {
						t.Fatalf("%s: read: %v", tc.name, err)
					}
					if got[0] != '<' || got[len(got)-1] != '>' || !bytes.Equal(got[1:len(got)-1], tc.want) {
						t.Fatalf("%s: %d bytes arrived out of order or wrong (first %q, last %q)", tc.name, len(got), got[0], got[len(got)-1])
					}
					res := <-h.results
					if res.n != int64(len(tc.want)) {
						t.Errorf("%s: SendFile returned %d, want %d", tc.name, res.n, len(tc.want))
					}
					if short := errors.Is(res.err, io.ErrUnexpectedEOF); short != tc.shortErr || !short && res.err != nil {
						t.Errorf("%s: SendFile error %v, want io.ErrUnexpectedEOF: %v", tc.name, res.err, tc.shortErr)
					}
					total += int64(len(got))
				}
				c.Close()
				waitFor(t, "the connection closed", func() bool { return srv.Stats().Active == 0 })
				if st := srv.Stats(); st.BytesOut != uint64(total) {
					t.Errorf("Stats.BytesOut = %d, want %d", st.BytesOut, total)
				}
			})
		}
	})
}

func TestSendFileSlowReader(t *testing.T) {
	const size = 64 << 20
	path, data := writeFile(t, size)
	want := sha256.Sum256(data)
	data = nil
	forEachSecurity(t, func(t *testing.T, ec engineCase, secure bool) {
		h := newFileServer(path)
		srv := &Server{Handler: h}
		var cli *tls.Config
		if secure {
			srv.TLSConfig, cli = tlsConfigs(t)
		}
		addr := serve(t, ec.configure(srv), "tcp")
		c := dialFor(t, addr, cli)
		c.SetDeadline(time.Now().Add(120 * time.Second))
		fmt.Fprintf(c, "0 -1\n")
		var before runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		hash := sha256.New()
		buf := make([]byte, 256<<10)
		var peakQueued int64
		var got int64
		for got < size+2 {
			n, err := c.Read(buf[:min(int64(len(buf)), size+2-got)])
			hash.Write(trimMarks(buf[:n], got, size))
			got += int64(n)
			if err != nil {
				t.Fatalf("read after %d bytes: %v", got, err)
			}
			if q := srv.Stats().Queued; q > peakQueued {
				peakQueued = q
			}
			if got/(1<<20) != (got-int64(n))/(1<<20) {
				time.Sleep(2 * time.Millisecond) // a reader slower than the server
			}
		}
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		if sum := hash.Sum(nil); !bytes.Equal(sum, want[:]) {
			t.Fatalf("sha256 of the %d bytes received differs from the file's", size)
		}
		if res := <-h.results; res.n != size || res.err != nil {
			t.Errorf("SendFile = %d, %v; want %d, nil", res.n, res.err, size)
		}
		// Nothing holds the file in memory: the heap grew by far less than
		// its size (the bound is loose: the client's own garbage counts).
		if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > size/4 {
			t.Errorf("the heap grew by %d bytes while a %d-byte file was sent", grew, size)
		}
		t.Logf("peak Stats.Queued %d", peakQueued)
	})
}

// trimMarks returns the part of p, which starts at offset at of the
// response, that is file data: without the "<" before the file and the ">"
// after its size bytes.
func trimMarks(p []byte, at, size int64) []byte {
	if at == 0 && len(p) > 0 {
		p, at = p[1:], 1
	}
	if end := size + 1 - at; int64(len(p)) > end {
		p = p[:max(end, 0)]
	}
	return p
}

// TestSendFileShrinks: a file truncated while SendFile sends it closes the
// connection with an error wrapping io.ErrUnexpectedEOF, after the bytes
// that were still there, and the server serves others as before.
func TestSendFileShrinks(t *testing.T) {
	const size, left = 16 << 20, 1 << 20
	forEachSecurity(t, func(t *testing.T, ec engineCase, secure bool) {
		t.Parallel()
		path, data := writeFile(t, size)
		h := newFileServer(path)
		rec := newRecorder(h)
		srv := &Server{Handler: rec}
		var cli *tls.Config
		if secure {
			srv.TLSConfig, cli = tlsConfigs(t)
		}
		addr := serve(t, ec.configure(srv), "tcp")
		c := dialFor(t, addr, cli)
		c.SetDeadline(time.Now().Add(60 * time.Second))
		fmt.Fprintf(c, "0 -1\n")
		// Let the socket fill, then cut the file short.
		waitFor(t, "output under way", func() bool { return srv.Stats().BytesOut > 0 })
		time.Sleep(50 * time.Millisecond)
		if err := os.Truncate(path, left); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(c)
		if err != nil && !isReset(err) {
			t.Fatalf("read: %v", err)
		}
		if len(got) == 0 || got[0] != '<' {
			t.Fatalf("received %d bytes, not starting with the request's mark", len(got))
		}
		got = got[1:]
		if len(got) >= size {
			t.Fatalf("received %d bytes of a file cut to %d", len(got), left)
		}
		// sendfile(2) hands the socket the file's pages, not copies: what it
		// had handed over past the cut may arrive changed (zeros). What the
		// file still holds must arrive as it is.
		if n := min(len(got), left); !bytes.Equal(got[:n], data[:n]) {
			t.Fatalf("the first %d bytes received are not the file's", n)
		}
		waitFor(t, "OnClose", func() bool { return len(rec.closes()) == 1 })
		if errs := rec.closes()[0]; len(errs) != 1 || !errors.Is(errs[0], io.ErrUnexpectedEOF) {
			t.Errorf("OnClose got %v, want an error wrapping io.ErrUnexpectedEOF", errs)
		}
		// Others are served as before.
		c2 := dialFor(t, addr, cli)
		c2.SetDeadline(time.Now().Add(30 * time.Second))
		fmt.Fprintf(c2, "0 100\n")
		reply := make([]byte, 102)
		if _, err := io.ReadFull(c2, reply); err != nil || !bytes.Equal(reply[1:101], data[:100]) {
			t.Errorf("a second client after the cut: %v, reply %q...", err, reply[:8])
		}
	})
}

// isReset reports whether err is a connection reset, which a client may
// see when the server cuts it with input unread.
func isReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "reset") || strings.Contains(err.Error(), "broken pipe"))
}

func TestSendFileRefuses(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr.Close(); pw.Close() })
	dir, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dir.Close() })
	path, _ := writeFile(t, 100)
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { file.Close() })
	cases := []struct {
		name   string
		f      *os.File
		off    int64
		target error // errors.Is; nil: any error
	}{
		{"pipe", pr, 0, ErrNotRegularFile},
		{"directory", dir, 0, ErrNotRegularFile},
		{"nil", nil, 0, nil},
		{"negative offset", file, -1, nil},
	}
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		errs := make(chan error, len(cases))
		srv := ec.configure(&Server{Handler: HandlerFunc(func(c Conn, in []byte) {
			for _, tc := range cases {
				n, err := c.SendFile(tc.f, tc.off, 10)
				if n != 0 || err == nil || tc.target != nil && !errors.Is(err, tc.target) {
					errs <- fmt.Errorf("%s: SendFile = %d, %v; want 0 and an error (%v)", tc.name, n, err, tc.target)
				} else {
					errs <- nil
				}
			}
			c.Write(in) // the connection is still good
		})})
		addr := serve(t, srv, "tcp")
		c := dial(t, addr)
		checkEcho(t, roundTrip(t, c, []byte("ping")), []byte("ping"))
		for range cases {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
	})
}

// TestSendFileReaderGone: a client that asks for a file and reads none of
// it leaves the range waiting on a full socket. When that client goes (a
// reset), its connection closes with an error; when the server is closed
// while another such client waits, that one closes too, and Serve
// returns. On uring the wait is a poll for room in the socket, which the
// reset completes and the close cancels.
func TestSendFileReaderGone(t *testing.T) {
	const size = 16 << 20
	path, _ := writeFile(t, size)
	forEachSecurity(t, func(t *testing.T, ec engineCase, secure bool) {
		t.Parallel()
		rec := newRecorder(newFileServer(path))
		srv := ec.configure(&Server{Handler: rec})
		var cli *tls.Config
		if secure {
			srv.TLSConfig, cli = tlsConfigs(t)
		}
		ln := listen(t, "tcp")
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve(ln) }()
		stall := func() net.Conn {
			sent := srv.Stats().BytesOut
			c := dialFor(t, ln.Addr(), cli)
			fmt.Fprintf(c, "0 -1\n")
			waitFor(t, "output under way", func() bool { return srv.Stats().BytesOut > sent })
			time.Sleep(50 * time.Millisecond) // the socket fills
			return c
		}
		c := stall()
		if tc, ok := c.(*tls.Conn); ok {
			c = tc.NetConn()
		}
		c.(*net.TCPConn).SetLinger(0) // a reset, with the server's bytes unread
		c.Close()
		waitFor(t, "OnClose of the client gone", func() bool { return len(rec.closes()) == 1 })
		if errs := rec.closes()[0]; len(errs) != 1 || errs[0] == nil {
			t.Errorf("OnClose after the reset got %v, want the write's error", errs)
		}
		stall()
		if err := srv.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-errc:
			if !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Serve did not return after Close with a range waiting")
		}
		waitFor(t, "OnClose of the second client", func() bool { return len(rec.closes()) == 2 })
	})
}

// TestSendFileAgain: a client asks for a file larger than WriteHighWater
// with one byte (plain and TLS), reads all of it, and asks again, twenty times. The
// handler only calls SendFile, so the range is all the connection's
// output: reading, paused while the range fills the queue, must resume
// each time it is out, however it went out: at once (the file fits in the
// socket's buffer) or after waits for room.
func TestSendFileAgain(t *testing.T) {
	for _, size := range []int{256 << 10, 8 << 20} {
		path, data := writeFile(t, size)
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		h := HandlerFunc(func(c Conn, in []byte) {
			for range in {
				if _, err := c.SendFile(f, 0, -1); err != nil {
					c.CloseWithError(err)
				}
			}
		})
		forEachSecurity(t, func(t *testing.T, ec engineCase, secure bool) {
			srv := ec.configure(&Server{Handler: h, WriteHighWater: 64 << 10, WriteLowWater: 16 << 10})
			var cli *tls.Config
			if secure {
				srv.TLSConfig, cli = tlsConfigs(t)
			}
			c := dialFor(t, serve(t, srv, "tcp"), cli)
			c.SetDeadline(time.Now().Add(60 * time.Second))
			got := make([]byte, size)
			for i := range 20 {
				if _, err := c.Write([]byte("G")); err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(c, got); err != nil {
					t.Fatalf("%d bytes, request %d: %v", size, i, err)
				}
				if !bytes.Equal(got, data) {
					t.Fatalf("%d bytes, request %d: the reply is not the file", size, i)
				}
			}
		})
	}
}
