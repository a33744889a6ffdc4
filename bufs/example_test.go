package bufs_test

import (
	"fmt"

	"github.com/sockpool/sockpool/bufs"
)

func ExampleGet() {
	buf := bufs.Get(1000) // rounded up to the 1 KiB class
	fmt.Println(len(buf), cap(buf))

	n := copy(buf, "hello")
	fmt.Printf("%s\n", buf[:n])
	bufs.Put(buf) // buf must not be used from here on

	// Output:
	// 1000 1024
	// hello
}

func ExampleClassSize() {
	for _, n := range []int{100, 4096, 5000, bufs.MaxSize + 1} {
		fmt.Println(n, bufs.ClassSize(n))
	}
	// Output:
	// 100 512
	// 4096 4096
	// 5000 8192
	// 4194305 4194305
}

func ExampleGetOutput() {
	out := bufs.GetOutput()
	out.WriteString("HTTP/1.1 200 OK\r\n")
	fmt.Printf("%q\n", out.B)
	bufs.PutOutput(out)

	// Output:
	// "HTTP/1.1 200 OK\r\n"
}
