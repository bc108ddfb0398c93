// Package proxy is the relay itself: the HTTP server that takes signed API
// calls from Wix backends, hosts the shopper's pages, receives the banks'
// 3-D callbacks, and the workers that deliver webhooks and settle open
// payments. It owns fasthttp; bank wire formats live in the bank packages,
// crypto in signer, the journal in store.
package proxy

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/posrelay/posrelay/allowlist"
	"github.com/posrelay/posrelay/config"
	"github.com/posrelay/posrelay/signer"
	"github.com/posrelay/posrelay/store"
)

// Options are what a Relay is built from.
type Options struct {
	Config  *config.Config
	Journal store.Journal
	Logger  *zap.Logger // nil = no logging
	// Now is the clock; nil = time.Now. Tests inject a fake one.
	Now     func() time.Time
	Version string
	// BankRoots are extra CA roots for bank TLS (tests); nil = the system's.
	BankRoots *x509.CertPool
}

// Relay serves the API, the shopper pages and the callbacks.
type Relay struct {
	cfg      *config.Config
	log      *zap.Logger
	journal  store.Journal
	now      func() time.Time
	version  string
	verifier *signer.Verifier
	sites    map[string]*config.Site // by key id
	ready    atomic.Bool
	server   *fasthttp.Server
	siteByID map[string]*config.Site

	bankList *allowlist.List
	upstream *upstream
	gateways map[string]gateway // by gatewayKey(site, account, model)
	webhooks *webhookSender
	kick     chan struct{} // wakes the outbox worker
	metrics  metrics
	backoff  backoff // status queries of unsettled payments and operations
	sweep    sweepState
	orders   orderLocks
	// recent holds the bank's last status answer per payment version, so
	// that a site polling ?refresh=true cannot turn into a stream of status
	// queries from the relay's one IP address (which a bank may block).
	recent *lru.Cache[recentKey, recentStatus]
}

// New builds a Relay. It does not listen; see Serve and Run.
func New(o Options) (*Relay, error) {
	if o.Config == nil {
		return nil, errors.New("proxy: no configuration")
	}
	recent, err := lru.New[recentKey, recentStatus](4096)
	if err != nil {
		return nil, err
	}
	r := &Relay{cfg: o.Config, log: o.Logger, journal: o.Journal, now: o.Now, version: o.Version,
		sites: map[string]*config.Site{}, siteByID: map[string]*config.Site{}, kick: make(chan struct{}, 1), recent: recent}
	if r.log == nil {
		r.log = zap.NewNop()
	}
	if r.now == nil {
		r.now = time.Now
	}
	var keys []signer.Key
	for _, s := range o.Config.Sites {
		r.siteByID[s.ID] = s
		for _, k := range s.Keys {
			keys = append(keys, signer.Key{ID: k.ID, SiteID: s.ID, Secret: k.Secret.Bytes()})
			r.sites[k.ID] = s
		}
	}
	v, err := signer.NewVerifier(keys, signer.VerifierOptions{
		Window:        o.Config.Auth.Window,
		NonceCapacity: o.Config.Auth.NonceCapacity,
		Now:           r.now,
	})
	if err != nil {
		return nil, fmt.Errorf("proxy: request keys: %w", err)
	}
	r.verifier = v
	if err := r.buildGateways(o.BankRoots); err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	r.webhooks = newWebhookSender(o.Config, r.now)
	r.server = r.newServer(r.handle)
	return r, nil
}

// newServer is a fasthttp server for handler with the configured limits;
// the main and the plain listener each have one.
func (r *Relay) newServer(handler fasthttp.RequestHandler) *fasthttp.Server {
	s := r.cfg.Server
	return &fasthttp.Server{
		Handler:                      handler,
		Name:                         "posrelay",
		ReadTimeout:                  s.ReadTimeout,
		WriteTimeout:                 s.WriteTimeout,
		IdleTimeout:                  s.IdleTimeout,
		MaxRequestBodySize:           s.MaxBodyBytes,
		ReadBufferSize:               s.MaxHeaderBytes,
		Concurrency:                  s.Concurrency,
		DisablePreParseMultipartForm: true,
		ReduceMemoryUsage:            true, // idle keep-alive connections hand back their 12 KB of buffers (bench: 10,000 of them 247 → 130 MB)
		NoDefaultServerHeader:        true,
		NoDefaultContentType:         true,
		SecureErrorLogMessage:        true,
		ErrorHandler:                 r.serverError,
		Logger:                       fasthttpLogger{r.log.Named("fasthttp").Sugar()},
	}
}

// Handler returns the relay's request handler (for tests and custom listeners).
func (r *Relay) Handler() fasthttp.RequestHandler { return r.handle }

// SetReady marks the relay ready (or not) for /readyz.
func (r *Relay) SetReady(ok bool) { r.ready.Store(ok) }

