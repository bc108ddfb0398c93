package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
	"go.uber.org/zap"
)

// The relay's HTTPS is modern only: TLS 1.2 or 1.3, forward-secret AEAD
// suites, X25519 or P-256 key exchange. Banks' 3-D callbacks come from the
// shopper's browser and Wix's fetch is a current runtime, so nothing older
// is needed. TLS 1.3 suites are not configurable in Go and are all AEAD.
var (
	tls12Suites = []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	}
	tlsCurves = []tls.CurveID{tls.X25519, tls.CurveP256}
)

// acmeChallengePrefix is where ACME HTTP-01 challenges are asked (RFC 8555 §8.3).
const acmeChallengePrefix = "/.well-known/acme-challenge/"

// serverTLSConfig hardens base (which supplies GetCertificate and, for
// ACME, the acme-tls/1 protocol) and adds http/1.1: fasthttp has no h2.
func serverTLSConfig(base *tls.Config) *tls.Config {
	c := base.Clone()
	c.MinVersion = tls.VersionTLS12
	c.CipherSuites = tls12Suites
	c.CurvePreferences = tlsCurves
	protos := []string{"http/1.1"}
	for _, p := range c.NextProtos {
		if p != "http/1.1" {
			protos = append(protos, p)
		}
	}
	c.NextProtos = protos
	return c
}

// handshakeListener completes each TLS handshake before handing the
// connection to fasthttp. With a plain tls.NewListener the handshake runs
// on fasthttp's first read, and a failed one (a scanner, a client without
// a shared cipher, a name with no certificate yet) reaches the server's
// ErrorHandler as an unparsable request: a misleading 400 line per probe
// and an HTTP answer written onto a dead TLS connection. Here a failed
// handshake is a debug line, and a finished ACME TLS-ALPN-01 validation
// (protocol acme-tls/1) is closed, as RFC 8737 asks.
type handshakeListener struct {
	net.Listener // the TCP listener
	cfg          *tls.Config
	timeout      time.Duration
	log          *zap.Logger
	conns        chan net.Conn
	errc         chan error
	done         chan struct{}
	closeOnce    sync.Once
	ctx          context.Context // ends at Close: handshakes in progress stop
	cancel       context.CancelFunc
}

func newHandshakeListener(ln net.Listener, cfg *tls.Config, timeout time.Duration, log *zap.Logger) *handshakeListener {
	l := &handshakeListener{Listener: ln, cfg: cfg, timeout: timeout, log: log,
		conns: make(chan net.Conn), errc: make(chan error, 1), done: make(chan struct{})}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	go l.acceptLoop()
	return l
}

func (l *handshakeListener) acceptLoop() {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			// fasthttp stops serving on any error but a timeout, as it
			// would on the TCP listener itself.
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			l.errc <- err
			return
		}
		go l.handshake(c)
	}
}

func (l *handshakeListener) handshake(c net.Conn) {
	tc := tls.Server(c, l.cfg)
	ctx, cancel := context.WithTimeout(l.ctx, l.timeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		l.log.Debug("tls handshake failed", zap.String(logRemote, c.RemoteAddr().String()), zap.Error(err))
		_ = tc.Close()
		return
	}
	if tc.ConnectionState().NegotiatedProtocol == acmeTLS1 {
		_ = tc.Close()
		return
	}
	select {
	case l.conns <- tc:
	case <-l.done:
		_ = tc.Close()
	}
}

