package uring_test

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/sockpool/sockpool/internal/uring"
)

// A NOP through a ring: prepare, submit and wait in one call, reap.
func ExampleRing() {
	runtime.LockOSThread() // the ring is single-issuer: one thread uses it
	defer runtime.UnlockOSThread()
	r, err := uring.New(nil)
	if errors.Is(err, uring.ErrUnsupported) {
		fmt.Println("no io_uring here:", err)
		return
	} else if err != nil {
		panic(err)
	}
	defer r.Close()
	sqe, err := r.NextSQE()
	if err != nil {
		panic(err)
	}
	sqe.PrepNop(42)
	if _, err := r.SubmitAndWait(1); err != nil {
		panic(err)
	}
	for cqe := range r.CQEs() {
		fmt.Println(cqe.UserData, cqe.Res)
	}
	// Output: 42 0
}
