package servercmd_test

import (
	"fmt"

	"github.com/sockpool/sockpool/examples/internal/servercmd"
)

func ExampleProxyPolicy() {
	p, err := servercmd.ProxyPolicy(true, "10.0.0.0/8, 192.0.2.7")
	fmt.Println(p.Trusted, err)
	_, err = servercmd.ProxyPolicy(true, "")
	fmt.Println(err)
	// Output:
	// [10.0.0.0/8 192.0.2.7/32] <nil>
	// -proxy-protocol needs -trusted-proxies: a header is believed only from a trusted load balancer
}
