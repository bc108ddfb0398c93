package reliability

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"

	"github.com/posrelay/posrelay/api"
	"github.com/posrelay/posrelay/internal/browser"
	"github.com/posrelay/posrelay/internal/leakscan"
	"github.com/posrelay/posrelay/relayclient"
	"github.com/posrelay/posrelay/signer"
)

// badCase is one hostile input of the corpus in testdata/badinput (made
// by corpus_gen_test.go). Strings may hold placeholders ({payToken},
// {pendingId}, …) the runner fills in.
type badCase struct {
	Name string `json:"name"`

	// An HTTP request sent with Go's client.
	Method      string      `json:"method,omitempty"` // default POST for the API, GET for pages
	Target      string      `json:"target,omitempty"` // path and query
	Patch       patch       `json:"patch,omitempty"`  // API: changes to a valid POST /v1/payments body
	Body        *string     `json:"body,omitempty"`   // raw body
	BodyBase64  string      `json:"bodyBase64,omitempty"`
	Pad         int         `json:"pad,omitempty"` // make the body this long by adding spaces after its first byte
	ContentType string      `json:"contentType,omitempty"`
	Headers     [][2]string `json:"headers,omitempty"` // added after signing
	// Auth says how an API request is signed: "" correctly; "none"; or a
	// trick (see sign).
	Auth string `json:"auth,omitempty"`

	// Raw is a whole HTTP/1.1 request written on its own connection, for
	// what Go's client refuses to send. {auth METHOD TARGET} expands to the
	// four signed headers for RawBody; {len} to RawBody's length.
	Raw     string `json:"raw,omitempty"`
	RawBody string `json:"rawBody,omitempty"`

	// Card form (POST /pay/{payToken}): fields set over a valid card, or
	// Body.
	CardForm bool              `json:"cardForm,omitempty"`
	Form     map[string]string `json:"form,omitempty"`
	FormDel  []string          `json:"formDel,omitempty"`

	// Callback: a change to a genuine 3-D callback.
	Callback *callbackChange `json:"callback,omitempty"`

	Want want `json:"want"`
}

// patch changes a JSON object: "a.b" paths; a value {"$raw": "…"} is
// written as is (invalid JSON included), {"$delete": true} removes the key.
type patch map[string]any

type want struct {
	Status int    `json:"status"`
	Code   string `json:"code,omitempty"`  // the API's error code
	Field  string `json:"field,omitempty"` // the API's error field
	// Location: a redirect there (callbacks replayed on a settled payment).
	Location string `json:"location,omitempty"`
}

// callbackChange describes a hostile callback built from a genuine one.
type callbackChange struct {
	Of     string            `json:"of,omitempty"` // "" the pending payment's genuine callback; "other": another pending payment's; "done": a settled one's
	To     string            `json:"to,omitempty"` // the callback token it is posted to; default {cbToken}
	Set    map[string]string `json:"set,omitempty"`
	Del    []string          `json:"del,omitempty"`
	Add    [][2]string       `json:"add,omitempty"` // appended, duplicates allowed
	Junk   int               `json:"junk,omitempty"`
	Resign string            `json:"resign,omitempty"` // "ver3": a new HASH with the store key; "ver1:LAYOUT": a ver1 HASH
	Encode string            `json:"encode,omitempty"` // "latin5": values re-encoded to ISO-8859-9 bytes
	// The request: method (default POST), content type (default form),
	// "json" or "multipart" bodies, a raw body, or the fields in the query.
	Method      string  `json:"method,omitempty"`
	ContentType *string `json:"contentType,omitempty"`
	As          string  `json:"as,omitempty"` // "form" (default), "json", "multipart", "query"
	RawBody     *string `json:"rawBody,omitempty"`
	Pad         int     `json:"pad,omitempty"` // a junk field making the body this long
}

// loadCorpus reads every testdata/badinput/*.json file.
func loadCorpus(t testing.TB) map[string][]badCase {
	files, err := filepath.Glob(filepath.Join("testdata", "badinput", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus in testdata/badinput: %v", err)
	}
	out := map[string][]badCase{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var cases []badCase
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cases); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".json")] = cases
	}
	return out
}

// badInputWorld is the relay and the payments the corpus aims at.
type badInputWorld struct {
	s          *stack
	site2      *relayclient.Client
	vars       map[string]string
	genuine    *browser.Form // the pending payment's callback, unsent
	other      *browser.Form // another pending payment's
	done       *browser.Form // a settled payment's (replays)
	doneReturn string
	clock      func() time.Time
}

