package uring

import (
	"errors"
	"fmt"
	"iter"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// errSQFull is returned by NextSQE when a submission freed no entry.
var errSQFull = errors.New("sockpool/uring: submission queue still full after submitting")

// NextSQE returns the next free submission queue entry, for one of its
// Prep methods. When the queue is full it submits what is queued first
// and takes a slot that frees; it fails only when that submission fails.
// The entry goes to the kernel with the next Submit.
func (r *Ring) NextSQE() (*SQE, error) {
	if r.sq.next-r.sq.headSeen >= r.sq.entries {
		// The kernel advances the head as it consumes entries; the
		// acquire load orders our reuse of a slot after its read of it.
		r.sq.headSeen = atomic.LoadUint32(r.sq.head)
		if r.sq.next-r.sq.headSeen >= r.sq.entries {
			if _, err := r.Submit(); err != nil {
				return nil, err
			}
			r.sq.headSeen = atomic.LoadUint32(r.sq.head)
			if r.sq.next-r.sq.headSeen >= r.sq.entries {
				return nil, errSQFull
			}
		}
	}
	s := &r.sq.sqes[r.sq.next&r.sq.mask]
	r.sq.next++
	return s, nil
}

// Submit hands the prepared entries to the kernel without waiting and
// returns how many it took. On a single-issuer ring it also runs the
// deferred completion work, so that the CQEs iterator sees what has
// completed.
func (r *Ring) Submit() (int, error) {
	return r.enter(0, 0, nil)
}

// SubmitAndWait is Submit that then waits until at least minComplete
// completions are in the queue. It returns early, without error, when a
// signal interrupts the wait: the caller's loop looks at the queue and
// waits again.
func (r *Ring) SubmitAndWait(minComplete uint32) (int, error) {
	return r.enter(minComplete, enterGetEvents, nil)
}

// SubmitAndWaitTimeout is SubmitAndWait that also returns, without error,
// once timeout has passed: the one system call a loop makes to send its
// batch and sleep until a completion or its next deadline. A negative
// timeout is taken as zero.
func (r *Ring) SubmitAndWaitTimeout(minComplete uint32, timeout time.Duration) (int, error) {
	*r.wait.ts = unix.NsecToTimespec(max(timeout, 0).Nanoseconds())
	return r.enter(minComplete, enterGetEvents|enterExtArg, r.wait.arg)
}

// enter publishes the prepared entries and calls io_uring_enter. arg is
// the io_uring_getevents_arg for IORING_ENTER_EXT_ARG, or nil.
func (r *Ring) enter(minComplete, flags uint32, arg *geteventsArg) (int, error) {
	// The release store makes our writes to the entries visible to the
	// kernel before the tail that hands them over.
	atomic.StoreUint32(r.sq.tail, r.sq.next)
	toSubmit := r.sq.next - atomic.LoadUint32(r.sq.head)
	if r.setupFlags&setupDeferTaskrun != 0 || r.overflowed() {
		// Deferred completion work runs, and kept-back completions
		// move into the queue, only in an enter that asks for events.
		flags |= enterGetEvents
	}
	if toSubmit == 0 && flags&enterGetEvents == 0 {
		return 0, nil
	}
	var argp unsafe.Pointer
	var argSize uintptr
	if arg != nil {
		argp, argSize = unsafe.Pointer(arg), unsafe.Sizeof(*arg)
	}
	f := faultsInForce.Load() // a test's FailSends or FailRecvs
	if f != nil {
		f.beforeEnter(r, toSubmit)
	}
	n, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.enterFD), uintptr(toSubmit), uintptr(minComplete), uintptr(flags|r.enterFlags), uintptr(argp), argSize)
	if f != nil {
		f.afterEnter(r)
	}
	switch errno {
	case 0:
		return int(n), nil
	case unix.EINTR, unix.ETIME:
		// The wait ended early or timed out; what was submitted
		// stays submitted (the kernel reports the count instead of
		// the error when there was any).
		return 0, nil
	}
	return 0, fmt.Errorf("sockpool/uring: io_uring_enter: %w", syscall.Errno(errno))
}

// overflowed reports whether the kernel is holding completions back
// because the completion queue was full (IORING_SQ_CQ_OVERFLOW).
func (r *Ring) overflowed() bool {
	return atomic.LoadUint32(r.sq.flags)&sqCQOverflow != 0
}

// CQEs returns an iterator over the completions in the queue, oldest
// first, that makes no system call while there are any. A completion is
// consumed once yielded, the one a loop breaks on included; the queue's
// head moves once, when the iteration ends. When the kernel kept
// completions back because the queue was full, the iterator makes one
// io_uring_enter to move them in and goes on, so none is lost or taken
// out of order. The body may prepare and submit entries, but not range
// over CQEs again: the inner loop would see the outer one's entries.
func (r *Ring) CQEs() iter.Seq[*CQE] {
	return func(yield func(*CQE) bool) {
		head := *r.cq.head // only we write it
		defer func() {
			// The release store hands the slots back to the kernel
			// after we are done reading them.
			atomic.StoreUint32(r.cq.head, head)
		}()
		for {
			// The acquire load orders our reads of the entries after
			// the kernel's writes of them.
			tail := atomic.LoadUint32(r.cq.tail)
			for ; head != tail; head++ {
				if !yield(&r.cq.cqes[head&r.cq.mask]) {
					head++
					return
				}
			}
			if !r.overflowed() {
				return
			}
			atomic.StoreUint32(r.cq.head, head)
			if _, err := r.enter(0, enterGetEvents, nil); err != nil {
				return
			}
		}
	}
}

// More reports whether the request that posted c stays armed and will
// post more completions (IORING_CQE_F_MORE). A multishot request's last
// completion has it clear, and the request must be prepared again to
// continue.
func (c *CQE) More() bool { return c.Flags&cqeFMore != 0 }

// BufferID returns the id of the provided buffer the kernel put c's data
// in, and whether there is one (IORING_CQE_F_BUFFER). The buffer is the
// caller's until it recycles it.
func (c *CQE) BufferID() (uint16, bool) {
	return uint16(c.Flags >> cqeBufferShift), c.Flags&cqeFBuffer != 0
}

// Err returns nil when Res is a result, and the errno when it is a
// negated one.
func (c *CQE) Err() error {
	if c.Res >= 0 {
		return nil
	}
	return syscall.Errno(-c.Res)
}
