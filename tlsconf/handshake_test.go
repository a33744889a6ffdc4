package tlsconf_test

import (
	"crypto/tls"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/sockpool/sockpool/tlsconf"
)

func TestDefaults(t *testing.T) {
	t.Parallel()
	srv, err := tlsconf.Server(tlsconf.Config{Certificate: selfSigned(t)})
	if err != nil {
		t.Fatal(err)
	}
	cli, err := tlsconf.Client(tlsconf.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for name, conf := range map[string]*tls.Config{"server": srv, "client": cli} {
		if conf.MinVersion != tls.VersionTLS12 {
			t.Errorf("%s MinVersion = %x, want TLS 1.2", name, conf.MinVersion)
		}
		if conf.MaxVersion != 0 {
			t.Errorf("%s MaxVersion = %x, want 0 (TLS 1.3)", name, conf.MaxVersion)
		}
		if conf.SessionTicketsDisabled {
			t.Errorf("%s has session tickets disabled", name)
		}
		if conf.InsecureSkipVerify {
			t.Errorf("%s skips verification", name)
		}
		for _, id := range conf.CipherSuites {
			n := tls.CipherSuiteName(id)
			if !strings.HasPrefix(n, "TLS_ECDHE_") || !(strings.Contains(n, "_GCM_") || strings.Contains(n, "CHACHA20_POLY1305")) {
				t.Errorf("%s offers %s, not ECDHE with an AEAD", name, n)
			}
		}
		if len(conf.CipherSuites) != 6 {
			t.Errorf("%s has %d suites, want 6", name, len(conf.CipherSuites))
		}
		for _, want := range []tls.CurveID{tls.X25519, tls.CurveP256} {
			if !slices.Contains(conf.CurvePreferences, want) {
				t.Errorf("%s CurvePreferences %v lack %v", name, conf.CurvePreferences, want)
			}
		}
		if slices.Contains(conf.CurvePreferences, tls.CurveP384) || slices.Contains(conf.CurvePreferences, tls.CurveP521) {
			t.Errorf("%s CurvePreferences %v have more than X25519 and P-256", name, conf.CurvePreferences)
		}
	}
	if cli.ClientSessionCache == nil {
		t.Error("client has no session cache")
	}
	if srv.ClientAuth != tls.NoClientCert {
		t.Errorf("server ClientAuth = %v, want NoClientCert", srv.ClientAuth)
	}
	// The getters return copies.
	tlsconf.CipherSuites()[0] = 0
	if tlsconf.CipherSuites()[0] == 0 {
		t.Error("CipherSuites returned the package's own slice")
	}
}

func TestHandshakeVersionsAndSuites(t *testing.T) {
	t.Parallel()
	cert := selfSigned(t)
	srv, err := tlsconf.Server(tlsconf.Config{Certificate: cert})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, srv)
	roots := pool(cert)

	tests := []struct {
		name        string
		client      func(c *tls.Config)
		wantVersion uint16 // 0: the handshake must fail
		wantErr     string // substring of the client's error
	}{
		{name: "defaults negotiate TLS 1.3", client: func(*tls.Config) {}, wantVersion: tls.VersionTLS13},
		{name: "plain crypto/tls client", client: func(c *tls.Config) {
			*c = tls.Config{RootCAs: c.RootCAs, ServerName: "localhost"}
		}, wantVersion: tls.VersionTLS13},
		{name: "TLS 1.2 with AEAD", client: func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 }, wantVersion: tls.VersionTLS12},
		{name: "TLS 1.2 with ChaCha20", client: func(c *tls.Config) {
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}
		}, wantVersion: tls.VersionTLS12},
		{name: "TLS 1.1 refused", client: func(c *tls.Config) {
			c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
		}, wantErr: "protocol version"},
		{name: "TLS 1.0 refused", client: func(c *tls.Config) {
			c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS10
		}, wantErr: "protocol version"},
		{name: "TLS 1.2 CBC suite refused", client: func(c *tls.Config) {
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}
		}, wantErr: "handshake failure"},
		{name: "TLS 1.2 RSA key exchange refused", client: func(c *tls.Config) {
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}
		}, wantErr: "handshake failure"},
		{name: "P-384 only refused", client: func(c *tls.Config) {
			c.CurvePreferences = []tls.CurveID{tls.CurveP384}
		}, wantErr: "handshake failure"},
		{name: "P-256 only", client: func(c *tls.Config) {
			c.CurvePreferences = []tls.CurveID{tls.CurveP256}
		}, wantVersion: tls.VersionTLS13},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conf := clientConf(t, roots)
			conf.ClientSessionCache = nil
			tt.client(conf)
			c, err := dial(t, addr, conf)
			if tt.wantVersion == 0 {
				if err == nil {
					t.Fatalf("handshake succeeded with %s, %s; want it refused",
						tls.VersionName(c.ConnectionState().Version), tls.CipherSuiteName(c.ConnectionState().CipherSuite))
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			st := c.ConnectionState()
			if st.Version != tt.wantVersion {
				t.Errorf("negotiated %s, want %s", tls.VersionName(st.Version), tls.VersionName(tt.wantVersion))
			}
			if !slices.Contains(tlsconf.CipherSuites(), st.CipherSuite) && st.Version == tls.VersionTLS12 {
				t.Errorf("negotiated %s, not one of ours", tls.CipherSuiteName(st.CipherSuite))
			}
		})
	}
}

