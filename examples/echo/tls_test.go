package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/sockpool/sockpool/examples/internal/cmdtest"
	"github.com/sockpool/sockpool/tlsconf"
)

// startEcho re-executes the test binary as the echo command with args and
// returns the address from its listening line and its stderr so far.
func startEcho(t *testing.T, args ...string) (cmd *exec.Cmd, addr string, stderr *cmdtest.Buffer) {
	t.Helper()
	c := cmdtest.Start(t, "SOCKPOOL_ECHO_MAIN=1", nil, args...)
	return c.Cmd, c.Addr, c.Stderr
}

// tlsEcho dials addr with TLS trusting roots, checks an echo, and returns
// the connection and the serial number of the server's certificate.
func tlsEcho(t *testing.T, addr string, roots *x509.CertPool) (*tls.Conn, string) {
	t.Helper()
	conf, err := tlsconf.Client(tlsconf.ClientConfig{RootCAs: roots, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.Dial("tcp", addr, conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	checkTLSEcho(t, c)
	return c, c.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

func checkTLSEcho(t *testing.T, c *tls.Conn) {
	t.Helper()
	msg := bytes.Repeat([]byte("tls echo "), 5000)
	go c.Write(msg)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("TLS echo: %v (equal: %v)", err, bytes.Equal(got, msg))
	}
}

// TestEchoTLSFiles serves TLS from certificate files, reloads them on
// SIGHUP (a new connection gets the new certificate, an open one keeps
// working) and shuts down cleanly, on both engines.
func TestEchoTLSFiles(t *testing.T) {
	for _, engine := range []string{"threaded", "evented"} {
		t.Run(engine, func(t *testing.T) {
			dir := t.TempDir()
			certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
			certA := selfSigned(t)
			if err := tlsconf.WriteFiles(certA, certFile, keyFile); err != nil {
				t.Fatal(err)
			}
			cmd, addr, stderr := startEcho(t, "-addr", "127.0.0.1:0", "-engine", engine,
				"-tls-cert", certFile, "-tls-key", keyFile, "-handshake-timeout", "5s")
			roots := x509.NewCertPool()
			roots.AddCert(certA.Leaf)
			old, serialA := tlsEcho(t, addr, roots)

			certB := selfSigned(t)
			if err := tlsconf.WriteFiles(certB, certFile, keyFile); err != nil {
				t.Fatal(err)
			}
			cmd.Process.Signal(syscall.SIGHUP)
			roots.AddCert(certB.Leaf)
			deadline := time.Now().Add(10 * time.Second)
			for {
				_, serial := tlsEcho(t, addr, roots)
				if serial != serialA {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("still certificate A after SIGHUP; stderr: %s", stderr.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			checkTLSEcho(t, old)

			cmd.Process.Signal(syscall.SIGTERM)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("after SIGTERM: %v; stderr: %s", err, stderr.String())
			}
		})
	}
}

// TestEchoTLSSelfSigned serves TLS with a generated certificate and drives
// it with the client program's -tls-ca.
func TestEchoTLSSelfSigned(t *testing.T) {
	cmd, addr, stderr := startEcho(t, "-addr", "127.0.0.1:0", "-tls-self-signed")
	// The line is written before the listening line, but stderr is copied
	// into the buffer by a goroutine of its own.
	re := regexp.MustCompile(`certificate for \S+ in (\S+)\n`)
	var m []string
	for deadline := time.Now().Add(10 * time.Second); m == nil; time.Sleep(10 * time.Millisecond) {
		if m = re.FindStringSubmatch(stderr.String()); m == nil && time.Now().After(deadline) {
			t.Fatalf("stderr does not say where the certificate is: %s", stderr.String())
		}
	}
	pemBytes, err := os.ReadFile(m[1])
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemBytes) {
		t.Fatalf("%s holds no certificate", m[1])
	}
	tlsEcho(t, addr, roots)
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v; stderr: %s", err, stderr.String())
	}
}

func TestEchoTLSBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-tls-cert", "/nonexistent/cert.pem", "-tls-key", "/nonexistent/key.pem"},
		{"-tls-self-signed", "-tls-cert", "x.pem"},
		{"-tls-client-ca", "ca.pem"},
	} {
		if err := run(append([]string{"-addr", "127.0.0.1:0"}, args...)); err == nil {
			t.Errorf("run %v succeeded, want an error", args)
		}
	}
}

func selfSigned(t *testing.T) *tls.Certificate {
	t.Helper()
	cert, err := tlsconf.SelfSigned("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			t.Fatal(err)
		}
	}
	return cert
}