// TestBadInput sends every input of the corpus and checks that each is
// answered with the right 4xx (and error code), that none reaches the bank
// simulator, that the journal is unchanged and the relay alive.
func TestBadInput(t *testing.T) {
	corpus := loadCorpus(t)
	w := newBadInputWorld(t)
	total := 0
	names := make([]string, 0, len(corpus))
	for area := range corpus {
		names = append(names, area)
	}
	sort.Strings(names)
	for _, area := range names {
		cases := corpus[area]
		total += len(cases)
		t.Run(area, func(t *testing.T) {
			seen := map[string]bool{}
			for _, c := range cases {
				if seen[c.Name] {
					t.Fatalf("case %q appears twice", c.Name)
				}
				seen[c.Name] = true
				w.run(t, area, c)
			}
		})
	}
	t.Logf("%d hostile inputs in %d areas", total, len(corpus))
	if total < 300 {
		t.Errorf("the corpus has %d inputs; want at least 300", total)
	}
	if !w.s.healthy() {
		t.Fatal("the relay does not answer /healthz after the corpus")
	}
	// None of it used up the pending payment: its genuine callback still
	// completes it, with one provisioning call.
	a, err := postForm(context.Background(), w.s.http, w.genuine.Action.String(), w.genuine.Values)
	if err != nil || a.status != http.StatusSeeOther || !strings.HasPrefix(a.location, "https://shop.example/ok") {
		t.Fatalf("the genuine callback after the corpus: %v %+v; want 303 to the success page", err, a)
	}
	p := w.s.payment(t, w.vars["{cbPayId}"])
	if n := w.s.bank.sim.Calls().Provisions(p.BankOrderID); p.Status != "succeeded" || n != 1 {
		t.Fatalf("after its genuine callback the payment is %s with %d provisioning calls; want succeeded with 1", p.Status, n)
	}
}

