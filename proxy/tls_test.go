package proxy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/posrelay/posrelay/config"
	"github.com/posrelay/posrelay/relayclient"
	"github.com/posrelay/posrelay/signer"
	"github.com/posrelay/posrelay/store"
)

// --- harness ----------------------------------------------------------------

// testRelay is a relay built from a YAML configuration the way the CLI
// builds one, with its logs observed.
type testRelay struct {
	*Relay
	cfg           *config.Config
	logs          *observer.ObservedLogs
	keyID, secret string
	done          chan error
	cancel        context.CancelFunc
}

// newTestRelay parses the sections given (tls:, server: …) plus one site
// with a Halkbank test account, and builds the relay with a SQLite
// journal in a temporary state directory.
func newTestRelay(t *testing.T, sections string) *testRelay {
	t.Helper()
	return newTestRelayIn(t, sections, "test")
}

// newTestRelayIn is newTestRelay with the Halkbank account in the named
// environment (defined in sections when it is not a built-in one).
func newTestRelayIn(t *testing.T, sections, environment string) *testRelay {
	t.Helper()
	keyID, secret := signer.NewKeySecret()
	env := map[string]string{
		"SHOP1_SECRET": secret, "SHOP1_WHSEC": signer.NewWebhookSecret(),
		"HB_STORE_KEY": "store-key-0001", "HB_API_PASSWORD": "api-password-0001",
	}
	state := t.TempDir()
	yml := sections + fmt.Sprintf(`
state_dir: %q
sites:
  - id: shop1
    keys: [{id: %q, secret: "${SHOP1_SECRET}"}]
    webhook: {url: "https://www.example.com/_functions/posrelay", secret: "${SHOP1_WHSEC}"}
    return_origins: ["https://www.example.com"]
    accounts:
      - {bank: halkbank, environment: %s, client_id: "190100000", api_user: API, store_key: "${HB_STORE_KEY}", api_password: "${HB_API_PASSWORD}"}
`, state, keyID, environment)
	cfg, err := config.Parse(strings.NewReader(yml), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yml)
	}
	journal, err := store.OpenSQLite(filepath.Join(state, "journal.db"), store.SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { journal.Close() })
	core, logs := observer.New(zapcore.DebugLevel)
	r, err := New(Options{Config: cfg, Journal: journal, Logger: zap.New(core), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	tr := &testRelay{Relay: r, cfg: cfg, logs: logs, keyID: keyID, secret: secret}
	t.Cleanup(func() {
		if t.Failed() {
			for _, e := range logs.All() {
				t.Logf("log %s %s %s %v", e.Level, e.LoggerName, e.Message, e.ContextMap())
			}
		}
	})
	return tr
}

// start runs fn (Run, runTLS, RunListener…) until the test ends; stopping
// must finish well within the deadline.
func (tr *testRelay) start(t *testing.T, fn func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tr.cancel, tr.done = cancel, make(chan error, 1)
	go func() { tr.done <- fn(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-tr.done:
			if err != nil {
				t.Errorf("relay stopped with %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("relay did not stop within 30 s")
		}
	})
}

// logged reports whether a line with msg (and, if given, logger name) was logged.
func (tr *testRelay) logged(msg, logger string) bool {
	for _, e := range tr.logs.FilterMessage(msg).All() {
		if logger == "" || e.LoggerName == logger {
			return true
		}
	}
	return false
}

// readyz asks the relay's handler directly (before a certificate exists
// there is no HTTPS to ask it over).
func (tr *testRelay) readyz() int {
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI("/readyz")
	tr.Handler()(&ctx)
	return ctx.Response.StatusCode()
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		<-tick.C
	}
}

func loopbackListener(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func portOf(ln net.Listener) int { return ln.Addr().(*net.TCPAddr).Port }

// httpsClient trusts roots and expects the name name.
func httpsClient(roots *x509.CertPool, name string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: name},
	}}
}

// plainClient does not follow redirects.
var plainClient = &http.Client{Timeout: 10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// handshake connects to addr with c and returns the connection's state.
func handshake(addr string, c *tls.Config) (tls.ConnectionState, error) {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, c)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer conn.Close()
	return conn.ConnectionState(), nil
}

// servedLeaf is the certificate the relay presents for name, verified against roots.
func servedLeaf(addr string, roots *x509.CertPool, name string) (*x509.Certificate, error) {
	st, err := handshake(addr, &tls.Config{RootCAs: roots, ServerName: name})
	if err != nil {
		return nil, err
	}
	return st.PeerCertificates[0], nil
}

