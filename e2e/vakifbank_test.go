package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/posrelay/posrelay/api"
	"github.com/posrelay/posrelay/banksim"
	"github.com/posrelay/posrelay/banksim/vakif"
	"github.com/posrelay/posrelay/config"
	"github.com/posrelay/posrelay/demo"
	"github.com/posrelay/posrelay/internal/browser"
	"github.com/posrelay/posrelay/internal/requireall"
	"github.com/posrelay/posrelay/proxy"
	"github.com/posrelay/posrelay/relayclient"
	"github.com/posrelay/posrelay/signer"
	"github.com/posrelay/posrelay/store"
)

// vakifModels are VakıfBank's two products.
var vakifModels = []string{"mpi", "common_payment"}

// vakifCases: every simulator card, per product. landing "" means the
// shopper stays on the relay's "being confirmed" page: the bank's answer
// never came (timeout) or could not be read (malformed), the payment went
// unknown, and the status query (Search) settled it.
func vakifCases(model string) []outcomeCase {
	halfSecure := outcomeCase{"half-secure refused", "4000000000003204", "failed", "3ds_half_secure", 3004, "payment.failed", "error"}
	if model == "common_payment" {
		// The bank's page refuses the attempt itself (Rc 0400): a 3-D failure.
		halfSecure.code = "3ds_failed"
	}
	return []outcomeCase{
		{"approved visa", "4355084355084358", "succeeded", "approved", 0, "payment.succeeded", "success"},
		{"approved mastercard", "5400000000000005", "succeeded", "approved", 0, "payment.succeeded", "success"},
		{"approved troy", "9792000000000003", "succeeded", "approved", 0, "payment.succeeded", "success"},
		{"insufficient funds", "4000000000000515", "failed", "insufficient_funds", 3012, "payment.failed", "error"},
		{"expired card", "4000000000000549", "failed", "expired_card", 3013, "payment.failed", "error"},
		{"invalid card", "4000000000000143", "failed", "invalid_card", 3015, "payment.failed", "error"},
		{"3-D authentication fails", "4000000000003006", "failed", "3ds_failed", 3004, "payment.failed", "error"},
		{"not enrolled", "4000000000003105", "failed", "3ds_not_enrolled", 3005, "payment.failed", "error"},
		halfSecure,
		{"bank timeout, settled by the status query", "4000000000009904", "succeeded", "approved", 0, "payment.succeeded", ""},
		{"malformed answer, settled by the status query", "4000000000009805", "succeeded", "approved", 0, "payment.succeeded", ""},
	}
}

func TestVakifbankOutcomes(t *testing.T) {
	for _, model := range vakifModels {
		t.Run(model, func(t *testing.T) {
			s := startDemo(t, demo.Options{Models: map[string]string{"vakifbank": model}})
			for _, tc := range vakifCases(model) {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					j := s.pay(t, "vakifbank", 14990, testCard(tc.pan), nil)
					final := j.final.URL.String()
					switch {
					case tc.landing == "" && !strings.HasPrefix(final, s.Relay):
						t.Fatalf("shopper landed on %s; want the relay's page while the bank is asked\nhistory: %v", final, j.history)
					case tc.landing != "" && !strings.Contains(final, "result="+tc.landing):
						t.Fatalf("shopper landed on %s; want the %s return URL\nhistory: %v\n%s", final, tc.landing, j.history, j.final.Body)
					}
					p := s.payment(t, j.payment.ID)
					if tc.landing == "" {
						if p.Status != "unknown" && p.Status != tc.status {
							t.Fatalf("payment %s right after the lost answer; want unknown (or already settled)", p.Status)
						}
						p = s.settled(t, j.payment.ID)
						if p.Result == nil || p.Result.BankMessage != "confirmed by status query" {
							t.Errorf("result %+v; want it confirmed by the status query", p.Result)
						}
					}
					if p.Status != tc.status || p.Result == nil || p.Result.Code != tc.code {
						t.Fatalf("payment = %s %+v; want %s %s", p.Status, p.Result, tc.status, tc.code)
					}
					ev := s.webhooks(t, p.ID, 1)
					if len(ev) != 1 || ev[0].Event.Type != tc.event || ev[0].Event.Data.ReasonCode != tc.reason ||
						ev[0].Event.Data.WixTransactionID != p.WixTransactionID {
						t.Fatalf("webhooks = %+v; want one %s with reason %d", ev, tc.event, tc.reason)
					}
					if tc.status == "succeeded" && (p.TransID == "" || !strings.Contains(p.MaskedPAN, "*")) {
						t.Errorf("payment ref: transId %q maskedPan %q", p.TransID, p.MaskedPAN)
					}
				})
			}
		})
	}
}

