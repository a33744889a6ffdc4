package packet

import (
	"net"
	"net/netip"
)

// portableReader reads one datagram at a time with ReadFrom: the path on
// systems without recvmmsg, and for sockets that are not a syscall.Conn.
type portableReader struct {
	pc  net.PacketConn
	udp *net.UDPConn // pc, when it is one: ReadFromUDPAddrPort allocates nothing
	max int
}

func newPortableReader(pc net.PacketConn, maxSize int) *portableReader {
	r := &portableReader{pc: pc, max: maxSize}
	r.udp, _ = pc.(*net.UDPConn)
	return r
}

func (r *portableReader) batch() int { return 1 }

// slotSize is one byte more than the largest datagram: ReadFrom cuts a
// longer datagram to the buffer without saying so, so a datagram that
// fills the buffer is one that was too long.
func (r *portableReader) slotSize() int { return r.max + 1 }

func (r *portableReader) read(slots []slot) (int, error) {
	sl := &slots[0]
	var (
		n    int
		from netip.AddrPort
		err  error
	)
	if r.udp != nil {
		n, from, err = r.udp.ReadFromUDPAddrPort(sl.buf)
	} else {
		var a net.Addr
		n, a, err = r.pc.ReadFrom(sl.buf)
		if ua, ok := a.(*net.UDPAddr); ok {
			from = ua.AddrPort()
		}
	}
	if err != nil {
		return 0, err
	}
	sl.n, sl.from, sl.oversize = n, from, n > r.max
	return 1, nil
}