func get(t *testing.T, c *http.Client, url string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// --- pebble -----------------------------------------------------------------

// testCA is an in-process Pebble ACME server on loopback.
type testCA struct {
	dir       string // ACME directory URL
	rootsFile string // PEM of Pebble's own HTTPS certificate, for tls.ca_roots
	mgmt      *httptest.Server
	release   func() // opens the gate, if there is one
}

// startPebble runs Pebble whose VA validates HTTP-01 on httpPort and
// TLS-ALPN-01 on tlsPort (the relay's listeners) and issues certificates
// valid for validity seconds (0 = 90 days). With gated, new orders wait
// for release. resolver is a DNS server for the VA ("" = the system's).
func startPebble(t *testing.T, httpPort, tlsPort int, validity uint64, gated bool, resolver string) *testCA {
	t.Helper()
	// Read when the VA and WFE are built: validate at once, never reject a nonce.
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")
	logger := log.New(io.Discard, "", 0)
	mem := db.NewMemoryStore()
	authority := ca.New(logger, mem, "", "ecdsa", 0, 1, map[string]ca.Profile{
		"default": {Description: "test", ValidityPeriod: validity}})
	validator := va.New(logger, httpPort, tlsPort, false, resolver, mem)
	front := wfe.New(logger, mem, validator, authority, nil, false, false, 0, 0)

	p := &testCA{release: func() {}}
	var h http.Handler = front.Handler()
	if gated {
		gate := make(chan struct{})
		var once sync.Once
		p.release = func() { once.Do(func() { close(gate) }) }
		inner := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/order-plz") {
				<-gate
			}
			inner.ServeHTTP(w, r)
		})
	}
	acme := httptest.NewTLSServer(h)
	p.mgmt = httptest.NewTLSServer(front.ManagementHandler())
	t.Cleanup(func() {
		p.release()
		acme.Close()
		p.mgmt.Close()
	})
	p.dir = acme.URL + "/dir"
	p.rootsFile = filepath.Join(t.TempDir(), "pebble-https.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: acme.Certificate().Raw})
	if err := os.WriteFile(p.rootsFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// issuingRoot is the root Pebble signs certificates with (new on every start).
func (p *testCA) issuingRoot(t *testing.T) *x509.CertPool {
	t.Helper()
	resp, body := get(t, p.mgmt.Client(), p.mgmt.URL+"/roots/0", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("pebble roots: %d", resp.StatusCode)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(body)) {
		t.Fatal("pebble root is not PEM")
	}
	return pool
}

// acmeSections is the tls: and server: configuration for Pebble.
func acmeSections(p *testCA, httpListen, domain string) string {
	return fmt.Sprintf(`tls:
  mode: acme
  domains: [%s]
  email: ops@example.com
  ca: %q
  ca_roots: [%q]
server:
  listen: "127.0.0.1:0"
  http_listen: %q
  admin_listen: ""
`, domain, p.dir, p.rootsFile, httpListen)
}

// loopbackDNS is a DNS server (TCP, as Pebble's VA asks) that answers
// 127.0.0.1 for every name, so a test can use a name of its own.
func loopbackDNS(t *testing.T) string {
	t.Helper()
	ln := loopbackListener(t)
	srv := &dns.Server{Listener: ln, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		for _, qq := range q.Question {
			if qq.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: qq.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
					A: net.IPv4(127, 0, 0, 1)})
			}
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return ln.Addr().String()
}

// uniqueName is a DNS name no other test (or -count repetition) uses:
// certmagic keeps renewal backoff and job state per name process-wide.
func uniqueName() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("relay-%x.test", b)
}

