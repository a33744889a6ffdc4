package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/sockpool/sockpool/tlsconf"
)

// tlsEngine reports whether engine can serve TLS in bench: sockpool's
// engines and the net baseline (crypto/tls over a goroutine per
// connection). The peers gnet and nbio are run without TLS.
func tlsEngine(engine string) bool { return engine == "net" || tunable(engine) }

// tlsLabel is the engine name a TLS cell is reported under, so that its
// table rows and chart lines stand apart from the plain ones.
func tlsLabel(engine string) string { return engine + "+tls" }

// handshakeMsgSize is the echo each handshake cell's connection makes
// before it closes.
const handshakeMsgSize = 64

// tlsMaterial is a run's certificate: files for the servers, a client
// config that trusts it.
type tlsMaterial struct {
	certFile, keyFile string
	client            *tls.Config
}

// newTLSMaterial makes a self-signed certificate for 127.0.0.1 in dir.
func newTLSMaterial(dir string) (*tlsMaterial, error) {
	cert, err := tlsconf.SelfSigned("127.0.0.1")
	if err != nil {
		return nil, err
	}
	m := &tlsMaterial{certFile: filepath.Join(dir, "cert.pem"), keyFile: filepath.Join(dir, "key.pem")}
	if err := tlsconf.WriteFiles(cert, m.certFile, m.keyFile); err != nil {
		return nil, err
	}
	roots, err := tlsconf.CertPool(cert)
	if err != nil {
		return nil, err
	}
	m.client, err = tlsconf.Client(tlsconf.ClientConfig{RootCAs: roots, ServerName: "127.0.0.1"})
	return m, err
}

// A handshakeSpec describes a handshake cell: Conns clients, each making
// connections one after another, each connection a full TLS handshake (or
// a resumed one, with Resume), one checked echo of handshakeMsgSize bytes,
// and a close.
type handshakeSpec struct {
	Addr      string
	Conns     int
	Resume    bool
	TLS       *tls.Config
	Warmup    time.Duration
	Duration  time.Duration
	Seed      uint64
	ServerCPU func() (time.Duration, error)
}

// runHandshakes runs a handshake cell. Each connection counts as one
// "message" of the result, and its latency runs from the dial to the end
// of the echo. With Resume, a connection that was not resumed is an error:
// the cell would not measure what it says.
func runHandshakes(ctx context.Context, spec handshakeSpec) *loadResult {
	res := &loadResult{Hist: hdrhistogram.New(histMin, histMax, histSigFigs), PerConn: make([]int64, spec.Conns)}
	var phase atomic.Int32
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, spec.Conns)
	for i := range spec.Conns {
		conf := spec.TLS.Clone()
		conf.ClientSessionCache = nil
		if spec.Resume {
			conf.ClientSessionCache = tls.NewLRUClientSessionCache(1)
		}
		pat := newPattern(spec.Seed, uint64(i), handshakeMsgSize)
		wg.Go(func() {
			got := make([]byte, handshakeMsgSize)
			d := net.Dialer{Timeout: dialTimeout}
			for first := true; phase.Load() != phaseStop; first = false {
				start := time.Now()
				resumed, err := handshakeOnce(ctx, &d, spec.Addr, conf, pat.next(), got)
				if err != nil {
					if phase.Load() != phaseStop || ctx.Err() == nil {
						errs[i] = err
					}
					return
				}
				if spec.Resume && !first && !resumed {
					errs[i] = errors.New("bench: the session was not resumed")
					return
				}
				if phase.Load() == phaseMeasure {
					mu.Lock()
					res.Hist.RecordValue(int64(time.Since(start)))
					mu.Unlock()
					res.PerConn[i]++
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	interrupted := res.measure(ctx, &phase, done, spec.Warmup, spec.Duration, spec.ServerCPU)
	<-done // every step is bounded by dialTimeout and handshakeTimeout
	for i, err := range errs {
		if err != nil {
			res.Errors++
			if res.FirstErr == nil {
				res.FirstErr = fmt.Errorf("client %d: %w", i, err)
			}
		}
	}
	if interrupted {
		res.cutShort(ctx, "client")
	}
	return res
}

// handshakeTimeout bounds one connection of a handshake cell.
const handshakeTimeout = 10 * time.Second

// handshakeOnce dials, handshakes, echoes msg (checking it into got) and
// closes; it reports whether the session was resumed.
func handshakeOnce(ctx context.Context, d *net.Dialer, addr string, conf *tls.Config, msg, got []byte) (bool, error) {
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false, fmt.Errorf("dial: %w", err)
	}
	c := tls.Client(raw, conf)
	defer c.Close()
	c.SetDeadline(time.Now().Add(handshakeTimeout))
	if err := c.HandshakeContext(ctx); err != nil {
		return false, fmt.Errorf("handshake: %w", err)
	}
	if _, err := c.Write(msg); err != nil {
		return false, fmt.Errorf("write: %w", err)
	}
	if _, err := io.ReadFull(c, got); err != nil {
		return false, fmt.Errorf("%w: %w", errShortRead, err)
	}
	if string(got) != string(msg) {
		return false, mismatch(got, msg)
	}
	// A TLS 1.3 ticket arrives after the handshake, with the first
	// records: reading the echo has taken it in, so the next connection
	// can resume.
	return c.ConnectionState().DidResume, nil
}
