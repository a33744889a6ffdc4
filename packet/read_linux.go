package packet

import (
	"net"
	"syscall"

	"github.com/sockpool/sockpool/packet/internal/mmsg"
)

// newReader reads pc in recvmmsg batches when it is a socket Go's poller
// watches (any *net.UDPConn), and with ReadFrom otherwise.
func (s *Server) newReader(pc net.PacketConn) reader {
	if sc, ok := pc.(syscall.Conn); ok && !s.portable {
		if rc, err := sc.SyscallConn(); err == nil {
			return newBatchReader(rc, s.batch, s.maxSize)
		}
	}
	return newPortableReader(pc, s.maxSize)
}

// batchReader receives up to BatchSize datagrams per system call. Waiting
// goes through syscall.RawConn.Read, so an idle reader parks on Go's poller
// and holds no thread.
type batchReader struct {
	r    *mmsg.Reader
	bufs [][]byte // the slots' buffers, in the form mmsg.Reader takes them
	max  int
}

func newBatchReader(rc syscall.RawConn, batch, maxSize int) *batchReader {
	return &batchReader{r: mmsg.NewReader(rc, batch), bufs: make([][]byte, batch), max: maxSize}
}

func (b *batchReader) batch() int { return len(b.bufs) }

// slotSize is exactly the largest datagram: the kernel flags a longer one
// with MSG_TRUNC.
func (b *batchReader) slotSize() int { return b.max }

func (b *batchReader) read(slots []slot) (int, error) {
	for i := range slots {
		b.bufs[i] = slots[i].buf
	}
	n, err := b.r.Read(b.bufs[:len(slots)])
	if err != nil {
		return 0, err
	}
	for i := range n {
		slots[i].n = b.r.Len(i)
		slots[i].from = b.r.Addr(i)
		slots[i].oversize = b.r.Truncated(i)
	}
	return n, nil
}
