//go:build linux

package server

import (
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sockpool/sockpool/internal/sockaddr"
)

// The evented engine accepts plain TCP connections itself, with accept4 on
// the listener's descriptor, and its loop watches the very socket accept4
// returned. Taken through ln.Accept, each connection would first become a
// net.TCPConn (a netFD, two TCPAddrs, a registration in Go's netpoller) and
// then be duplicated for the loop and closed: the netpoller's epoll_ctl,
// the dup, the close and the socket options set on each connection (set
// here once, on the listener: see acceptedOptions), and about 480 bytes of
// garbage per connection, which a burst of idle
// connections keeps as resident memory until the next collection
// (docs/design.md, "Measurements behind choices"). TLS and PROXY protocol
// servers still accept through ln.Accept: their handshake and header are
// read through the net.Conn before the loop takes the socket over.

// sockConn is a TCP socket the evented engine accepted itself, between its
// accept and its loop.
type sockConn struct {
	fd            int // -1 once closed or taken over
	local, remote netip.AddrPort
}

func (c *sockConn) LocalAddr() net.Addr  { return net.TCPAddrFromAddrPort(c.local) }
func (c *sockConn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(c.remote) }

// Close closes the socket unless an engine took it over.
func (c *sockConn) Close() error {
	if fd := c.take(); fd >= 0 {
		return unix.Close(fd)
	}
	return nil
}

// take hands the socket to its new owner: Close leaves it alone from now on.
func (c *sockConn) take() int {
	fd := c.fd
	c.fd = -1
	return fd
}

// rawAcceptor accepts with accept4 from a TCP listener's descriptor. It
// waits in an epoll instance of its own, where the listener's descriptor
// (not a duplicate: closing the listener must close the socket) and an
// eventfd for Close are registered; Go's netpoller offers no wait on a
// listener's RawConn. A listener closed directly, not through Close, no
// longer wakes the epoll; the wait's timeout finds it closed.
type rawAcceptor struct {
	ln    *net.TCPListener
	rc    syscall.RawConn
	epfd  int
	efd   int
	local netip.AddrPort // every connection's local address, if the listener has one

	// The result of the last try: one accept at a time (acceptLoop), and
	// try bound once so that a call allocates nothing. sc is reused: the
	// engine's serve copies what it needs before the next accept (see
	// accepted).
	sc     sockConn
	aerr   error
	try    func(fd uintptr)
	events [2]unix.EpollEvent

	mu       sync.Mutex
	released bool
}

// acceptTimeout bounds a wait, so that a listener closed without Close is
// noticed.
const acceptTimeout = time.Second

// acceptor accepts from ln itself when ln is a TCP listener on a server
// that speaks neither TLS nor PROXY protocol (see above); otherwise nil.
func (e *evented) acceptor(ln net.Listener) acceptor {
	s := e.srv
	tl, ok := ln.(*net.TCPListener)
	if !ok || s.TLSConfig != nil || s.ProxyProtocol != nil {
		return nil
	}
	rc, err := tl.SyscallConn()
	if err != nil {
		return nil
	}
	var oerr error
	if err := rc.Control(func(fd uintptr) { oerr = setAcceptedOptions(int(fd)) }); err != nil || oerr != nil {
		return nil // ln.Accept serves, setting them itself
	}
	a := &rawAcceptor{ln: tl, rc: rc, epfd: -1, efd: -1}
	// Every connection's local address is the listener's, unless the
	// listener's is a wildcard: then the kernel tells each one's.
	if la, ok := tl.Addr().(*net.TCPAddr); ok && !la.IP.IsUnspecified() {
		a.local = la.AddrPort()
	}
	a.try = func(fd uintptr) { a.aerr = accept4(int(fd), a.local, &a.sc) }
	if a.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil // ln.Accept serves
	}
	if a.efd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		a.release()
		return nil
	}
	var cerr error
	err = rc.Control(func(fd uintptr) {
		cerr = unix.EpollCtl(a.epfd, unix.EPOLL_CTL_ADD, int(fd), &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)})
	})
	if err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.EpollCtl(a.epfd, unix.EPOLL_CTL_ADD, a.efd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(a.efd)})
	}
	if err != nil {
		a.release()
		return nil
	}
	return a
}

