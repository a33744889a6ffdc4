// Package uring is a small binding of Linux io_uring over
// golang.org/x/sys/unix, for the server's uring engine: ring setup, the
// request types a stream server needs, provided buffer rings, and one
// system call to submit a batch and wait for completions or a deadline.
// Linux only (6.1 or later); elsewhere the package holds only
// ErrUnsupported.
//
// A loop owns a ring and runs on a locked OS thread, because the ring is
// single-issuer with deferred task work (see Config.AnyThread):
//
//	runtime.LockOSThread()
//	defer runtime.UnlockOSThread()
//	r, err := uring.New(&uring.Config{Entries: 1024, CQEntries: 8192})
//	if err != nil {
//		return err // errors.Is(err, uring.ErrUnsupported) on a refusing kernel
//	}
//	defer r.Close()
//	bufs, err := r.NewBufferRing(0, 1024, 4096)
//	// ...
//	sqe, _ := r.NextSQE()
//	sqe.PrepAcceptMultishot(acceptTag, listenFD, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
//	for {
//		bufs.Publish()
//		if _, err := r.SubmitAndWaitTimeout(1, sweepInterval); err != nil {
//			return err
//		}
//		for cqe := range r.CQEs() {
//			// By cqe.UserData: an accepted fd gets a PrepRecvMultishot
//			// with bufs.Group(); received data is
//			// bufs.Buffer(id)[:cqe.Res], sent back with PrepSend and
//			// recycled with bufs.Recycle(id) when the send completes;
//			// a completion without cqe.More() is re-armed.
//		}
//	}
//
// # Memory
//
// The kernel keeps the addresses of the rings, the provided buffers and
// the buffers of requests in flight after the system call that gave them
// returns, so none of them may be memory the Go runtime can move or free.
// The package maps all of its own (the rings by the kernel, the buffer
// rings, the wait argument and the Waker's counter with anonymous mmap)
// rather than pinning heap memory with runtime.Pinner: a mapping is
// page-aligned as the kernel wants a buffer ring, is outside the garbage
// collector's view, needs no Unpin on every path out, and a loop's buffer
// ring is megabytes that should not count as heap. Memory the caller
// passes to a Prep method (a send's bytes, a msghdr, a timespec) is the
// caller's to keep in place as the method says: mapped, or pinned.
//
// # Buffer rings
//
// A fixed ring (NewBufferRing) gives each completion a buffer of its own;
// an incremental one (NewIncrementalBufferRing, IOU_PBUF_RING_INC) lets
// completions share a buffer, each taking the bytes after the last, so
// buffers can be large while small reads use only their bytes. Take
// returns a completion's bytes and recycles its buffer once the kernel is
// done with it, on either kind.
//
// # Waking a loop
//
// Waker wakes a ring's wait from any goroutine through an eventfd read
// the loop keeps armed; its doc says why not IORING_OP_MSG_RING.
//
// # Completions that overflow, and buffers that run out
//
// New requires IORING_FEAT_NODROP: when the completion queue is full the
// kernel keeps completions on an overflow list and sets
// IORING_SQ_CQ_OVERFLOW, and the CQEs iterator moves them in with an
// io_uring_enter once it has drained the queue. A multishot recv that
// finds its buffer group empty ends with -ENOBUFS and More clear; the
// loop recycles buffers and prepares the recv again.
package uring