// Accept returns the next connection whose handshake succeeded.
func (l *handshakeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case err := <-l.errc:
		return nil, err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting; handshakes in progress are abandoned.
func (l *handshakeListener) Close() error {
	l.closeOnce.Do(func() {
		close(l.done)
		l.cancel()
	})
	return l.Listener.Close()
}

// acmeTLS1 is the ALPN protocol of ACME TLS-ALPN-01 validations (RFC 8737).
const acmeTLS1 = "acme-tls/1"

// tlsTuning holds knobs the tests turn; the zero value is production.
type tlsTuning struct {
	renewCheck  time.Duration // certmagic's RenewCheckInterval; 0 = its default (10 min)
	windowRatio float64       // certmagic's RenewalWindowRatio; 0 = its default (1/3 of the lifetime)
	noHTTP01    bool          // turn HTTP-01 off (to prove TLS-ALPN-01 alone)
	noTLSALPN01 bool          // turn TLS-ALPN-01 off (to prove HTTP-01 alone)
}

// certSource is where a TLS mode's certificates come from.
type certSource struct {
	// base supplies GetCertificate (and NextProtos for ACME); serverTLSConfig hardens it.
	base *tls.Config
	// challenge answers ACME HTTP-01 on the plain listener; nil = none.
	challenge fasthttp.RequestHandler
	// run manages the certificates until ctx is done, calling ready as
	// certificates for every name become present (or stop being).
	run func(ctx context.Context, ready func(bool))
	// stop releases what run used, after run returned.
	stop func()
}

// --- tls.mode files ---------------------------------------------------------

// fileCerts serves a certificate pair from files, reloaded on SIGHUP.
type fileCerts struct {
	certFile, keyFile string
	domains           []string
	log               *zap.Logger
	cur               atomic.Pointer[tls.Certificate]
}

func (r *Relay) newFileCerts() (*certSource, *fileCerts, error) {
	t := r.cfg.TLS
	f := &fileCerts{certFile: t.CertFile, keyFile: t.KeyFile, domains: t.Domains, log: r.log.Named("tls")}
	c, err := loadCertFiles(f.certFile, f.keyFile, f.domains, time.Now())
	if err != nil {
		return nil, nil, err
	}
	f.cur.Store(c)
	f.log.Info("certificate loaded", certFields(f.certFile, c.Leaf)...)
	src := &certSource{
		base: &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return f.cur.Load(), nil }},
		run:  f.run,
		stop: func() {},
	}
	return src, f, nil
}

// run reloads the pair on SIGHUP until ctx is done. The certificate is
// there from the start, so the relay is ready at once.
func (f *fileCerts) run(ctx context.Context, ready func(bool)) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	ready(true)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			_ = f.reload()
		}
	}
}

// reload replaces the served certificate with the files' current pair; a
// bad pair is logged and the current certificate kept.
func (f *fileCerts) reload() error {
	c, err := loadCertFiles(f.certFile, f.keyFile, f.domains, time.Now())
	if err != nil {
		old := f.cur.Load()
		f.log.Error("certificate reload failed; still serving the previous certificate",
			append(certFields(f.certFile, old.Leaf), zap.Error(err))...)
		return err
	}
	f.cur.Store(c)
	f.log.Info("certificate reloaded", certFields(f.certFile, c.Leaf)...)
	return nil
}

