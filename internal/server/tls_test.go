package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/server"
)

// certFiles writes a self-signed certificate for 127.0.0.1 named cn to
// dir/cert.pem and dir/key.pem, with a modification time at, and returns
// it parsed.
func certFiles(t *testing.T, dir, cn string, at time.Time) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for name, block := range map[string]*pem.Block{
		"cert.pem": {Type: "CERTIFICATE", Bytes: der}, "key.pem": {Type: "EC PRIVATE KEY", Bytes: kder},
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// served is the certificate a new TLS connection to addr is shown, and
// the answer's protocol.
func served(t *testing.T, addr string, h2 bool) (cn string, proto string) {
	t.Helper()
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // the test reads the certificate itself
		DisableKeepAlives: true,
		ForceAttemptHTTP2: h2,
	}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("GET over TLS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("GET over TLS: %d, %+v", resp.StatusCode, resp.TLS)
	}
	return resp.TLS.PeerCertificates[0].Subject.CommonName, resp.Proto
}

// waitServed waits until new connections are shown the certificate cn.
func waitServed(t *testing.T, addr, cn string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, _ := served(t, addr, false)
		if got == cn {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still serving %q, want %q", got, cn)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tlsConfig(dir string) func(*config.Config) {
	return func(c *config.Config) {
		c.TLSCert, c.TLSKey = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		c.PublicURL = "https://" + c.Addr
	}
}

// TestTLS: with a certificate and key the listener speaks TLS 1.2 or
// later (HTTP/1.1 and HTTP/2), refuses older versions and plain HTTP, and
// serves a replaced certificate without a restart once the files change,
// keeping the old one while the new files do not load.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Now().Add(-time.Minute)
	certFiles(t, dir, "first", t0)
	g := start(t, tlsConfig(dir), server.Options{TLSPoll: 20 * time.Millisecond})

	if cn, proto := served(t, g.addr, true); cn != "first" || proto != "HTTP/2.0" {
		t.Fatalf("served %q over %s, want first over HTTP/2.0", cn, proto)
	}
	if cn, proto := served(t, g.addr, false); cn != "first" || proto != "HTTP/1.1" {
		t.Fatalf("served %q over %s, want first over HTTP/1.1", cn, proto)
	}
	old := &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11}
	if c, err := tls.Dial("tcp", g.addr, old); err == nil {
		c.Close()
		t.Error("a TLS 1.1 client was served")
	}
	if st := rawGet(t, g.addr, "/healthz", ""); st == 200 {
		t.Error("plain HTTP was served on the TLS listener")
	}

	certFiles(t, dir, "second", t0.Add(time.Second))
	waitServed(t, g.addr, "second")

	// A half-written pair (a certificate, no key yet) is not loaded: the
	// listener keeps serving the last good certificate.
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), []byte("not yet"), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if cn, _ := served(t, g.addr, false); cn != "second" {
		t.Fatalf("after a broken key: served %q, want second", cn)
	}
	certFiles(t, dir, "third", t0.Add(2*time.Second))
	waitServed(t, g.addr, "third")
}

// TestTLSReloadSignal: SIGHUP (here Options.Reload) loads the files at
// once, without waiting for the poll.
func TestTLSReloadSignal(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Now().Add(-time.Minute)
	certFiles(t, dir, "first", t0)
	hup := make(chan os.Signal, 1)
	g := start(t, tlsConfig(dir), server.Options{TLSPoll: time.Hour, Reload: hup})
	if cn, _ := served(t, g.addr, false); cn != "first" {
		t.Fatalf("served %q, want first", cn)
	}
	certFiles(t, dir, "second", t0) // the same modification time: only the signal tells
	hup <- os.Interrupt
	waitServed(t, g.addr, "second")
}

// TestTLSRefusesBadFiles: a certificate that does not load stops the
// start, as a missing key does.
func TestTLSRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	certFiles(t, dir, "x", time.Now())
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	tlsConfig(dir)(&cfg)
	cfg.DatabaseURL = "sqlite:" + filepath.Join(t.TempDir(), "x.db")
	cfg.SecretKey = "0000000000000000000000000000000000000000000000000000000000000000"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if s, err := server.New(t.Context(), cfg, server.Options{}); err == nil {
		s.Close()
		t.Fatal("server.New accepted a key that does not load")
	}
	bad := config.Default()
	bad.TLSCert = "cert.pem"
	if err := bad.Validate(); err == nil {
		t.Error("a certificate without a key was accepted")
	}
}
