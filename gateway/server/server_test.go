package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/gateway/server"
	"github.com/levee-go/levee/lifecycle"
)

// addrHandler is a slog handler that reports the "listening" records'
// listener and address.
type addrHandler struct {
	slog.Handler
	addrs chan [2]string
}

func (h addrHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "listening" {
		var name, addr string
		r.Attrs(func(a slog.Attr) bool {
			switch a.Key {
			case "listener":
				name = a.Value.String()
			case "address":
				addr = a.Value.String()
			}
			return true
		})
		h.addrs <- [2]string{name, addr}
	}
	return h.Handler.Handle(ctx, r)
}

// selfSigned writes a certificate for 127.0.0.1 and its key into dir and
// returns the certificate's pool.
func selfSigned(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "levee test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM := func(name, typ string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writePEM("cert.pem", "CERTIFICATE", der)
	writePEM("key.pem", "EC PRIVATE KEY", keyDER)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

// TestRun serves one configuration on a plain, an h2c and a TLS listener,
// checks the protocol each speaks, the admin's readiness and the header
// read timeout, then stops it through its context.
func TestRun(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello")
	}))
	defer up.Close()
	dir := t.TempDir()
	pool := selfSigned(t, dir)
	file := filepath.Join(dir, "levee.yaml")
	yaml := fmt.Sprintf(`
listeners:
  - {name: plain, address: "127.0.0.1:0", timeouts: {read_header: 100ms}}
  - {name: h2c, address: "127.0.0.1:0", h2c: true}
  - {name: tls, address: "127.0.0.1:0", tls: {cert_file: cert.pem, key_file: key.pem}}
upstreams: [{name: app, targets: [{url: %q}]}]
routes: [{name: all, upstream: app}]
admin: {address: "127.0.0.1:0"}
access_log: {path: access.log}
`, up.URL)
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	addrs := make(chan [2]string, 8)
	log := slog.New(addrHandler{slog.NewTextHandler(io.Discard, nil), addrs})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, cfg, server.Options{
			Dir:       dir,
			Logger:    log,
			Lifecycle: lifecycle.Config{GracePeriod: 5 * time.Second, DrainDelay: -1, Signals: []os.Signal{}},
		})
	}()
	bound := map[string]string{}
	for len(bound) < 4 {
		select {
		case a := <-addrs:
			bound[a[0]] = a[1]
		case err := <-done:
			t.Fatalf("Run returned before listening: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatalf("listeners not up within 10s: %v", bound)
		}
	}

	check := func(name, url string, client *http.Client, wantProto string) {
		t.Helper()
		resp, err := client.Get(url)
		if err != nil {
			t.Errorf("%s: GET %s: %v", name, url, err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Proto != wantProto || string(body) != "hello" {
			t.Errorf("%s: GET = %d %s %q, want 200 %s hello", name, resp.StatusCode, resp.Proto, body, wantProto)
		}
	}
	check("plain", "http://"+bound["plain"]+"/", &http.Client{Timeout: 5 * time.Second}, "HTTP/1.1")
	var h2c http.Protocols
	h2c.SetUnencryptedHTTP2(true)
	check("h2c", "http://"+bound["h2c"]+"/", &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Protocols: &h2c}}, "HTTP/2.0")
	check("tls", "https://"+bound["tls"]+"/", &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true,
	}}, "HTTP/2.0")

	resp, err := http.Get("http://" + bound["admin"] + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /readyz = %d, want 200", resp.StatusCode)
	}

	// A client that never finishes its header is cut off after read_header.
	c, err := net.Dial("tcp", bound["plain"])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n")
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		t.Errorf("a slow client's connection was not closed by the server: %v", err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil after a clean stop", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of its context ending")
	}

	// The access log file, relative to the configuration's directory, has
	// one line per request forwarded above.
	data, err := os.ReadFile(filepath.Join(dir, "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), `"msg":"request"`); n != 3 {
		t.Errorf("access.log has %d request records, want 3:\n%s", n, data)
	}
}
