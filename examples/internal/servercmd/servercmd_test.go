package servercmd

import (
	"errors"
	"os"
	"syscall"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, goleak.IgnoreCurrent()) }

func TestAccess(t *testing.T) {
	tests := []struct {
		allow, deny    string
		nilRules, unix bool
		nAllow, nDeny  int
		wantErr        bool
	}{
		{allow: "127.0.0.0/8, ::1, unix", deny: "127.0.0.9", unix: true, nAllow: 2, nDeny: 1},
		{nilRules: true},
		{allow: "unix", unix: true, nDeny: 2}, // UNIX-socket clients only
		{allow: "10.0.0.0/33", wantErr: true},
		{deny: "nope", wantErr: true},
	}
	for _, tt := range tests {
		a, err := Access(tt.allow, tt.deny)
		switch {
		case tt.wantErr:
			if err == nil {
				t.Errorf("Access(%q, %q) accepted", tt.allow, tt.deny)
			}
		case err != nil:
			t.Errorf("Access(%q, %q): %v", tt.allow, tt.deny, err)
		case tt.nilRules:
			if a != nil {
				t.Errorf("Access(%q, %q) = %+v, want no rules", tt.allow, tt.deny, a)
			}
		case a.Unix != tt.unix || len(a.Allow) != tt.nAllow || len(a.Deny) != tt.nDeny:
			t.Errorf("Access(%q, %q) = %+v", tt.allow, tt.deny, a)
		}
	}
}

func TestProxyPolicy(t *testing.T) {
	tests := []struct {
		name     string
		on       bool
		trusted  string
		nTrusted int
		unix     bool
		wantErr  bool
	}{
		{"prefixes and unix", true, "10.0.0.0/8,unix", 1, true, false},
		{"off", false, "", 0, false, false},
		{"on without -trusted-proxies", true, "", 0, false, true},
		{"-trusted-proxies without on", false, "10.0.0.1", 0, false, true},
		{"garbage", true, "10.0.0.0/99", 0, false, true},
	}
	for _, tt := range tests {
		p, err := ProxyPolicy(tt.on, tt.trusted)
		switch {
		case tt.wantErr:
			if err == nil {
				t.Errorf("%s: accepted", tt.name)
			}
		case err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case !tt.on:
			if p != nil {
				t.Errorf("%s: %+v, want no policy", tt.name, p)
			}
		case len(p.Trusted) != tt.nTrusted || p.TrustUnix != tt.unix:
			t.Errorf("%s: %+v", tt.name, p)
		}
	}
}

// TestUntilStop: SIGHUP calls onHUP and goes on waiting, SIGTERM ends the
// wait, and so does Serve's error, which is returned.
func TestUntilStop(t *testing.T) {
	sig := make(chan os.Signal, 2)
	sig <- syscall.SIGHUP
	sig <- syscall.SIGTERM
	hups := 0
	if err := UntilStop(sig, nil, func() { hups++ }); err != nil || hups != 1 {
		t.Errorf("UntilStop = %v after %d SIGHUPs; want nil after 1", err, hups)
	}
	serveErr := make(chan error, 1)
	boom := errors.New("boom")
	serveErr <- boom
	if err := UntilStop(make(chan os.Signal), serveErr, nil); err != boom {
		t.Errorf("UntilStop = %v, want Serve's error", err)
	}
}