func TestALPN(t *testing.T) {
	t.Parallel()
	cert := selfSigned(t)
	srv, err := tlsconf.Server(tlsconf.Config{Certificate: cert, NextProtos: []string{"echo/2", "echo/1"}})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, srv)

	tests := []struct {
		name   string
		protos []string
		want   string // negotiated protocol
		refuse bool
	}{
		{name: "server preference wins", protos: []string{"echo/1", "echo/2"}, want: "echo/2"},
		{name: "only common one", protos: []string{"x", "echo/1"}, want: "echo/1"},
		{name: "no ALPN from client", protos: nil, want: ""},
		{name: "nothing in common", protos: []string{"h2"}, refuse: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conf, err := tlsconf.Client(tlsconf.ClientConfig{RootCAs: pool(cert), ServerName: "127.0.0.1", NextProtos: tt.protos})
			if err != nil {
				t.Fatal(err)
			}
			c, err := dial(t, addr, conf)
			if tt.refuse {
				if err == nil {
					t.Fatalf("handshake succeeded with %q; want it refused", c.ConnectionState().NegotiatedProtocol)
				}
				if !strings.Contains(err.Error(), "no application protocol") {
					t.Errorf("error %q does not mention ALPN", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.ConnectionState().NegotiatedProtocol; got != tt.want {
				t.Errorf("negotiated %q, want %q", got, tt.want)
			}
		})
	}
}

func TestResumption(t *testing.T) {
	t.Parallel()
	cert := selfSigned(t)
	static, err := tlsconf.Server(tlsconf.Config{Certificate: cert})
	if err != nil {
		t.Fatal(err)
	}
	// A Reloader with client CAs from a file hands out a Config per
	// reload through GetConfigForClient: tickets must still work, and
	// survive a reload.
	dir := t.TempDir()
	certFile, keyFile := writePair(t, dir, "server", cert)
	ca := makeCert(t, certSpec{cn: "client CA", ca: true})
	caFile, _ := writePair(t, dir, "ca", ca)
	r, err := tlsconf.NewReloader(tlsconf.Config{CertFile: certFile, KeyFile: keyFile,
		ClientCAFile: caFile, ClientAuth: tlsconf.RequestClientCert})
	if err != nil {
		t.Fatal(err)
	}
	servers := map[string]*tls.Config{"static": static, "reloader": r.TLSConfig()}
	for name, srv := range servers {
		addr := serve(t, srv)
		for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			t.Run(name+"/"+tls.VersionName(v), func(t *testing.T) {
				conf := clientConf(t, pool(cert))
				conf.MaxVersion = v
				for i, wantResume := range []bool{false, true, true} {
					c, err := dial(t, addr, conf) // the echo lets TLS 1.3 tickets arrive
					if err != nil {
						t.Fatalf("connection %d: %v", i+1, err)
					}
					st := c.ConnectionState()
					if st.Version != v {
						t.Errorf("connection %d: %s, want %s", i+1, tls.VersionName(st.Version), tls.VersionName(v))
					}
					if st.DidResume != wantResume {
						t.Errorf("connection %d: DidResume = %v, want %v", i+1, st.DidResume, wantResume)
					}
					c.Close()
					if name == "reloader" && i == 1 {
						if err := r.Reload(); err != nil {
							t.Fatal(err)
						}
					}
				}
			})
		}
	}
}