// loadCertFiles reads and checks a PEM certificate chain and its key. Its
// errors name the configuration key and the fix.
func loadCertFiles(certFile, keyFile string, domains []string, now time.Time) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("tls.cert_file: %w; check the path and that the relay's user may read it", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls.key_file: %w; check the path and that the relay's user may read it", err)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		msg := err.Error()
		switch {
		case strings.Contains(msg, "in certificate input"):
			return nil, fmt.Errorf("tls.cert_file %s: no PEM certificate in it (%v); give the certificate chain in PEM (fullchain.pem), the server's certificate first", certFile, err)
		case strings.Contains(msg, "key input"):
			return nil, fmt.Errorf("tls.key_file %s: no PEM private key in it (%v); give the private key in PEM (privkey.pem)", keyFile, err)
		case strings.Contains(msg, "does not match"):
			return nil, fmt.Errorf("tls.key_file %s does not belong to the certificate in tls.cert_file %s; give the key that was generated with that certificate", keyFile, certFile)
		case strings.Contains(msg, "parse private key"):
			return nil, fmt.Errorf("tls.key_file %s: %v; give an unencrypted PEM key (PKCS#8, PKCS#1 or EC)", keyFile, err)
		default:
			return nil, fmt.Errorf("tls.cert_file %s / tls.key_file %s: %v", certFile, keyFile, err)
		}
	}
	leaf := c.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return nil, fmt.Errorf("tls.cert_file %s: %v", certFile, err)
		}
		c.Leaf = leaf
	}
	if now.After(leaf.NotAfter) {
		return nil, fmt.Errorf("tls.cert_file %s expired on %s; renew it, then reload (SIGHUP) or restart", certFile, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	for i, d := range domains {
		if err := leaf.VerifyHostname(d); err != nil {
			return nil, fmt.Errorf("tls.cert_file %s does not cover tls.domains[%d] %q (it names %s); use a certificate for that name or fix tls.domains", certFile, i, d, strings.Join(leaf.DNSNames, ", "))
		}
	}
	return &c, nil
}

func certFields(file string, leaf *x509.Certificate) []zap.Field {
	f := []zap.Field{zap.String("cert_file", file)}
	if leaf != nil {
		f = append(f, zap.Strings("names", leaf.DNSNames), zap.String("issuer", leaf.Issuer.String()),
			zap.Time("not_after", leaf.NotAfter), zap.String("serial", leaf.SerialNumber.Text(16)))
	}
	return f
}

// --- tls.mode acme ----------------------------------------------------------

// acmeCerts obtains and renews certificates with certmagic.
type acmeCerts struct {
	domains    []string
	ca         string
	challenges []string
	storage    string
	log        *zap.Logger // the relay's own lines about certificates
	cache      *certmagic.Cache
	cfg        *certmagic.Config
	issuer     *certmagic.ACMEIssuer
	kick       chan struct{} // a certificate may have arrived
}

// newACME builds one certmagic Cache, Config and ACMEIssuer. HTTP-01 is
// answered on plainLn (nil = HTTP-01 off) and TLS-ALPN-01 on tlsLn, the
// relay's own listeners: certmagic is pointed at their addresses, finds
// them taken and leaves the answering to them.
func (r *Relay) newACME(tlsLn, plainLn net.Listener, tun tlsTuning) (*certSource, *acmeCerts, error) {
	t := r.cfg.TLS
	if len(t.Domains) == 0 {
		return nil, nil, errors.New("tls.domains: empty; tls.mode acme needs the relay's DNS name(s)")
	}
	roots, err := caRoots(t.CARoots)
	if err != nil {
		return nil, nil, err
	}
	cmLog := r.log.Named("certmagic")
	a := &acmeCerts{domains: t.Domains, ca: t.CA, log: r.log.Named("tls"), kick: make(chan struct{}, 1),
		storage: filepath.Join(r.cfg.StateDir, "certmagic")}

	var cfg *certmagic.Config
	a.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert:   func(certmagic.Certificate) (*certmagic.Config, error) { return cfg, nil },
		RenewCheckInterval: tun.renewCheck,
		Logger:             cmLog,
	})
	cfg = certmagic.New(a.cache, certmagic.Config{
		Storage: &certmagic.FileStorage{Path: a.storage},
		// A client without SNI (a check by IP address) still gets the
		// relay's certificate rather than a failed handshake.
		DefaultServerName:  t.Domains[0],
		Logger:             cmLog,
		OnEvent:            a.onEvent,
		RenewalWindowRatio: tun.windowRatio,
	})
	tmpl := certmagic.ACMEIssuer{
		CA:                      t.CA,
		TestCA:                  t.CA, // never inherit Let's Encrypt staging (see below)
		Email:                   t.Email,
		Agreed:                  true,
		TrustedRoots:            roots,
		DisableHTTPChallenge:    plainLn == nil || tun.noHTTP01,
		DisableTLSALPNChallenge: tun.noTLSALPN01,
		Logger:                  cmLog,
	}
	// Point certmagic's solvers at our listeners: it then finds the port in
	// use (or connectable) and assumes the listener there answers, which
	// ours do: HTTP-01 through a.challenge, TLS-ALPN-01 through
	// cfg.GetCertificate on the TLS listener.
	tlsHost, tlsPort := hostPort(tlsLn.Addr())
	tmpl.ListenHost, tmpl.AltTLSALPNPort = tlsHost, tlsPort
	if plainLn != nil {
		host, port := hostPort(plainLn.Addr())
		tmpl.AltHTTPPort = port
		if host != tlsHost {
			tmpl.ListenHost = "" // both ports are ours on every address the OS would pick
		}
	}
	iss := certmagic.NewACMEIssuer(cfg, tmpl)
	// NewACMEIssuer fills TestCA with Let's Encrypt staging when CA is LE
	// production; certmagic switches to TestCA on retries, which would
	// store a staging (untrusted) certificate. With TestCA empty retries go
	// to the configured CA, and, unlike TestCA == CA, renewals still tell
	// the CA which certificate they replace (ARI), which LE exempts from
	// rate limits.
	iss.TestCA = ""
	cfg.Issuers = []certmagic.Issuer{iss}
	a.cfg, a.issuer = cfg, iss

	if !iss.DisableHTTPChallenge {
		a.challenges = append(a.challenges, "http-01 on "+plainLn.Addr().String())
	}
	if !iss.DisableTLSALPNChallenge {
		a.challenges = append(a.challenges, "tls-alpn-01 on "+tlsLn.Addr().String())
	}
	if len(a.challenges) == 0 {
		a.cache.Stop()
		return nil, nil, errors.New("tls.mode acme: no ACME challenge can be answered; set server.http_listen (HTTP-01) or keep server.listen reachable on 443 (TLS-ALPN-01)")
	}

	src := &certSource{base: cfg.TLSConfig(), run: a.run, stop: a.cache.Stop}
	if !iss.DisableHTTPChallenge {
		src.challenge = fasthttpadaptor.NewFastHTTPHandler(iss.HTTPChallengeHandler(http.NotFoundHandler()))
	}
	return src, a, nil
}

