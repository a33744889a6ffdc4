package uring

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// abi is every size, offset and constant of abi_linux.go under the name
// the kernel header gives it.
var abi = map[string]uintptr{
	"sizeof io_uring_sqe":                        unsafe.Sizeof(SQE{}),
	"offsetof io_uring_sqe.opcode":               unsafe.Offsetof(SQE{}.opcode),
	"offsetof io_uring_sqe.flags":                unsafe.Offsetof(SQE{}.flags),
	"offsetof io_uring_sqe.ioprio":               unsafe.Offsetof(SQE{}.ioprio),
	"offsetof io_uring_sqe.fd":                   unsafe.Offsetof(SQE{}.fd),
	"offsetof io_uring_sqe.off":                  unsafe.Offsetof(SQE{}.off),
	"offsetof io_uring_sqe.addr":                 unsafe.Offsetof(SQE{}.addr),
	"offsetof io_uring_sqe.len":                  unsafe.Offsetof(SQE{}.len),
	"offsetof io_uring_sqe.msg_flags":            unsafe.Offsetof(SQE{}.opFlags),
	"offsetof io_uring_sqe.user_data":            unsafe.Offsetof(SQE{}.userData),
	"offsetof io_uring_sqe.buf_group":            unsafe.Offsetof(SQE{}.bufIndex),
	"offsetof io_uring_sqe.personality":          unsafe.Offsetof(SQE{}.personality),
	"offsetof io_uring_sqe.splice_fd_in":         unsafe.Offsetof(SQE{}.spliceFDIn),
	"offsetof io_uring_sqe.addr3":                unsafe.Offsetof(SQE{}.addr3),
	"sizeof io_uring_cqe":                        unsafe.Sizeof(CQE{}),
	"offsetof io_uring_cqe.user_data":            unsafe.Offsetof(CQE{}.UserData),
	"offsetof io_uring_cqe.res":                  unsafe.Offsetof(CQE{}.Res),
	"offsetof io_uring_cqe.flags":                unsafe.Offsetof(CQE{}.Flags),
	"sizeof io_uring_params":                     unsafe.Sizeof(params{}),
	"offsetof io_uring_params.sq_entries":        unsafe.Offsetof(params{}.sqEntries),
	"offsetof io_uring_params.cq_entries":        unsafe.Offsetof(params{}.cqEntries),
	"offsetof io_uring_params.flags":             unsafe.Offsetof(params{}.flags),
	"offsetof io_uring_params.features":          unsafe.Offsetof(params{}.features),
	"offsetof io_uring_params.sq_off":            unsafe.Offsetof(params{}.sqOff),
	"offsetof io_uring_params.cq_off":            unsafe.Offsetof(params{}.cqOff),
	"sizeof io_sqring_offsets":                   unsafe.Sizeof(sqringOffsets{}),
	"offsetof io_sqring_offsets.head":            unsafe.Offsetof(sqringOffsets{}.head),
	"offsetof io_sqring_offsets.tail":            unsafe.Offsetof(sqringOffsets{}.tail),
	"offsetof io_sqring_offsets.ring_mask":       unsafe.Offsetof(sqringOffsets{}.ringMask),
	"offsetof io_sqring_offsets.flags":           unsafe.Offsetof(sqringOffsets{}.flags),
	"offsetof io_sqring_offsets.array":           unsafe.Offsetof(sqringOffsets{}.array),
	"sizeof io_cqring_offsets":                   unsafe.Sizeof(cqringOffsets{}),
	"offsetof io_cqring_offsets.head":            unsafe.Offsetof(cqringOffsets{}.head),
	"offsetof io_cqring_offsets.tail":            unsafe.Offsetof(cqringOffsets{}.tail),
	"offsetof io_cqring_offsets.ring_mask":       unsafe.Offsetof(cqringOffsets{}.ringMask),
	"offsetof io_cqring_offsets.overflow":        unsafe.Offsetof(cqringOffsets{}.overflow),
	"offsetof io_cqring_offsets.cqes":            unsafe.Offsetof(cqringOffsets{}.cqes),
	"sizeof io_uring_buf":                        unsafe.Sizeof(bufEntry{}),
	"offsetof io_uring_buf.addr":                 unsafe.Offsetof(bufEntry{}.addr),
	"offsetof io_uring_buf.len":                  unsafe.Offsetof(bufEntry{}.len),
	"offsetof io_uring_buf.bid":                  unsafe.Offsetof(bufEntry{}.bid),
	"offsetof io_uring_buf_ring.tail":            unsafe.Offsetof(bufEntry{}.resv),
	"sizeof io_uring_buf_reg":                    unsafe.Sizeof(bufReg{}),
	"offsetof io_uring_buf_reg.ring_addr":        unsafe.Offsetof(bufReg{}.ringAddr),
	"offsetof io_uring_buf_reg.ring_entries":     unsafe.Offsetof(bufReg{}.ringEntries),
	"offsetof io_uring_buf_reg.bgid":             unsafe.Offsetof(bufReg{}.bgid),
	"sizeof io_uring_getevents_arg":              unsafe.Sizeof(geteventsArg{}),
	"offsetof io_uring_getevents_arg.sigmask_sz": unsafe.Offsetof(geteventsArg{}.sigmaskSz),
	"offsetof io_uring_getevents_arg.ts":         unsafe.Offsetof(geteventsArg{}.ts),
	"sizeof io_uring_rsrc_update":                unsafe.Sizeof(rsrcUpdate{}),
	"offsetof io_uring_rsrc_update.data":         unsafe.Offsetof(rsrcUpdate{}.data),
	"sizeof io_uring_probe_op":                   unsafe.Sizeof(probeOp{}),
	"offsetof io_uring_probe_op.flags":           unsafe.Offsetof(probeOp{}.flags),
	"offsetof io_uring_probe.ops_len":            unsafe.Offsetof(probe{}.opsLen),
	"offsetof io_uring_probe.ops":                unsafe.Offsetof(probe{}.ops),

	"IORING_SETUP_CQSIZE":          setupCQSize,
	"IORING_SETUP_CLAMP":           setupClamp,
	"IORING_SETUP_SUBMIT_ALL":      setupSubmitAll,
	"IORING_SETUP_COOP_TASKRUN":    setupCoopTaskrun,
	"IORING_SETUP_SINGLE_ISSUER":   setupSingleIssuer,
	"IORING_SETUP_DEFER_TASKRUN":   setupDeferTaskrun,
	"IORING_FEAT_SINGLE_MMAP":      featSingleMmap,
	"IORING_FEAT_NODROP":           featNoDrop,
	"IORING_FEAT_EXT_ARG":          featExtArg,
	"IORING_SQ_CQ_OVERFLOW":        sqCQOverflow,
	"IORING_ENTER_GETEVENTS":       enterGetEvents,
	"IORING_ENTER_EXT_ARG":         enterExtArg,
	"IORING_ENTER_REGISTERED_RING": enterRegisteredRing,
	"IORING_OFF_SQ_RING":           offSQRing,
	"IORING_OFF_SQES":              offSQEs,
	"IORING_OP_NOP":                opNop,
	"IORING_OP_POLL_ADD":           opPollAdd,
	"IORING_OP_SENDMSG":            opSendmsg,
	"IORING_OP_TIMEOUT":            opTimeout,
	"IORING_OP_ACCEPT":             opAccept,
	"IORING_OP_ASYNC_CANCEL":       opAsyncCancel,
	"IORING_OP_CLOSE":              opClose,
	"IORING_OP_READ":               opRead,
	"IORING_OP_SEND":               opSend,
	"IORING_OP_RECV":               opRecv,
	"IORING_OP_SHUTDOWN":           opShutdown,
	"IOSQE_IO_LINK":                SQEIOLink,
	"IOSQE_ASYNC":                  SQEAsync,
	"IOSQE_BUFFER_SELECT":          sqeBufferSelect,
	"IOSQE_CQE_SKIP_SUCCESS":       SQESkipSuccess,
	"IORING_ACCEPT_MULTISHOT":      acceptMultishot,
	"IORING_RECV_MULTISHOT":        recvMultishot,
	"IORING_ASYNC_CANCEL_ALL":      CancelAll,
	"IORING_ASYNC_CANCEL_FD":       cancelFD,
	"IORING_TIMEOUT_ABS":           TimeoutAbs,
	"IORING_TIMEOUT_MULTISHOT":     TimeoutMultishot,
	"IORING_CQE_F_BUFFER":          cqeFBuffer,
	"IORING_CQE_F_MORE":            cqeFMore,
	"IORING_CQE_F_BUF_MORE":        cqeFBufMore,
	"IORING_CQE_BUFFER_SHIFT":      cqeBufferShift,
	"IO_URING_OP_SUPPORTED":        probeOpSupported,
	"IORING_REGISTER_PROBE":        registerProbe,
	"IORING_REGISTER_RING_FDS":     registerRingFDs,
	"IORING_UNREGISTER_RING_FDS":   unregisterRingFDs,
	"IORING_REGISTER_PBUF_RING":    registerPbufRing,
	"IORING_UNREGISTER_PBUF_RING":  unregisterPbufRing,
	"IOU_PBUF_RING_INC":            pbufRingInc,
}

