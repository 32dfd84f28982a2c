package admin_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
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

	"github.com/levee-go/levee/gateway/admin"
	"github.com/levee-go/levee/gateway/config"
)

func TestTokenAuth(t *testing.T) {
	ctl := newController(t, baseConfig(upstream(t)))
	probes := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("levee_up 1\n")) })
	h, srv := serve(t, admin.Options{Controller: ctl, Auth: admin.Auth{Token: "s3cret"}, Probes: probes, Metrics: metrics})
	h.Handle("GET /dashboard/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>")) }))

	for _, path := range []string{"/api/v1/state", "/api/v1/config", "/metrics", "/debug/pprof/", "/openapi.json", "/dashboard/"} {
		resp, body := send(t, "GET", srv.URL+path, "", "")
		wantStatus(t, "GET "+path+" without a token", resp, body, http.StatusUnauthorized)
		if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("GET %s without a token: WWW-Authenticate %q, want Bearer", path, resp.Header.Get("WWW-Authenticate"))
		}
		resp, body = send(t, "GET", srv.URL+path, "s3cret-not", "")
		wantStatus(t, "GET "+path+" with a wrong token", resp, body, http.StatusForbidden)
		resp, body = send(t, "GET", srv.URL+path, "s3cret", "")
		wantStatus(t, "GET "+path+" with the token", resp, body, http.StatusOK)
	}
	// A browser (the dashboard, its event stream) sends Basic credentials:
	// the password is the token, the user name is not checked.
	resp, body := send(t, "GET", srv.URL+"/api/v1/state", "", "", "Authorization", "Basic b3BzOnMzY3JldA==")
	wantStatus(t, "Basic credentials with the token as password", resp, body, http.StatusOK)
	resp, body = send(t, "GET", srv.URL+"/api/v1/state", "", "", "Authorization", "Basic b3BzOnMzY3JldC1ub3Q=")
	wantStatus(t, "Basic credentials with a wrong password", resp, body, http.StatusForbidden)
	resp, body = send(t, "GET", srv.URL+"/api/v1/state", "", "", "Authorization", "Basic !!!")
	wantStatus(t, "malformed Basic credentials", resp, body, http.StatusUnauthorized)
	if got := resp.Header.Values("WWW-Authenticate"); len(got) != 2 || !strings.HasPrefix(got[1], "Basic") {
		t.Errorf("WWW-Authenticate = %q, want a Bearer and a Basic challenge", got)
	}
	for _, path := range []string{"/livez", "/readyz", "/startupz", "/readyz/verbose"} {
		resp, body := send(t, "GET", srv.URL+path, "", "")
		wantStatus(t, "probe "+path, resp, body, http.StatusOK)
	}
	// A refused write changes nothing and is not an audited change.
	resp, body = send(t, "PUT", srv.URL+"/api/v1/upstreams/api/breaker", "wrong", `{"mode":"open"}`)
	wantStatus(t, "PUT with a wrong token", resp, body, http.StatusForbidden)
	if st := ctl.Proxy().State().Upstreams[0].Breaker.State; st != "closed" {
		t.Errorf("breaker after a refused PUT: %s, want closed", st)
	}
}

// TestMetricsOpenWithoutAuth: without credentials configured (loopback
// only), scrapers read /metrics with none.
func TestMetricsOpenWithoutAuth(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("levee_up 1\n")) })
	_, srv := serve(t, admin.Options{Metrics: metrics})
	resp, body := send(t, "GET", srv.URL+"/metrics", "", "")
	wantStatus(t, "GET /metrics", resp, body, http.StatusOK)
}

func TestCheckAddress(t *testing.T) {
	tests := []struct {
		addr string
		auth admin.Auth
		ok   bool
	}{
		{"127.0.0.1:9901", admin.Auth{}, true},
		{"[::1]:9901", admin.Auth{}, true},
		{"localhost:9901", admin.Auth{}, true},
		{"0.0.0.0:9901", admin.Auth{}, false},
		{":9901", admin.Auth{}, false},
		{"10.1.2.3:9901", admin.Auth{}, false},
		{"0.0.0.0:9901", admin.Auth{Token: "t"}, true},
		{"0.0.0.0:9901", admin.Auth{TLS: &tls.Config{}}, false}, // TLS without client CAs names nobody
		{"0.0.0.0:9901", admin.Auth{TLS: &tls.Config{ClientCAs: x509.NewCertPool()}}, true},
	}
	for _, tt := range tests {
		err := tt.auth.CheckAddress(tt.addr)
		if (err == nil) != tt.ok {
			t.Errorf("CheckAddress(%q) with token %q, tls %v = %v, want ok %v", tt.addr, tt.auth.Token, tt.auth.TLS != nil, err, tt.ok)
		}
		if err != nil && (!errors.Is(err, admin.ErrExposed) || !strings.Contains(err.Error(), "admin.token_file")) {
			t.Errorf("CheckAddress(%q) = %v, want ErrExposed saying how to fix it", tt.addr, err)
		}
	}
}

