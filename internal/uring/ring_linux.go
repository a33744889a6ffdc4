package uring

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Config sets up a Ring. The zero value (or a nil *Config) is a ring of 256
// entries that only the creating thread may use.
type Config struct {
	// Entries is the size of the submission queue. The kernel rounds it up
	// to a power of two and clamps it at its maximum (32768). Zero means
	// 256.
	Entries uint32

	// CQEntries is the size of the completion queue, at least Entries.
	// Multishot requests post many completions per entry, so a loop sizes
	// this for its connections. Zero means the kernel's default, twice the
	// submission queue. A full queue loses nothing: the kernel keeps the
	// overflow (IORING_FEAT_NODROP) and the CQEs iterator collects it.
	CQEntries uint32

	// AnyThread leaves out IORING_SETUP_SINGLE_ISSUER and
	// IORING_SETUP_DEFER_TASKRUN, which tie the ring to the thread that
	// called New, and sets IORING_SETUP_COOP_TASKRUN instead. By default
	// the ring is single-issuer with deferred task work: completions are
	// processed only when the loop asks for them, in one batch, which is
	// the fastest mode and the one a loop that owns its ring wants.
	AnyThread bool

	// RegisterRingFD registers the ring's descriptor with the calling
	// thread (IORING_REGISTER_RING_FDS) so that each io_uring_enter skips
	// the descriptor lookup. The registration belongs to the thread, so
	// the ring must then be used and closed from that thread only.
	RegisterRingFD bool
}

// Ring is an io_uring instance: a submission queue, a completion queue and
// the entries, all mapped from the kernel. A Ring is not safe for
// concurrent use; without Config.AnyThread, every method must be called
// from the locked OS thread (runtime.LockOSThread) that called New.
type Ring struct {
	fd         int
	enterFD    int    // fd, or its registered index
	enterFlags uint32 // IORING_ENTER_REGISTERED_RING when registered
	setupFlags uint32
	features   uint32

	ringMem []byte // SQ and CQ rings, one mapping (IORING_FEAT_SINGLE_MMAP)
	sqeMem  []byte
	waitMem []byte // the io_uring_enter argument: see wait below

	sq struct {
		head, tail, flags *uint32
		mask, entries     uint32
		sqes              []SQE
		next              uint32 // the tail as we fill it; published by submit
		headSeen          uint32 // the head as last read, to skip the atomic load while there is room
	}
	cq struct {
		head, tail *uint32
		mask       uint32
		cqes       []CQE
	}

	// wait is the io_uring_getevents_arg and timespec for waits with a
	// timeout. They live in waitMem, not the Go heap, because the argument
	// holds the timespec's address as an integer, which keeps nothing
	// alive or in place.
	wait struct {
		arg *geteventsArg
		ts  *unix.Timespec
	}

	bufRings []*BufferRing
}

// The system calls, as variables so that a test can make them fail the
// way a refusing kernel does.
var (
	sysSetup = func(entries uint32, p *params) (int, error) {
		fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(p)), 0)
		if errno != 0 {
			return -1, errno
		}
		return int(fd), nil
	}
	sysRegister = func(fd int, op uint32, arg unsafe.Pointer, n uint32) (int, error) {
		r, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(fd), uintptr(op), uintptr(arg), uintptr(n), 0, 0)
		if errno != 0 {
			return -1, errno
		}
		return int(r), nil
	}
)

