package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/posrelay/posrelay/api"
	"github.com/posrelay/posrelay/internal/leakscan"
	"github.com/posrelay/posrelay/signer"
	"github.com/posrelay/posrelay/store"
)

// Hostile callbacks for QNB (PayFor 3DHost and 3DModel) and VakıfBank
// (GET 7/24 MPI and Common Payment), next to TestBadInput's Halkbank ones.
// The corpus is testdata/badcallbacks/<model>.json, written by
// bankCallbackCorpus (badcallbacks_banks_corpus_test.go):
//
//	go test ./reliability -run TestBankCallbackCorpusIsGenerated -update
//
// Every case starts from a genuine callback that the simulators produced
// for a real payment walked through them, and changes it.

// bankCallbackCase is one hostile callback.
type bankCallbackCase struct {
	Name     string `json:"name"`
	Category string `json:"category"`
	// Fresh, a test card number, sends the case on a payment of its own,
	// walked with that card to its callback: for the changes the relay may
	// act on (a callback bound to its payment, unsigned or re-signed), so a
	// case that moves its payment cannot spoil the others.
	Fresh    string           `json:"fresh,omitempty"`
	Callback callbackChange   `json:"callback"`
	Want     bankCallbackWant `json:"want"`
}

// bankCallbackWant is the relay's answer to a hostile callback.
type bankCallbackWant struct {
	Status int `json:"status"`
	// Code is the code on the relay's log line for the request (the callback
	// pages are HTML: the code is not in them).
	Code string `json:"code,omitempty"`
	// Landing, for a 303: "ok" (the success return URL), "fail" (the error
	// one), "done" (where the settled payment ended) or "closed" (where the
	// failed one did).
	Landing string `json:"landing,omitempty"`
	// Payment is the status the callback's payment ends in; "" means the
	// callback changed nothing: neither the journal nor the bank's counters.
	Payment string `json:"payment,omitempty"`
	// Provisions and Queries are the bank calls the payment's flow makes
	// when Payment is set: provisioning calls for its order (3DModelPayment
	// or Auth at QNB; Sale or Auth at the VakıfBank VPOS) and Common Payment
	// VposTransaction queries. Nothing else may reach the bank.
	Provisions int `json:"provisions,omitempty"`
	Queries    int `json:"queries,omitempty"`
	// Settled is the status the relay's sweep (the bank's status query)
	// then gives a payment the callback left unknown. The sweep also runs
	// on its own every 5 s: the payment may already be settled when read.
	Settled string `json:"settled,omitempty"`
}

// The models, their accounts and corpus files.
var bankCallbackModels = []struct{ file, account string }{
	{"qnb_3dhost", acctQNB3DHost},
	{"qnb_3dmodel", acctQNB3DModel},
	{"vakifbank_mpi", acctVakifMPI},
	{"vakifbank_common_payment", acctVakifCP},
}

// Test cards (banksim.TestCards).
const (
	cardApproved   = "4355084355084358"
	cardApproved2  = "5400000000000005"
	card3DSFails   = "4000000000003006"
	cardNoFunds    = "4000000000000515"
	cardHalfSecure = "4000000000003204"
)

func loadBankCallbackCorpus(t testing.TB, file string) []bankCallbackCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "badcallbacks", file+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []bankCallbackCase
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cases); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return cases
}

// bankCBWorld is one model's payments the corpus aims at.
type bankCBWorld struct {
	b       *banksStack
	model   string
	account string
	// Returns and payment ids: "" the genuine pending payment (A), "other"
	// another pending one (B), "failed" a pending one whose 3-D step failed
	// (F), "done" a settled one (D), "closed" one that failed (its 3-D
	// step failed and its callback came: a later one takes the relay's late
	// path).
	returns map[string]bankReturn
	ids     map[string]string
	vars    map[string]string
	peers   map[string]*bankCBWorld // the other models', by corpus file
}

