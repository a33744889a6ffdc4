package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTLSCells runs plain and TLS echo cells side by side and both
// handshake cells through the real serve mode.
func TestTLSCells(t *testing.T) {
	if testing.Short() {
		t.Skip("runs servers for a few seconds")
	}
	out := filepath.Join(t.TempDir(), "run")
	args := []string{"-engines", "evented,net,gnet", "-sizes", "1k", "-conns", "3", "-tls=both", "-handshakes", "2",
		"-duration", "500ms", "-warmup", "100ms", "-charts=false", "-peers", t.TempDir(), "-out", out}
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	rep, err := readJSON(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatalf("run = %d, %v; stderr:\n%s", code, err, stderr.String())
	}
	got := map[string]result{}
	for _, r := range rep.Results {
		got[r.Kind+" "+r.Engine] = r
	}
	for _, key := range []string{"echo evented", "echo evented+tls", "echo net", "echo net+tls",
		"handshake evented", "handshake net", "resume evented", "resume net"} {
		r, ok := got[key]
		if !ok {
			t.Errorf("no %s cell; results %+v", key, rep.Results)
			continue
		}
		if r.Status != statusOK || r.MsgsPerSec <= 0 || r.P50us <= 0 {
			t.Errorf("%s cell: status %s (%s), %v/s", key, r.Status, r.Error, r.MsgsPerSec)
		}
		if strings.HasSuffix(r.Engine, "+tls") != r.TLS {
			t.Errorf("%s cell: TLS flag %v", key, r.TLS)
		}
	}
	if _, ok := got["echo gnet+tls"]; ok {
		t.Error("gnet got a TLS cell; it has no TLS")
	}
	for _, want := range []string{"| evented+tls | 1k |", "| engine | TLS handshake |", "| net | resumed | 2 |"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, stdout.String())
		}
	}
}

// TestHandshakeCellChecks: a server that never resumes fails the resume
// cell, and one that echoes a wrong byte fails the full one.
func TestHandshakeCellChecks(t *testing.T) {
	m, err := newTLSMaterial(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(m.certFile, m.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		conf    *tls.Config
		flip    bool
		resume  bool
		wantErr string
	}{
		{"resumes", &tls.Config{Certificates: []tls.Certificate{cert}}, false, true, ""},
		{"no tickets", &tls.Config{Certificates: []tls.Certificate{cert}, SessionTicketsDisabled: true}, false, true, "not resumed"},
		{"flipped byte", &tls.Config{Certificates: []tls.Certificate{cert}}, true, false, errMismatch.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := tls.Listen("tcp", "127.0.0.1:0", tt.conf)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					go func() {
						defer c.Close()
						buf := make([]byte, handshakeMsgSize)
						if _, err := io.ReadFull(c, buf); err != nil {
							return
						}
						if tt.flip {
							buf[7] ^= 1
						}
						c.Write(buf)
					}()
				}
			}()
			lr := runHandshakes(context.Background(), handshakeSpec{Addr: ln.Addr().String(), Conns: 2, Resume: tt.resume,
				TLS: m.client, Warmup: 50 * time.Millisecond, Duration: 200 * time.Millisecond, Seed: 3})
			if tt.wantErr == "" {
				if lr.FirstErr != nil || lr.Hist.TotalCount() == 0 {
					t.Fatalf("%v, %d connections", lr.FirstErr, lr.Hist.TotalCount())
				}
				return
			}
			if lr.FirstErr == nil || !strings.Contains(lr.FirstErr.Error(), tt.wantErr) {
				t.Fatalf("first error %v, want one saying %q", lr.FirstErr, tt.wantErr)
			}
		})
	}
}
