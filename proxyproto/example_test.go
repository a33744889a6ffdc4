package proxyproto_test

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/sockpool/sockpool/proxyproto"
)

// A server peeks at a connection's first bytes and parses them: wait while
// the header is incomplete, close on an error, and skip the header's bytes
// when it is whole.
func ExampleParse() {
	peeked := []byte("PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\nGET / HTTP/1.1\r\n")

	for _, k := range []int{20, len(peeked)} { // two peeks, the second after more bytes came
		h, n, err := proxyproto.Parse(peeked[:k])
		switch {
		case errors.Is(err, proxyproto.ErrIncomplete):
			fmt.Println("incomplete: peek again")
		case err != nil:
			fmt.Println("close:", err)
		default:
			fmt.Println(h.Source, "->", h.Destination)
			fmt.Printf("application data: %q\n", peeked[n:k])
		}
	}
	_, _, err := proxyproto.Parse([]byte("GET / HTTP/1.1\r\n"))
	fmt.Println(err)
	// Output:
	// incomplete: peek again
	// 192.0.2.1:56324 -> 198.51.100.7:443
	// application data: "GET / HTTP/1.1\r\n"
	// sockpool/proxyproto: not a PROXY protocol header
}

// Read reads exactly the header; the application's bytes stay in the
// reader.
func ExampleRead() {
	h := &proxyproto.Header{
		Version:     2,
		Command:     proxyproto.Proxy,
		Source:      &net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 40000},
		Destination: &net.TCPAddr{IP: net.ParseIP("2001:db8::2"), Port: 443},
		TLVs:        []proxyproto.TLV{{Type: proxyproto.TypeAuthority, Value: []byte("example.com")}},
	}
	var conn strings.Builder
	h.WriteTo(&conn)
	conn.WriteString("hello")

	r := strings.NewReader(conn.String())
	got, err := proxyproto.Read(r)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(got)
	fmt.Println(got.Authority())
	fmt.Println(r.Len(), "bytes left")
	// Output:
	// PROXY v2 tcp [2001:db8::1]:40000 -> [2001:db8::2]:443
	// example.com
	// 5 bytes left
}

func ExampleHeader_AppendTo() {
	h := &proxyproto.Header{
		Version:     1,
		Command:     proxyproto.Proxy,
		Source:      &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 56324},
		Destination: &net.TCPAddr{IP: net.IPv4(198, 51, 100, 7), Port: 443},
	}
	b, err := h.AppendTo(nil)
	fmt.Printf("%q %v\n", b, err)

	h.Version = 2
	b, err = h.AppendTo(nil)
	fmt.Printf("% x %v\n", b, err)

	h.Source = &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 53}
	_, err = h.AppendTo(nil)
	fmt.Println(err)
	// Output:
	// "PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n" <nil>
	// 0d 0a 0d 0a 00 0d 0a 51 55 49 54 0a 21 11 00 0c c0 00 02 01 c6 33 64 07 dc 04 01 bb <nil>
	// sockpool/proxyproto: header cannot be encoded: addresses *net.UDPAddr and *net.TCPAddr are not a pair of *net.TCPAddr, *net.UDPAddr or *net.UnixAddr
}

func ExamplePolicy() {
	prefixes, err := proxyproto.ParsePrefixes("10.0.0.0/8, 192.0.2.7") // from -trusted-proxies
	if err != nil {
		fmt.Println(err)
		return
	}
	policy := &proxyproto.Policy{Trusted: prefixes}
	for _, remote := range []net.Addr{
		&net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 40000},
		&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.7"), Port: 40000},
		&net.TCPAddr{IP: net.ParseIP("203.0.113.9"), Port: 40000},
	} {
		fmt.Println(remote, policy.Trusts(remote))
	}
	fmt.Println(policy.HeaderTimeout())

	_, err = proxyproto.ParsePrefixes("10.0.0.0/8,lb.example.com")
	fmt.Println(err)
	// Output:
	// 10.1.2.3:40000 true
	// 192.0.2.7:40000 true
	// 203.0.113.9:40000 false
	// 5s
	// sockpool/proxyproto: invalid address or prefix: entry 2 "lb.example.com": not an IP address or a CIDR prefix such as 10.0.0.0/8
}