// TestBadBankCallbacks sends every hostile QNB and VakıfBank callback of
// the corpus and checks the relay's answer (status, code on its log line,
// where it sends the shopper), that the journal and the bank's counters are
// unchanged unless the case says how the payment ends and which bank calls
// its flow makes, and that the relay is alive. After the corpus, the
// genuine callbacks still complete their payments.
func TestBadBankCallbacks(t *testing.T) {
	b := newBanksStack(t)
	perBank := map[string]int{}
	// Every model's payments first: a case may post another bank's
	// genuine callback.
	worlds := map[string]*bankCBWorld{}
	for _, m := range bankCallbackModels {
		worlds[m.file] = newBankCBWorld(t, b, m.file, m.account)
	}
	for _, w := range worlds {
		w.peers = worlds
	}
	for _, m := range bankCallbackModels {
		cases := loadBankCallbackCorpus(t, m.file)
		perBank[strings.SplitN(m.file, "_", 2)[0]] += len(cases)
		w := worlds[m.file]
		t.Run(m.file, func(t *testing.T) {
			seen := map[string]bool{}
			for _, c := range cases {
				if seen[c.Name] {
					t.Fatalf("case %q appears twice", c.Name)
				}
				seen[c.Name] = true
				t.Run(c.Name, func(t *testing.T) { w.run(t, c) })
			}
			t.Logf("%s: %d hostile callbacks", m.file, len(cases))
			w.genuineStillWork(t)
		})
	}
	for bank, n := range perBank {
		t.Logf("%s: %d hostile callbacks", bank, n)
		if n < 40 {
			t.Errorf("%s has %d hostile callbacks; want at least 40", bank, n)
		}
	}
}

func newBankCBWorld(t *testing.T, b *banksStack, model, account string) *bankCBWorld {
	t.Helper()
	ctx := context.Background()
	w := &bankCBWorld{b: b, model: model, account: account, returns: map[string]bankReturn{}, ids: map[string]string{}}
	walk := func(key, card string) {
		p := b.create(t, account, 14990)
		r, err := walkToReturn(ctx, p.RedirectURL, card)
		if err != nil {
			t.Fatalf("walking %s to its callback: %v", key, err)
		}
		w.returns[key], w.ids[key] = r, p.ID
	}
	walk("", cardApproved)
	walk("other", cardApproved2)
	walk("failed", card3DSFails)
	walk("done", cardApproved)
	a, err := w.deliver(w.returns["done"])
	if err != nil || a.status != http.StatusSeeOther || !strings.HasPrefix(a.location, "https://shop.example/ok") {
		t.Fatalf("settling the done payment: %v %+v", err, a)
	}
	if p := b.payment(t, w.ids["done"]); p.Status != store.StatusSucceeded {
		t.Fatalf("the done payment is %s", p.Status)
	}
	walk("closed", card3DSFails)
	closed, err := w.deliver(w.returns["closed"])
	if err != nil || closed.status != http.StatusSeeOther || !strings.HasPrefix(closed.location, "https://shop.example/fail") {
		t.Fatalf("closing the failed payment: %v %+v", err, closed)
	}
	if p := b.payment(t, w.ids["closed"]); p.Status != store.StatusFailed {
		t.Fatalf("the closed payment is %s", p.Status)
	}
	created := b.create(t, account, 5000)
	w.vars = map[string]string{
		"{cbToken}":        w.returns[""].token(),
		"{otherCbToken}":   w.returns["other"].token(),
		"{failedCbToken}":  w.returns["failed"].token(),
		"{doneCbToken}":    w.returns["done"].token(),
		"{createdCbToken}": b.payment(t, created.ID).CallbackToken,
		"{cbTokenUpper}":   strings.ToUpper(w.returns[""].token()),
		"{cbTokenShort}":   w.returns[""].token()[:31],
		"{unknownToken}":   strings.Repeat("a", 32),
		"{otherId}":        w.ids["other"],
		"{doneLanding}":    a.location,
		"{closedCbToken}":  w.returns["closed"].token(),
		"{closedLanding}":  closed.location,
	}
	for _, key := range []string{"", "other", "failed", "done"} {
		if p := b.payment(t, w.ids[key]); key != "done" && (p.Status != store.StatusPending || p.Stage != store.StageBankStep) {
			t.Fatalf("payment %q before the corpus: %s/%s", key, p.Status, p.Stage)
		}
	}
	return w
}

