package frame_test

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/sockpool/sockpool/frame"
	"github.com/sockpool/sockpool/server"
	"github.com/sockpool/sockpool/tlsconf"
)

// bigReplier answers each 4-byte request n with a reply of replySize bytes
// whose content is a function of n, so the client can check every byte.
type bigReplier struct{ format frame.Format }

const replySize = 64 << 10

func replyFor(n uint32) []byte {
	b := make([]byte, replySize)
	for i := range b {
		b[i] = byte(n*7 + uint32(i)*13)
	}
	return b
}

func (r bigReplier) OnMessage(c server.Conn, msg []byte) {
	out, _ := r.format.AppendFrame(nil, replyFor(binary.BigEndian.Uint32(msg)))
	c.Write(out)
}

// TestPipelineBoundedByHighWater pipelines many requests whose replies are
// far larger than they are, from a client that does not read at first: the
// output queued must stay near WriteHighWater plus one reply (the Handler
// stops at Congested and goes on in OnDrain), not grow with the pipeline,
// and once the client reads it gets every reply, in order, exactly.
func TestPipelineBoundedByHighWater(t *testing.T) {
	const requests = 1500 // 6 KB of requests, 96 MiB of replies: beyond OutputLimit
	f := frame.LengthPrefixed{HeaderSize: 4, MaxFrameSize: 1 << 20}
	forEachEngine(t, func(t *testing.T, ec engineCase) {
		for _, secure := range []bool{false, true} {
			t.Run(map[bool]string{false: "plain", true: "tls"}[secure], func(t *testing.T) {
				testPipelineBounded(t, ec, f, requests, secure)
			})
		}
	})
}

func testPipelineBounded(t *testing.T, ec engineCase, f frame.LengthPrefixed, requests int, secure bool) {
	h, err := frame.NewHandler(f, bigReplier{f}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := &server.Server{Handler: h, Engine: ec.engine}
	var cli *tls.Config
	if secure {
		srv.TLSConfig, cli = tlsPair(t)
	}
	startFrames(t, srv)
	var c net.Conn = dialServer(t, srv)
	if secure {
		c = tls.Client(c, cli)
	}
	c.SetDeadline(time.Now().Add(2 * waitTimeout))
	var reqs []byte
	for i := range requests {
		reqs, _ = f.AppendFrame(reqs, binary.BigEndian.AppendUint32(nil, uint32(i)))
	}
	if _, err := c.Write(reqs); err != nil {
		t.Fatal(err)
	}
	// Let the server answer what it will while nobody reads.
	var peak int64
	for range 20 {
		time.Sleep(25 * time.Millisecond)
		peak = max(peak, srv.Stats().Queued)
	}
	// Over TLS the queue holds ciphertext: a record's 29 bytes more per
	// 16 KiB.
	if bound := int64(server.DefaultWriteHighWater + replySize + 1024); peak > bound {
		t.Errorf("queued output reached %d bytes, want at most %d (high water plus one reply)", peak, bound)
	}
	hdr := make([]byte, 4)
	body := make([]byte, replySize)
	for i := range requests {
		if _, err := io.ReadFull(c, hdr); err != nil {
			t.Fatalf("reply %d header: %v", i, err)
		}
		if n := binary.BigEndian.Uint32(hdr); n != replySize {
			t.Fatalf("reply %d: length %d, want %d", i, n, replySize)
		}
		if _, err := io.ReadFull(c, body); err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		if !bytes.Equal(body, replyFor(uint32(i))) {
			t.Fatalf("reply %d: wrong bytes", i)
		}
	}
	if st := srv.Stats(); st.OutputLimited != 0 {
		t.Errorf("Stats.OutputLimited = %d, want 0", st.OutputLimited)
	}
}

// tlsPair returns a server config with a self-signed certificate and a
// client config that trusts it.
func tlsPair(t *testing.T) (srv, cli *tls.Config) {
	t.Helper()
	cert, err := tlsconf.SelfSigned("localhost", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if srv, err = tlsconf.Server(tlsconf.Config{Certificate: cert}); err != nil {
		t.Fatal(err)
	}
	roots, err := tlsconf.CertPool(cert)
	if err != nil {
		t.Fatal(err)
	}
	if cli, err = tlsconf.Client(tlsconf.ClientConfig{RootCAs: roots, ServerName: "localhost"}); err != nil {
		t.Fatal(err)
	}
	return srv, cli
}