// checkServesHTTPS checks /readyz, /healthz, a signed /v1/whoami and HSTS
// on a shopper page over HTTPS with a certificate for name.
func checkServesHTTPS(t *testing.T, tr *testRelay, base string, roots *x509.CertPool, name string) {
	t.Helper()
	c := httpsClient(roots, name)
	for _, path := range []string{"/readyz", "/healthz"} {
		resp, body := get(t, c, base+path, nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s over HTTPS: %d %s", path, resp.StatusCode, body)
		}
		if resp.TLS == nil || len(resp.TLS.VerifiedChains) == 0 || resp.TLS.Version < tls.VersionTLS12 {
			t.Errorf("GET %s: not a verified modern TLS connection: %+v", path, resp.TLS)
		}
	}
	rc := &relayclient.Client{BaseURL: base, KeyID: tr.keyID, Secret: []byte(tr.secret), HTTP: c}
	var who whoamiBody
	if err := rc.Do(context.Background(), http.MethodGet, "/v1/whoami", nil, &who, nil); err != nil {
		t.Fatalf("signed GET /v1/whoami over HTTPS: %v", err)
	}
	if who.Site != "shop1" || who.KeyID != tr.keyID || who.PublicURL != "https://"+name {
		t.Errorf("whoami = %+v", who)
	}
	resp, _ := get(t, c, base+"/pay/no-such-token", nil)
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Strict-Transport-Security") != "max-age=31536000" {
		t.Errorf("shopper page over HTTPS: status %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}
}

// --- ACME -------------------------------------------------------------------

// TestACMEHTTP01Pebble: Pebble validates HTTP-01 against the relay's own
// plain listener; /readyz is 503 until the certificate is there, then the
// relay serves HTTPS with it.
func TestACMEHTTP01Pebble(t *testing.T) {
	tlsLn, plainLn := loopbackListener(t), loopbackListener(t)
	p := startPebble(t, portOf(plainLn), portOf(tlsLn), 0, true, "")
	tr := newTestRelay(t, acmeSections(p, "127.0.0.1:0", "localhost"))
	tr.start(t, func(ctx context.Context) error {
		return tr.runTLS(ctx, tlsLn, plainLn, tlsTuning{noTLSALPN01: true})
	})
	base := "https://" + tlsLn.Addr().String()
	plain := "http://" + plainLn.Addr().String()

	// Management has started; Pebble holds the order.
	eventually(t, "obtaining certificate", 10*time.Second, func() bool { return tr.logged("obtaining certificate", "tls") })
	if !tr.logged("waiting for certificate", "tls") {
		t.Error("no 'waiting for certificate' line")
	}
	w := tr.logs.FilterMessage("waiting for certificate").All()[0].ContextMap()
	if fmt.Sprint(w["domains"]) != "[localhost]" || w["ca"] != p.dir || fmt.Sprint(w["challenges"]) != "[http-01 on "+plainLn.Addr().String()+"]" {
		t.Errorf("waiting line = %v", w)
	}
	if code := tr.readyz(); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before issuance = %d, want 503", code)
	}
	if _, err := handshake(tlsLn.Addr().String(), &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"}); err == nil {
		t.Error("a TLS handshake succeeded before any certificate was issued")
	}
	// The plain listener: /healthz, and a 308 to HTTPS for the rest.
	if resp, _ := get(t, plainClient, plain+"/healthz", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("plain /healthz = %d", resp.StatusCode)
	}
	resp, _ := get(t, plainClient, plain+"/pay/abc?lang=tr", nil)
	if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != "https://localhost/pay/abc?lang=tr" {
		t.Errorf("plain /pay/abc: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := get(t, plainClient, plain+"/.well-known/acme-challenge/unknown", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown challenge token = %d, want 404", resp.StatusCode)
	}

	start := time.Now()
	p.release()
	eventually(t, "/readyz 200", 20*time.Second, func() bool { return tr.readyz() == http.StatusOK })
	t.Logf("certificate issued %v after the order was let through", time.Since(start).Round(time.Millisecond))

	roots := p.issuingRoot(t)
	leaf, err := servedLeaf(tlsLn.Addr().String(), roots, "localhost")
	if err != nil {
		t.Fatalf("served certificate does not verify against Pebble's root: %v", err)
	}
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "localhost" {
		t.Errorf("certificate names %v", leaf.DNSNames)
	}
	checkServesHTTPS(t, tr, base, roots, "localhost")
	// A client without SNI (by IP address) gets the same certificate.
	st, err := handshake(tlsLn.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil || st.PeerCertificates[0].SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Errorf("handshake without SNI: %v", err)
	}

	// The challenge was answered by the relay's own plain listener.
	answered := false
	for _, e := range tr.logs.FilterMessage(canonicalLine).All() {
		m := e.ContextMap()
		if m[logRoute] == acmeChallengePrefix+"{token}" && m[logStatus] == int64(http.StatusOK) {
			answered = true
		}
	}
	if !answered {
		t.Error("the relay's plain listener answered no HTTP-01 challenge")
	}
	for _, msg := range []string{"certificate obtained", "certificates ready", "serving certificate"} {
		if !tr.logged(msg, "tls") {
			t.Errorf("no %q line", msg)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(tr.cfg.StateDir, "certmagic", "certificates", "*", "localhost", "localhost.crt")); len(m) != 1 {
		t.Errorf("certificate not stored under <state_dir>/certmagic: %v", m)
	}
}

// TestACMETLSALPN01Pebble: with no plain listener, Pebble validates
// TLS-ALPN-01 against the relay's own TLS listener.
func TestACMETLSALPN01Pebble(t *testing.T) {
	tlsLn := loopbackListener(t)
	p := startPebble(t, 1, portOf(tlsLn), 0, false, "") // nothing answers HTTP-01 on port 1
	tr := newTestRelay(t, acmeSections(p, "", "localhost"))
	tr.start(t, func(ctx context.Context) error { return tr.runTLS(ctx, tlsLn, nil, tlsTuning{}) })

	eventually(t, "/readyz 200", 20*time.Second, func() bool { return tr.readyz() == http.StatusOK })
	roots := p.issuingRoot(t)
	checkServesHTTPS(t, tr, "https://"+tlsLn.Addr().String(), roots, "localhost")

	var served bool
	for _, e := range tr.logs.FilterMessage("served key authentication certificate").All() {
		if e.ContextMap()["challenge"] == "tls-alpn-01" && e.LoggerName == "certmagic" {
			served = true
		}
	}
	if !served {
		t.Error("the relay's TLS listener served no TLS-ALPN-01 challenge certificate")
	}
	w := tr.logs.FilterMessage("waiting for certificate").All()[0].ContextMap()
	if fmt.Sprint(w["challenges"]) != "[tls-alpn-01 on "+tlsLn.Addr().String()+"]" {
		t.Errorf("challenges = %v", w["challenges"])
	}
}

// TestACMERenewalPebble: a short-lived certificate is renewed by certmagic
// and the new one is served without a restart. It uses a name of its own
// (resolved by a test DNS server): certmagic's renewal backoff is per name
// and process-wide, and a renewal cut short by the end of one run must not
// hold back the next (go test -count=N).
func TestACMERenewalPebble(t *testing.T) {
	name := uniqueName()
	tlsLn, plainLn := loopbackListener(t), loopbackListener(t)
	p := startPebble(t, portOf(plainLn), portOf(tlsLn), 30, false, loopbackDNS(t))
	tr := newTestRelay(t, acmeSections(p, "127.0.0.1:0", name))
	// Renew once 90 % of the lifetime is left (3 s into 30 s), checking
	// every 250 ms; both challenges on, as in production.
	tun := tlsTuning{renewCheck: 250 * time.Millisecond, windowRatio: 0.9}
	tr.start(t, func(ctx context.Context) error { return tr.runTLS(ctx, tlsLn, plainLn, tun) })
	addr := tlsLn.Addr().String()

	eventually(t, "/readyz 200", 20*time.Second, func() bool { return tr.readyz() == http.StatusOK })
	roots := p.issuingRoot(t)
	first, err := servedLeaf(addr, roots, name)
	if err != nil {
		t.Fatal(err)
	}
	if life := first.NotAfter.Sub(first.NotBefore); life > 31*time.Second {
		t.Fatalf("certificate lives %v; the test needs a short-lived one", life)
	}
	var second *x509.Certificate
	eventually(t, "a renewed certificate being served", 25*time.Second, func() bool {
		second, err = servedLeaf(addr, roots, name)
		return err == nil && second.SerialNumber.Cmp(first.SerialNumber) != 0
	})
	if !second.NotAfter.After(first.NotAfter) {
		t.Errorf("renewed certificate expires %v, not after the first's %v", second.NotAfter, first.NotAfter)
	}
	renewed := false
	for _, e := range tr.logs.FilterMessage("certificate obtained").All() {
		if e.ContextMap()["renewal"] == true {
			renewed = true
		}
	}
	if !renewed {
		t.Error("no 'certificate obtained' line with renewal=true")
	}
	eventually(t, "a 'serving certificate' line for the renewed certificate", 5*time.Second, func() bool {
		for _, e := range tr.logs.FilterMessage("serving certificate").All() {
			if e.ContextMap()["serial"] == second.SerialNumber.Text(16) {
				return true
			}
		}
		return false
	})
	if code := tr.readyz(); code != http.StatusOK {
		t.Errorf("/readyz after renewal = %d", code)
	}
	checkServesHTTPS(t, tr, "https://"+addr, roots, name)
}

// TestACMEShutdownWhileWaiting: with the CA unreachable the relay says so,
// stays not ready, and still stops promptly.
func TestACMEShutdownWhileWaiting(t *testing.T) {
	dead := loopbackListener(t)
	deadCA := "https://" + dead.Addr().String() + "/dir"
	dead.Close()
	tlsLn, plainLn := loopbackListener(t), loopbackListener(t)
	tr := newTestRelay(t, fmt.Sprintf("tls: {mode: acme, domains: [localhost], ca: %q}\nserver: {listen: \"127.0.0.1:0\", http_listen: \"127.0.0.1:0\", admin_listen: \"\"}\n", deadCA))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- tr.runTLS(ctx, tlsLn, plainLn, tlsTuning{}) }()
	eventually(t, "the failure to be logged", 10*time.Second, func() bool {
		return tr.logged("certificate failed; certmagic retries with backoff", "tls")
	})
	e := tr.logs.FilterMessage("certificate failed; certmagic retries with backoff").All()[0].ContextMap()
	if e["domain"] != "localhost" || e["ca"] != deadCA || !strings.Contains(fmt.Sprint(e["hint"]), "ports 80 and 443") {
		t.Errorf("failure line = %v", e)
	}
	if code := tr.readyz(); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz without a certificate = %d", code)
	}
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("runTLS = %v", err)
		}
		t.Logf("stopped in %v", time.Since(start).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Fatal("the relay did not stop within 10 s of ctx being done")
	}
}