// caRoots is the system's roots plus the PEM files of tls.ca_roots, for
// talking to the CA; nil (= the system's) when there are none.
func caRoots(files []string) (*x509.CertPool, error) {
	if len(files) == 0 {
		return nil, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for i, f := range files {
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("tls.ca_roots[%d]: %w; give a readable PEM file of the CA's root", i, err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca_roots[%d] %s: no PEM certificate in it; give the CA's root certificate in PEM", i, f)
		}
	}
	return pool, nil
}

// hostPort splits a listener address; an unspecified host becomes "".
func hostPort(a net.Addr) (string, int) {
	host, port, _ := net.SplitHostPort(a.String())
	p, _ := strconv.Atoi(port)
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = ""
	}
	return host, p
}

// onEvent logs certmagic's certificate events (it is called synchronously,
// so it only logs and nudges run).
func (a *acmeCerts) onEvent(_ context.Context, event string, data map[string]any) error {
	id := zap.Any("domain", data["identifier"])
	renewal := zap.Bool("renewal", data["renewal"] == true)
	switch event {
	case "cert_obtaining":
		a.log.Info("obtaining certificate", id, renewal, zap.String("ca", a.ca), zap.Strings("challenges", a.challenges))
	case "cert_obtained":
		a.log.Info("certificate obtained", id, renewal, zap.Any("issuer", data["issuer"]))
		// A renewed certificate replaces the cached one only after this
		// event returns (and no event follows), so look again shortly.
		a.poke()
		time.AfterFunc(time.Second, a.poke)
	case "cert_failed":
		var err error
		if e, ok := data["error"].(error); ok {
			err = e
		}
		a.log.Error("certificate failed; certmagic retries with backoff",
			id, renewal, zap.String("ca", a.ca), zap.Strings("challenges", a.challenges), zap.Error(err),
			zap.String("hint", "check that the domain's DNS A/AAAA record points at this server and that ports 80 and 443 are open to the internet"))
	case "cached_managed_cert":
		a.poke()
	}
	return nil
}

func (a *acmeCerts) poke() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// acmeStatusEvery is how often run re-checks the certificates without a
// nudge, and repeats "waiting for certificate" while there is none.
const acmeStatusEvery = time.Minute

// run starts certmagic in the background (ManageAsync: start-up never
// blocks on the CA) and reports readiness: ready once every domain has an
// unexpired certificate in the cache.
func (a *acmeCerts) run(ctx context.Context, ready func(bool)) {
	a.log.Info("waiting for certificate", zap.Strings("domains", a.domains), zap.String("ca", a.ca),
		zap.Strings("challenges", a.challenges), zap.String("storage", a.storage))
	if err := a.cfg.ManageAsync(ctx, a.domains); err != nil {
		a.log.Error("certificate management did not start", zap.Strings("domains", a.domains), zap.Error(err))
	}
	tick := time.NewTicker(acmeStatusEvery)
	defer tick.Stop()
	isReady, served := false, ""
	check := func(periodic bool) {
		missing, leaves := a.status()
		if len(missing) > 0 {
			if isReady || periodic {
				a.log.Warn("waiting for certificate", zap.Strings("missing", missing), zap.String("ca", a.ca),
					zap.Strings("challenges", a.challenges))
			}
			if isReady {
				ready(false)
				isReady = false
			}
			return
		}
		var sig strings.Builder
		for _, l := range leaves {
			sig.WriteString(l.SerialNumber.Text(16) + " ")
		}
		if sig.String() != served {
			served = sig.String()
			for i, l := range leaves {
				a.log.Info("serving certificate", zap.String("domain", a.domains[i]), zap.String("issuer", l.Issuer.String()),
					zap.Time("not_before", l.NotBefore), zap.Time("not_after", l.NotAfter), zap.String("serial", l.SerialNumber.Text(16)))
			}
		}
		if !isReady {
			a.log.Info("certificates ready", zap.Strings("domains", a.domains))
			ready(true)
			isReady = true
		}
	}
	check(false)
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.kick:
			check(false)
		case <-tick.C:
			check(true)
		}
	}
}

