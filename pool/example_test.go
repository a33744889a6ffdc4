package pool_test

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/sockpool/sockpool/pool"
)

func ExamplePool_Submit() {
	p, err := pool.New(pool.Config{Size: 2})
	if err != nil {
		fmt.Println(err)
		return
	}

	squares := make([]int, 5)
	var wg sync.WaitGroup
	for i := range squares {
		wg.Add(1)
		// With Block, the default, Submit waits while 2 tasks are running.
		err := p.Submit(context.Background(), func() {
			defer wg.Done()
			squares[i] = i * i
		})
		if err != nil {
			wg.Done()
			fmt.Println(err)
		}
	}
	wg.Wait()
	fmt.Println(squares)

	if err := p.Close(context.Background()); err != nil {
		fmt.Println(err)
	}
	fmt.Println(p.Stats().Submitted, "tasks")
	fmt.Println(p.Submit(context.Background(), func() {}))
	// Output:
	// [0 1 4 9 16]
	// 5 tasks
	// sockpool/pool: pool is closed
}

func ExamplePool_Submit_reject() {
	p, err := pool.New(pool.Config{Size: 1, Policy: pool.Reject})
	if err != nil {
		fmt.Println(err)
		return
	}
	started, release := make(chan struct{}), make(chan struct{})
	err = p.Submit(context.Background(), func() { // takes the only worker
		close(started)
		<-release
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	<-started

	err = p.Submit(context.Background(), func() {})
	fmt.Println(errors.Is(err, pool.ErrOverload), p.Stats().Rejected)

	close(release)
	if err := p.Close(context.Background()); err != nil {
		fmt.Println(err)
	}
	// Output:
	// true 1
}