// TestACMEIssuerSettings: the CA, contact, storage, logger and solver
// addresses certmagic is given, without talking to any CA.
func TestACMEIssuerSettings(t *testing.T) {
	rootsFile := filepath.Join(t.TempDir(), "root.pem")
	certPEM, _, extra := selfSigned(t, time.Now().Add(time.Hour), "private-ca.example")
	writeFile(t, rootsFile, certPEM)
	for name, c := range map[string]struct{ ca, want, roots string }{
		"default":     {"", config.DefaultACMECA, ""},
		"letsencrypt": {"letsencrypt", config.DefaultACMECA, ""},
		"staging":     {"letsencrypt-staging", config.StagingACMECA, ""},
		"private":     {"https://acme.internal.example/directory", "https://acme.internal.example/directory", rootsFile},
	} {
		t.Run(name, func(t *testing.T) {
			roots := ""
			if c.roots != "" {
				roots = fmt.Sprintf(", ca_roots: [%q]", c.roots)
			}
			caKey := ""
			if c.ca != "" {
				caKey = fmt.Sprintf(", ca: %q", c.ca)
			}
			tr := newTestRelay(t, fmt.Sprintf("tls: {mode: acme, domains: [pay.example.com, www.pay.example.com], email: ops@example.com%s%s}\nserver: {admin_listen: \"\"}\n", caKey, roots))
			tlsLn, plainLn := loopbackListener(t), loopbackListener(t)
			defer tlsLn.Close()
			defer plainLn.Close()
			src, a, err := tr.newACME(tlsLn, plainLn, tlsTuning{})
			if err != nil {
				t.Fatal(err)
			}
			defer src.stop()
			iss := a.issuer
			if iss.CA != c.want || iss.TestCA != "" {
				t.Errorf("CA %q TestCA %q; want CA %q and no test CA (never LE staging behind a production CA)", iss.CA, iss.TestCA, c.want)
			}
			if iss.Email != "ops@example.com" || !iss.Agreed || iss.DisableHTTPChallenge || iss.DisableTLSALPNChallenge {
				t.Errorf("issuer = email %q agreed %v http-01 off %v tls-alpn-01 off %v", iss.Email, iss.Agreed, iss.DisableHTTPChallenge, iss.DisableTLSALPNChallenge)
			}
			if iss.ListenHost != "127.0.0.1" || iss.AltHTTPPort != portOf(plainLn) || iss.AltTLSALPNPort != portOf(tlsLn) {
				t.Errorf("solvers at %q :%d :%d, want the relay's listeners", iss.ListenHost, iss.AltHTTPPort, iss.AltTLSALPNPort)
			}
			fs, ok := a.cfg.Storage.(*certmagic.FileStorage)
			if !ok || fs.Path != filepath.Join(tr.cfg.StateDir, "certmagic") {
				t.Errorf("storage = %#v", a.cfg.Storage)
			}
			if a.cfg.Logger == nil || a.cfg.DefaultServerName != "pay.example.com" {
				t.Errorf("logger %v, default server name %q", a.cfg.Logger, a.cfg.DefaultServerName)
			}
			if c.roots == "" {
				if iss.TrustedRoots != nil {
					t.Error("TrustedRoots set without tls.ca_roots; want the system's")
				}
			} else if _, err := extra.Verify(x509.VerifyOptions{Roots: iss.TrustedRoots}); err != nil {
				t.Errorf("tls.ca_roots not trusted for the CA: %v", err)
			}
			if protos := serverTLSConfig(src.base).NextProtos; strings.Join(protos, ",") != "http/1.1,acme-tls/1" {
				t.Errorf("NextProtos = %v", protos)
			}
			if src.challenge == nil {
				t.Error("no HTTP-01 handler for the plain listener")
			}
		})
	}
}