func TestLoadAuth(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "token"), []byte("  from-file\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "empty"), nil, 0o600)
	a, err := admin.LoadAuth(config.Admin{TokenFile: "token"}, dir, nil)
	if err != nil || a.Token != "from-file" {
		t.Errorf("token_file: %q, %v; want from-file", a.Token, err)
	}
	env := func(k string) string { return map[string]string{"ADMIN_TOKEN": "from-env"}[k] }
	if a, err := admin.LoadAuth(config.Admin{TokenEnv: "ADMIN_TOKEN"}, dir, env); err != nil || a.Token != "from-env" {
		t.Errorf("token_env: %q, %v; want from-env", a.Token, err)
	}
	for _, a := range []config.Admin{{TokenFile: "empty"}, {TokenFile: "missing"}, {TokenEnv: "UNSET"},
		{TLS: &config.AdminTLS{CertFile: "x.pem", KeyFile: "y.pem"}}} {
		if _, err := admin.LoadAuth(a, dir, env); err == nil || !strings.Contains(err.Error(), "admin.") {
			t.Errorf("LoadAuth(%+v) = %v, want an error naming the field", a, err)
		}
	}
}

// TestClientCertificateAuth serves the API over TLS with a client CA: a
// client with a certificate that CA signed is let in and named in the
// audit log by its subject; one without a certificate is refused, as is
// one whose certificate another CA signed; the probes need none.
func TestClientCertificateAuth(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := newCA(t, "levee test CA")
	other, otherKey := newCA(t, "another CA")
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", ca.Raw)
	server := issue(t, ca, caKey, "127.0.0.1", false)
	writePEM(t, filepath.Join(dir, "server.pem"), "CERTIFICATE", server.Certificate[0])
	keyDER, _ := x509.MarshalPKCS8PrivateKey(server.PrivateKey)
	writePEM(t, filepath.Join(dir, "server-key.pem"), "PRIVATE KEY", keyDER)

	auth, err := admin.LoadAuth(config.Admin{TLS: &config.AdminTLS{CertFile: "server.pem", KeyFile: "server-key.pem", ClientCAFile: "ca.pem"}}, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := auth.CheckAddress("0.0.0.0:9901"); err != nil {
		t.Errorf("CheckAddress with client certificates: %v", err)
	}
	ctl := newController(t, baseConfig(upstream(t)))
	probes := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	srv := httptest.NewUnstartedServer(admin.New(admin.Options{Controller: ctl, Auth: auth, Probes: probes, Audit: slog.New(slog.DiscardHandler)}))
	srv.TLS = auth.TLS
	srv.StartTLS()
	t.Cleanup(srv.Close)

	roots := x509.NewCertPool()
	roots.AddCert(ca)
	client := func(cert *tls.Certificate) *http.Client {
		tc := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		if cert != nil {
			tc.Certificates = []tls.Certificate{*cert}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
	}
	good := issue(t, ca, caKey, "operator", true)
	bad := issue(t, other, otherKey, "intruder", true)

	if resp, err := client(nil).Get(srv.URL + "/api/v1/state"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without a certificate: %v %v, want 401", status(resp), err)
	}
	if resp, err := client(nil).Get(srv.URL + "/livez"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("probe without a certificate: %v %v, want 200", status(resp), err)
	}
	// A client holding only a certificate another CA signed sends none
	// (the server names the CAs it takes) or has its handshake refused.
	if resp, err := client(&bad).Get(srv.URL + "/api/v1/state"); err == nil && resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a certificate from another CA got %v, want 401 or the handshake refused", status(resp))
	}
	forced := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &bad, nil }}}}
	if resp, err := forced.Get(srv.URL + "/api/v1/state"); err == nil {
		t.Errorf("a certificate from another CA, sent anyway, got %v; want the handshake refused", status(resp))
	}
	req, _ := http.NewRequest("PUT", srv.URL+"/api/v1/upstreams/api/breaker", strings.NewReader(`{"mode":"open"}`))
	resp, err := client(&good).Do(req)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PUT breaker with a good certificate: %v %v, want 204", status(resp), err)
	}
	resp, err = client(&good).Get(srv.URL + "/api/v1/audit")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var recs []admin.AuditRecord
	if err := json.NewDecoder(resp.Body).Decode(&recs); err != nil || len(recs) != 1 || recs[0].Who != "cert:CN=operator" {
		t.Fatalf("audit = %+v (%v), want one record by cert:CN=operator", recs, err)
	}
}

func status(resp *http.Response) any {
	if resp == nil {
		return "no response"
	}
	resp.Body.Close()
	return resp.StatusCode
}

func newCA(t *testing.T, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert, key
}

// issue makes a certificate signed by ca: a client's named cn, or a
// server's for the IP address cn.
func issue(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, client bool) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP(cn)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
