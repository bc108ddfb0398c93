package reliability

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	_ "modernc.org/sqlite" // the journal fingerprint reads the SQLite file

	"github.com/posrelay/posrelay/api"
	"github.com/posrelay/posrelay/banksim"
	"github.com/posrelay/posrelay/banksim/est"
	"github.com/posrelay/posrelay/config"
	"github.com/posrelay/posrelay/internal/browser"
	"github.com/posrelay/posrelay/proxy"
	"github.com/posrelay/posrelay/relayclient"
	"github.com/posrelay/posrelay/signer"
	"github.com/posrelay/posrelay/store"
)

// fakeClock is an in-process relay's injected clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Now().UTC().Truncate(time.Second)} }

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// offsetClock is a simulator's clock that a test moves a day ahead to
// settle the day's sales.
type offsetClock struct{ off atomic.Int64 }

func (c *offsetClock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *offsetClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.b.Bytes()...)
}

// receiver is the Wix site's webhook endpoint: it checks each message's
// signature and counts deliveries by webhook-id.
type receiver struct {
	srv *httptest.Server
	key []byte

	mu       sync.Mutex
	byID     map[string]int       // deliveries per webhook-id
	events   map[string]api.Event // by webhook-id
	invalid  int                  // deliveries with a bad signature
	received int
}

