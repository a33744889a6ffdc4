package uring

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// BufferRing is a provided buffer ring (IORING_REGISTER_PBUF_RING): a
// group of buffers of one size that the kernel picks from for requests
// prepared with the group's id (PrepRecvMultishot), so that a connection
// with no data in flight holds no buffer. Take gives a completion's bytes
// and hands its buffer back once the kernel is done with it.
//
// A fixed ring (NewBufferRing) gives each completion a buffer of its own,
// whatever the completion's size. An incremental ring
// (NewIncrementalBufferRing, IOU_PBUF_RING_INC) lets completions share a
// buffer: each takes the bytes after the previous one's, and the buffer
// is done once they fill it, so buffers can be large without a short
// read holding a large buffer.
type BufferRing struct {
	ring    *Ring
	group   uint16
	size    int
	mask    uint16
	tail    uint16 // the next slot to fill; the kernel sees it after Publish
	ringMem []byte // the io_uring_buf slots, mapped
	slots   []bufEntry
	data    []byte // the buffers, mapped

	// used is, for an incremental ring, the bytes of each buffer the
	// completions taken so far filled: where the kernel writes next.
	used []uint32
}

// NewBufferRing registers count buffers of size bytes as group id group,
// each used whole by one completion. count is a power of two up to 32768.
// The buffers are handed to the kernel at once. Linux 5.19.
func (r *Ring) NewBufferRing(group uint16, count, size int) (*BufferRing, error) {
	return r.newBufferRing(group, count, size, 0)
}

// NewIncrementalBufferRing is NewBufferRing for a ring whose buffers
// completions consume incrementally (IOU_PBUF_RING_INC): a recv takes at
// most what is left of the buffer at the ring's head, and the next takes
// what follows, from the same buffer or, once it is full, the next one.
// Where the kernel cannot run such a ring correctly the error wraps
// ErrUnsupported, and the caller uses a fixed ring instead: a kernel that
// refuses the flag (before Linux 6.12), and one that may post the
// completions of two requests sharing the ring out of the order they
// consumed it (before 6.15 and 6.12.29, see completionsOrdered), which
// incremental consumption cannot tell apart.
func (r *Ring) NewIncrementalBufferRing(group uint16, count, size int) (*BufferRing, error) {
	if rel := kernelRelease(); !completionsOrdered(rel) {
		return nil, fmt.Errorf("%w: incremental buffer consumption on Linux %s: recv completions sharing a buffer may be posted out of order before Linux 6.15 (6.12.29 on 6.12)", ErrUnsupported, rel)
	}
	return r.newBufferRing(group, count, size, pbufRingInc)
}

func (r *Ring) newBufferRing(group uint16, count, size int, flags uint16) (*BufferRing, error) {
	if count <= 0 || count > 1<<15 || count&(count-1) != 0 {
		return nil, fmt.Errorf("sockpool/uring: buffer ring of %d buffers: the count must be a power of two up to 32768", count)
	}
	if size <= 0 || int64(size) > 1<<31 {
		return nil, fmt.Errorf("sockpool/uring: buffer ring of %d-byte buffers: the size must be between 1 and 2 GiB", size)
	}
	b := &BufferRing{ring: r, group: group, size: size, mask: uint16(count - 1)}
	var err error
	// Both the slots and the buffers are mapped rather than allocated:
	// the kernel keeps their addresses after the registration returns,
	// and mapped memory is outside what the Go runtime may move or free.
	if b.ringMem, err = unix.Mmap(-1, 0, count*int(unsafe.Sizeof(bufEntry{})), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS); err != nil {
		return nil, fmt.Errorf("sockpool/uring: mmap of a buffer ring: %w", err)
	}
	if b.data, err = unix.Mmap(-1, 0, count*size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS); err != nil {
		unix.Munmap(b.ringMem)
		return nil, fmt.Errorf("sockpool/uring: mmap of %d buffers of %d bytes: %w", count, size, err)
	}
	b.slots = unsafe.Slice((*bufEntry)(unsafe.Pointer(&b.ringMem[0])), count)
	reg := bufReg{ringAddr: uint64(uintptr(unsafe.Pointer(&b.ringMem[0]))), ringEntries: uint32(count), bgid: group, flags: flags}
	if _, err := sysRegister(r.fd, registerPbufRing, unsafe.Pointer(&reg), 1); err != nil {
		b.unmap()
		switch {
		case errors.Is(err, unix.EINVAL) && flags&pbufRingInc != 0:
			return nil, fmt.Errorf("%w: IORING_REGISTER_PBUF_RING with IOU_PBUF_RING_INC: %w (Linux 6.12)", ErrUnsupported, err)
		case errors.Is(err, unix.EINVAL):
			return nil, fmt.Errorf("%w: IORING_REGISTER_PBUF_RING: %w (Linux 5.19)", ErrUnsupported, err)
		}
		return nil, fmt.Errorf("sockpool/uring: IORING_REGISTER_PBUF_RING of group %d: %w", group, err)
	}
	if flags&pbufRingInc != 0 {
		b.used = make([]uint32, count)
	}
	for id := range count {
		b.Recycle(uint16(id))
	}
	b.Publish()
	r.bufRings = append(r.bufRings, b)
	return b, nil
}

// Group returns the group id to prepare requests with.
func (b *BufferRing) Group() uint16 { return b.group }

// Size returns the size of each buffer.
func (b *BufferRing) Size() int { return b.size }

// Incremental reports whether completions consume the buffers
// incrementally (NewIncrementalBufferRing).
func (b *BufferRing) Incremental() bool { return b.used != nil }