// TestACMEConfigErrors: a bad tls.ca_roots file is named before anything listens.
func TestACMEConfigErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "not-pem.pem")
	if err := os.WriteFile(bad, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct{ file, want string }{
		"missing": {filepath.Join(t.TempDir(), "nope.pem"), "tls.ca_roots[0]: open"},
		"not pem": {bad, "tls.ca_roots[0] " + bad + ": no PEM certificate"},
	} {
		t.Run(name, func(t *testing.T) {
			tr := newTestRelay(t, fmt.Sprintf("tls: {mode: acme, domains: [localhost], ca: \"https://127.0.0.1:1/dir\", ca_roots: [%q]}\nserver: {listen: \"127.0.0.1:0\", http_listen: \"127.0.0.1:0\", admin_listen: \"\"}\n", c.file))
			err := tr.Run(context.Background())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Run = %v, want %q", err, c.want)
			}
		})
	}
}

// --- tls.mode files ---------------------------------------------------------

// selfSigned makes a certificate for names that expires at notAfter.
func selfSigned(t *testing.T, notAfter time.Time, names ...string) (certPEM, keyPEM []byte, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(der)
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), cert
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func pool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

func filesSections(certFile, keyFile, httpListen string) string {
	return fmt.Sprintf(`tls: {mode: files, domains: [localhost], cert_file: %q, key_file: %q}
server: {listen: "127.0.0.1:0", http_listen: %q, admin_listen: ""}
`, certFile, keyFile, httpListen)
}