// settled waits for the relay's sweep to settle a payment left unknown. It
// asks every 200 ms: each question is a log line, and the harness's scan
// for card numbers reads every one.
func (s *stack) settled(t *testing.T, id string) *api.Payment {
	t.Helper()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(15 * time.Second)
	for {
		if p := s.payment(t, id); p.Status != "unknown" {
			return p
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("payment %s still unknown after 15 s (the sweep runs every 5 s)", id)
		}
	}
}

// TestVakifbankDemoWiring: demo.json lists the account and the simulator's
// endpoints, and the simulator refuses server calls that do not come from
// the relay's egress address (1105), as VakıfBank does.
func TestVakifbankDemoWiring(t *testing.T) {
	s := startDemo(t, demo.Options{})
	raw, err := os.ReadFile(filepath.Join(s.StateDir, "demo.json"))
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Banks map[string]map[string]string `json:"banks"`
	}
	if err := json.Unmarshal(raw, &info); err != nil {
		t.Fatal(err)
	}
	vb := info.Banks["vakifbank"]
	for _, k := range []string{"endpoint", "model", "merchantId", "terminalNo", "password", "mpiUrl", "vposUrl", "searchUrl", "cpRegisterUrl", "cpQueryUrl"} {
		if vb[k] == "" {
			t.Errorf("demo.json vakifbank.%s is empty: %v", k, vb)
		}
	}
	if vb["model"] != "mpi" {
		t.Errorf("default model %q; want mpi", vb["model"])
	}
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		requireall.Missing(t, "127.0.0.2 cannot be bound here: the demo's simulator takes server calls from anywhere; on macOS add it with: sudo ifconfig lo0 alias 127.0.0.2")
	}
	ln.Close()
	resp, err := http.PostForm(vb["endpoint"]+vakif.VPOSPath, url.Values{"prmstr": {"<VposRequest/>"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "<ResultCode>1105</ResultCode>") {
		t.Errorf("a VPOS call from 127.0.0.1 got %s; want 1105", body)
	}
}

// recorder keeps every HTTP response a browser gets, redirects included.
type recorder struct {
	next  http.RoundTripper
	pages []recorded
}

type recorded struct {
	url    *url.URL
	header http.Header
	body   []byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	r.pages = append(r.pages, recorded{url: req.URL, header: resp.Header.Clone(), body: body})
	return resp, nil
}

// cardNeedles are the ways the typed card could show up if it leaked: the
// number with and without spaces, the CVV and the expiry in every format
// the banks use (MM/YYYY, YYMM, YYYYMM, MMYY…). Short ones must stand
// alone: not inside a longer run of letters, digits or a decimal.
func cardNeedles(c card) []*regexp.Regexp {
	pan := strings.ReplaceAll(c.PAN, " ", "")
	mm, yyyy := c.Month, c.Year
	yy := yyyy[2:]
	out := []*regexp.Regexp{regexp.MustCompile(regexp.QuoteMeta(pan)), regexp.MustCompile(regexp.QuoteMeta(c.PAN))}
	for _, s := range []string{c.CVV, mm + "/" + yyyy, mm + "/" + yy, yyyy + "-" + mm, yyyy + mm, yy + mm, mm + yy, mm + yyyy, yyyy + "/" + mm} {
		out = append(out, regexp.MustCompile(`(^|[^0-9A-Za-z.])`+regexp.QuoteMeta(s)+`([^0-9A-Za-z.]|$)`))
	}
	return out
}

func findCard(needles []*regexp.Regexp, b []byte) string {
	for _, n := range needles {
		if loc := n.FindIndex(b); loc != nil {
			return n.String()
		}
	}
	return ""
}

// TestVakifbankCardDataStaysInMemory: the card number, expiry and CVV the
// shopper typed reach neither the journal (the SQLite file and its WAL),
// nor the logs, nor any answer of the relay: its pages after the card form,
// its API answers, its webhooks.
func TestVakifbankCardDataStaysInMemory(t *testing.T) {
	typed := card{PAN: "4355 0843 5508 4358", Month: "11", Year: "2037", CVV: "482", Holder: "Leak Test", Code: banksim.ChallengeCode}
	needles := cardNeedles(typed)
	// The scanner finds each form a leak could take, and not an id that
	// merely contains the digits.
	for _, leak := range []string{"4355084355084358", "pan=4355 0843 5508 4358", `"cvv":"482"`, "<Cvv>482</Cvv>", "11/2037", "Expiry=3711",
		"<Expiry>203711</Expiry>", "ExpiryDate=3711&", "exp 1137", "2037-11-01"} {
		if findCard(needles, []byte(leak)) == "" {
			t.Fatalf("the scan misses %q", leak)
		}
	}
	for _, clean := range []string{"req_a4823711b", "pay_x482y", "12.482", "amount 1482", "2026-11-22T10:37:11Z"} {
		if n := findCard(needles, []byte(clean)); n != "" {
			t.Fatalf("the scan flags %q (%s)", clean, n)
		}
	}
	for _, model := range vakifModels {
		t.Run(model, func(t *testing.T) {
			stateDir := t.TempDir()
			journalFiles := func() map[string][]byte {
				out := map[string][]byte{}
				for _, suffix := range []string{"", "-wal", "-shm"} {
					name := filepath.Join(stateDir, "journal.db"+suffix)
					if b, err := os.ReadFile(name); err == nil {
						out[filepath.Base(name)] = b
					}
				}
				return out
			}
			var during map[string][]byte
			t.Run("pay", func(t *testing.T) {
				s := startDemo(t, demo.Options{StateDir: stateDir, Models: map[string]string{"vakifbank": model}})
				p := s.createPayment(t, "vakifbank", 14990, nil)
				rec := &recorder{next: http.DefaultTransport}
				b := browser.New()
				b.HTTP.Transport = rec
				relayHost := strings.TrimPrefix(s.Relay, "http://")
				ctx := context.Background()
				page, err := b.Get(ctx, p.RedirectURL)
				if err != nil {
					t.Fatal(err)
				}
				cardPosted := -1
				for i := 0; i < 12 && !strings.HasPrefix(page.URL.String(), s.Shop); i++ {
					f, err := page.Form("")
					if err != nil {
						t.Fatalf("no form on the way: %v (history %v)", err, b.History)
					}
					set := map[string]string{}
					for _, n := range f.Names {
						// What the shopper types: empty fields, and the
						// relay's expiry selects.
						if v, ok := typed.fieldValue(n); ok && (f.Values.Get(n) == "" || n == "exp_month" || n == "exp_year") {
							set[n] = v
						}
					}
					if f.Action.Host == relayHost && strings.HasPrefix(f.Action.Path, "/pay/") {
						cardPosted = len(rec.pages) // the relay's card form
					}
					if page, err = b.Submit(ctx, f, set); err != nil {
						t.Fatal(err)
					}
				}
				if !strings.Contains(page.URL.String(), "result=success") {
					t.Fatalf("landed on %s; want success (history %v)", page.URL, b.History)
				}
				if model == "mpi" && cardPosted < 0 {
					t.Fatal("the relay's card form was never posted")
				}
				// The relay's answers after the card form.
				seen := 0
				for _, r := range rec.pages[max(cardPosted, 0):] {
					if r.url.Host != relayHost {
						continue
					}
					seen++
					if n := findCard(needles, r.body); n != "" {
						t.Errorf("the relay's answer to %s %s shows card data (%s)", r.url.Path, r.header.Get("Content-Type"), n)
					}
					for k, vs := range r.header {
						if n := findCard(needles, []byte(k+": "+strings.Join(vs, ","))); n != "" {
							t.Errorf("the relay's header %s shows card data (%s)", k, n)
						}
					}
				}
				if seen == 0 {
					t.Fatal("recorded no answer of the relay")
				}
				// Its API answers and its webhooks.
				for _, target := range []string{"/v1/payments/" + p.ID, "/v1/payments/" + p.ID + "?refresh=true"} {
					status, body, err := s.client.DoRaw(ctx, "GET", target, nil, nil)
					if err != nil || status != 200 {
						t.Fatalf("GET %s: %d %v", target, status, err)
					}
					if n := findCard(needles, body); n != "" {
						t.Errorf("GET %s shows card data (%s): %s", target, n, body)
					}
				}
				s.webhooks(t, p.ID, 1)
				resp, err := http.Get(s.Shop + "/webhooks.json")
				if err != nil {
					t.Fatal(err)
				}
				hooks, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if n := findCard(needles, hooks); n != "" {
					t.Errorf("a webhook shows card data (%s)", n)
				}
				// The logs, as they stand (the harness scans them for card
				// numbers and secrets once more when the demo stops).
				if n := findCard(needles, []byte(s.logs.String())); n != "" {
					t.Errorf("the logs show card data (%s)", n)
				}
				during = journalFiles()
			})
			after := journalFiles()
			if len(after["journal.db"]) == 0 || len(during["journal.db"]) == 0 {
				t.Fatalf("no journal in %s", stateDir)
			}
			for when, files := range map[string]map[string][]byte{"while running": during, "after the run": after} {
				for name, b := range files {
					if n := findCard(needles, b); n != "" {
						t.Errorf("%s, %s holds card data (%s)", when, name, n)
					}
				}
			}
			// The scan can find what it looks for: the masked number is there.
			if !bytes.Contains(after["journal.db"], []byte("435508")) && !bytes.Contains(during["journal.db-wal"], []byte("435508")) {
				t.Error("the journal does not even hold the masked card number; is this the right file?")
			}
		})
	}
}

// vakifStack is a relay with an injected clock in front of a VakıfBank
// simulator the test holds, so it can see the bank's counters, read the
// journal and move time past a payment's expiry.
type vakifStack struct {
	clock   *fakeClock
	sim     *vakif.Sim
	relay   *proxy.Relay
	journal store.Journal
	client  *relayclient.Client
	recv    *receiver
	url     string
	logs    *syncBuffer
	yaml    string            // the relay's configuration, secrets as ${…}
	env     map[string]string // the secrets yaml names
}

func newVakifStack(t *testing.T, model string) *vakifStack {
	t.Helper()
	return newVakifStackWith(t, model, nil)
}

// newVakifStackWith is newVakifStack with the simulator's handler wrapped
// (a faulty network between the relay and the bank).
func newVakifStackWith(t *testing.T, model string, wrap func(http.Handler) http.Handler) *vakifStack {
	t.Helper()
	clock := &fakeClock{t: time.Now().UTC().Truncate(time.Second)}
	password := "pw-" + signer.NewNonce()
	simCfg := vakif.Config{MerchantID: "000100000013506", TerminalNo: "VP000579", Password: password, Now: clock.Now}
	egress := ""
	if ln, err := net.Listen("tcp", "127.0.0.2:0"); err == nil {
		ln.Close()
		egress = `, source_ip: "127.0.0.2"`
		simCfg.RelayIPs = []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}
	}
	sim := vakif.New(simCfg)
	var h http.Handler = sim.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	simSrv := &http.Server{Handler: h}
	simLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = simSrv.Serve(simLn) }()
	t.Cleanup(func() { sim.Close(); simSrv.Close() })

	keyID, secret := signer.NewKeySecret()
	whsec := signer.NewWebhookSecret()
	recv := newReceiver(t, whsec, clock.Now)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	stateDir := t.TempDir()
	yaml := fmt.Sprintf(`tls: {mode: off}
server: {listen: %q, public_url: "http://%s", admin_listen: ""}
state_dir: %q
egress: {allow_ranges: ["127.0.0.0/8"], bank_timeout: 2s%s}
environments: {sim: {vakifbank: "http://%s"}}
sites:
  - id: shop
    keys: [{id: %q, secret: "${SECRET}"}]
    webhook: {url: %q, secret: "${WHSEC}"}
    return_origins: ["https://shop.example"]
    accounts:
      - {bank: vakifbank, environment: sim, model: %s, merchant_id: "000100000013506", terminal_no: VP000579, password: "${PASSWORD}"}
`, addr, addr, stateDir, egress, simLn.Addr(), keyID, recv.srv.URL+"/_functions/posrelay", model)
	env := map[string]string{"SECRET": secret, "WHSEC": whsec, "PASSWORD": password}
	cfg, err := config.Parse(strings.NewReader(yaml), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	j, err := store.OpenSQLite(filepath.Join(stateDir, "journal.db"), store.SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(logs), zapcore.DebugLevel))
	r, err := proxy.New(proxy.Options{Config: cfg, Journal: j, Logger: log, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.RunListener(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("relay: %v", err)
		}
		j.Close()
		for _, sec := range []string{secret, whsec, password} {
			if strings.Contains(logs.String(), sec) {
				t.Error("a secret appears in the relay's logs")
			}
		}
		for _, pan := range findPANs(logs.String()) {
			t.Errorf("a card number appears in the logs: %s…", pan[:6])
		}
		checkLeaks(t, "relay log", []byte(logs.String()))
	})
	watch(t, []string{secret, whsec, password}, "http://"+simLn.Addr().String()) // after the simulator's cleanup: see watch
	return &vakifStack{clock: clock, sim: sim, relay: r, journal: j, recv: recv, url: "http://" + addr, logs: logs, yaml: yaml, env: env,
		client: &relayclient.Client{BaseURL: "http://" + addr, KeyID: keyID, Secret: []byte(secret), Now: clock.Now}}
}