// refField matches {other:Field}: a field of another return.
var refField = regexp.MustCompile(`\{(genuine|other|failed|done|closed):([^}]+)\}`)

func (w *bankCBWorld) expand(s string, vars map[string]string) string {
	for k, v := range vars {
		s = strings.ReplaceAll(s, k, v)
	}
	return refField.ReplaceAllStringFunc(s, func(m string) string {
		g := refField.FindStringSubmatch(m)
		key := g[1]
		if key == "genuine" {
			key = ""
		}
		return w.returns[key].get(g[2])
	})
}

// bankAnswer is the relay's answer to a callback.
type bankAnswer struct {
	status    int
	location  string
	requestID string
	body      []byte
}

func (w *bankCBWorld) send(req *http.Request) (*bankAnswer, error) {
	req.Header.Set("Sec-Fetch-Dest", "document")
	if req.ContentLength > defaultMaxBody {
		resp, body, err := headFirst(req)
		if err != nil {
			return nil, err
		}
		return &bankAnswer{status: resp.StatusCode, location: resp.Header.Get("Location"), requestID: resp.Header.Get("X-Request-Id"), body: body}, nil
	}
	c := &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &bankAnswer{status: resp.StatusCode, location: resp.Header.Get("Location"), requestID: resp.Header.Get("X-Request-Id"), body: body}, nil
}

// deliver brings a genuine return to the relay as the browser would.
func (w *bankCBWorld) deliver(r bankReturn) (*bankAnswer, error) {
	req, err := w.request(r, callbackChange{To: r.token()}, nil)
	if err != nil {
		return nil, err
	}
	return w.send(req)
}

// request builds the HTTP request of a return changed by cc.
func (w *bankCBWorld) request(src bankReturn, cc callbackChange, vars map[string]string) (*http.Request, error) {
	fs := edit(append([]field(nil), src.fields...), cc, func(s string) string { return w.expand(s, vars) })
	set := func(name, v string) { fs = fieldList(fs).set(name, v) }
	current := func(name string) string { return fieldList(fs).get(name) }
	if cc.Resign != "" {
		// A new ResponseHash over the changed fields: "payfor" with the
		// merchant's key (someone who holds it), "payfor:KEY" with another,
		// "payfor256:KEY" SHA-256 with another.
		kind, key, _ := strings.Cut(cc.Resign, ":")
		cfg := w.b.qnbCfg
		if key == "" {
			key = cfg.MerchantPass
		}
		alg := signer.PayForSHA1
		switch kind {
		case "payfor":
		case "payfor256":
			alg = signer.PayForSHA256
			set("HashType", "Sha256")
		default:
			return nil, fmt.Errorf("unknown resign %q", cc.Resign)
		}
		plain := signer.PayForResponsePlaintext(cfg.MerchantID, key, current("OrderId"), current("AuthCode"), current("ProcReturnCode"),
			current("3DStatus"), current("ResponseRnd"), cfg.UserCode)
		set("ResponseHash", signer.PayForResponseHash(alg, plain))
	}
	for _, a := range cc.Add {
		fs = append(fs, field{a[0], strings.ReplaceAll(w.expand(a[1], vars), "{same}", current(a[0]))})
	}
	fs = junkAndEncode(fs, cc.Junk, cc.Encode)
	body := []byte(encodeFields(fs))
	if cc.RawBody == nil && cc.Method == "" && cc.As == "" && cc.ContentType == nil && cc.To == "" && cc.Pad == 0 &&
		string(body) == encodeFields(src.fields) {
		return nil, fmt.Errorf("the change leaves the genuine callback as it was: not a hostile input")
	}
	if cc.Pad > len(body) {
		body = append(body, []byte("&padding="+strings.Repeat("p", cc.Pad-len(body)-9))...)
	}
	as := cc.As
	if as == "" {
		as = "form"
		if src.method == http.MethodGet {
			as = "query"
		}
	}
	method := http.MethodPost
	if as == "query" {
		method = http.MethodGet
	}
	body, ct, err := shapeBody(as, fs, body)
	if err != nil {
		return nil, err
	}
	if cc.RawBody != nil {
		body = []byte(w.expand(*cc.RawBody, vars))
	}
	if cc.ContentType != nil {
		ct = *cc.ContentType
	}
	if cc.Method != "" {
		method = cc.Method
	}
	to := src.token()
	if cc.To != "" {
		to = w.expand(cc.To, vars)
	}
	target := w.b.url + "/callback/" + to
	var reqBody io.Reader
	if as == "query" {
		target += "?" + string(body)
	} else {
		reqBody = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, target, reqBody)
	if err != nil {
		return nil, err
	}
	if reqBody != nil && ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	return req, nil
}