// New sets up a ring. It needs Linux 6.1 or later (for
// IORING_SETUP_DEFER_TASKRUN; 5.19 with Config.AnyThread). Where io_uring
// is missing or refused, the error wraps ErrUnsupported and the errno.
func New(cfg *Config) (*Ring, error) {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	entries := c.Entries
	if entries == 0 {
		entries = 256
	}
	var p params
	p.flags = wantedFlags(c)
	if c.CQEntries != 0 {
		p.flags |= setupCQSize
		p.cqEntries = c.CQEntries
	}
	fd, err := sysSetup(entries, &p)
	if err != nil {
		return nil, setupError(err, entries, p.flags, c.CQEntries)
	}
	r := &Ring{fd: fd, enterFD: fd, setupFlags: p.flags, features: p.features}
	if err := r.init(&p, c.RegisterRingFD); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// wantedFlags returns the setup flags for c. SUBMIT_ALL keeps a batch going
// past an entry that fails at submission (its error comes as a CQE), so
// one bad send does not hold back the others; CLAMP turns an oversized
// request into the kernel's maximum instead of EINVAL.
func wantedFlags(c Config) uint32 {
	f := uint32(setupSubmitAll | setupClamp)
	if c.AnyThread {
		return f | setupCoopTaskrun
	}
	return f | setupSingleIssuer | setupDeferTaskrun
}

// setupFeatures are the setup flags New may ask for, oldest first, with
// the name and kernel that brought each: on EINVAL, setupError adds them
// one at a time to find the first this kernel lacks.
var setupFeatures = []struct {
	flag uint32
	name string
}{
	{setupSubmitAll, "IORING_SETUP_SUBMIT_ALL (Linux 5.18)"},
	{setupCoopTaskrun, "IORING_SETUP_COOP_TASKRUN (Linux 5.19)"},
	{setupSingleIssuer, "IORING_SETUP_SINGLE_ISSUER (Linux 6.0)"},
	{setupDeferTaskrun, "IORING_SETUP_DEFER_TASKRUN (Linux 6.1)"},
}

// setupError explains why io_uring_setup failed.
func setupError(err error, entries, flags, cqEntries uint32) error {
	switch {
	case errors.Is(err, unix.ENOSYS):
		return fmt.Errorf("%w: io_uring_setup: %w (a kernel built without io_uring, or a seccomp filter that refuses it)", ErrUnsupported, err)
	case errors.Is(err, unix.EPERM):
		return fmt.Errorf("%w: io_uring_setup: %w (%s)", ErrUnsupported, err, disabledReason())
	case errors.Is(err, unix.EINVAL):
		if name := missingFlag(entries, flags, cqEntries); name != "" {
			return fmt.Errorf("%w: io_uring_setup: %w: the kernel lacks %s", ErrUnsupported, err, name)
		}
	}
	return fmt.Errorf("sockpool/uring: io_uring_setup of %d entries: %w", entries, err)
}

// disabledReason reads kernel.io_uring_disabled to say who refused.
func disabledReason() string {
	b, err := os.ReadFile("/proc/sys/kernel/io_uring_disabled")
	switch v := strings.TrimSpace(string(b)); {
	case err != nil:
		return "refused: a seccomp filter, or kernel.io_uring_disabled"
	case v == "2":
		return "kernel.io_uring_disabled=2 refuses every process"
	case v == "1":
		return "kernel.io_uring_disabled=1 refuses processes outside kernel.io_uring_group"
	default:
		return "kernel.io_uring_disabled=" + v + ", so a seccomp filter or security module refused it"
	}
}

// missingFlag finds the first setup flag of flags that the kernel refuses,
// by setting up throwaway rings with the flags added in the order kernels
// gained them. It returns "" when the ring fails without any of them, or
// works with all, which leaves the sizes as the cause.
func missingFlag(entries, flags, cqEntries uint32) string {
	have := flags &^ (setupSubmitAll | setupCoopTaskrun | setupSingleIssuer | setupDeferTaskrun)
	if trySetup(entries, have, cqEntries) != nil {
		return ""
	}
	for _, f := range setupFeatures {
		if flags&f.flag == 0 {
			continue
		}
		have |= f.flag
		if err := trySetup(entries, have, cqEntries); err != nil {
			if errors.Is(err, unix.EINVAL) {
				return f.name
			}
			return ""
		}
	}
	return ""
}

// trySetup sets up a ring with these flags and closes it.
func trySetup(entries, flags, cqEntries uint32) error {
	p := params{flags: flags, cqEntries: cqEntries}
	fd, err := sysSetup(entries, &p)
	if err == nil {
		unix.Close(fd)
	}
	return err
}

// requiredFeatures are the IORING_FEAT_* bits the package relies on.
var requiredFeatures = []struct {
	bit  uint32
	name string
}{
	{featSingleMmap, "IORING_FEAT_SINGLE_MMAP (Linux 5.4)"},
	{featNoDrop, "IORING_FEAT_NODROP (Linux 5.5)"},
	{featExtArg, "IORING_FEAT_EXT_ARG (Linux 5.11)"},
}

// requiredOps are the opcodes the Prep methods use, checked with
// IORING_REGISTER_PROBE.
var requiredOps = []struct {
	op   uint8
	name string
}{
	{opNop, "IORING_OP_NOP"},
	{opPollAdd, "IORING_OP_POLL_ADD"},
	{opSendmsg, "IORING_OP_SENDMSG"},
	{opTimeout, "IORING_OP_TIMEOUT"},
	{opAccept, "IORING_OP_ACCEPT"},
	{opAsyncCancel, "IORING_OP_ASYNC_CANCEL"},
	{opClose, "IORING_OP_CLOSE"},
	{opRead, "IORING_OP_READ"},
	{opSend, "IORING_OP_SEND"},
	{opRecv, "IORING_OP_RECV"},
	{opShutdown, "IORING_OP_SHUTDOWN"},
}

// init checks the features, maps the rings and probes the opcodes.
func (r *Ring) init(p *params, registerFD bool) error {
	for _, f := range requiredFeatures {
		if p.features&f.bit == 0 {
			return fmt.Errorf("%w: the kernel lacks %s", ErrUnsupported, f.name)
		}
	}
	if err := r.probe(); err != nil {
		return err
	}
	// With SINGLE_MMAP one mapping covers both rings; it must be as long
	// as the longer of the two.
	size := max(p.sqOff.array+p.sqEntries*4, p.cqOff.cqes+p.cqEntries*uint32(unsafe.Sizeof(CQE{})))
	var err error
	if r.ringMem, err = unix.Mmap(r.fd, offSQRing, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		return fmt.Errorf("sockpool/uring: mmap of the rings: %w", err)
	}
	if r.sqeMem, err = unix.Mmap(r.fd, offSQEs, int(p.sqEntries)*int(unsafe.Sizeof(SQE{})), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		return fmt.Errorf("sockpool/uring: mmap of the entries: %w", err)
	}
	if r.waitMem, err = unix.Mmap(-1, 0, unix.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS); err != nil {
		return fmt.Errorf("sockpool/uring: mmap: %w", err)
	}
	// Every pointer below points into memory the kernel mapped for this
	// ring, at offsets it gave, so it stays valid until Close unmaps it.
	r.sq.head = r.word(p.sqOff.head)
	r.sq.tail = r.word(p.sqOff.tail)
	r.sq.flags = r.word(p.sqOff.flags)
	r.sq.mask = *r.word(p.sqOff.ringMask)
	r.sq.entries = *r.word(p.sqOff.ringEntries)
	r.sq.sqes = unsafe.Slice((*SQE)(unsafe.Pointer(&r.sqeMem[0])), r.sq.entries)
	// The index array maps ring slots to entries; slot i always holds
	// entry i, so it is filled once here and never touched again.
	array := unsafe.Slice(r.word(p.sqOff.array), r.sq.entries)
	for i := range array {
		array[i] = uint32(i)
	}
	r.cq.head = r.word(p.cqOff.head)
	r.cq.tail = r.word(p.cqOff.tail)
	r.cq.mask = *r.word(p.cqOff.ringMask)
	r.cq.cqes = unsafe.Slice((*CQE)(unsafe.Pointer(&r.ringMem[p.cqOff.cqes])), *r.word(p.cqOff.ringEntries))
	r.wait.arg = (*geteventsArg)(unsafe.Pointer(&r.waitMem[0]))
	r.wait.ts = (*unix.Timespec)(unsafe.Pointer(&r.waitMem[unsafe.Sizeof(geteventsArg{})]))
	r.wait.arg.ts = uint64(uintptr(unsafe.Pointer(r.wait.ts)))
	if registerFD {
		return r.registerFD()
	}
	return nil
}

// word returns the uint32 at off in the ring mapping.
func (r *Ring) word(off uint32) *uint32 {
	return (*uint32)(unsafe.Pointer(&r.ringMem[off]))
}

// probe checks that the kernel has every opcode in requiredOps.
func (r *Ring) probe() error {
	var pr probe
	if _, err := sysRegister(r.fd, registerProbe, unsafe.Pointer(&pr), probeOps); err != nil {
		if errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("%w: IORING_REGISTER_PROBE: %w (Linux 5.6)", ErrUnsupported, err)
		}
		return fmt.Errorf("sockpool/uring: IORING_REGISTER_PROBE: %w", err)
	}
	for _, o := range requiredOps {
		if int(o.op) >= int(pr.opsLen) || pr.ops[o.op].flags&probeOpSupported == 0 {
			return fmt.Errorf("%w: the kernel lacks %s", ErrUnsupported, o.name)
		}
	}
	return nil
}