// Serve answers requests on ln until ctx is done, then shuts down
// gracefully within the configured shutdown timeout.
func (r *Relay) Serve(ctx context.Context, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- r.server.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	err := r.shutdown()
	// fasthttp closes only the listeners Serve has registered; when ctx
	// ends before the goroutine above got that far, ln would stay open
	// (and its port taken) with a server serving on it.
	ln.Close()
	<-errc
	return err
}

func (r *Relay) shutdown() error {
	r.ready.Store(false)
	sctx, cancel := context.WithTimeout(context.Background(), r.cfg.Server.ShutdownTimeout)
	defer cancel()
	if err := r.server.ShutdownWithContext(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("proxy: shutdown: %w", err)
	}
	return nil
}

// serverError answers requests fasthttp could not parse (too large, bad
// framing, timeouts) with the usual JSON error.
func (r *Relay) serverError(ctx *fasthttp.RequestCtx, err error) {
	rs := &reqState{id: newRequestID(), start: r.now(), route: "(unparsed)"}
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		writeError(ctx, rs, &apiError{Status: fasthttp.StatusRequestEntityTooLarge, Code: "body_too_large",
			Message: fmt.Sprintf("The request body is larger than %d bytes.", r.cfg.Server.MaxBodyBytes)})
	case strings.Contains(err.Error(), "too big") || strings.Contains(err.Error(), "small read buffer"):
		writeError(ctx, rs, &apiError{Status: fasthttp.StatusRequestHeaderFieldsTooLarge, Code: "headers_too_large",
			Message: fmt.Sprintf("The request headers are larger than %d bytes.", r.cfg.Server.MaxHeaderBytes)})
	default:
		writeError(ctx, rs, &apiError{Status: fasthttp.StatusBadRequest, Code: "bad_request", Message: "The request could not be parsed as HTTP/1.1.", Cause: err})
	}
	r.logRequest(ctx, rs)
}

func (r *Relay) handle(ctx *fasthttp.RequestCtx) {
	rs := &reqState{id: newRequestID(), start: r.now()}
	h := &ctx.Response.Header
	h.Set("X-Request-Id", rs.id)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	defer func() {
		if p := recover(); p != nil {
			rs.cause = fmt.Errorf("panic: %v", p)
			ctx.Response.Reset()
			writeError(ctx, rs, internalError(rs.cause))
		}
		r.logRequest(ctx, rs)
	}()
	if refuseAmbiguousFraming(ctx, rs) {
		return
	}
	path := string(ctx.Path())
	switch {
	case path == "/healthz":
		rs.route = "/healthz"
		writeJSON(ctx, fasthttp.StatusOK, map[string]string{"status": "ok"})
	case path == "/readyz":
		rs.route = "/readyz"
		if r.ready.Load() {
			writeJSON(ctx, fasthttp.StatusOK, map[string]string{"status": "ready"})
		} else {
			writeError(ctx, rs, &apiError{Status: fasthttp.StatusServiceUnavailable, Code: "not_ready", Message: "The relay is starting up."})
		}
	case strings.HasPrefix(path, "/v1/"):
		r.api(ctx, rs, path)
	case strings.HasPrefix(path, "/pay/"):
		r.pay(ctx, rs, path)
	case strings.HasPrefix(path, "/callback/"):
		r.callback(ctx, rs, path)
	default:
		rs.route = "(unknown)"
		writeError(ctx, rs, errNotFound)
	}
}

// refuseAmbiguousFraming answers 400 and closes the connection for a
// request with both Transfer-Encoding: chunked and Content-Length. fasthttp
// reads such a body as chunked (RFC 9112 §6.3) but keeps the connection
// open, and a front proxy that went by Content-Length would then see a
// different next request than the relay (request smuggling); §6.3 says to
// close the connection after answering, and the relay refuses the request
// too. fasthttp drops Content-Length from the parsed header once chunked
// wins, so the raw header block is searched.
func refuseAmbiguousFraming(ctx *fasthttp.RequestCtx, rs *reqState) bool {
	if ctx.Request.Header.ContentLength() != -1 || !hasHeaderLine(ctx.Request.Header.RawHeaders(), "content-length") {
		return false
	}
	rs.route = "(unparsed)"
	ctx.SetConnectionClose()
	writeError(ctx, rs, &apiError{Status: fasthttp.StatusBadRequest, Code: "bad_request",
		Message: "The request has both Content-Length and Transfer-Encoding; send only one."})
	return true
}

// hasHeaderLine reports whether a raw header block has a field named name
// (lower case).
func hasHeaderLine(raw []byte, name string) bool {
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		if i := bytes.IndexByte(line, ':'); i >= 0 && strings.EqualFold(strings.TrimSpace(string(line[:i])), name) {
			return true
		}
	}
	return false
}

