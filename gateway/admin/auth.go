package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/levee-go/levee/gateway/config"
)

// Auth is how the admin API knows its clients: a bearer token, client
// certificates, both, or neither (loopback only). The zero Auth lets
// every client in, which [Auth.CheckAddress] allows only on loopback.
type Auth struct {
	// Token is the bearer token every request but the probes must carry
	// in "Authorization: Bearer <token>". Empty means none.
	Token string
	// TLS, when set, serves HTTPS. With ClientCAs, a client presenting a
	// certificate those CAs signed is let in without a token (the
	// certificate is verified by the TLS handshake, which asks for it
	// but, so that probes need none, does not require it).
	TLS *tls.Config
}

// LoadAuth reads the admin section's token (token_file, whose surrounding
// space is dropped, or token_env) and TLS files, relative to dir.
// getenv looks up token_env; nil means [os.Getenv].
func LoadAuth(a config.Admin, dir string, getenv func(string) string) (Auth, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	var au Auth
	switch {
	case a.TokenFile != "":
		b, err := os.ReadFile(resolve(dir, a.TokenFile))
		if err != nil {
			return au, fmt.Errorf("admin.token_file: %w", err)
		}
		au.Token = strings.TrimSpace(string(b))
		if au.Token == "" {
			return au, fmt.Errorf("admin.token_file: %s is empty", a.TokenFile)
		}
	case a.TokenEnv != "":
		au.Token = strings.TrimSpace(getenv(a.TokenEnv))
		if au.Token == "" {
			return au, fmt.Errorf("admin.token_env: environment variable %s is not set", a.TokenEnv)
		}
	}
	if t := a.TLS; t != nil {
		cert, err := tls.LoadX509KeyPair(resolve(dir, t.CertFile), resolve(dir, t.KeyFile))
		if err != nil {
			return au, fmt.Errorf("admin.tls: %w", err)
		}
		au.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if t.ClientCAFile != "" {
			pem, err := os.ReadFile(resolve(dir, t.ClientCAFile))
			if err != nil {
				return au, fmt.Errorf("admin.tls.client_ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return au, fmt.Errorf("admin.tls.client_ca_file: no PEM certificate in %s", t.ClientCAFile)
			}
			au.TLS.ClientCAs = pool
			au.TLS.ClientAuth = tls.VerifyClientCertIfGiven
		}
	}
	return au, nil
}

// ErrExposed is returned by [Auth.CheckAddress] for an address other
// hosts can reach when the API has no way to tell its clients apart.
var ErrExposed = errors.New("admin: the admin API would be reachable from other hosts without authentication")

// CheckAddress refuses to serve the API on addr (host:port, as configured
// or as bound) when other hosts can reach it and a has neither a token nor
// client certificates: an empty host or any address but loopback.
func (a Auth) CheckAddress(addr string) error {
	if a.Token != "" || a.clientCerts() {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("admin.address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%w: admin.address %q; set admin.token_file, admin.token_env or admin.tls.client_ca_file, or listen on 127.0.0.1", ErrExposed, addr)
}

func (a Auth) clientCerts() bool { return a.TLS != nil && a.TLS.ClientCAs != nil }

// required reports whether requests must prove who they are.
func (a Auth) required() bool { return a.Token != "" || a.clientCerts() }

// authenticator checks requests against an [Auth]; the token's hash is
// computed once, so that comparing costs the same for every token given.
type authenticator struct {
	auth     Auth
	sum      [32]byte // sha256 of the token
	tokenTag string   // "token:<first 8 hex digits of its sha256>"
}

func newAuthenticator(a Auth) *authenticator {
	au := &authenticator{auth: a}
	if a.Token != "" {
		au.sum = sha256.Sum256([]byte(a.Token))
		au.tokenTag = fingerprint(a.Token)
	}
	return au
}

// fingerprint names a token in the audit log without revealing it.
func fingerprint(token string) string {
	s := sha256.Sum256([]byte(token))
	return "token:" + hex.EncodeToString(s[:4])
}

// identify returns who sent r, or the status and detail to refuse it
// with: 401 when it carries no credentials, 403 when they are wrong.
func (au *authenticator) identify(r *http.Request) (who string, status int, detail string) {
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		return "cert:" + r.TLS.VerifiedChains[0][0].Subject.String(), 0, ""
	}
	h := r.Header.Get("Authorization")
	if au.auth.Token == "" {
		if !au.auth.required() {
			return "anonymous", 0, ""
		}
		return "", http.StatusUnauthorized, "a client certificate is required"
	}
	if h == "" {
		return "", http.StatusUnauthorized, "an Authorization: Bearer token is required"
	}
	scheme, token, ok := strings.Cut(h, " ")
	switch {
	case ok && strings.EqualFold(scheme, "Bearer"):
	case ok && strings.EqualFold(scheme, "Basic"):
		// A browser opening the dashboard cannot send a bearer token (nor
		// can its event stream): it asks for a user name and password, and
		// the password is the token (the user name is not checked).
		_, pass, basic := r.BasicAuth()
		if !basic {
			return "", http.StatusUnauthorized, "the Basic credentials are malformed"
		}
		token = pass
	default:
		return "", http.StatusUnauthorized, "the Authorization field must be a Bearer token (or Basic, with the token as password)"
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	if subtle.ConstantTimeCompare(sum[:], au.sum[:]) != 1 {
		return "", http.StatusForbidden, "the token is not the admin API's"
	}
	return au.tokenTag, 0, ""
}

func resolve(dir, name string) string {
	if filepath.IsAbs(name) || dir == "" {
		return name
	}
	return filepath.Join(dir, name)
}
