//go:build linux

package server

import "golang.org/x/sys/unix"

// canSendfile: on Linux, sendfile(2) writes to any socket, TCP or UNIX.
const canSendfile = true

// maxSendfile bounds one sendfile(2) call, which Linux caps just below
// 2 GiB anyway.
const maxSendfile = 1 << 30

// sendfile makes one sendfile(2) call from r into socket sock and advances
// r. A call that sends nothing with bytes left means the file has ended
// early: errFileShrank.
func sendfile(sock int, r *fileRange) (int, error) {
	off := r.off
	n, err := unix.Sendfile(sock, r.fd, &off, int(min(r.n, maxSendfile)))
	if n > 0 {
		r.off += int64(n)
		r.n -= int64(n)
	}
	if n == 0 && err == nil {
		return 0, errFileShrank(r)
	}
	return n, err
}