// TestTLSFilesReloadOnSIGHUP: the pair is served, a bad new pair is refused
// (the old certificate stays), a good one replaces it without a restart.
func TestTLSFilesReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "fullchain.pem"), filepath.Join(dir, "privkey.pem")
	certA, keyA, a := selfSigned(t, time.Now().Add(24*time.Hour), "localhost")
	certB, keyB, b := selfSigned(t, time.Now().Add(48*time.Hour), "localhost")
	writeFile(t, certFile, certA)
	writeFile(t, keyFile, keyA)

	tlsLn, plainLn := loopbackListener(t), loopbackListener(t)
	tr := newTestRelay(t, filesSections(certFile, keyFile, "127.0.0.1:0"))
	tr.start(t, func(ctx context.Context) error { return tr.runTLS(ctx, tlsLn, plainLn, tlsTuning{}) })
	addr := tlsLn.Addr().String()
	roots := pool(a, b)
	eventually(t, "/readyz 200", 5*time.Second, func() bool { return tr.readyz() == http.StatusOK })
	checkServesHTTPS(t, tr, "https://"+addr, pool(a), "localhost")

	serial := func() *big.Int {
		leaf, err := servedLeaf(addr, roots, "localhost")
		if err != nil {
			t.Fatal(err)
		}
		return leaf.SerialNumber
	}
	// A mismatched pair: logged, and A is still served.
	writeFile(t, certFile, certB)
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the failed reload to be logged", 5*time.Second, func() bool {
		return tr.logged("certificate reload failed; still serving the previous certificate", "tls")
	})
	e := tr.logs.FilterMessage("certificate reload failed; still serving the previous certificate").All()[0].ContextMap()
	if !strings.Contains(fmt.Sprint(e["error"]), "does not belong to the certificate") || e["serial"] != a.SerialNumber.Text(16) {
		t.Errorf("reload failure line = %v", e)
	}
	if serial().Cmp(a.SerialNumber) != 0 {
		t.Error("a bad pair replaced the served certificate")
	}
	// The matching key arrives: B is served.
	writeFile(t, keyFile, keyB)
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new certificate to be served", 5*time.Second, func() bool { return serial().Cmp(b.SerialNumber) == 0 })
	if !tr.logged("certificate reloaded", "tls") {
		t.Error("no 'certificate reloaded' line")
	}

	// The plain listener only redirects (no ACME in files mode), to our own names.
	plain := "http://" + plainLn.Addr().String()
	for host, want := range map[string]string{
		"localhost:80":     "https://localhost/.well-known/acme-challenge/x?y=1",
		"evil.example.com": "https://localhost/.well-known/acme-challenge/x?y=1",
		"":                 "https://localhost/.well-known/acme-challenge/x?y=1",
	} {
		req, _ := http.NewRequest(http.MethodPost, plain+"/.well-known/acme-challenge/x?y=1", strings.NewReader("a=b"))
		req.Host = host
		resp, err := plainClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
			t.Errorf("Host %q: %d Location %q, want 308 %q", host, resp.StatusCode, resp.Header.Get("Location"), want)
		}
	}
}

