package tlsconf

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"hash"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultWatchInterval is how often Reloader.Watch reads the files when
// its interval argument is 0 or negative.
const DefaultWatchInterval = 10 * time.Second

// A Reloader serves a certificate that can be replaced while the server
// runs: its TLSConfig hands crypto/tls the current certificate at every
// handshake, and Reload (or Watch) swaps in a new one from the same files.
// A swap affects only handshakes that start after it; established
// connections keep the certificate they were made with. Its methods are
// safe for concurrent use.
type Reloader struct {
	conf Config
	log  *slog.Logger

	// tmpl is the template of the per-reload Configs that carry reloaded
	// client CAs; it never runs a handshake, so those Configs use the
	// session ticket keys of tls, and tickets survive a reload.
	tmpl *tls.Config
	tls  *tls.Config
	cur  atomic.Pointer[snapshot]

	mu  sync.Mutex // serializes reloads
	sum [sha256.Size]byte
}

// snapshot is what one successful load produced, swapped as a whole.
type snapshot struct {
	cert *tls.Certificate
	cas  *x509.CertPool
	conf *tls.Config // the Config for handshakes when client CAs reload; else nil
}

// NewReloader loads the certificate from c.CertFile and c.KeyFile (and the
// client CAs from c.ClientCAFile, if set) and returns a Reloader serving it.
// c must name files: a Certificate held in memory cannot be reloaded and
// returns an error wrapping ErrNoCertificate. Other errors are Server's.
func NewReloader(c Config) (*Reloader, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	if c.Certificate != nil {
		return nil, fmt.Errorf("%w: a Reloader needs CertFile and KeyFile, not Certificate", ErrNoCertificate)
	}
	c.NextProtos = append([]string(nil), c.NextProtos...)
	r := &Reloader{conf: c, log: logger(c.Logger), tmpl: serverBase(&c, c.ClientCAs)}
	f := r.read()
	if f.err != nil {
		return nil, f.err
	}
	if err := r.apply(f); err != nil {
		return nil, err
	}
	r.sum = f.sum
	r.tls = serverBase(&c, r.cur.Load().cas)
	r.tls.GetCertificate = r.GetCertificate
	if c.ClientCAFile != "" {
		r.tls.GetConfigForClient = r.getConfigForClient
	}
	return r, nil
}

// TLSConfig returns the server *tls.Config that serves the current
// certificate, the same Config at every call. It sets GetCertificate and,
// when client CAs come from ClientCAFile, GetConfigForClient, which makes
// each handshake run with a Config built at the last reload (with the
// current client CAs) from this Reloader's settings: changes made to the
// returned Config, or to a Clone of it, are then not seen by handshakes.
// Configure through Config's fields instead.
func (r *Reloader) TLSConfig() *tls.Config { return r.tls }

// GetCertificate returns the current certificate; it has the signature of
// tls.Config.GetCertificate and ignores hello.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cur.Load().cert, nil
}

// Certificate returns the certificate currently served, with Leaf set.
// Do not modify it.
func (r *Reloader) Certificate() *tls.Certificate { return r.cur.Load().cert }

func (r *Reloader) getConfigForClient(*tls.ClientHelloInfo) (*tls.Config, error) {
	return r.cur.Load().conf, nil
}

// Reload reads the files again and, if they hold a valid certificate and
// key that match (and, with ClientCAFile, at least one CA), serves them to
// new handshakes from now on. Otherwise it returns the error, wrapping the
// same sentinels as Server, and the previous certificate stays in service.
// Reload reads and swaps even when the files have not changed.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.read()
	r.sum = f.sum
	if f.err != nil {
		return f.err
	}
	return r.apply(f)
}