// api authenticates the call and routes it.
func (r *Relay) api(ctx *fasthttp.RequestCtx, rs *reqState, path string) {
	rs.route = apiRoute(path)
	site, err := r.authenticate(ctx, rs)
	if err != nil {
		writeError(ctx, rs, err)
		return
	}
	method := string(ctx.Method())
	parts := strings.Split(strings.TrimPrefix(path, "/v1/"), "/")
	switch {
	case path == "/v1/whoami":
		if method != fasthttp.MethodGet {
			writeError(ctx, rs, errMethod)
			return
		}
		r.whoami(ctx, rs, site)
	case path == "/v1/payments":
		if method != fasthttp.MethodPost {
			writeError(ctx, rs, errMethod)
			return
		}
		r.createPayment(ctx, rs, site)
	case len(parts) == 2 && parts[0] == "payments":
		if method != fasthttp.MethodGet {
			writeError(ctx, rs, errMethod)
			return
		}
		r.getPayment(ctx, rs, site, parts[1])
	case len(parts) == 3 && parts[0] == "payments" && (parts[2] == "refunds" || parts[2] == "void" || parts[2] == "capture"):
		if method != fasthttp.MethodPost {
			writeError(ctx, rs, errMethod)
			return
		}
		if !r.movesMoney(ctx, rs) {
			return
		}
		r.operate(ctx, rs, site, parts[1], parts[2])
	case path == "/v1/reports/daily":
		if method != fasthttp.MethodGet {
			writeError(ctx, rs, errMethod)
			return
		}
		r.dailyReport(ctx, rs, site)
	default:
		writeError(ctx, rs, errNotFound)
	}
}

// apiRoute names the route pattern of an API path for logs and metrics.
// Only known routes get a name of their own: paths are attacker-chosen,
// and every name becomes a metric series.
func apiRoute(path string) string {
	parts := strings.Split(strings.TrimPrefix(path, "/v1/"), "/")
	switch {
	case len(parts) == 1 && (parts[0] == "whoami" || parts[0] == "payments"):
		return "/v1/" + parts[0]
	case len(parts) == 2 && parts[0] == "reports" && parts[1] == "daily":
		return "/v1/reports/daily"
	case len(parts) == 2 && parts[0] == "payments":
		return "/v1/payments/{id}"
	case len(parts) == 3 && parts[0] == "payments" && (parts[2] == "refunds" || parts[2] == "void" || parts[2] == "capture"):
		return "/v1/payments/{id}/" + parts[2]
	}
	return "/v1/(unknown)"
}

// clientIP is the peer address, or the first X-Forwarded-For hop when the
// peer is a configured trusted proxy.
func (r *Relay) clientIP(ctx *fasthttp.RequestCtx) netip.Addr {
	addr, _ := netip.AddrFromSlice(ctx.RemoteIP())
	addr = addr.Unmap()
	if len(r.cfg.Server.TrustedProxies) == 0 || !r.trusted(addr) {
		return addr
	}
	// All the header's lines, in order, are one list: a proxy may add its
	// own line after the client's (HAProxy's option forwardfor), and the
	// first line alone would be the client's word.
	xff := string(bytes.Join(ctx.Request.Header.PeekAll("X-Forwarded-For"), []byte(",")))
	hops := strings.Split(xff, ",")
	// Walk from the nearest hop back; the first untrusted address is the
	// client. Garbage, an IPv6 zone included, ends the walk.
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil || a.Zone() != "" {
			break
		}
		a = a.Unmap()
		if !r.trusted(a) {
			return a
		}
		addr = a
	}
	return addr
}

func (r *Relay) trusted(a netip.Addr) bool {
	for _, p := range r.cfg.Server.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// secureScheme reports whether the shopper reached the relay over HTTPS.
func (r *Relay) secureScheme(ctx *fasthttp.RequestCtx) bool {
	if ctx.IsTLS() {
		return true
	}
	addr, _ := netip.AddrFromSlice(ctx.RemoteIP())
	if r.trusted(addr.Unmap()) {
		// The nearest proxy's word is the last value: a proxy that appends
		// (a second line, or ", https") leaves the client's first.
		lines := ctx.Request.Header.PeekAll("X-Forwarded-Proto")
		if len(lines) == 0 {
			return false
		}
		last := lines[len(lines)-1]
		if i := bytes.LastIndexByte(last, ','); i >= 0 {
			last = last[i+1:]
		}
		return strings.EqualFold(strings.TrimSpace(string(last)), "https")
	}
	return false
}

// newRequestID makes a request id: base32 (letters and 2–7), so logs never
// hold a long digit run that a card-number scan would flag.
func newRequestID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return "req_" + strings.ToLower(b32.EncodeToString(b[:]))
}
