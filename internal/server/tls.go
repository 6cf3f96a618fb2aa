package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultTLSPoll is how often the certificate files are checked for a
// change (Options.TLSPoll).
const DefaultTLSPoll = 10 * time.Second

// certReloader serves the certificate of a cert/key file pair and loads
// it again when the files change or on demand (SIGHUP): renewals by
// certbot, cert-manager or a secrets agent take effect without a restart,
// on new connections; open connections keep the certificate they began
// with.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger
	cert              atomic.Pointer[tls.Certificate]

	mu   sync.Mutex
	seen [2]fileStamp // of the last attempt, loaded or not
}

type fileStamp struct {
	mod  time.Time
	size int64
}

func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, log: log}
	if err := r.reload(true); err != nil {
		return nil, err
	}
	return r, nil
}

func stamp(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{fi.ModTime(), fi.Size()}
}

// reload loads the pair if either file changed since the last attempt
// (or force). A pair that does not load — a key not yet written beside
// its new certificate — leaves the current certificate in place; the next
// change of either file tries again.
func (r *certReloader) reload(force bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := [2]fileStamp{stamp(r.certFile), stamp(r.keyFile)}
	if !force && now == r.seen {
		return nil
	}
	r.seen = now
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("tls certificate: %w", err)
	}
	first := r.cert.Load() == nil
	r.cert.Store(&c)
	if !first {
		r.log.Info("tls certificate loaded", "cert", r.certFile,
			"subject", c.Leaf.Subject.String(), "not_after", c.Leaf.NotAfter)
	}
	return nil
}

func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}

// run reloads every poll interval and on every value of hup until ctx
// ends.
func (r *certReloader) run(ctx context.Context, poll time.Duration, hup <-chan os.Signal) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		force := false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-hup:
			force = true
		}
		if err := r.reload(force); err != nil {
			r.log.Warn("tls certificate not reloaded; still serving the previous one", "err", err)
		}
	}
}

// tlsConfig is the listeners' TLS configuration: TLS 1.2 or later (Go's
// default cipher suites and curves), HTTP/2 and HTTP/1.1.
func (r *certReloader) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: r.getCertificate,
		NextProtos:     []string{"h2", "http/1.1"},
	}
}