func (s *vakifStack) create(t *testing.T) *api.Payment {
	t.Helper()
	order := "V" + strconv.FormatInt(time.Now().UnixNano(), 36)
	p, err := s.client.CreatePayment(context.Background(), &api.CreatePayment{Bank: "vakifbank", OrderID: order, Amount: 14990, Currency: "TRY",
		ReturnURLs: api.ReturnURLs{Success: "https://shop.example/ok?o=" + order, Error: "https://shop.example/fail?o=" + order},
		Customer:   api.Customer{IP: "203.0.113.7"}, WixTransactionID: "wix-" + order}, "")
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return p
}

// bankReturn is the bank's answer as the shopper's browser would bring it
// to the relay: a form post (MPI) or a GET with a query (Common Payment).
type bankReturn struct {
	method string
	target string     // the relay's callback URL (GET: without the query)
	fields url.Values // form or query
}

// toCallback walks a payment up to the bank's return and stops there.
func (s *vakifStack) toCallback(t *testing.T, p *api.Payment, model string) bankReturn {
	t.Helper()
	if model == "mpi" {
		f := walkToCallback(t, p.RedirectURL, testCard("4355084355084358"))
		return bankReturn{method: "POST", target: f.Action.String(), fields: clone(f.Values)}
	}
	b := browser.New()
	b.HTTP.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.Path, "/callback/") {
			return http.ErrUseLastResponse
		}
		return nil
	}
	ctx := context.Background()
	page, err := b.Get(ctx, p.RedirectURL)
	if err != nil {
		t.Fatal(err)
	}
	c := testCard("4355084355084358")
	for i := 0; i < 6; i++ {
		if page.Status == http.StatusSeeOther {
			u, err := url.Parse(page.Header.Get("Location"))
			if err != nil || !strings.HasPrefix(u.Path, "/callback/") {
				t.Fatalf("bank sent the shopper to %q", page.Header.Get("Location"))
			}
			q := u.Query()
			u.RawQuery = ""
			return bankReturn{method: "GET", target: u.String(), fields: q}
		}
		f, err := page.Form("")
		if err != nil {
			t.Fatalf("no form on the way: %v (history %v)", err, b.History)
		}
		set := map[string]string{}
		for _, n := range f.Names {
			if v, ok := c.fieldValue(n); ok && f.Values.Get(n) == "" {
				set[n] = v
			}
		}
		if page, err = b.Submit(ctx, f, set); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatalf("no return to the relay: %v", b.History)
	return bankReturn{}
}