// The options Go's Accept sets on every TCP connection by default: no Nagle
// delay, and keep-alive probes after 15 s idle, every 15 s, 9 of them
// (net.KeepAliveConfig's defaults). Set once on the listening socket, they
// are inherited by every socket accept4 returns (Linux copies them into
// the new socket), so accepting pays no system call for them. A
// listener's own KeepAlive setting cannot be read back from it, so
// connections the engine accepts itself get these defaults whatever it was.
var acceptedOptions = []struct{ level, opt, value int }{
	{unix.IPPROTO_TCP, unix.TCP_NODELAY, 1},
	{unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
	{unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 15},
	{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 15},
	{unix.IPPROTO_TCP, unix.TCP_KEEPCNT, 9},
}

// setAcceptedOptions sets acceptedOptions on the listening socket fd.
func setAcceptedOptions(fd int) error {
	for _, o := range acceptedOptions {
		if err := unix.SetsockoptInt(fd, o.level, o.opt, o.value); err != nil {
			return os.NewSyscallError("setsockopt", err)
		}
	}
	return nil
}

func (a *rawAcceptor) Addr() net.Addr { return a.ln.Addr() }

// accept returns the next connection. The listener's descriptor is used
// only inside Control, which holds it open: a Close meanwhile closes it
// after the call, never while its number could be reused.
func (a *rawAcceptor) accept() (accepted, error) {
	for {
		if err := a.rc.Control(a.try); err != nil {
			return nil, err // the listener was closed
		}
		switch a.aerr {
		case nil:
			return &a.sc, nil
		case unix.EAGAIN:
		default:
			return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: a.ln.Addr(), Err: os.NewSyscallError("accept4", a.aerr)}
		}
		_, err := unix.EpollWait(a.epfd, a.events[:], int(acceptTimeout/time.Millisecond))
		if err != nil && err != unix.EINTR {
			return nil, os.NewSyscallError("epoll_wait", err)
		}
	}
}

// Close closes the listener and wakes an accept waiting.
func (a *rawAcceptor) Close() error {
	err := a.ln.Close()
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.released {
		signal(a.efd)
	}
	return err
}

func (a *rawAcceptor) release() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.released = true
	for _, fd := range []int{a.efd, a.epfd} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// accept4 accepts one connection from the listening socket lfd into sc,
// non-blocking and close-on-exec. local is the connection's local address,
// or the zero AddrPort to ask the kernel. As Go's own accept does, it retries a
// connection reset before it was accepted (ECONNABORTED) and an interrupted
// call.
func accept4(lfd int, local netip.AddrPort, sc *sockConn) error {
	var rsa unix.RawSockaddrAny
	for {
		n := uint32(unix.SizeofSockaddrAny)
		r, _, e := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(lfd), uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&n)), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
		switch e {
		case 0:
		case unix.ECONNABORTED, unix.EINTR:
			continue
		default:
			return e
		}
		fd := int(r)
		if !local.IsValid() {
			var lsa unix.RawSockaddrAny
			ln := uint32(unix.SizeofSockaddrAny)
			if _, _, e := unix.RawSyscall(unix.SYS_GETSOCKNAME, r, uintptr(unsafe.Pointer(&lsa)), uintptr(unsafe.Pointer(&ln))); e != 0 {
				unix.Close(fd)
				if e == unix.ENOTCONN || e == unix.EINVAL {
					continue // reset already: as ECONNABORTED
				}
				return e
			}
			local = addrPortOf(&lsa)
		}
		*sc = sockConn{fd: fd, local: local, remote: addrPortOf(&rsa)}
		return nil
	}
}

// addrPortOf converts an IPv4 or IPv6 socket address; others give the zero
// AddrPort. An IPv6 zone is named after its interface, as Go's net names it
// (once per connection, so the netlink request is affordable here).
func addrPortOf(rsa *unix.RawSockaddrAny) netip.AddrPort {
	return sockaddr.Zoned(sockaddr.AddrPort(rsa), func(i int) (string, bool) {
		ifi, err := net.InterfaceByIndex(i)
		if err != nil {
			return "", false
		}
		return ifi.Name, true
	})
}