// bankSnapshot is what the simulators were asked.
type bankSnapshot struct {
	qnb   any
	vakif any
}

func (w *bankCBWorld) snapshot() bankSnapshot {
	return bankSnapshot{qnb: w.b.qnb.Calls(), vakif: w.b.vakif.Calls()}
}

// provisions counts the provisioning calls for an order at this model's
// bank; queries counts Common Payment result queries.
func (w *bankCBWorld) provisions(orderID string) int {
	if strings.HasPrefix(w.model, "qnb") {
		c := w.b.qnb.Calls()
		return c.Count(orderID, "3DModelPayment") + c.Count(orderID, "Auth") + c.Count(orderID, "PreAuth")
	}
	return w.b.vakif.Calls().Provisions(orderID)
}

func (w *bankCBWorld) queries() int { return w.b.vakif.Calls().Queries }

// logLine finds the relay's log line for a request.
func (w *bankCBWorld) logLine(t *testing.T, requestID string) map[string]any {
	t.Helper()
	if requestID == "" {
		t.Error("the answer has no X-Request-Id")
		return nil
	}
	needle := []byte(`"request_id":"` + requestID + `"`)
	var line map[string]any
	waitUntil(t, 5*time.Second, "the request's log line", func() bool {
		for _, l := range bytes.Split(w.b.logs.Bytes(), []byte("\n")) {
			if bytes.Contains(l, needle) && bytes.Contains(l, []byte(`"route"`)) {
				if json.Unmarshal(l, &line) == nil {
					return true
				}
			}
		}
		return false
	})
	return line
}

