package pool_test

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sockpool/sockpool/pool"
)

// newCase is a case of TestNew.
type newCase struct {
	name     string
	cfg      pool.Config
	wantSize int
	wantErr  string // substring of the error; empty means no error
}

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []newCase{
		{name: "zero", cfg: pool.Config{}, wantSize: pool.DefaultSize},
		{name: "size", cfg: pool.Config{Size: 3}, wantSize: 3},
		{name: "reject", cfg: pool.Config{Size: 1, Policy: pool.Reject}, wantSize: 1},
		{name: "expiry", cfg: pool.Config{Expiry: time.Minute}, wantSize: pool.DefaultSize},
		{name: "negative size", cfg: pool.Config{Size: -1}, wantErr: "Size must not be negative, got -1"},
		{name: "unknown policy", cfg: pool.Config{Policy: 2}, wantErr: "unknown Policy 2"},
		{name: "negative expiry", cfg: pool.Config{Expiry: -time.Second}, wantErr: "Expiry must not be negative, got -1s"},
	}
	if strconv.IntSize == 64 { // a Size past ants' int32 capacity exists only there
		huge := int64(math.MaxInt32)
		huge++
		tests = append(tests, newCase{name: "huge size", cfg: pool.Config{Size: int(huge)}, wantErr: "Size must not be larger than"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.wantErr != "" {
				p, err := pool.New(tt.cfg)
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New(%+v) = %v, %v; want error containing %q", tt.cfg, p, err, tt.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "sockpool/pool: ") {
					t.Errorf("error %q lacks the package prefix", err)
				}
				return
			}
			p := newPool(t, tt.cfg)
			if got := p.Size(); got != tt.wantSize {
				t.Errorf("Size() = %d, want %d", got, tt.wantSize)
			}
			if got := p.Stats().Size; got != tt.wantSize {
				t.Errorf("Stats().Size = %d, want %d", got, tt.wantSize)
			}
		})
	}
}

func TestPolicyString(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		p    pool.Policy
		want string
	}{
		{pool.Block, "block"},
		{pool.Reject, "reject"},
		{pool.Policy(7), "Policy(7)"},
	} {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("Policy(%d).String() = %q, want %q", int(tt.p), got, tt.want)
		}
	}
}

func TestPolicyText(t *testing.T) {
	for _, p := range []pool.Policy{pool.Block, pool.Reject} {
		b, err := p.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var got pool.Policy
		if err := got.UnmarshalText(b); err != nil || got != p {
			t.Errorf("round trip of %v gave %v, %v", p, got, err)
		}
	}
	var p pool.Policy
	if err := p.UnmarshalText([]byte("drop")); err == nil {
		t.Error(`UnmarshalText("drop") succeeded`)
	}
}
