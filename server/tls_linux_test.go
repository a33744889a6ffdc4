package server

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestTLSHandshakeTimeout: a client that sends nothing, or only part of a
// ClientHello, is closed by HandshakeTimeout, and one that sends garbage at
// once; each is counted, never reaches the handler, and leaves no goroutine
// or descriptor behind. Not parallel, so that the counts are its own.
func TestTLSHandshakeTimeout(t *testing.T) {
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			before := openFDs(t)
			srvConf, _ := tlsConfigs(t)
			const timeout = 200 * time.Millisecond
			rec := newRecorder(echoHandler())
			srv := ec.configure(&Server{Handler: rec, TLSConfig: srvConf, HandshakeTimeout: timeout})
			ln := listen(t, "tcp")
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()

			cases := []struct {
				name    string
				send    []byte
				timeout bool
			}{
				{"silent", nil, true},
				{"partial ClientHello", []byte{22, 3, 1, 0, 200, 1}, true},
				{"garbage", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), false},
			}
			for _, tc := range cases {
				c := dial(t, ln.Addr())
				start := time.Now()
				c.Write(tc.send)
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, err := io.Copy(io.Discard, c); err != nil && isTimeout(err) {
					t.Fatalf("%s: not closed: %v", tc.name, err)
				}
				d := time.Since(start)
				if tc.timeout && d < timeout/2 {
					t.Errorf("%s: closed after %v, before the %v timeout", tc.name, d, timeout)
				}
				if !tc.timeout && d >= timeout {
					t.Errorf("%s: closed after %v, want at once", tc.name, d)
				}
				c.Close()
			}
			waitFor(t, "the connections to finish", func() bool { return srv.Stats().Closed == 3 })
			st := srv.Stats()
			if st.TLSHandshakeErrors != 3 || st.Timeouts != 2 || st.Active != 0 || st.TLSHandshakes != 0 {
				t.Errorf("Stats TLSHandshakeErrors/Timeouts/Active/TLSHandshakes = %d/%d/%d/%d, want 3/2/0/0",
					st.TLSHandshakeErrors, st.Timeouts, st.Active, st.TLSHandshakes)
			}
			if rec.opened != 0 || len(rec.closes()) != 0 {
				t.Errorf("the handler saw failed handshakes: %d OnOpen, %d OnClose", rec.opened, len(rec.closes()))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			if err := <-errc; !errors.Is(err, ErrServerClosed) {
				t.Fatalf("Serve returned %v", err)
			}
			// More descriptors is a leak; fewer is an earlier test's
			// socket whose close finished during this one (seen once in CI).
			if after := openFDs(t); after > before {
				t.Errorf("open fds went from %d to %d", before, after)
			}
		})
	}
}

// TestTLSShutdownDuringHandshake: Shutdown does not wait for pending
// handshakes to time out.
func TestTLSShutdownDuringHandshake(t *testing.T) {
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		srvConf, _ := tlsConfigs(t)
		srv := ec.configure(&Server{Handler: echoHandler(), TLSConfig: srvConf, HandshakeTimeout: time.Minute})
		ln := listen(t, "tcp")
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve(ln) }()
		for range 5 {
			dial(t, ln.Addr())
		}
		waitFor(t, "5 handshakes", func() bool { return srv.Stats().Active == 5 })
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Shutdown took %v with handshakes pending", d)
		}
		<-errc
		if st := srv.Stats(); st.TLSHandshakeErrors != 0 || st.Closed != 5 {
			t.Errorf("Stats TLSHandshakeErrors/Closed = %d/%d, want 0/5", st.TLSHandshakeErrors, st.Closed)
		}
	})
}