func newBadInputWorld(t *testing.T) *badInputWorld {
	ctx := context.Background()
	bank := newBankAccount(t)
	bankURL := bank.serve(t) // registered with the leak scan by serve
	key2, secret2 := signer.NewKeySecret()
	leaks.AddSecrets(secret2)
	s := newStack(t, bank, bankURL, stackOptions{
		extraSites: fmt.Sprintf(`  - id: shop2
    keys: [{id: %q, secret: "${SECRET2}"}]
    webhook: {url: "http://127.0.0.1:9/hook", secret: "${WHSEC}"}
    return_origins: ["https://other.example"]
    accounts:
      - {bank: halkbank, environment: sim, model: 3d, client_id: "190100000", api_user: POSRELAYAPI, store_key: "${STORE_KEY}", api_password: "${API_PASSWORD}"}
`, key2),
		env: map[string]string{"SECRET2": secret2},
	})
	w := &badInputWorld{s: s, clock: s.clock.Now,
		site2: &relayclient.Client{BaseURL: s.url, KeyID: key2, Secret: []byte(secret2), Now: s.clock.Now}}

	// A payment waiting at the relay's card page (no installments chosen).
	req := createRequest("h3d", 14990)
	req.Installments = 0
	pending, err := s.client.CreatePayment(ctx, req, "")
	if err != nil {
		t.Fatal(err)
	}
	// Two payments waiting for their 3-D callbacks.
	cbPay := s.create(t, "h3d", 14990)
	if w.genuine, err = walkToCallback(ctx, s.http, cbPay.RedirectURL, "4355084355084358"); err != nil {
		t.Fatal(err)
	}
	otherPay := s.create(t, "h3d", 14990)
	if w.other, err = walkToCallback(ctx, s.http, otherPay.RedirectURL, "4355084355084358"); err != nil {
		t.Fatal(err)
	}
	// A payment that never went to the bank, and one that is settled.
	created := s.create(t, "h3d", 5000)
	done := s.create(t, "hosted", 20000)
	if w.done, err = walkToCallback(ctx, s.http, done.RedirectURL, "5400000000000005"); err != nil {
		t.Fatal(err)
	}
	a, err := postForm(ctx, s.http, w.done.Action.String(), w.done.Values)
	if err != nil || a.status != http.StatusSeeOther {
		t.Fatalf("settling the hosted payment: %v %+v", err, a)
	}
	w.doneReturn = a.location
	// Another site's payment, and an idempotency key in use.
	p2, err := w.site2.CreatePayment(ctx, &api.CreatePayment{OrderID: orderID("S"), Amount: 100, Currency: "TRY",
		ReturnURLs: api.ReturnURLs{Success: "https://other.example/ok", Error: "https://other.example/fail"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.CreatePayment(ctx, createRequest("h3d", 777), "idem-in-use"); err != nil {
		t.Fatal(err)
	}
	w.vars = map[string]string{
		"{host}":           strings.TrimPrefix(s.url, "http://"),
		"{pendingId}":      pending.ID,
		"{payToken}":       strings.TrimPrefix(pending.RedirectURL, s.url+"/pay/"),
		"{cbPayId}":        cbPay.ID,
		"{cbToken}":        strings.TrimPrefix(w.genuine.Action.Path, "/callback/"),
		"{otherCbToken}":   strings.TrimPrefix(w.other.Action.Path, "/callback/"),
		"{createdCbToken}": s.payment(t, created.ID).CallbackToken,
		"{doneCbToken}":    strings.TrimPrefix(w.done.Action.Path, "/callback/"),
		"{doneId}":         done.ID,
		"{otherSiteId}":    p2.ID,
		"{otherOrderId}":   otherPay.BankOrderID,
		"{doneOrderId}":    done.BankOrderID,
		"{unknownToken}":   strings.Repeat("a", 32),
		"{unknownId}":      "pay_" + strings.Repeat("a", 20),
		"{today}":          s.clock.Now().Add(3 * time.Hour).UTC().Format("2006-01-02"),
		"{otherHash}":      w.other.Values.Get("HASH"),
		"{doneReturn}":     w.doneReturn,
	}
	return w
}

func (w *badInputWorld) expand(s string) string {
	for k, v := range w.vars {
		s = strings.ReplaceAll(s, k, v)
	}
	return s
}

// answer is what the relay answered.
type answer struct {
	status   int
	body     []byte
	location string
}

func (w *badInputWorld) run(t *testing.T, area string, c badCase) {
	t.Helper()
	s := w.s
	fpBefore := fingerprint(t, s.dbPath)
	callsBefore := s.bank.sim.Calls()
	a, err := w.send(area, c)
	if err != nil {
		t.Errorf("%s: %v", c.Name, err)
		return
	}
	wt := c.Want
	wt.Location = w.expand(wt.Location)
	if msg := wt.check(a); msg != "" {
		t.Errorf("%s: %s", c.Name, msg)
	}
	if fp := fingerprint(t, s.dbPath); fp != fpBefore {
		t.Errorf("%s: the journal changed: %s → %s", c.Name, fpBefore, fp)
	}
	if calls := s.bank.sim.Calls(); !reflect.DeepEqual(calls, callsBefore) {
		t.Errorf("%s: the input reached the bank: %+v → %+v", c.Name, callsBefore, calls)
	}
	if !s.healthy() {
		t.Fatalf("%s: the relay does not answer /healthz", c.Name)
	}
}

func (wt want) check(a *answer) string {
	if a.status != wt.Status {
		return fmt.Sprintf("status %d; want %d (body %.200q)", a.status, wt.Status, a.body)
	}
	if wt.Location != "" && a.location != wt.Location {
		return fmt.Sprintf("redirect to %q; want %q", a.location, wt.Location)
	}
	if wt.Location == "" && a.location != "" {
		return fmt.Sprintf("redirect to %q; want none", a.location)
	}
	if wt.Code == "" {
		return ""
	}
	var e api.Error
	if err := json.Unmarshal(a.body, &e); err != nil {
		return fmt.Sprintf("answer is not a JSON error: %.200q", a.body)
	}
	if e.Error.Code != wt.Code || wt.Field != "" && e.Error.Field != wt.Field {
		return fmt.Sprintf("error %s (field %q: %s); want %s (field %q)", e.Error.Code, e.Error.Field, e.Error.Message, wt.Code, wt.Field)
	}
	if e.Error.RequestID == "" || e.Error.Message == "" {
		return "the error has no message or request id"
	}
	return ""
}

func (w *badInputWorld) send(area string, c badCase) (*answer, error) {
	switch {
	case c.Raw != "":
		return w.sendRaw(c)
	case c.Callback != nil:
		return w.sendCallback(c)
	case c.CardForm:
		return w.sendCardForm(c)
	}
	body, err := w.body(c)
	if err != nil {
		return nil, err
	}
	method := c.Method
	target := w.expand(c.Target)
	if method == "" {
		method = http.MethodGet
		if strings.HasPrefix(target, "/v1/") && (body != nil || c.Patch != nil) {
			method = http.MethodPost
		}
	}
	return w.do(method, target, body, c)
}

// body builds the request body of an API or page case.
func (w *badInputWorld) body(c badCase) ([]byte, error) {
	var b []byte
	switch {
	case c.Body != nil:
		b = []byte(w.expand(*c.Body))
	case c.BodyBase64 != "":
		var err error
		if b, err = base64.StdEncoding.DecodeString(c.BodyBase64); err != nil {
			return nil, err
		}
	case c.Patch != nil || c.Method == http.MethodPost && c.Target == "/v1/payments":
		var err error
		if b, err = validCreateBody(c.Patch); err != nil {
			return nil, err
		}
	default:
		return nil, nil
	}
	if c.Pad > len(b) && len(b) > 0 {
		b = append(append(append([]byte{}, b[:1]...), bytes.Repeat([]byte(" "), c.Pad-len(b))...), b[1:]...)
	}
	return b, nil
}

// validCreateBody is a POST /v1/payments body the relay accepts, changed
// by p.
func validCreateBody(p patch) ([]byte, error) {
	o := orderID("B")
	m := map[string]any{
		"bank": "h3d", "orderId": o, "amount": 14990, "currency": "TRY", "installments": 1, "type": "sale",
		"returnUrls": map[string]any{"success": "https://shop.example/ok", "error": "https://shop.example/fail", "cancel": "https://shop.example/cancel"},
		"customer":   map[string]any{"ip": "203.0.113.7", "email": "shopper@example.com", "name": "Test Shopper"},
		"language":   "tr", "wixTransactionId": "wix-" + o,
	}
	raws := map[string]string{}
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, path := range keys {
		v := p[path]
		parts := strings.Split(path, ".")
		obj := m
		for _, part := range parts[:len(parts)-1] {
			next, ok := obj[part].(map[string]any)
			if !ok {
				next = map[string]any{}
				obj[part] = next
			}
			obj = next
		}
		last := parts[len(parts)-1]
		if spec, ok := v.(map[string]any); ok {
			if _, del := spec["$delete"]; del {
				delete(obj, last)
				continue
			}
			if raw, ok := spec["$raw"].(string); ok {
				ph := fmt.Sprintf("\x00raw%d\x00", len(raws))
				raws[ph] = raw
				obj[last] = ph
				continue
			}
		}
		obj[last] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	for ph, raw := range raws {
		q, _ := json.Marshal(ph)
		b = bytes.Replace(b, q, []byte(raw), 1)
	}
	return b, nil
}

// do sends a request with Go's client, signed as c.Auth says.
func (w *badInputWorld) do(method, target string, body []byte, c badCase) (*answer, error) {
	s := w.s
	req, err := http.NewRequest(method, s.url+target, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body != nil {
		ct := c.ContentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	} else if c.ContentType != "" {
		req.Header.Set("Content-Type", c.ContentType)
	}
	if strings.HasPrefix(target, "/v1/") || c.Auth != "" {
		if err := w.sign(req.Header, c.Auth, method, target, body); err != nil {
			return nil, err
		}
	}
	for _, h := range c.Headers {
		req.Header.Add(h[0], w.expand(h[1]))
	}
	a, err := w.roundTrip(req)
	if err != nil || c.Auth != "replay" {
		return a, err
	}
	// The same request again, nonce and all.
	if a.status != http.StatusOK {
		return nil, fmt.Errorf("the request to replay failed: %d %s", a.status, a.body)
	}
	req2, _ := http.NewRequest(method, s.url+target, bytes.NewReader(body))
	req2.Header = req.Header.Clone()
	return w.roundTrip(req2)
}

func (w *badInputWorld) roundTrip(req *http.Request) (*answer, error) {
	if req.ContentLength > defaultMaxBody {
		return w.headersFirst(req)
	}
	return doNoRedirect(w.s.http, req)
}

// sign sets the auth headers. Tricks: none; missing:<Header>; unknown_key;
// wrong_secret; other_site; stale_past; stale_future; ts:<raw>;
// nonce:<raw>; sig:<raw>; sign_target:<target>; sign_body:<body>;
// sign_method:<method>; dup:<Header> (a second, wrong value after the
// right one); dupfirst:<Header> (the wrong one first); replay (sent twice).
func (w *badInputWorld) sign(h http.Header, trick, method, target string, body []byte) error {
	s := w.s
	keyID, secret := s.keyID, []byte(s.secret)
	ts := strconv.FormatInt(w.clock().Unix(), 10)
	nonce := signer.NewNonce()
	sigMethod, sigTarget, sigBody := method, target, body
	kind, arg, _ := strings.Cut(trick, ":")
	switch kind {
	case "", "replay", "dup", "dupfirst", "missing":
	case "none":
		return nil
	case "unknown_key":
		keyID = "key_" + strings.Repeat("u", 20)
	case "wrong_secret":
		_, sec := signer.NewKeySecret()
		secret = []byte(sec)
	case "other_site":
		keyID, secret = w.site2.KeyID, w.site2.Secret
	case "stale_past":
		ts = strconv.FormatInt(w.clock().Add(-301*time.Second).Unix(), 10)
	case "stale_future":
		ts = strconv.FormatInt(w.clock().Add(301*time.Second).Unix(), 10)
	case "ts":
		ts = arg
	case "nonce":
		nonce = arg
	case "sign_target":
		sigTarget = w.expand(arg)
	case "sign_body":
		sigBody = []byte(arg)
	case "sign_method":
		sigMethod = arg
	case "sig":
	default:
		return fmt.Errorf("unknown auth trick %q", trick)
	}
	sig := "v1=" + base64.StdEncoding.EncodeToString(hmacV1(secret, signer.StringToSign(keyID, ts, nonce, sigMethod, sigTarget, sigBody)))
	if kind == "sig" {
		sig = arg
	}
	h.Set(signer.HeaderKey, keyID)
	h.Set(signer.HeaderTimestamp, ts)
	h.Set(signer.HeaderNonce, nonce)
	h.Set(signer.HeaderSignature, sig)
	switch kind {
	case "missing":
		h.Del(arg)
	case "dup", "dupfirst":
		right := h.Get(arg)
		wrong := map[string]string{
			signer.HeaderKey:       "key_" + strings.Repeat("x", 20),
			signer.HeaderTimestamp: "1",
			signer.HeaderNonce:     signer.NewNonce(),
			signer.HeaderSignature: "v1=" + base64.StdEncoding.EncodeToString(make([]byte, 32)),
		}[arg]
		h[http.CanonicalHeaderKey(arg)] = []string{right, wrong}
		if kind == "dupfirst" {
			h[http.CanonicalHeaderKey(arg)] = []string{wrong, right}
		}
	}
	return nil
}

// defaultMaxBody is the relay's server.max_body_bytes in these tests.
const defaultMaxBody = 65536

// headersFirst sends an oversized request's head and reads the answer
// before any of its body. The relay refuses such a request from its
// Content-Length and closes the connection unread; a client still sending
// the body would then often get a connection reset instead of the 413 (the
// kernel discards the answer), which made these cases flaky.
func (w *badInputWorld) headersFirst(req *http.Request) (*answer, error) {
	resp, b, err := headFirst(req)
	if err != nil {
		return nil, err
	}
	return &answer{status: resp.StatusCode, body: b, location: resp.Header.Get("Location")}, nil
}

// headFirst is headersFirst's exchange: the answer (its body read, and
// scanned for leaks) to an oversized request's head.
func headFirst(req *http.Request) (*http.Response, []byte, error) {
	conn, err := net.DialTimeout("tcp", req.URL.Host, 5*time.Second)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	var head strings.Builder
	fmt.Fprintf(&head, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", req.Method, req.URL.RequestURI(), req.URL.Host, req.ContentLength)
	for k, vs := range req.Header {
		for _, v := range vs {
			fmt.Fprintf(&head, "%s: %s\r\n", k, v)
		}
	}
	head.WriteString("\r\n")
	if _, err := io.WriteString(conn, head.String()); err != nil {
		return nil, nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return nil, nil, fmt.Errorf("no answer to an oversized request's head: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	leaks.CheckResponse("oversized "+req.Method+" "+leakscan.RedactPath(req.URL.Path), req.URL.Scheme+"://"+req.URL.Host, b)
	return resp, b, nil
}

// sendRaw writes c.Raw on a new connection and reads one answer (status 0
// if the relay closes the connection without one).
func (w *badInputWorld) sendRaw(c badCase) (*answer, error) {
	body := w.expand(c.RawBody)
	raw := w.expand(c.Raw)
	raw = strings.ReplaceAll(raw, "{len}", strconv.Itoa(len(body)))
	for {
		i := strings.Index(raw, "{auth ")
		if i < 0 {
			break
		}
		j := strings.Index(raw[i:], "}")
		f := strings.Fields(raw[i+1 : i+j])
		h := http.Header{}
		if err := w.sign(h, "", f[1], f[2], []byte(body)); err != nil {
			return nil, err
		}
		var lines []string
		for _, k := range []string{signer.HeaderKey, signer.HeaderTimestamp, signer.HeaderNonce, signer.HeaderSignature} {
			lines = append(lines, k+": "+h.Get(k))
		}
		raw = raw[:i] + strings.Join(lines, "\r\n") + raw[i+j+1:]
	}
	raw = strings.ReplaceAll(raw, "\n", "\r\n")
	raw = strings.ReplaceAll(raw, "\r\r\n", "\r\n")
	conn, err := net.DialTimeout("tcp", w.vars["{host}"], 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, raw+body); err != nil {
		return &answer{}, nil // refused mid-request
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return &answer{}, nil // closed without an answer
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	leaks.CheckResponse("raw "+c.Name, w.s.url, b)
	return &answer{status: resp.StatusCode, body: b, location: resp.Header.Get("Location")}, nil
}

// sendCardForm posts the relay's card form with c's changes.
func (w *badInputWorld) sendCardForm(c badCase) (*answer, error) {
	f := map[string]string{"number": "4355084355084358", "exp_month": typedMonth, "exp_year": typedYear, "cvv": typedCVV, "holder": holder}
	for k, v := range c.Form {
		f[k] = w.expand(v)
	}
	for _, k := range c.FormDel {
		delete(f, k)
	}
	v := url.Values{}
	for k, x := range f {
		v.Set(k, x)
	}
	target := c.Target
	if target == "" {
		target = "/pay/{payToken}"
	}
	body := []byte(v.Encode())
	if b, err := w.body(c); err != nil {
		return nil, err
	} else if b != nil {
		body = b
	}
	ct := c.ContentType
	if ct == "" {
		ct = "application/x-www-form-urlencoded"
	}
	req, err := http.NewRequest(http.MethodPost, w.s.url+w.expand(target), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", ct)
	return w.roundTrip(req)
}

// field is one callback field, in order.
type field struct{ name, value string }

// junkAndEncode appends n junk fields to fs and, for encode "latin5",
// re-encodes every value in ISO 8859-9 (as an old bank page would).
func junkAndEncode(fs []field, n int, encode string) []field {
	for i := 0; i < n; i++ {
		fs = append(fs, field{"junk" + strconv.Itoa(i), "x"})
	}
	if encode == "latin5" {
		enc := charmap.ISO8859_9.NewEncoder()
		for i := range fs {
			if v, err := enc.String(fs[i].value); err == nil {
				fs[i].value = v
			}
		}
	}
	return fs
}

// shapeBody is a callback body of the shape as: "", "form" or "query"
// keep form (the urlencoded fields, padding included), "json" and
// "multipart" write fs that way. It returns the body and content type.
func shapeBody(as string, fs []field, form []byte) ([]byte, string, error) {
	switch as {
	case "", "form", "query":
		return form, "application/x-www-form-urlencoded", nil
	case "json":
		m := map[string]string{}
		for _, f := range fs {
			m[f.name] = f.value
		}
		body, _ := json.Marshal(m)
		return body, "application/json", nil
	case "multipart":
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for _, f := range fs {
			_ = mw.WriteField(f.name, f.value)
		}
		mw.Close()
		return buf.Bytes(), mw.FormDataContentType(), nil
	}
	return nil, "", fmt.Errorf("unknown callback shape %q", as)
}

// fieldList is a callback's fields, in order.
type fieldList []field

// set gives name the value v, in its place, or adds it at the end.
func (fs fieldList) set(name, v string) fieldList {
	for i := range fs {
		if fs[i].name == name {
			fs[i].value = v
			return fs
		}
	}
	return append(fs, field{name, v})
}

// get is name's value ("" when absent).
func (fs fieldList) get(name string) string {
	for _, f := range fs {
		if f.name == name {
			return f.value
		}
	}
	return ""
}

// edit applies cc's Set (expanded; {same} stands for the field's current
// value) and Del to fs.
func edit(fs []field, cc callbackChange, expand func(string) string) []field {
	l := fieldList(fs)
	for _, name := range sortedKeys(cc.Set) {
		l = l.set(name, strings.ReplaceAll(expand(cc.Set[name]), "{same}", l.get(name)))
	}
	for _, d := range cc.Del {
		l = slices.DeleteFunc(l, func(f field) bool { return f.name == d })
	}
	return l
}

// sendCallback builds a hostile callback from a genuine one and posts it.
func (w *badInputWorld) sendCallback(c badCase) (*answer, error) {
	cc := c.Callback
	src := w.genuine
	switch cc.Of {
	case "other":
		src = w.other
	case "done":
		src = w.done
	}
	var fs []field
	for _, n := range src.Names {
		fs = append(fs, field{n, src.Values.Get(n)})
	}
	before := encodeFields(fs)
	fs = edit(fs, *cc, w.expand)
	set := func(name, v string) { fs = fieldList(fs).set(name, v) }
	switch {
	case cc.Resign == "ver3":
		m := map[string]string{}
		for _, f := range fs {
			if f.name != "HASH" {
				m[f.name] = f.value
			}
		}
		set("HASH", signer.ESTv3Hash(m, w.s.bank.storeKey))
	case strings.HasPrefix(cc.Resign, "ver1:"):
		layout := strings.TrimPrefix(cc.Resign, "ver1:")
		m := map[string]string{}
		for _, f := range fs {
			m[f.name] = f.value
		}
		var val strings.Builder
		for _, n := range strings.Split(layout, ":") {
			val.WriteString(m[n])
		}
		set("HASHPARAMS", layout)
		set("HASHPARAMSVAL", val.String())
		sum := sha1.Sum([]byte(val.String() + w.s.bank.storeKey))
		set("HASH", base64.StdEncoding.EncodeToString(sum[:]))
	case cc.Resign != "":
		return nil, fmt.Errorf("unknown resign %q", cc.Resign)
	}
	for _, a := range cc.Add {
		fs = append(fs, field{a[0], strings.ReplaceAll(w.expand(a[1]), "{same}", fieldList(fs).get(a[0]))})
	}
	fs = junkAndEncode(fs, cc.Junk, cc.Encode)
	body := []byte(encodeFields(fs))
	if cc.Pad > len(body) {
		body = append(body, []byte("&padding="+strings.Repeat("p", cc.Pad-len(body)-9))...)
	}
	if cc.RawBody == nil && cc.Method == "" && cc.As == "" && cc.ContentType == nil && cc.To == "" && string(body) == before {
		return nil, fmt.Errorf("the change leaves the genuine callback as it was: not a hostile input")
	}
	body, ct, err := shapeBody(cc.As, fs, body)
	if err != nil {
		return nil, err
	}
	if cc.RawBody != nil {
		body = []byte(w.expand(*cc.RawBody))
	}
	if cc.ContentType != nil {
		ct = *cc.ContentType
	}
	method := cc.Method
	if method == "" {
		method = http.MethodPost
	}
	to := cc.To
	if to == "" {
		to = "{cbToken}"
	}
	target := w.s.url + "/callback/" + w.expand(to)
	var reqBody io.Reader = bytes.NewReader(body)
	if cc.As == "query" {
		target += "?" + string(body)
		reqBody = nil
	}
	req, err := http.NewRequest(method, target, reqBody)
	if err != nil {
		return nil, err
	}
	if ct != "" && reqBody != nil {
		req.Header.Set("Content-Type", ct)
	}
	return w.roundTrip(req)
}

// encodeFields writes fields as a form body, in order, duplicates kept.
func encodeFields(fs []field) string {
	var b strings.Builder
	for i, f := range fs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(f.name) + "=" + url.QueryEscape(f.value))
	}
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// hmacV1 is scheme v1's MAC over a string to sign (signer.Sign takes a
// numeric timestamp; the tricks need any).
func hmacV1(secret []byte, s string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(s))
	return m.Sum(nil)
}