func TestMutualTLS(t *testing.T) {
	t.Parallel()
	serverCert := selfSigned(t)
	ca := makeCert(t, certSpec{cn: "test client CA", ca: true})
	trusted := makeCert(t, certSpec{cn: "trusted client", parent: ca, client: true})
	otherCA := makeCert(t, certSpec{cn: "other CA", ca: true})
	untrusted := makeCert(t, certSpec{cn: "untrusted client", parent: otherCA, client: true})
	expired := makeCert(t, certSpec{cn: "expired client", parent: ca, client: true,
		notBefore: trusted.Leaf.NotBefore.AddDate(-1, 0, 0), notAfter: trusted.Leaf.NotBefore.AddDate(0, 0, -1)})
	caFile, _ := writePair(t, t.TempDir(), "ca", ca)

	servers := []struct {
		name string
		conf tlsconf.Config
	}{
		{"require, CA file", tlsconf.Config{Certificate: serverCert, ClientAuth: tlsconf.RequireClientCert, ClientCAFile: caFile}},
		{"require, CA pool", tlsconf.Config{Certificate: serverCert, ClientAuth: tlsconf.RequireClientCert, ClientCAs: pool(ca)}},
		{"request, CA pool", tlsconf.Config{Certificate: serverCert, ClientAuth: tlsconf.RequestClientCert, ClientCAs: pool(ca)}},
	}
	clients := []struct {
		name           string
		cert           *tls.Certificate
		acceptRequire  bool
		acceptRequest  bool
		allowExpiredOK bool
	}{
		{name: "no certificate", cert: nil, acceptRequire: false, acceptRequest: true},
		{name: "untrusted CA", cert: untrusted, acceptRequire: false, acceptRequest: false},
		{name: "expired", cert: expired, acceptRequire: false, acceptRequest: false, allowExpiredOK: true},
		{name: "trusted CA", cert: trusted, acceptRequire: true, acceptRequest: true},
	}
	for _, s := range servers {
		srv, err := tlsconf.Server(s.conf)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		addr := serve(t, srv)
		for _, cl := range clients {
			t.Run(s.name+"/"+cl.name, func(t *testing.T) {
				t.Parallel()
				conf, err := tlsconf.Client(tlsconf.ClientConfig{RootCAs: pool(serverCert), ServerName: "localhost",
					Certificate: cl.cert, AllowExpired: cl.allowExpiredOK, Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					t.Fatal(err)
				}
				if cl.cert != nil {
					// crypto/tls's client withholds a certificate that the
					// server's list of acceptable CAs does not cover; send it
					// anyway, so that the server's own check is what refuses.
					conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
						return &conf.Certificates[0], nil
					}
				}
				want := cl.acceptRequire
				if s.conf.ClientAuth == tlsconf.RequestClientCert {
					want = cl.acceptRequest
				}
				c, err := dial(t, addr, conf)
				switch {
				case want && err != nil:
					t.Fatalf("refused: %v", err)
				case !want && err == nil:
					t.Fatal("accepted; want refused")
				case !want:
					t.Logf("refused as expected: %v", err)
				}
				if want && cl.cert != nil && len(c.ConnectionState().PeerCertificates) == 0 {
					t.Error("no peer certificates")
				}
			})
		}
	}
}
