package uring

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// BufferRing is a provided buffer ring (IORING_REGISTER_PBUF_RING): a
// group of buffers of one size that the kernel picks from for requests
// prepared with the group's id (PrepRecvMultishot), so that a connection
// with no data in flight holds no buffer. A buffer the kernel filled is
// the caller's, named by CQE.BufferID, until Recycle gives it back.
type BufferRing struct {
	ring    *Ring
	group   uint16
	size    int
	mask    uint16
	tail    uint16 // the next slot to fill; the kernel sees it after Publish
	ringMem []byte // the io_uring_buf slots, mapped
	slots   []bufEntry
	data    []byte // the buffers, mapped
}

// NewBufferRing registers count buffers of size bytes as group id group.
// count is a power of two up to 32768. The buffers are handed to the
// kernel at once. Linux 5.19.
func (r *Ring) NewBufferRing(group uint16, count, size int) (*BufferRing, error) {
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
	reg := bufReg{ringAddr: uint64(uintptr(unsafe.Pointer(&b.ringMem[0]))), ringEntries: uint32(count), bgid: group}
	if _, err := sysRegister(r.fd, registerPbufRing, unsafe.Pointer(&reg), 1); err != nil {
		b.unmap()
		if errors.Is(err, unix.EINVAL) {
			return nil, fmt.Errorf("%w: IORING_REGISTER_PBUF_RING: %w (Linux 5.19)", ErrUnsupported, err)
		}
		return nil, fmt.Errorf("sockpool/uring: IORING_REGISTER_PBUF_RING of group %d: %w", group, err)
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

// Buffer returns buffer id, all Size bytes of it; a completion's data is
// Buffer(id)[:cqe.Res].
func (b *BufferRing) Buffer(id uint16) []byte {
	off := int(id) * b.size
	return b.data[off : off+b.size : off+b.size]
}

// Recycle queues buffer id to be given back to the kernel. The kernel
// sees it, and every buffer recycled before it, after the next Publish:
// a loop recycles as it goes and publishes once a turn. Recycling a
// buffer the caller does not hold corrupts the ring.
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