// Take returns the bytes cqe's completion put in its provided buffer (nil
// when it names none, or brought none) and gives the buffer back
// (Recycle) once the kernel is done with it: at once on a fixed ring; on
// an incremental one when a completion that brought bytes has
// IORING_CQE_F_BUF_MORE clear. The bytes stay valid until the next
// Publish, which is when the kernel may reuse them. Every completion that
// names a buffer of b must be taken, in the order the CQEs iterator
// yields them: on an incremental ring each one's bytes follow the
// previous one's in the buffer. An error means the kernel's account and
// b's disagree (a completion runs past the end of its buffer): the ring
// cannot be trusted to place input any longer.
func (b *BufferRing) Take(cqe *CQE) ([]byte, error) {
	id, ok := cqe.BufferID()
	switch {
	case !ok:
		return nil, nil
	case int(id) > int(b.mask):
		return nil, fmt.Errorf("sockpool/uring: a completion names buffer %d of group %d, which has %d", id, b.group, int(b.mask)+1)
	}
	buf := b.Buffer(id)
	if b.used == nil {
		b.Recycle(id)
		return buf[:max(cqe.Res, 0)], nil
	}
	if cqe.Res <= 0 {
		// Nothing consumed: the buffer stays at the ring's head, the
		// kernel's to fill. (Kernels before 7.0 report such a
		// completion without BUF_MORE, so the flag alone does not say
		// the buffer is done.)
		return nil, nil
	}
	off := int(b.used[id])
	end := off + int(cqe.Res)
	if end > b.size {
		return nil, fmt.Errorf("sockpool/uring: a completion of %d bytes at byte %d of %d-byte buffer %d of group %d: completions out of the order they consumed the buffer", cqe.Res, off, b.size, id, b.group)
	}
	if cqe.Flags&cqeFBufMore != 0 {
		b.used[id] = uint32(end)
	} else {
		b.used[id] = 0
		b.Recycle(id)
	}
	return buf[off:end:end], nil
}

// Buffer returns buffer id, all Size bytes of it; a completion's data is
// Buffer(id)[:cqe.Res].
func (b *BufferRing) Buffer(id uint16) []byte {
	off := int(id) * b.size
	return b.data[off : off+b.size : off+b.size]
}

// Recycle queues buffer id to be given back to the kernel, whole. The
// kernel sees it, and every buffer recycled before it, after the next
// Publish: a loop recycles as it goes and publishes once a turn. Take
// recycles for the caller; Recycle is for one that keeps a fixed ring's
// buffers past the next Publish (until a send of them completes, say).
// Recycling a buffer the caller does not hold corrupts the ring.
func (b *BufferRing) Recycle(id uint16) {
	s := &b.slots[b.tail&b.mask]
	s.addr = addr(b.Buffer(id))
	s.len = uint32(b.size)
	s.bid = id
	b.tail++
}

// Publish makes the recycled buffers available to the kernel.
func (b *BufferRing) Publish() {
	// The ring's 16-bit tail shares a 32-bit word with slot 0's bid,
	// which only we write, and Go has no 16-bit atomic store: so the
	// release store writes the whole word, bid unchanged. Building the
	// word in memory order keeps it right on either byte order.
	word := (*uint32)(unsafe.Pointer(&b.slots[0].bid))
	pair := [2]uint16{b.slots[0].bid, b.tail}
	atomic.StoreUint32(word, *(*uint32)(unsafe.Pointer(&pair)))
}

// Close unregisters the group and unmaps its buffers, which must no
// longer be in use. Ring.Close closes every BufferRing made from it.
func (b *BufferRing) Close() error {
	r := b.ring
	i := slices.Index(r.bufRings, b)
	if i < 0 {
		return nil
	}
	r.bufRings = slices.Delete(r.bufRings, i, i+1)
	reg := bufReg{bgid: b.group}
	_, err := sysRegister(r.fd, unregisterPbufRing, unsafe.Pointer(&reg), 1)
	b.unmap()
	if err != nil {
		return fmt.Errorf("sockpool/uring: IORING_UNREGISTER_PBUF_RING of group %d: %w", b.group, err)
	}
	return nil
}

func (b *BufferRing) unmap() {
	unix.Munmap(b.data)
	unix.Munmap(b.ringMem)
	b.data, b.ringMem, b.slots = nil, nil, nil
}

// kernelRelease returns the running kernel's release ("6.18.44-generic").
func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}

// completionsOrdered reports whether a kernel of this release posts the
// completions of requests sharing a buffer ring in the order they consumed
// it. Before the fix (io_uring: ensure deferred completions are flushed for
// multishot, Linux 6.15, backported to 6.12.29), a multishot recv's last
// completion, which is deferred, could be posted after the next request's
// completion from the same buffer. Releases it cannot read count as not
// ordered: the cost of a wrong no is fixed-size buffers, of a wrong yes
// input in the wrong place.
func completionsOrdered(release string) bool {
	if end := strings.IndexFunc(release, func(r rune) bool { return r != '.' && (r < '0' || r > '9') }); end >= 0 {
		release = release[:end] // "6.12.29" of "6.12.29-generic"
	}
	var v [3]int
	for i, f := range strings.SplitN(release, ".", 3) {
		n, err := strconv.Atoi(f)
		if err != nil {
			return false
		}
		v[i] = n
	}
	switch {
	case v[0] != 6:
		return v[0] > 6
	case v[1] == 12:
		return v[2] >= 29
	}
	return v[1] >= 15
}