func (w *bankCBWorld) run(t *testing.T, c bankCallbackCase) {
	b := w.b
	ctx := context.Background()
	src := w.returns[c.Callback.Of]
	payID := w.ids[c.Callback.Of]
	if peer, ok := strings.CutPrefix(c.Callback.Of, "bank:"); ok {
		// Another bank's (or model's) genuine callback, posted here.
		src, payID = w.peers[peer].returns[""], w.ids[""]
	}
	vars := w.vars
	if c.Fresh != "" {
		p := b.create(t, w.account, 14990)
		r, err := walkToReturn(ctx, p.RedirectURL, c.Fresh)
		if err != nil {
			t.Fatalf("walking a fresh payment: %v", err)
		}
		if c.Callback.Of == "" {
			src = r
		}
		payID = p.ID
		vars = map[string]string{}
		for k, v := range w.vars {
			vars[k] = v
		}
		vars["{cbToken}"] = r.token()
	}
	if c.Callback.To == "" {
		c.Callback.To = "{cbToken}" // the pending payment's (the fresh one's)
	}
	before := b.payment(t, payID)
	fpBefore := fingerprint(t, b.dbPath)
	callsBefore := w.snapshot()
	provBefore, queriesBefore := w.provisions(before.BankOrderID), w.queries()
	aBefore, otherBefore := b.payment(t, w.ids[""]), b.payment(t, w.ids["other"])

	req, err := w.request(src, c.Callback, vars)
	if err != nil {
		t.Fatal(err)
	}
	a, err := w.send(req)
	if err != nil {
		t.Fatalf("sending: %v", err)
	}
	wt := c.Want
	if a.status != wt.Status {
		t.Errorf("status %d; want %d (location %q, body %.300q)", a.status, wt.Status, a.location, a.body)
	}
	landing := map[string]string{"ok": "https://shop.example/ok", "fail": "https://shop.example/fail", "done": vars["{doneLanding}"],
		"closed": vars["{closedLanding}"], "": ""}[wt.Landing]
	switch {
	case wt.Landing == "" && a.location != "":
		t.Errorf("redirect to %q; want none", a.location)
	case wt.Landing != "" && !strings.HasPrefix(a.location, landing):
		t.Errorf("redirect to %q; want %s (%s)", a.location, wt.Landing, landing)
	}
	if a.requestID == "" {
		// Refused before routing (the body limit): a JSON error, no
		// request id.
		var e api.Error
		if err := json.Unmarshal(a.body, &e); err != nil || e.Error.Code != wt.Code {
			t.Errorf("answer %.200q; want the JSON error %q", a.body, wt.Code)
		}
	} else if line := w.logLine(t, a.requestID); line != nil {
		got, _ := line["code"].(string)
		if got != wt.Code {
			t.Errorf("code %q (decision %v, cause %v); want %q", got, line["decision"], line["cause"], wt.Code)
		}
	}
	after := b.payment(t, payID)
	if wt.Payment == "" {
		if fp := fingerprint(t, b.dbPath); fp != fpBefore {
			t.Errorf("the journal changed: %s → %s (payment %s/%s → %s/%s)", fpBefore, fp, before.Status, before.Stage, after.Status, after.Stage)
		}
		if calls := w.snapshot(); !reflect.DeepEqual(calls, callsBefore) {
			t.Errorf("the callback reached the bank: %s", callsDiff(callsBefore, calls))
		}
	} else {
		if string(after.Status) != wt.Payment && (wt.Settled == "" || string(after.Status) != wt.Settled) {
			t.Errorf("the payment is %s (%+v); want %s", after.Status, after.Result, wt.Payment)
		}
		if after.Amount != before.Amount || after.Currency != before.Currency || after.Installments != before.Installments || after.OrderID != before.OrderID {
			t.Errorf("the payment's terms changed: %d %s ×%d %s → %d %s ×%d %s", before.Amount, before.Currency, before.Installments, before.OrderID,
				after.Amount, after.Currency, after.Installments, after.OrderID)
		}
		if n := w.provisions(before.BankOrderID) - provBefore; n != wt.Provisions {
			t.Errorf("%d provisioning calls for the order; want %d", n, wt.Provisions)
		}
		if n := w.queries() - queriesBefore; n != wt.Queries {
			t.Errorf("%d result queries; want %d", n, wt.Queries)
		}
		w.checkStored(t, payID)
		for key, p := range map[string]*store.Payment{"": aBefore, "other": otherBefore} {
			if q := b.payment(t, w.ids[key]); q.Version != p.Version {
				t.Errorf("payment %q changed: %s/%s v%d → %s/%s v%d", key, p.Status, p.Stage, p.Version, q.Status, q.Stage, q.Version)
			}
		}
	}
	if wt.Settled != "" {
		if err := b.relay.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if p := b.payment(t, payID); string(p.Status) != wt.Settled || p.Amount != before.Amount {
			t.Errorf("after the status query the payment is %s %d (%+v); want %s", p.Status, p.Amount, p.Result, wt.Settled)
		}
	}
	if !b.healthy() {
		t.Fatal("the relay does not answer /healthz")
	}
}

