package uring

import (
	"errors"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// configs are the ways a ring can be set up; the setup and NOP tests run
// over all of them.
var configs = []struct {
	name string
	cfg  *Config
}{
	{"default", nil},
	{"sized", &Config{Entries: 8, CQEntries: 64}},
	{"any-thread", &Config{AnyThread: true}},
	{"registered-fd", &Config{RegisterRingFD: true}},
}

func TestNewCloseLeavesNoDescriptor(t *testing.T) {
	for _, tc := range configs {
		t.Run(tc.name, func(t *testing.T) {
			lockThread(t)
			before := openFDs(t)
			for range 3 {
				r, err := New(tc.cfg)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := r.NewBufferRing(1, 8, 4096); err != nil {
					t.Fatal(err)
				}
				if err := r.Close(); err != nil {
					t.Fatal(err)
				}
				if err := r.Close(); err != nil {
					t.Fatalf("second Close: %v", err)
				}
			}
			if after := openFDs(t); after != before {
				t.Fatalf("%d descriptors open after setup and Close, %d before", after, before)
			}
		})
	}
}

func TestNopRoundTrip(t *testing.T) {
	datas := []uint64{0, 1, 0xdeadbeef, 1<<64 - 1}
	for _, tc := range configs {
		t.Run(tc.name, func(t *testing.T) {
			r := newRing(t, tc.cfg)
			for _, ud := range datas {
				sqe(t, r).PrepNop(ud)
			}
			got := collect(t, r, len(datas))
			for i, c := range got {
				if c.UserData != datas[i] || c.Res != 0 || c.More() {
					t.Errorf("completion %d = %+v, want user data %#x, Res 0, no More", i, c, datas[i])
				}
			}
		})
	}
}

// TestQueuesFull prepares more entries than the submission queue holds and
// completes more than the completion queue holds, without reaping in
// between: NextSQE must submit to make room, and the overflow must come
// back whole and in order.
func TestQueuesFull(t *testing.T) {
	r := newRing(t, &Config{Entries: 4, CQEntries: 4})
	const n = 50
	for i := range n {
		sqe(t, r).PrepNop(uint64(i))
	}
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	if !r.overflowed() {
		t.Fatal("IORING_SQ_CQ_OVERFLOW is clear after 50 completions into a 4-entry queue")
	}
	got := collect(t, r, n)
	for i, c := range got {
		if c.UserData != uint64(i) {
			t.Fatalf("completion %d has user data %d: overflow lost or reordered", i, c.UserData)
		}
	}
	if r.overflowed() {
		t.Fatal("IORING_SQ_CQ_OVERFLOW still set after reaping everything")
	}
}

func TestBufferRingArguments(t *testing.T) {
	r := newRing(t, nil)
	for _, tc := range []struct{ count, size int }{{0, 4096}, {3, 4096}, {1 << 16, 16}, {8, 0}} {
		if _, err := r.NewBufferRing(2, tc.count, tc.size); err == nil {
			t.Errorf("NewBufferRing(%d, %d) = nil error", tc.count, tc.size)
		}
	}
	if _, err := r.NewBufferRing(2, 8, 64); err != nil {
		t.Fatal(err)
	}
	if _, err := r.NewBufferRing(2, 8, 64); !errors.Is(err, unix.EEXIST) {
		t.Fatalf("registering group 2 twice: %v, want EEXIST", err)
	}
}

// TestUnsupported forces each way the kernel can refuse io_uring through
// the system call hooks, and checks the error New gives and that it left
// no descriptor behind.
func TestUnsupported(t *testing.T) {
	realSetup, realRegister := sysSetup, sysRegister
	t.Cleanup(func() { sysSetup, sysRegister = realSetup, realRegister })
	tests := []struct {
		name        string
		setup       func(uint32, *params) (int, error)
		register    func(int, uint32, unsafe.Pointer, uint32) (int, error)
		unsupported bool
		errno       error
		says        string
	}{
		{
			name:        "ENOSYS",
			setup:       func(uint32, *params) (int, error) { return -1, unix.ENOSYS },
			unsupported: true, errno: unix.ENOSYS, says: "seccomp",
		},
		{
			name:        "EPERM",
			setup:       func(uint32, *params) (int, error) { return -1, unix.EPERM },
			unsupported: true, errno: unix.EPERM, says: "kernel.io_uring_disabled",
		},
		{
			name: "no DEFER_TASKRUN",
			setup: func(n uint32, p *params) (int, error) {
				if p.flags&setupDeferTaskrun != 0 {
					return -1, unix.EINVAL
				}
				return realSetup(n, p)
			},
			unsupported: true, errno: unix.EINVAL, says: "IORING_SETUP_DEFER_TASKRUN",
		},
		{
			name:  "bad size",
			setup: func(uint32, *params) (int, error) { return -1, unix.EINVAL },
			errno: unix.EINVAL, says: "io_uring_setup of 256 entries",
		},
		{
			name: "no EXT_ARG",
			setup: func(n uint32, p *params) (int, error) {
				fd, err := realSetup(n, p)
				p.features &^= featExtArg
				return fd, err
			},
			unsupported: true, says: "IORING_FEAT_EXT_ARG",
		},
		{
			name: "no SEND",
			register: func(fd int, op uint32, arg unsafe.Pointer, n uint32) (int, error) {
				ret, err := realRegister(fd, op, arg, n)
				if op == registerProbe {
					(*probe)(arg).ops[opSend].flags = 0
				}
				return ret, err
			},
			unsupported: true, says: "IORING_OP_SEND",
		},
		{
			name:  "EMFILE",
			setup: func(uint32, *params) (int, error) { return -1, unix.EMFILE },
			errno: unix.EMFILE, says: "too many open files",
		},
	}
	lockThread(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sysSetup, sysRegister = realSetup, realRegister
			if tc.setup != nil {
				sysSetup = tc.setup
			}
			if tc.register != nil {
				sysRegister = tc.register
			}
			before := openFDs(t)
			r, err := New(nil)
			if err == nil {
				r.Close()
				t.Fatal("New succeeded")
			}
			t.Logf("New: %v", err)
			if got := errors.Is(err, ErrUnsupported); got != tc.unsupported {
				t.Errorf("errors.Is(err, ErrUnsupported) = %v, want %v", got, tc.unsupported)
			}
			if tc.errno != nil && !errors.Is(err, tc.errno) {
				t.Errorf("the error does not wrap %v", tc.errno)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("the error does not say %q", tc.says)
			}
			if after := openFDs(t); after != before {
				t.Errorf("%d descriptors open after the failed New, %d before", after, before)
			}
		})
	}
}