// status returns the domains without a usable certificate, and otherwise
// the newest leaf per domain.
func (a *acmeCerts) status() (missing []string, leaves []*x509.Certificate) {
	for _, d := range a.domains {
		var best *x509.Certificate
		for _, c := range a.cache.AllMatchingCertificates(d) {
			if c.Leaf != nil && !c.Expired() && (best == nil || c.Leaf.NotAfter.After(best.NotAfter)) {
				best = c.Leaf
			}
		}
		if best == nil {
			missing = append(missing, d)
		}
		leaves = append(leaves, best)
	}
	return missing, leaves
}

// --- the plain listener -----------------------------------------------------

// plainHandler serves the plain-HTTP listener next to HTTPS: ACME HTTP-01
// challenges, /healthz (so an operator can check from outside that DNS and
// port 80 reach this process while there is no certificate yet to test
// HTTPS with; it says nothing but "ok"), and a 308 to HTTPS for anything
// else (308 keeps the method and body of a misconfigured http:// POST).
func (r *Relay) plainHandler(challenge fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		rs := &reqState{id: newRequestID(), start: r.now()}
		ctx.Response.Header.Set("X-Request-Id", rs.id)
		defer r.logRequest(ctx, rs)
		if refuseAmbiguousFraming(ctx, rs) {
			return
		}
		path := string(ctx.Path())
		switch {
		case challenge != nil && strings.HasPrefix(path, acmeChallengePrefix):
			rs.route, rs.decision = acmeChallengePrefix+"{token}", "acme_http01"
			challenge(ctx)
		case path == "/healthz":
			rs.route = "/healthz"
			writeJSON(ctx, fasthttp.StatusOK, map[string]string{"status": "ok"})
		default:
			rs.route, rs.decision = "(plain http)", "https_redirect"
			ctx.Response.Header.Set("Location", r.httpsURL(ctx))
			ctx.Response.Header.Set("Cache-Control", "no-store")
			ctx.SetStatusCode(fasthttp.StatusPermanentRedirect)
		}
	}
}

// httpsURL is where a plain request is sent: the same path and query on
// the same name if it is one of ours, else on the public URL's host (the
// Host header is the client's to choose; never redirect to a stranger).
func (r *Relay) httpsURL(ctx *fasthttp.RequestCtx) string {
	pub := r.cfg.Server.PublicURL
	host := pub.Host
	h := strings.ToLower(string(ctx.Host()))
	if hh, _, err := net.SplitHostPort(h); err == nil {
		h = hh
	}
	for _, d := range r.cfg.TLS.Domains {
		if h == d {
			host = d
			if p := pub.Port(); p != "" {
				host = net.JoinHostPort(d, p)
			}
			break
		}
	}
	return "https://" + host + string(ctx.URI().RequestURI())
}

// newPlainServer is the fasthttp server of the plain listener.
func (r *Relay) newPlainServer(challenge fasthttp.RequestHandler) *fasthttp.Server {
	return r.newServer(r.plainHandler(challenge))
}

// listen opens a configured listener; its error names the key and the fix.
func listen(key, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	hint := ""
	switch {
	case errors.Is(err, syscall.EACCES):
		hint = "; ports below 1024 need CAP_NET_BIND_SERVICE (systemd/posrelay.service grants it) or root"
	case errors.Is(err, syscall.EADDRINUSE):
		hint = "; another program (nginx, apache, caddy, certbot --standalone?) holds the port: stop it, or change " + key
	}
	return nil, fmt.Errorf("listen on %s (%s): %w%s", addr, key, err, hint)
}
