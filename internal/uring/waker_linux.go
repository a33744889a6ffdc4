package uring

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Waker wakes a loop that waits on its ring from another goroutine: an
// eventfd that the loop keeps a read of armed on its ring (Arm), and that
// Wake writes to. The read completes, its CQE ends the loop's wait, and
// the loop arms it again.
//
// An eventfd rather than IORING_OP_MSG_RING, because MSG_RING is sent
// from a ring, and the goroutines that wake a loop (a handler's Write
// from anywhere) have none; a write(2) works from any thread, and the
// kernel takes the read's completion into a single-issuer ring like any
// other.
type Waker struct {
	fd      int
	buf     []byte // the counter the read fills: mapped, because the kernel writes it after Submit returns
	pending atomic.Bool
}

// NewWaker makes a Waker.
func NewWaker() (*Waker, error) {
	// Non-blocking so that the ring's read waits by polling instead of
	// tying up a kernel worker thread.
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("sockpool/uring: eventfd: %w", err)
	}
	buf, err := unix.Mmap(-1, 0, unix.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("sockpool/uring: mmap: %w", err)
	}
	return &Waker{fd: fd, buf: buf[:8]}, nil
}

// Arm prepares s as the read that Wake completes, with userData. The loop
// calls it at the start and again on each of its completions, and then
// looks for the work it was woken for: a Wake that comes before Arm
// returns has been seen by then, and one that comes after completes the
// new read.
func (w *Waker) Arm(s *SQE, userData uint64) {
	w.pending.Store(false)
	s.PrepRead(userData, w.fd, w.buf)
}

// Wake wakes the loop. It is safe from any goroutine, and cheap when the
// loop has already been woken and has not yet armed again: only the first
// Wake of a round makes a system call.
func (w *Waker) Wake() error {
	if w.pending.Swap(true) {
		return nil
	}
	var one [8]byte // the eventfd counter is a native-endian uint64
	binary.NativeEndian.PutUint64(one[:], 1)
	if _, err := unix.Write(w.fd, one[:]); err != nil && !errors.Is(err, unix.EAGAIN) {
		// EAGAIN: the counter is at its maximum, so a read is
		// already due.
		return fmt.Errorf("sockpool/uring: waking: %w", err)
	}
	return nil
}

// Close closes the eventfd and unmaps the read's buffer. Close the ring
// first, or cancel the read and see its completion: the armed read holds
// the buffer's address.
func (w *Waker) Close() error {
	err := unix.Close(w.fd)
	unix.Munmap(w.buf[:cap(w.buf)])
	return err
}
