package tlsconf_test

import (
	"bufio"
	"context"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sockpool/sockpool/tlsconf"
)

// TestOpenSSLInterop checks the defaults against another implementation:
// openssl s_client verifies the self-signed certificate, negotiates TLS 1.3
// (and TLS 1.2 with an AEAD suite), and an echoed line comes back; TLS 1.1
// and TLS 1.2 CBC suites are refused by the server.
func TestOpenSSLInterop(t *testing.T) {
	t.Parallel()
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not in PATH; install it (apt-get install -y openssl) to run the interop test")
	}
	cert := selfSigned(t)
	srv, err := tlsconf.Server(tlsconf.Config{Certificate: cert})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, srv)
	caFile, _ := writePair(t, t.TempDir(), "ca", cert)
	common := []string{"s_client", "-connect", addr, "-servername", "localhost", "-brief",
		"-CAfile", caFile, "-verify_return_error", "-verify_hostname", "localhost"}

	tests := []struct {
		name    string
		args    []string
		want    string // in openssl's stderr; with echo true the handshake must succeed
		echo    bool
		refused bool
	}{
		{name: "TLS 1.3", args: []string{"-tls1_3"}, want: "TLSv1.3", echo: true},
		{name: "TLS 1.2 AES-GCM", args: []string{"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"}, want: "ECDHE-ECDSA-AES128-GCM-SHA256", echo: true},
		{name: "TLS 1.2 ChaCha20", args: []string{"-tls1_2", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305"}, want: "ECDHE-ECDSA-CHACHA20-POLY1305", echo: true},
		{name: "TLS 1.3 P-256", args: []string{"-tls1_3", "-groups", "P-256"}, want: "prime256v1", echo: true},
		// SECLEVEL=0 lets OpenSSL 3 offer TLS 1.1 at all, so that it is the
		// server that refuses.
		{name: "TLS 1.1", args: []string{"-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"}, want: "protocol version", refused: true},
		{name: "TLS 1.2 CBC", args: []string{"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA"}, want: "handshake failure", refused: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, openssl, append(common, tt.args...)...)
			cmd.WaitDelay = time.Second
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			echoed := false
			if tt.echo {
				const line = "hello from openssl"
				io.WriteString(stdin, line+"\n")
				r := bufio.NewReader(stdout)
				for {
					got, err := r.ReadString('\n')
					if strings.TrimRight(got, "\r\n") == line {
						echoed = true
						break
					}
					if err != nil {
						break
					}
				}
			}
			stdin.Close() // s_client closes the connection and exits at EOF
			io.Copy(io.Discard, stdout)
			err = cmd.Wait()
			out := stderr.String()
			if ctx.Err() != nil {
				t.Fatalf("openssl timed out; stderr:\n%s", out)
			}
			if tt.refused {
				if err == nil || strings.Contains(out, "CONNECTION ESTABLISHED") {
					t.Fatalf("openssl connected; want refused. stderr:\n%s", out)
				}
			} else {
				if err != nil {
					t.Fatalf("openssl: %v; stderr:\n%s", err, out)
				}
				if !echoed {
					t.Errorf("the line did not come back; stderr:\n%s", out)
				}
				if !strings.Contains(out, "Verification: OK") {
					t.Errorf("openssl did not verify the certificate; stderr:\n%s", out)
				}
			}
			t.Logf("openssl stderr:\n%s", out)
			if !strings.Contains(out, tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, out)
			}
		})
	}
}