// TestTLSFilesRun: Run itself opens server.listen and server.http_listen
// and serves the pair.
func TestTLSFilesRun(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM, leaf := selfSigned(t, time.Now().Add(time.Hour), "localhost")
	writeFile(t, filepath.Join(dir, "c.pem"), certPEM)
	writeFile(t, filepath.Join(dir, "k.pem"), keyPEM)
	tr := newTestRelay(t, filesSections(filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem"), "127.0.0.1:0"))
	tr.start(t, tr.Run)
	var addr, httpAddr string
	eventually(t, "the listening line", 5*time.Second, func() bool {
		l := tr.logs.FilterMessage("listening").All()
		if len(l) == 0 {
			return false
		}
		addr, httpAddr = fmt.Sprint(l[0].ContextMap()["addr"]), fmt.Sprint(l[0].ContextMap()["http_addr"])
		return true
	})
	eventually(t, "/readyz 200", 5*time.Second, func() bool { return tr.readyz() == http.StatusOK })
	checkServesHTTPS(t, tr, "https://"+addr, pool(leaf), "localhost")
	resp, _ := get(t, plainClient, "http://"+httpAddr+"/v1/whoami", nil)
	if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != "https://localhost/v1/whoami" {
		t.Errorf("plain /v1/whoami: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestTLSFilesStartErrors: an unusable pair stops the start with the key and the fix.
func TestTLSFilesStartErrors(t *testing.T) {
	dir := t.TempDir()
	certA, keyA, _ := selfSigned(t, time.Now().Add(time.Hour), "localhost")
	_, keyB, _ := selfSigned(t, time.Now().Add(time.Hour), "localhost")
	certOld, keyOld, _ := selfSigned(t, time.Now().Add(-time.Minute), "localhost")
	certOther, keyOther, _ := selfSigned(t, time.Now().Add(time.Hour), "other.example.com")
	files := map[string][]byte{"a.crt": certA, "a.key": keyA, "b.key": keyB, "old.crt": certOld, "old.key": keyOld,
		"other.crt": certOther, "other.key": keyOther, "junk": []byte("not pem")}
	for name, b := range files {
		writeFile(t, filepath.Join(dir, name), b)
	}
	for name, c := range map[string]struct{ cert, key, want string }{
		"cert missing":   {"none.crt", "a.key", "tls.cert_file: open " + filepath.Join(dir, "none.crt") + ": no such file or directory; check the path"},
		"key missing":    {"a.crt", "none.key", "tls.key_file: open"},
		"key mismatched": {"a.crt", "b.key", "tls.key_file " + filepath.Join(dir, "b.key") + " does not belong to the certificate in tls.cert_file"},
		"cert not pem":   {"junk", "a.key", "no PEM certificate in it"},
		"key not pem":    {"a.crt", "junk", "no PEM private key in it"},
		"expired":        {"old.crt", "old.key", "expired on"},
		"wrong name":     {"other.crt", "other.key", `does not cover tls.domains[0] "localhost" (it names other.example.com)`},
	} {
		t.Run(name, func(t *testing.T) {
			tr := newTestRelay(t, filesSections(filepath.Join(dir, c.cert), filepath.Join(dir, c.key), ""))
			err := tr.Run(context.Background())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Run = %v\nwant it to contain %q", err, c.want)
			}
		})
	}
}

// TestTLSModernOnly: TLS 1.2+ only, ECDHE AEAD suites, X25519/P-256, http/1.1.
func TestTLSModernOnly(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM, leaf := selfSigned(t, time.Now().Add(time.Hour), "localhost")
	writeFile(t, filepath.Join(dir, "c.pem"), certPEM)
	writeFile(t, filepath.Join(dir, "k.pem"), keyPEM)
	tlsLn := loopbackListener(t)
	tr := newTestRelay(t, filesSections(filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem"), ""))
	tr.start(t, func(ctx context.Context) error { return tr.runTLS(ctx, tlsLn, nil, tlsTuning{}) })
	eventually(t, "/readyz 200", 5*time.Second, func() bool { return tr.readyz() == http.StatusOK })

	dial := func(c *tls.Config) (tls.ConnectionState, error) {
		c.RootCAs, c.ServerName = pool(leaf), "localhost"
		return handshake(tlsLn.Addr().String(), c)
	}
	for name, c := range map[string]struct {
		cfg *tls.Config
		ok  bool
	}{
		"TLS 1.0":            {&tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}, false},
		"TLS 1.1":            {&tls.Config{MinVersion: tls.VersionTLS11, MaxVersion: tls.VersionTLS11}, false},
		"TLS 1.2 CBC":        {&tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA}}, false},
		"TLS 1.2 P-384 only": {&tls.Config{MaxVersion: tls.VersionTLS12, CurvePreferences: []tls.CurveID{tls.CurveP384}}, false},
		"TLS 1.3 P-521 only": {&tls.Config{MinVersion: tls.VersionTLS13, CurvePreferences: []tls.CurveID{tls.CurveP521}}, false},
		"TLS 1.2 GCM":        {&tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}, true},
		"TLS 1.2 ChaCha P-256": {&tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256},
			CurvePreferences: []tls.CurveID{tls.CurveP256}}, true},
		"TLS 1.3 X25519": {&tls.Config{MinVersion: tls.VersionTLS13, CurvePreferences: []tls.CurveID{tls.X25519}, NextProtos: []string{"h2", "http/1.1"}}, true},
	} {
		st, err := dial(c.cfg)
		if c.ok && err != nil {
			t.Errorf("%s: refused: %v", name, err)
		}
		if !c.ok && err == nil {
			t.Errorf("%s: accepted (version %x, suite %s)", name, st.Version, tls.CipherSuiteName(st.CipherSuite))
		}
		if c.ok && len(c.cfg.NextProtos) > 0 && st.NegotiatedProtocol != "http/1.1" {
			t.Errorf("%s: ALPN %q, want http/1.1 (fasthttp has no h2)", name, st.NegotiatedProtocol)
		}
	}
	// A refused handshake is a debug line, never a request line.
	eventually(t, "the refused handshakes to be logged", 5*time.Second, func() bool {
		return tr.logs.FilterMessage("tls handshake failed").Len() >= 5
	})
	if n := tr.logs.FilterMessage(canonicalLine).FilterField(zap.String(logRoute, "(unparsed)")).Len(); n > 0 {
		t.Errorf("%d failed handshakes were logged as requests", n)
	}
}