// genuineStillWork: after the corpus, the genuine callbacks of the pending
// payments complete them, with the bank calls their flow needs.
func (w *bankCBWorld) genuineStillWork(t *testing.T) {
	t.Helper()
	for _, tc := range []struct {
		key, landing, status string
		prov                 int
	}{
		{"", "https://shop.example/ok", "succeeded", 1},
		{"other", "https://shop.example/ok", "succeeded", 1},
		{"failed", "https://shop.example/fail", "failed", 0},
	} {
		p := w.b.payment(t, w.ids[tc.key])
		prov, queries := w.provisions(p.BankOrderID), w.queries()
		a, err := w.deliver(w.returns[tc.key])
		if err != nil || a.status != http.StatusSeeOther || !strings.HasPrefix(a.location, tc.landing) {
			t.Errorf("the genuine callback of %q after the corpus: %v %d %q; want 303 to %s", tc.key, err, a.status, a.location, tc.landing)
			continue
		}
		p = w.b.payment(t, w.ids[tc.key])
		wantProv, wantQueries := 0, 0
		switch w.model {
		case "qnb_3dmodel", "vakifbank_mpi":
			wantProv = tc.prov
		case "vakifbank_common_payment":
			wantQueries = 1
		}
		if string(p.Status) != tc.status || w.provisions(p.BankOrderID)-prov != wantProv || w.queries()-queries != wantQueries {
			t.Errorf("after its genuine callback payment %q is %s (%+v) with %d provisioning calls and %d queries; want %s with %d and %d",
				tc.key, p.Status, p.Result, w.provisions(p.BankOrderID)-prov, w.queries()-queries, tc.status, wantProv, wantQueries)
		}
	}
}

// callsDiff names the counters that moved.
func callsDiff(a, b bankSnapshot) string {
	var out []string
	for _, p := range [][2]any{{a.qnb, b.qnb}, {a.vakif, b.vakif}} {
		va, vb := reflect.ValueOf(p[0]), reflect.ValueOf(p[1])
		for i := 0; i < va.NumField(); i++ {
			if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
				out = append(out, fmt.Sprintf("%s.%s %v → %v", va.Type().Name(), va.Type().Field(i).Name, va.Field(i).Interface(), vb.Field(i).Interface()))
			}
		}
	}
	return strings.Join(out, "; ")
}

var (
	maskedPANShape = regexp.MustCompile(`^[0-9]{6}[*Xx#]{2,9}[0-9]{4}$`)
	refShape       = regexp.MustCompile(`^[A-Za-z0-9._-]{0,64}$`)
)

// checkStored: whatever the callback carried, the payment's record and its
// webhooks hold no card number, the masked PAN is a mask, and the bank's
// references are short codes. The callback comes through the shopper's
// browser: what it brings is never stored as sent (bank/payflex Token).
func (w *bankCBWorld) checkStored(t *testing.T, id string) {
	t.Helper()
	p := w.b.payment(t, id)
	if m := p.Ref.MaskedPAN; m != "" && !maskedPANShape.MatchString(m) {
		t.Errorf("the record's masked PAN is %.80q: not a mask", m)
	}
	for name, v := range map[string]string{"auth code": p.Ref.AuthCode, "host reference": p.Ref.HostRef, "transaction id": p.Ref.TransID} {
		if !refShape.MatchString(v) {
			t.Errorf("the record's %s is %.80q (%d bytes): not a bank reference", name, v, len(v))
		}
	}
	texts := map[string][]byte{}
	texts["the record"], _ = json.Marshal(struct {
		Ref    any
		Result any
	}{p.Ref, p.Result})
	hooks, err := w.b.journal.ListWebhooks(context.Background(), store.WebhookFilter{PaymentID: id})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hooks {
		texts["the webhook "+h.EventType] = h.Body
	}
	for where, text := range texts {
		if pans := leakscan.FindPANs(text); len(pans) > 0 {
			t.Errorf("%s holds a card number (%d found)", where, len(pans))
		}
	}
}