func newReceiver(t testing.TB, whsec string) *receiver {
	key, err := signer.ParseWebhookSecret(whsec)
	if err != nil {
		t.Fatal(err)
	}
	rc := &receiver{key: key, byID: map[string]int{}, events: map[string]api.Event{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		leaks.Check("webhook body", body)
		id := r.Header.Get("webhook-id")
		// The relays' clocks are injected: the timestamp is not checked here.
		ts, _ := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
		err := signer.VerifyWebhook(rc.key, id, r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature"), body, time.Unix(ts, 0), time.Minute)
		var ev api.Event
		jerr := json.Unmarshal(body, &ev)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		rc.received++
		if err != nil || jerr != nil || id == "" {
			rc.invalid++
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		rc.byID[id]++
		rc.events[id] = ev
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// idsFor returns the distinct webhook ids received for a payment.
func (rc *receiver) idsFor(paymentID string) []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []string
	for id, ev := range rc.events {
		if ev.Data.PaymentID == paymentID {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

func (rc *receiver) event(id string) api.Event {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.events[id]
}

func (rc *receiver) counts() (distinct, deliveries, invalid int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, n := range rc.byID {
		deliveries += n
	}
	return len(rc.byID), deliveries, rc.invalid
}

// bankAccount is a simulated Halkbank merchant account.
type bankAccount struct {
	sim                                      *est.Sim
	clock                                    *offsetClock
	clientID, storeKey, apiUser, apiPassword string
}

func newBankAccount(t testing.TB) *bankAccount {
	a := &bankAccount{clock: &offsetClock{}, clientID: "190100000", storeKey: "sk-" + signer.NewNonce(),
		apiUser: "POSRELAYAPI", apiPassword: "pw-" + signer.NewNonce()}
	a.sim = est.New(est.Config{ClientID: a.clientID, StoreKey: a.storeKey, APIUser: a.apiUser, APIPassword: a.apiPassword,
		Now: a.clock.Now, HangFor: 10 * time.Second})
	t.Cleanup(a.sim.Close)
	return a
}

// serve runs the simulator on a loopback port and returns its base URL
// (registered with the leak scan as a bank's).
func (a *bankAccount) serve(t testing.TB) string {
	srv := httptest.NewServer(a.sim.Handler())
	t.Cleanup(srv.Close)
	watchBanks(t, srv.URL) // after srv.Close's cleanup: see watchBanks
	return srv.URL
}

// relayYAML is a relay configuration with one site and two Halkbank
// accounts on the bank at bankURL: h3d (model 3d: the relay's card page,
// provisioning after the callback) and hosted (3d_pay_hosting).
// extra goes before sites; extraSites after the first site (more list
// entries).
func relayYAML(listen, stateDir, bankURL, keyID, webhookURL, bankTimeout, extra, extraSites string) string {
	return fmt.Sprintf(`tls: {mode: off}
server: {listen: %q, public_url: "http://%s", admin_listen: ""}
state_dir: %q
egress: {allow_ranges: ["127.0.0.0/8"], bank_timeout: %s, dial_timeout: 2s}
log: {level: debug}
payments: {status_grace: 10s}
environments: {sim: {halkbank: %q}}
%s
sites:
  - id: shop
    keys: [{id: %q, secret: "${SECRET}"}]
    webhook: {url: %q, secret: "${WHSEC}"}
    return_origins: ["https://shop.example"]
    max_installments: 6
    accounts:
      - {name: h3d, bank: halkbank, environment: sim, model: 3d, client_id: "190100000", api_user: POSRELAYAPI, store_key: "${STORE_KEY}", api_password: "${API_PASSWORD}"}
      - {name: hosted, bank: halkbank, environment: sim, model: 3d_pay_hosting, client_id: "190100000", api_user: POSRELAYAPI, store_key: "${STORE_KEY}", api_password: "${API_PASSWORD}"}
%s`, listen, listen, stateDir, bankTimeout, bankURL, extra, keyID, webhookURL, extraSites)
}

// stack is an in-process relay (injected clock) with a bank and a
// webhook receiver.
type stack struct {
	t       testing.TB
	bank    *bankAccount
	clock   *fakeClock
	recv    *receiver
	relay   *proxy.Relay
	journal *store.SQLite
	dbPath  string
	logs    *syncBuffer
	url     string
	keyID   string
	secret  string
	whsec   string
	client  *relayclient.Client
	http    *http.Client // the shopper's browser's
	cfg     *config.Config
	stopped bool
	stop    func()
}

type stackOptions struct {
	bankTimeout string         // default 2s
	roots       *x509.CertPool // extra roots for bank TLS
	http        *http.Client   // the shopper's browser; default one on http.DefaultTransport
	extraYAML   string
	extraSites  string // more entries of sites (secrets from env)
	env         map[string]string
}

func newStack(t testing.TB, bank *bankAccount, bankURL string, o stackOptions) *stack {
	t.Helper()
	if o.bankTimeout == "" {
		o.bankTimeout = "2s"
	}
	if o.http == nil {
		o.http = &http.Client{Timeout: 15 * time.Second}
	}
	s := &stack{t: t, bank: bank, clock: newFakeClock(), logs: &syncBuffer{}, http: o.http}
	s.keyID, s.secret = signer.NewKeySecret()
	s.whsec = signer.NewWebhookSecret()
	s.recv = newReceiver(t, s.whsec)
	leaks.AddSecrets(s.secret, s.whsec, strings.TrimPrefix(s.whsec, "whsec_"), bank.storeKey, bank.apiPassword)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	s.url = "http://" + addr
	dir := t.TempDir()
	s.dbPath = filepath.Join(dir, "journal.db")
	env := map[string]string{"SECRET": s.secret, "WHSEC": s.whsec, "STORE_KEY": bank.storeKey, "API_PASSWORD": bank.apiPassword}
	for k, v := range o.env {
		env[k] = v
	}
	yaml := relayYAML(addr, dir, bankURL, s.keyID, s.recv.srv.URL+"/_functions/posrelay", o.bankTimeout, o.extraYAML, o.extraSites)
	cfg, err := config.Parse(strings.NewReader(yaml), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	s.start(t, cfg, ln, o.roots)
	return s
}

// healthy reports whether the relay answers /healthz.
func (s *stack) healthy() bool {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(s.url + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// orderID makes an order id of letters only: the leak scan must not mistake
// an order id for a card number.
func orderID(prefix string) string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	out := []byte(prefix + "-")
	for _, c := range b {
		out = append(out, 'a'+c%26)
	}
	return string(out)
}

func createRequest(account string, amount int64) *api.CreatePayment {
	o := orderID("R")
	return &api.CreatePayment{Bank: account, OrderID: o, Amount: amount, Currency: "TRY",
		ReturnURLs:       api.ReturnURLs{Success: "https://shop.example/ok?o=" + o, Error: "https://shop.example/fail?o=" + o},
		Customer:         api.Customer{IP: "203.0.113.7", Email: "shopper@example.com", Name: holder},
		WixTransactionID: "wix-" + o}
}

// create starts a payment on an account (h3d or hosted).
func (s *stack) create(t testing.TB, account string, amount int64) *api.Payment {
	t.Helper()
	p, err := s.client.CreatePayment(context.Background(), createRequest(account, amount), "")
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return p
}

func (s *stack) payment(t testing.TB, id string) *store.Payment {
	t.Helper()
	p, err := s.journal.GetPayment(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// fieldValue fills a form field the way the shopper would, on the relay's
// card page and the simulator's pages alike.
func fieldValue(name, pan string) (string, bool) {
	switch strings.ToLower(name) {
	case "number", "pan":
		return pan, true
	case "exp_month", "ecom_payment_card_expdate_month":
		return typedMonth, true
	case "exp_year":
		return typedYear, true
	case "ecom_payment_card_expdate_year":
		return typedYear[2:], true
	case "cvv", "cv2":
		return typedCVV, true
	case "holder":
		return holder, true
	case "code", "otp":
		return banksim.ChallengeCode, true
	}
	return "", false
}

// typedFields is what a shopper types into form f: value's answer for
// each empty field it knows, and the expiry selects whatever they hold.
func typedFields(f *browser.Form, pan string, value func(name, pan string) (string, bool)) map[string]string {
	set := map[string]string{}
	for _, n := range f.Names {
		if v, ok := value(n, pan); ok && (f.Values.Get(n) == "" || n == "exp_month" || n == "exp_year") {
			set[n] = v
		}
	}
	return set
}

// walkToCallback follows the shopper's pages from payURL until the form
// that would post the bank's answer to the relay, and returns it unsent.
func walkToCallback(ctx context.Context, hc *http.Client, payURL, pan string) (*browser.Form, error) {
	b := &browser.Browser{HTTP: hc}
	page, err := b.Get(ctx, payURL)
	if err != nil {
		return nil, err
	}
	for i := 0; i < 10; i++ {
		var f *browser.Form
		for _, x := range page.Forms() {
			if !strings.HasSuffix(x.Action.Path, "/cancel") {
				f = x
				break
			}
		}
		if f == nil {
			return nil, fmt.Errorf("no form on %s (status %d; history %v)", page.URL, page.Status, b.History)
		}
		if strings.HasPrefix(f.Action.Path, "/callback/") {
			return f, nil
		}
		if page, err = b.Submit(ctx, f, typedFields(f, pan, fieldValue)); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("no callback form after 10 pages: %v", b.History)
}

// postForm posts fields to url as a form without following redirects.
func postForm(ctx context.Context, hc *http.Client, action string, fields url.Values) (*answer, error) {
	return postRaw(ctx, hc, action, "application/x-www-form-urlencoded", []byte(fields.Encode()))
}

func postRaw(ctx context.Context, hc *http.Client, action, contentType string, body []byte) (*answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, action, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return doNoRedirect(hc, req)
}

// doNoRedirect sends req with hc, not following redirects, and reads the
// whole answer.
func doNoRedirect(hc *http.Client, req *http.Request) (*answer, error) {
	c := *hc
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &answer{status: resp.StatusCode, body: b, location: resp.Header.Get("Location")}, nil
}

// payThrough walks a hosted payment to its callback and posts it.
func (s *stack) payThrough(t testing.TB, p *api.Payment, pan string) *answer {
	t.Helper()
	ctx := context.Background()
	f, err := walkToCallback(ctx, s.http, p.RedirectURL, pan)
	if err != nil {
		t.Fatal(err)
	}
	a, err := postForm(ctx, s.http, f.Action.String(), f.Values)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// waitUntil polls cond every 20 ms until it holds or the deadline passes.
func waitUntil(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// openReadOnly opens the journal file for reading next to the relay that
// writes it.
func openReadOnly(t testing.TB, dbPath string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(dbPath)+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// fingerprintQuery runs a query answering one number.
func fingerprintQuery(t testing.TB, dbPath, q string) int64 {
	t.Helper()
	db := openReadOnly(t, dbPath)
	defer db.Close()
	var n int64
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// fingerprint counts what the journal holds: any write changes it.
func fingerprint(t testing.TB, dbPath string) string {
	t.Helper()
	db := openReadOnly(t, dbPath)
	defer db.Close()
	var p, v, e, o, i, w int64
	err := db.QueryRow(`SELECT (SELECT count(*) FROM payments), (SELECT coalesce(sum(version), 0) FROM payments),
		(SELECT count(*) FROM events), (SELECT count(*) FROM operations), (SELECT count(*) FROM idempotency),
		(SELECT count(*) FROM webhooks)`).Scan(&p, &v, &e, &o, &i, &w)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("payments=%d versions=%d events=%d operations=%d idempotency=%d webhooks=%d", p, v, e, o, i, w)
}

// goroutines returns the stacks of the live goroutines by id.
func goroutines() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]string{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		head, _, _ := strings.Cut(g, " [")
		out[head] = g
	}
	return out
}

// longLived are goroutines that outlive a relay on purpose, bounded in
// number (not one per request): golang-lru's expirable cache starts one
// janitor per replay cache that never stops, and fasthttp's clients keep a
// pool cleaner per host until their idle connections time out (30 s).
var longLived = []string{
	"golang-lru/v2/expirable.NewLRU",
	"fasthttp.updateServerDate", // one per process, from the first server
	"fasthttp.(*HostClient).connsCleaner",
	"fasthttp.(*Client).mCleaner",
	"fasthttp.(*workerPool).Start.func", // a stopped server's worker pool cleaner: gone 10 s after Stop
}

// maxLongLived bounds them per relay: one replay cache, one worker pool
// cleaner, and per client (bank, webhooks) a cleaner for the client and
// one per host; and fasthttp's date updater, one per process.
const maxLongLived = 8

// checkGoroutines fails t if goroutines started since before are still
// running once things settle (polling up to 10 s), apart from the bounded
// long-lived ones.
func checkGoroutines(t testing.TB, before map[string]string, relays int) {
	t.Helper()
	defer func() { t.Logf("goroutines: %d before, %d after", len(before), runtime.NumGoroutine()) }()
	if c, ok := http.DefaultTransport.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
	var leaked, kept []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		leaked, kept = leaked[:0], kept[:0]
		for id, g := range goroutines() {
			if _, ok := before[id]; ok || strings.Contains(g, "checkGoroutines") {
				continue
			}
			if isLongLived(g) {
				kept = append(kept, g)
				continue
			}
			leaked = append(leaked, g)
		}
		if len(leaked) == 0 || time.Now().After(deadline) {
			break
		}

		time.Sleep(20 * time.Millisecond)
	}
	for _, g := range leaked {
		t.Errorf("goroutine leak:\n%s", g)
	}
	if len(kept) > maxLongLived*relays {
		t.Errorf("%d long-lived goroutines for %d relay(s); want at most %d:\n%s", len(kept), relays, maxLongLived*relays, strings.Join(kept, "\n\n"))
	}
}

func isLongLived(g string) bool {
	for _, s := range longLived {
		if strings.Contains(g, s) {
			return true
		}
	}
	return false
}

// apiError decodes a relay error answer.
func apiError(err error) *relayclient.Error {
	var e *relayclient.Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// start runs the relay of cfg on ln with a fresh journal at s.dbPath
// (bank TLS trusting roots as well, when set) until the test ends, and
// waits for it to answer /healthz. The relay's log is leak-scanned when
// it stops.
func (s *stack) start(t testing.TB, cfg *config.Config, ln net.Listener, roots *x509.CertPool) {
	t.Helper()
	s.cfg = cfg
	j, err := store.OpenSQLite(s.dbPath, store.SQLiteOptions{})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(s.logs), zapcore.DebugLevel))
	r, err := proxy.New(proxy.Options{Config: cfg, Journal: j, Logger: log, Now: s.clock.Now, BankRoots: roots})
	if err != nil {
		ln.Close()
		j.Close()
		t.Fatal(err)
	}
	s.relay, s.journal = r, j
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.RunListener(ctx, ln) }()
	s.client = &relayclient.Client{BaseURL: s.url, KeyID: s.keyID, Secret: []byte(s.secret), Now: s.clock.Now}
	s.stop = func() {
		if s.stopped {
			return
		}
		s.stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("relay: %v", err)
		}
		if err := j.Close(); err != nil {
			t.Errorf("journal: %v", err)
		}
		for _, h := range leaks.Check("relay log", s.logs.Bytes()) {
			t.Errorf("leak: %s", h)
		}
	}
	t.Cleanup(s.stop)
	waitUntil(t, 10*time.Second, "the relay answers /healthz", func() bool { return s.healthy() })
}