// Watch reads the files every interval (DefaultWatchInterval if interval
// is 0 or negative) and reloads when their contents change, until ctx is
// done; it then returns. It compares a hash of the contents, so it sees a
// change that keeps the size and modification time, and it follows
// symbolic links (the way Kubernetes updates a mounted Secret). A reload
// is tried once per change: files that fail to load are not retried until
// they change again. Each outcome is logged to Config.Logger and passed to
// Config.OnReload.
//
// Watch runs on the caller's goroutine and starts none, so a caller that
// runs it with go and cancels ctx leaves nothing behind:
//
//	go r.Watch(ctx, 0)
func (r *Reloader) Watch(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultWatchInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changed, err := r.reloadIfChanged()
		if !changed {
			continue
		}
		if err != nil {
			r.log.Error("sockpool/tlsconf: reload failed; still serving the previous certificate", "cert_file", r.conf.CertFile, "err", err)
		} else {
			leaf := r.Certificate().Leaf
			r.log.Info("sockpool/tlsconf: certificate reloaded", "cert_file", r.conf.CertFile,
				"subject", leaf.Subject.String(), "serial", leaf.SerialNumber.String(), "not_after", leaf.NotAfter)
		}
		if r.conf.OnReload != nil {
			r.conf.OnReload(err)
		}
	}
}

// reloadIfChanged reloads if the files differ from those last read.
func (r *Reloader) reloadIfChanged() (changed bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.read()
	if f.sum == r.sum {
		return false, nil
	}
	r.sum = f.sum
	if f.err != nil {
		return true, f.err
	}
	return true, r.apply(f)
}

// apply builds a snapshot from f and swaps it in. r.mu must be held, or
// r not yet shared.
func (r *Reloader) apply(f files) error {
	snap, err := r.build(f)
	if err != nil {
		return err
	}
	if r.conf.ClientCAFile != "" {
		snap.conf = r.handshakeConfig(snap.cert, snap.cas)
	}
	r.cur.Store(snap)
	return nil
}

// handshakeConfig returns the Config that GetConfigForClient hands out
// until the next reload.
func (r *Reloader) handshakeConfig(cert *tls.Certificate, cas *x509.CertPool) *tls.Config {
	conf := r.tmpl.Clone()
	conf.Certificates = []tls.Certificate{*cert}
	conf.ClientCAs = cas
	return conf
}

// files is the contents of the Reloader's files as read at one moment.
type files struct {
	cert, key, ca []byte
	sum           [sha256.Size]byte // of the contents, or of the read errors
	err           error             // the first read error
}

// read reads the certificate, key and client CA files.
func (r *Reloader) read() files {
	var f files
	h := sha256.New()
	f.cert = r.readOne(h, &f, "certificate file", r.conf.CertFile)
	f.key = r.readOne(h, &f, "key file", r.conf.KeyFile)
	if r.conf.ClientCAFile != "" {
		f.ca = r.readOne(h, &f, "client CA file", r.conf.ClientCAFile)
	}
	h.Sum(f.sum[:0])
	return f
}

// readOne reads one file into the hash h: its length and contents, or the
// read error, so that a file that vanishes or comes back counts as a change.
func (r *Reloader) readOne(h hash.Hash, f *files, what, name string) []byte {
	b, err := os.ReadFile(name)
	if err != nil {
		h.Write([]byte{0})
		h.Write([]byte(err.Error()))
		if f.err == nil {
			f.err = fmt.Errorf("sockpool/tlsconf: %s: %w", what, err)
		}
		return nil
	}
	h.Write([]byte{1})
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(b))))
	h.Write(b)
	return b
}

// build parses and checks f.
func (r *Reloader) build(f files) (*snapshot, error) {
	cert, err := parseKeyPair(f.cert, f.key, r.conf.CertFile, r.conf.KeyFile, r.conf.AllowExpired, r.log)
	if err != nil {
		return nil, err
	}
	cas := r.conf.ClientCAs
	if r.conf.ClientCAFile != "" {
		if cas, err = parsePool(f.ca, "client CA file", r.conf.ClientCAFile); err != nil {
			return nil, err
		}
	}
	return &snapshot{cert: cert, cas: cas}, nil
}
