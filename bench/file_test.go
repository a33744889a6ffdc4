package main

import (
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSmokeFile runs file cells through the real runner: every engine that
// serves files, both methods, the file checked byte for byte.
func TestSmokeFile(t *testing.T) {
	if testing.Short() {
		t.Skip("runs servers for a few seconds")
	}
	out := filepath.Join(t.TempDir(), "run")
	const size = 3<<20 + 5
	args := []string{"-engines", "threaded,evented,evented-pool,net,gnet", "-sizes", "", "-file", "3145733", "-conns", "2",
		"-duration", "500ms", "-warmup", "100ms", "-charts=false", "-out", out}
	rep, stdout, _ := runOK(t, args, out)
	got := map[string]result{}
	for _, r := range rep.Results {
		got[r.Engine] = r
	}
	if len(rep.Results) != 8 {
		t.Fatalf("%d results, want 8 (gnet serves no files): %+v", len(rep.Results), rep.Results)
	}
	for _, e := range []string{"threaded", "evented", "evented-pool", "net"} {
		for _, m := range []string{methodSendfile, methodCopy} {
			r := got[fileLabel(e, m)]
			if r.Status != statusOK || r.Kind != kindFile || r.Method != m || r.Size != size || r.Errors != 0 {
				t.Errorf("%s/%s: status %s (%s), kind %s, method %s, size %d, errors %d", e, m, r.Status, r.Error, r.Kind, r.Method, r.Size, r.Errors)
				continue
			}
			if r.MsgsPerSec <= 0 || r.MBPerSec <= 0 || r.MsgsPerCPUSec <= 0 || r.MinPerConn <= 0 {
				t.Errorf("%s/%s has implausible figures: %+v", e, m, r)
			}
		}
	}
	if !strings.Contains(stdout.String(), "sendfile / copy") {
		t.Errorf("the table has no sendfile / copy ratios:\n%s", stdout.String())
	}
}

// TestFileConn: the client of file cells accepts the file exactly and
// fails on a wrong byte, a short file, a server that sends nothing.
func TestFileConn(t *testing.T) {
	want := newPattern(1, 2, 100_000).block[:100_000]
	bad := append([]byte(nil), want...)
	bad[77_777] ^= 1
	cases := []struct {
		name   string
		reply  []byte
		target error // nil: the exchange succeeds
	}{
		{"exact", want, nil},
		{"wrong byte", bad, errMismatch},
		{"short", want[:99_999], errShortRead},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cli, srv := net.Pipe()
			defer cli.Close()
			go func() {
				defer srv.Close()
				req := make([]byte, 1)
				if _, err := srv.Read(req); err != nil || req[0] != fileRequest {
					return
				}
				srv.Write(tc.reply)
			}()
			cli.SetDeadline(time.Now().Add(5 * time.Second))
			calls := 0
			err := newFileConn(cli, want).exchange(nil, func(time.Duration) { calls++ })
			switch {
			case tc.target == nil && (err != nil || calls != 1):
				t.Errorf("exchange = %v, done called %d times; want nil, once", err, calls)
			case tc.target != nil && (!errors.Is(err, tc.target) || calls != 0):
				t.Errorf("exchange = %v, done called %d times; want %v, never", err, calls, tc.target)
			}
		})
	}
}