// TestABISizes checks the sizes the kernel fixes, on every system.
func TestABISizes(t *testing.T) {
	for _, tc := range []struct {
		name string
		want uintptr
	}{
		{"sizeof io_uring_sqe", 64},
		{"sizeof io_uring_cqe", 16},
		{"sizeof io_uring_params", 120},
		{"sizeof io_sqring_offsets", 40},
		{"sizeof io_cqring_offsets", 40},
		{"sizeof io_uring_buf", 16},
		{"offsetof io_uring_buf_ring.tail", 14},
		{"sizeof io_uring_buf_reg", 40},
		{"sizeof io_uring_getevents_arg", 24},
		{"sizeof io_uring_rsrc_update", 16},
		{"sizeof io_uring_probe_op", 8},
		{"offsetof io_uring_probe.ops", 16},
	} {
		if got := abi[tc.name]; got != tc.want {
			t.Errorf("%s = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestABIHeader compiles a program against the installed
// <linux/io_uring.h> that prints every entry of abi, and compares. A
// constant older headers lack is printed only where the header defines
// it; the test names those it could not check.
func TestABIHeader(t *testing.T) {
	const header = "/usr/include/linux/io_uring.h"
	if _, err := os.Stat(header); err != nil {
		t.Skipf("no kernel header: %v (apt-get install linux-libc-dev)", err)
	}
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler")
	}
	var src strings.Builder
	src.WriteString("#include <stdio.h>\n#include <stddef.h>\n#include <linux/io_uring.h>\n" +
		"#define P(name, v) printf(\"%s %llu\\n\", name, (unsigned long long)(v))\nint main(void) {\n")
	for name := range abi {
		switch kind, what, _ := strings.Cut(name, " "); kind {
		case "sizeof":
			src.WriteString("P(\"" + name + "\", sizeof(struct " + what + "));\n")
		case "offsetof":
			st, field, _ := strings.Cut(what, ".")
			src.WriteString("P(\"" + name + "\", offsetof(struct " + st + ", " + field + "));\n")
		default:
			if strings.HasPrefix(name, "IOU_PBUF_RING_") {
				// an enumerator of Linux 6.12, which brought
				// IORING_CQE_F_BUF_MORE with it
				src.WriteString("#ifdef IORING_CQE_F_BUF_MORE\nP(\"" + name + "\", " + name + ");\n#endif\n")
			} else if strings.HasPrefix(name, "IORING_OP_") || strings.HasPrefix(name, "IORING_REGISTER_") ||
				strings.HasPrefix(name, "IORING_UNREGISTER_") || name == "IORING_CQE_BUFFER_SHIFT" || strings.HasPrefix(name, "IOSQE_") {
				// enumerators, which #ifdef cannot see, and which
				// every header with io_uring_buf_reg has
				src.WriteString("P(\"" + name + "\", " + name + ");\n")
			} else {
				src.WriteString("#ifdef " + name + "\nP(\"" + name + "\", " + name + ");\n#endif\n")
			}
		}
	}
	src.WriteString("return 0;\n}\n")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "abi.c"), []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	prog := filepath.Join(dir, "abi")
	if out, err := exec.Command(cc, "-o", prog, filepath.Join(dir, "abi.c")).CombinedOutput(); err != nil {
		t.Fatalf("compiling against %s: %v\n%s", header, err, out)
	}
	out, err := exec.Command(prog).Output()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		i := strings.LastIndexByte(sc.Text(), ' ')
		name := sc.Text()[:i]
		v, err := strconv.ParseUint(sc.Text()[i+1:], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seen[name] = true
		if uint64(abi[name]) != v {
			t.Errorf("%s is %d here, %d in %s", name, abi[name], v, header)
		}
	}
	for name := range abi {
		if !seen[name] {
			t.Logf("%s is not in this %s", name, header)
		}
	}
}
