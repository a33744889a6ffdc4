package uring

// The kernel's io_uring ABI, transcribed from include/uapi/linux/io_uring.h.
// abi_linux_test.go checks every size, offset and value here against the
// header when a C compiler and the header are installed, and the sizes
// against fixed numbers always.

// Setup flags (io_uring_params.flags).
const (
	setupCQSize         = 1 << 3
	setupClamp          = 1 << 4
	setupSubmitAll      = 1 << 7
	setupCoopTaskrun    = 1 << 8
	setupSingleIssuer   = 1 << 12
	setupDeferTaskrun   = 1 << 13
	featSingleMmap      = 1 << 0
	featNoDrop          = 1 << 1
	featExtArg          = 1 << 8
	sqCQOverflow        = 1 << 1 // sq ring flags
	enterGetEvents      = 1 << 0
	enterExtArg         = 1 << 3
	enterRegisteredRing = 1 << 4
)

// mmap offsets of the rings.
const (
	offSQRing = 0
	offSQEs   = 0x10000000
)

// Opcodes.
const (
	opNop         = 0
	opPollAdd     = 6
	opSendmsg     = 9
	opTimeout     = 11
	opAccept      = 13
	opAsyncCancel = 14
	opClose       = 19
	opRead        = 22
	opSend        = 26
	opRecv        = 27
	opShutdown    = 34
)

// SQE flags, ioprio bits and per-opcode flags.
const (
	sqeBufferSelect    = 1 << 5
	acceptMultishot    = 1 << 0 // in ioprio
	recvMultishot      = 1 << 1 // in ioprio
	recvsendPollFirst  = 1 << 0 // in ioprio: IORING_RECVSEND_POLL_FIRST
	cancelFD           = 1 << 1
	cqeFBuffer         = 1 << 0
	cqeFMore           = 1 << 1
	cqeFBufMore        = 1 << 4 // IORING_CQE_F_BUF_MORE (Linux 6.12)
	cqeBufferShift     = 16
	probeOpSupported   = 1 << 0
	registerProbe      = 8
	registerRingFDs    = 20
	unregisterRingFDs  = 21
	registerPbufRing   = 22
	unregisterPbufRing = 23
	pbufRingInc        = 2 // IOU_PBUF_RING_INC, in io_uring_buf_reg.flags (Linux 6.12)
)

// Exported flags for the Prep methods, under names that say what they do.
const (
	// SQEIOLink makes the next entry start only after this one succeeds.
	SQEIOLink = 1 << 2
	// SQEAsync makes the kernel run the request from a worker thread
	// instead of trying it inline first.
	SQEAsync = 1 << 4
	// SQESkipSuccess posts no completion when the request succeeds; a
	// failure still posts one.
	SQESkipSuccess = 1 << 6

	// CancelAll cancels every request matching the key instead of the
	// first one.
	CancelAll = 1 << 0

	// TimeoutAbs reads the timeout's time as an absolute CLOCK_MONOTONIC
	// time instead of a duration.
	TimeoutAbs = 1 << 0
	// TimeoutMultishot makes a timeout fire every interval until it is
	// cancelled (Linux 6.4); each completion but the last has More set.
	TimeoutMultishot = 1 << 6
)

// SQE is a submission queue entry (struct io_uring_sqe, 64 bytes) in the
// ring's shared memory, had from Ring.NextSQE and filled by one of its Prep
// methods. Each field is one of the kernel's unions, named after the
// member used most.
type SQE struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64 // off, addr2, cmd_op
	addr        uint64 // addr, splice_off_in
	len         uint32
	opFlags     uint32 // rw_flags, msg_flags, timeout_flags, accept_flags, cancel_flags, ...
	userData    uint64
	bufIndex    uint16 // buf_index, buf_group
	personality uint16
	spliceFDIn  int32 // splice_fd_in, file_index, addr_len
	addr3       uint64
	_           uint64
}

// sqringOffsets is struct io_sqring_offsets.
type sqringOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

// cqringOffsets is struct io_cqring_offsets.
type cqringOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

// params is struct io_uring_params: 120 bytes.
type params struct {
	sqEntries    uint32
	cqEntries    uint32
	flags        uint32
	sqThreadCPU  uint32
	sqThreadIdle uint32
	features     uint32
	wqFD         uint32
	resv         [3]uint32
	sqOff        sqringOffsets
	cqOff        cqringOffsets
}

// bufEntry is struct io_uring_buf, one slot of a provided buffer ring. The
// ring's tail is the resv field of slot 0 (struct io_uring_buf_ring).
type bufEntry struct {
	addr uint64
	len  uint32
	bid  uint16
	resv uint16
}

// bufReg is struct io_uring_buf_reg, the argument of
// IORING_(UN)REGISTER_PBUF_RING.
type bufReg struct {
	ringAddr    uint64
	ringEntries uint32
	bgid        uint16
	flags       uint16
	resv        [3]uint64
}

// geteventsArg is struct io_uring_getevents_arg, the argument of
// io_uring_enter with IORING_ENTER_EXT_ARG.
type geteventsArg struct {
	sigmask   uint64
	sigmaskSz uint32
	pad       uint32
	ts        uint64
}

// rsrcUpdate is struct io_uring_rsrc_update, one entry of the
// IORING_REGISTER_RING_FDS argument.
type rsrcUpdate struct {
	offset uint32
	resv   uint32
	data   uint64
}

// probeOp is struct io_uring_probe_op.
type probeOp struct {
	op    uint8
	resv  uint8
	flags uint16
	resv2 uint32
}

// probeOps is room in the probe for every opcode a kernel may report
// (the kernel caps the count at its IORING_OP_LAST).
const probeOps = 256

// probe is struct io_uring_probe with room for probeOps ops.
type probe struct {
	lastOp uint8
	opsLen uint8
	resv   uint16
	resv2  [3]uint32
	ops    [probeOps]probeOp
}

// CQE is a completion queue entry (struct io_uring_cqe, 16 bytes) as the
// kernel posted it. The pointer the CQEs iterator yields is valid only
// until the iteration moves past it: the kernel reuses the slot.
type CQE struct {
	// UserData is the value given to the Prep method of the request.
	UserData uint64
	// Res is the request's result: what the system call would return, or
	// a negated errno.
	Res int32
	// Flags holds IORING_CQE_F_* bits and, with a provided buffer, its id;
	// read them with More and BufferID.
	Flags uint32
}