// deliver brings a bank return to the relay as a top-level navigation and
// returns the status and where the relay sends the shopper.
func (r bankReturn) deliver(t *testing.T) (int, string) {
	t.Helper()
	var req *http.Request
	var err error
	if r.method == "POST" {
		req, err = http.NewRequest(http.MethodPost, r.target, strings.NewReader(r.fields.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	} else {
		req, err = http.NewRequest(http.MethodGet, r.target+"?"+r.fields.Encode(), nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Sec-Fetch-Dest", "document")
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

// bindingField is what ties a bank return to its payment attempt.
func bindingField(model string) string {
	if model == "mpi" {
		return "VerifyEnrollmentRequestId"
	}
	return "PaymentToken"
}

// TestVakifbankCallbackBinding: VakıfBank does not sign its returns, so
// the relay's binding is the whole defence. A return carrying another
// payment's VerifyEnrollmentRequestId (or PaymentToken), a replayed return
// and a return after the payment expired change nothing, reach no bank API
// and send no webhook.
func TestVakifbankCallbackBinding(t *testing.T) {
	for _, model := range vakifModels {
		t.Run(model, func(t *testing.T) {
			s := newVakifStack(t, model)
			ctx := context.Background()
			pa, pb := s.create(t), s.create(t)
			ra, rb := s.toCallback(t, pa, model), s.toCallback(t, pb, model)
			field := bindingField(model)
			if ra.fields.Get(field) == "" || ra.fields.Get(field) == rb.fields.Get(field) {
				t.Fatalf("%s: A %q, B %q", field, ra.fields.Get(field), rb.fields.Get(field))
			}
			state := func(id string) (*store.Payment, int, int) {
				p, err := s.journal.GetPayment(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				hooks, err := s.journal.ListWebhooks(ctx, store.WebhookFilter{PaymentID: id})
				if err != nil {
					t.Fatal(err)
				}
				c := s.sim.Calls()
				return p, len(hooks), c.Provisions(p.BankOrderID) + c.ByOrder[p.BankOrderID]
			}
			unchanged := func(what string, id string, before *store.Payment, hooks, calls int) {
				t.Helper()
				after, h, c := state(id)
				if after.Status != before.Status || after.Stage != before.Stage || after.Version != before.Version || h != hooks || c != calls {
					t.Errorf("%s changed the payment: %s/%s v%d → %s/%s v%d, webhooks %d → %d, bank calls %d → %d",
						what, before.Status, before.Stage, before.Version, after.Status, after.Stage, after.Version, hooks, h, calls, c)
				}
			}

			// A's return with B's binding value.
			forged := bankReturn{method: ra.method, target: ra.target, fields: clone(ra.fields)}
			forged.fields.Set(field, rb.fields.Get(field))
			before, hooks, calls := state(pa.ID)
			if before.Status != store.StatusPending || before.Stage != store.StageBankStep || hooks != 0 {
				t.Fatalf("A before its return: %s/%s with %d webhooks", before.Status, before.Stage, hooks)
			}
			if code, _ := forged.deliver(t); code != http.StatusBadRequest {
				t.Errorf("return with B's %s: %d; want 400", field, code)
			}
			unchanged("a return with B's "+field, pa.ID, before, hooks, calls)
			bBefore, bHooks, bCalls := state(pb.ID)
			unchanged("A's forged return", pb.ID, bBefore, bHooks, bCalls)

			// A's genuine return, then the same again.
			if code, loc := ra.deliver(t); code != http.StatusSeeOther || !strings.HasPrefix(loc, "https://shop.example/ok") {
				t.Fatalf("genuine return: %d → %q", code, loc)
			}
			done, hooks, calls := state(pa.ID)
			if done.Status != store.StatusSucceeded || hooks != 1 {
				t.Fatalf("A after its return: %s with %d webhooks", done.Status, hooks)
			}
			if model == "mpi" && s.sim.Calls().Provisions(done.BankOrderID) != 1 {
				t.Errorf("provisions for A: %d", s.sim.Calls().Provisions(done.BankOrderID))
			}
			if code, loc := ra.deliver(t); code != http.StatusSeeOther || !strings.HasPrefix(loc, "https://shop.example/ok") {
				t.Errorf("replayed return: %d → %q; want the shopper sent where the payment ended", code, loc)
			}
			unchanged("a replayed return", pa.ID, done, hooks, calls)
			waitFor(t, func() bool { return len(s.recv.events()) >= 1 })

			// B's time runs out: the clock passes its expiry and the sweep
			// asks the bank. GET 7/24 has no sale (nothing was provisioned):
			// B expires. Common Payment's page already sold (the bank
			// authorises before the shopper returns): Search finds the sale
			// and B succeeds, confirmed by the status query.
			wantStatus, wantEvent, wantPage := store.StatusExpired, "payment.expired", "https://shop.example/fail"
			if model == "common_payment" {
				wantStatus, wantEvent, wantPage = store.StatusSucceeded, "payment.succeeded", "https://shop.example/ok"
			}
			// Past the expiry and the grace a shopper at the bank's page
			// keeps (payments.bank_step_grace, 20 minutes).
			s.clock.Advance(31*time.Minute + 21*time.Minute)
			if err := s.relay.Sweep(ctx); err != nil {
				t.Fatal(err)
			}
			ended, hooks, calls := state(pb.ID)
			if ended.Status != wantStatus || hooks != 1 {
				t.Fatalf("B after its expiry: %s with %d webhooks; want %s with one", ended.Status, hooks, wantStatus)
			}
			if code, loc := rb.deliver(t); code != http.StatusSeeOther || !strings.HasPrefix(loc, wantPage) {
				t.Errorf("return after expiry: %d → %q; want the shopper sent to %s", code, loc, wantPage)
			}
			unchanged("a return after expiry", pb.ID, ended, hooks, calls)
			if model == "mpi" && s.sim.Calls().Provisions(ended.BankOrderID) != 0 {
				t.Errorf("a return after expiry was provisioned")
			}
			waitFor(t, func() bool { return len(s.recv.events()) >= 2 })
			for _, ev := range s.recv.events() {
				if !ev.Valid || ev.Event.Data.PaymentID == pb.ID && ev.Event.Type != wantEvent {
					t.Errorf("webhook %+v", ev)
				}
			}
			if n := len(s.recv.events()); n != 2 {
				t.Errorf("%d webhooks in all; want one for A and one for B", n)
			}
		})
	}
}

func TestVakifbankAfterSaleMPI(t *testing.T) {
	afterSale(t, "vakifbank", map[string]string{"vakifbank": "mpi"})
}

// TestVakifbankAfterSaleCommonPayment: a Common Payment sale is voided and
// refunded through the VPOS by its TransactionId, with the same settlement
// rules; it has no pre-authorisation to capture.
func TestVakifbankAfterSaleCommonPayment(t *testing.T) {
	clock := &simClock{}
	s := startDemo(t, demo.Options{Models: map[string]string{"vakifbank": "common_payment"}, SimClock: clock.Now})
	ctx := context.Background()
	paid := func() *api.Payment {
		j := s.pay(t, "vakifbank", 10000, testCard("4355084355084358"), nil)
		p := s.payment(t, j.payment.ID)
		if p.Status != "succeeded" || p.TransID == "" {
			t.Fatalf("payment %s %q; want succeeded with the bank's TransactionId", p.Status, p.TransID)
		}
		return p
	}
	voided, settled := paid(), paid()
	if op, err := s.client.Refund(ctx, settled.ID, &api.Refund{Amount: 1000, WixRefundID: "wr-early-" + settled.ID}, ""); err != nil ||
		op.Status != "failed" || op.Result.Code != "refund_before_settlement" {
		t.Fatalf("same-day refund = %+v, %v; want refund_before_settlement", op, err)
	}
	if op, err := s.client.Void(ctx, voided.ID, ""); err != nil || op.Status != "succeeded" {
		t.Fatalf("same-day void = %+v, %v", op, err)
	}
	if got := s.payment(t, voided.ID); got.Status != "voided" {
		t.Fatalf("after void: %s", got.Status)
	}
	clock.nextDay()
	if op, err := s.client.Void(ctx, settled.ID, ""); err != nil || op.Status != "failed" || op.Result.Code != "void_after_settlement" {
		t.Fatalf("void after settlement = %+v, %v", op, err)
	}
	if op, err := s.client.Refund(ctx, settled.ID, &api.Refund{Amount: 4000, WixRefundID: "wr-a-" + settled.ID}, ""); err != nil || op.Status != "succeeded" {
		t.Fatalf("partial refund = %+v, %v", op, err)
	}
	if _, err := s.client.Refund(ctx, settled.ID, &api.Refund{Amount: 6001, WixRefundID: "wr-b-" + settled.ID}, ""); apiErr(err) == nil || apiErr(err).Code != "refund_exceeds_captured" {
		t.Fatalf("over-refund = %v; want refund_exceeds_captured", err)
	}
	fresh, err := s.client.GetPayment(ctx, settled.ID, true)
	if err != nil || fresh.BankStatus == nil || fresh.BankStatus.Refunded != 4000 || !fresh.BankStatus.Settled {
		t.Fatalf("bank status = %+v, %v; want refunded 4000, settled", fresh.BankStatus, err)
	}
}
