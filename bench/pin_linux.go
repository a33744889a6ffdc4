package main

import (
	"syscall"
	"unsafe"
)

// setAffinity runs thread tid on cpus only (sched_setaffinity(2)).
func setAffinity(tid int, cpus []int) error {
	var mask [16]uint64 // 1024 CPUs, the kernel's cpu_set_t
	for _, c := range cpus {
		if c < 0 || c >= 64*len(mask) {
			return syscall.EINVAL
		}
		mask[c/64] |= 1 << (c % 64)
	}
	_, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, uintptr(tid), unsafe.Sizeof(mask), uintptr(unsafe.Pointer(&mask)))
	if errno != 0 {
		return errno
	}
	return nil
}