// --- tls.mode off -----------------------------------------------------------

// TestTLSOffForwardedHeaders: X-Forwarded-For/-Proto count only from
// server.trusted_proxies; an untrusted peer's are ignored.
func TestTLSOffForwardedHeaders(t *testing.T) {
	forwarded := map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
	for name, c := range map[string]struct {
		proxies  string
		hsts     bool
		remoteIP string
	}{
		"no trusted proxies":    {"[]", false, "127.0.0.1"},
		"peer not trusted":      {`["10.0.0.0/8", "192.0.2.1"]`, false, "127.0.0.1"},
		"peer a trusted proxy":  {`["127.0.0.1"]`, true, "203.0.113.7"},
		"peer in trusted range": {`["127.0.0.0/8"]`, true, "203.0.113.7"},
	} {
		t.Run(name, func(t *testing.T) {
			ln := loopbackListener(t)
			tr := newTestRelay(t, fmt.Sprintf("tls: {mode: off}\nserver: {public_url: \"https://pay.example.com\", trusted_proxies: %s, admin_listen: \"\"}\n", c.proxies))
			tr.start(t, func(ctx context.Context) error { return tr.RunListener(ctx, ln) })
			base := "http://" + ln.Addr().String()
			eventually(t, "/readyz 200", 5*time.Second, func() bool {
				resp, err := plainClient.Get(base + "/readyz")
				if err == nil {
					resp.Body.Close()
				}
				return err == nil && resp.StatusCode == http.StatusOK
			})
			resp, _ := get(t, plainClient, base+"/pay/no-such-token", forwarded)
			if got := resp.Header.Get("Strict-Transport-Security") != ""; got != c.hsts {
				t.Errorf("HSTS sent = %v, want %v", got, c.hsts)
			}
			rid := resp.Header.Get("X-Request-Id")
			var remote any
			eventually(t, "the request's log line", 5*time.Second, func() bool {
				for _, e := range tr.logs.FilterMessage(canonicalLine).All() {
					if m := e.ContextMap(); m[logRequestID] == rid {
						remote = m[logRemote]
						return true
					}
				}
				return false
			})
			if remote != c.remoteIP {
				t.Errorf("logged remote_ip = %v, want %s", remote, c.remoteIP)
			}
		})
	}
}

// TestTLSRunListenAddressInUse: a taken port is reported with the key and the fix.
func TestTLSRunListenAddressInUse(t *testing.T) {
	taken := loopbackListener(t)
	defer taken.Close()
	tr := newTestRelay(t, "tls: {mode: acme, domains: [localhost]}\nserver: {listen: \"127.0.0.1:"+strconv.Itoa(portOf(taken))+"\", http_listen: \"127.0.0.1:0\", admin_listen: \"\"}\n")
	err := tr.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "(server.listen)") || !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), "holds the port") {
		t.Errorf("Run = %v", err)
	}
}

// TestStopAtOnceReleasesListener: a relay stopped before it got to serve
// still closes its listener and returns (a supervisor restarting it on
// the same port would otherwise find the port taken).
func TestStopAtOnceReleasesListener(t *testing.T) {
	for i := 0; i < 20; i++ {
		tr := newTestRelay(t, "tls: {mode: off}\nserver: {public_url: \"https://relay.example\"}\n")
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		done := make(chan error, 1)
		go func() { done <- tr.RunListener(ctx, ln) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("RunListener: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("RunListener did not return after its context ended")
		}
		again, err := net.Listen("tcp", ln.Addr().String())
		if err != nil {
			t.Fatalf("run %d: the stopped relay's port is still taken: %v", i, err)
		}
		again.Close()
	}
}