// registerFD registers the ring descriptor with the calling thread.
func (r *Ring) registerFD() error {
	u := rsrcUpdate{offset: ^uint32(0), data: uint64(r.fd)} // any free slot
	if _, err := sysRegister(r.fd, registerRingFDs, unsafe.Pointer(&u), 1); err != nil {
		return fmt.Errorf("sockpool/uring: IORING_REGISTER_RING_FDS: %w", err)
	}
	r.enterFD = int(u.offset)
	r.enterFlags = enterRegisteredRing
	return nil
}

// Close unregisters and unmaps every BufferRing made from r, unmaps the
// rings and closes the descriptor, which cancels the requests still in
// flight. Buffers passed to Prep methods may be reused once Close returns.
// Closing a closed Ring does nothing.
func (r *Ring) Close() error {
	if r.fd < 0 {
		return nil
	}
	for len(r.bufRings) > 0 {
		r.bufRings[0].Close()
	}
	var err error
	if r.enterFlags&enterRegisteredRing != 0 {
		// Left registered, the thread's table would keep the ring alive
		// after its descriptor is closed.
		u := rsrcUpdate{offset: uint32(r.enterFD)}
		if _, uerr := sysRegister(r.fd, unregisterRingFDs, unsafe.Pointer(&u), 1); uerr != nil {
			err = fmt.Errorf("sockpool/uring: IORING_UNREGISTER_RING_FDS: %w (Close must run on the thread that called New)", uerr)
		}
	}
	for _, m := range [][]byte{r.sqeMem, r.ringMem, r.waitMem} {
		if m != nil {
			unix.Munmap(m)
		}
	}
	r.sqeMem, r.ringMem, r.waitMem = nil, nil, nil
	r.sq.sqes, r.cq.cqes = nil, nil
	if cerr := unix.Close(r.fd); cerr != nil && err == nil {
		err = fmt.Errorf("sockpool/uring: closing the ring: %w", cerr)
	}
	r.fd = -1
	return err
}

// Features returns the IORING_FEAT_* bits the kernel reported.
func (r *Ring) Features() uint32 { return r.features }
