package tlsconf_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/sockpool/sockpool/server"
	"github.com/sockpool/sockpool/tlsconf"
)

// A development echo server with a self-signed certificate, on a sockpool
// server, and a client that trusts it, negotiating TLS 1.3 and an ALPN
// protocol.
func Example() {
	cert, err := tlsconf.SelfSigned("localhost", "127.0.0.1")
	if err != nil {
		fmt.Println(err)
		return
	}
	srvConf, err := tlsconf.Server(tlsconf.Config{Certificate: cert, NextProtos: []string{"echo/1"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := &server.Server{
		Handler:   server.HandlerFunc(func(c server.Conn, in []byte) { c.Write(in) }),
		TLSConfig: srvConf, // every connection is TLS; the handler sees plaintext
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())

	roots, err := tlsconf.CertPool(cert)
	if err != nil {
		fmt.Println(err)
		return
	}
	cliConf, err := tlsconf.Client(tlsconf.ClientConfig{RootCAs: roots, ServerName: "localhost", NextProtos: []string{"echo/1"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := tls.Dial("tcp", ln.Addr().String(), cliConf)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	fmt.Fprintln(c, "hello")
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		fmt.Println(err)
	}
	st := c.ConnectionState()
	fmt.Println(tls.VersionName(st.Version), st.NegotiatedProtocol, strings.TrimSpace(line))
	// Output: TLS 1.3 echo/1 hello
}

func ExampleSelfSigned() {
	cert, err := tlsconf.SelfSigned("localhost", "127.0.0.1", "::1")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cert.Leaf.DNSNames, cert.Leaf.IPAddresses, cert.Leaf.PublicKeyAlgorithm)
	// Output: [localhost] [127.0.0.1 ::1] ECDSA
}

// A Reloader serves new handshakes from the files as they are now, and
// keeps the previous certificate when the files are bad.
func ExampleReloader_Reload() {
	dir, err := os.MkdirTemp("", "tlsconf-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")

	first, _ := tlsconf.SelfSigned("first.example.test")
	if err := tlsconf.WriteFiles(first, certFile, keyFile); err != nil {
		fmt.Println(err)
		return
	}
	r, err := tlsconf.NewReloader(tlsconf.Config{CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Serve with r.TLSConfig(); run go r.Watch(ctx, 0) to reload on change.
	fmt.Println(r.Certificate().Leaf.DNSNames)

	second, _ := tlsconf.SelfSigned("second.example.test")
	if err := tlsconf.WriteFiles(second, certFile, keyFile); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Reload(), r.Certificate().Leaf.DNSNames)

	os.WriteFile(keyFile, []byte("not a key"), 0o600)
	err = r.Reload()
	fmt.Println(errors.Is(err, tlsconf.ErrNoPEM), r.Certificate().Leaf.DNSNames)
	// Output:
	// [first.example.test]
	// <nil> [second.example.test]
	// true [second.example.test]
}

// ClientAuth is a flag value: -client-auth none, request or require-and-verify.
func ExampleClientAuth() {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	var auth tlsconf.ClientAuth
	fs.TextVar(&auth, "client-auth", tlsconf.NoClientCert, "client certificates: none, request or require-and-verify")
	fs.Parse([]string{"-client-auth", "require-and-verify"})
	fmt.Println(auth, auth == tlsconf.RequireClientCert)
	// Output: require-and-verify true
}
