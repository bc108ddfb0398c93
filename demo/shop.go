package demo

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/posrelay/posrelay/api"
	"github.com/posrelay/posrelay/bank"
	"github.com/posrelay/posrelay/relayclient"
	"github.com/posrelay/posrelay/signer"
)

// Shop plays the Wix site: it creates payments through the signed API (as
// the Velo plugin's createTransaction does), receives and verifies the
// relay's webhooks (as http-functions.js does) and shows the results.
type Shop struct {
	client  *relayclient.Client
	whKey   []byte
	base    string // the shop's own URL
	banks   []string
	mu      sync.Mutex
	orders  map[string]*shopOrder // by order id
	byPay   map[string]*shopOrder // by payment id
	seen    map[string]bool       // webhook ids
	events  []shopEvent
	counter int
	kit     *kitSite  // nil: the shop's own Go client and webhook endpoint
	bankDay *dayClock // the simulators' clock; nil when the test owns it
}

type shopOrder struct {
	OrderID          string
	PaymentID        string
	WixTransactionID string
	Bank             string
	Amount           int64
	Created          time.Time
	Iframe           bool
	ViaKit           bool // created through the Velo kit's createTransaction
}

// eventView is one thing the site learnt about a payment: a verified
// webhook (Go path) or a submitEvent call made by the Velo kit.
type eventView struct {
	ID, Label  string
	ReasonCode int
}

// kitAnswer is createTransaction's answer.
type kitAnswer struct {
	PluginTransactionID string `json:"pluginTransactionId"`
	RedirectURL         string `json:"redirectUrl"`
	ReasonCode          int    `json:"reasonCode"`
	ErrorCode           string `json:"errorCode"`
	ErrorMessage        string `json:"errorMessage"`
}

// kitCreate calls the kit's createTransaction with the options Wix passes.
func kitCreate(ctx context.Context, kit *kitSite, req *api.CreatePayment) (*kitAnswer, error) {
	first, last, _ := strings.Cut(req.Customer.Name, " ")
	opts := map[string]any{
		"wixTransactionId":    req.WixTransactionID,
		"paymentMethod":       "posrelay",
		"merchantCredentials": map[string]string{"bank": req.Bank},
		"fraudInformation":    map[string]string{"remoteIp": req.Customer.IP},
		"order": map[string]any{
			"_id": req.OrderID,
			"description": map[string]any{
				"totalAmount":    strconv.FormatInt(req.Amount, 10),
				"currency":       req.Currency,
				"buyerInfo":      map[string]string{"buyerLanguage": req.Language},
				"billingAddress": map[string]string{"email": req.Customer.Email, "firstName": first, "lastName": last},
			},
			"returnUrls": map[string]string{"successUrl": req.ReturnURLs.Success, "errorUrl": req.ReturnURLs.Error,
				"cancelUrl": req.ReturnURLs.Cancel, "pendingUrl": req.ReturnURLs.Pending},
		},
	}
	body, _ := json.Marshal(opts)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, kit.URL+"/_plugin/createTransaction", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var a kitAnswer
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&a); err != nil {
		return nil, fmt.Errorf("createTransaction answer: %w", err)
	}
	return &a, nil
}

// kitEvents reads the submitEvent calls the kit made for a transaction.
func kitEvents(ctx context.Context, kit *kitSite, wixTransactionID string) []eventView {
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, kit.URL+"/_submitted", nil)
	if err != nil {
		return nil
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	type detail struct {
		WixTransactionID string `json:"wixTransactionId"`
		PluginRefundID   string `json:"pluginRefundId"`
		Amount           string `json:"amount"`
		ReasonCode       int    `json:"reasonCode"`
		ErrorCode        string `json:"errorCode"`
	}
	var calls []struct {
		Event struct {
			Transaction *detail `json:"transaction"`
			Refund      *detail `json:"refund"`
		} `json:"event"`
	}
	if json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&calls) != nil {
		return nil
	}
	var out []eventView
	for i, c := range calls {
		switch e := c.Event; {
		case e.Transaction != nil && e.Transaction.WixTransactionID == wixTransactionID:
			label := "submitEvent: transaction approved"
			if e.Transaction.ReasonCode != 0 {
				label = "submitEvent: transaction declined, " + e.Transaction.ErrorCode
			}
			out = append(out, eventView{ID: fmt.Sprintf("call %d", i+1), Label: label, ReasonCode: e.Transaction.ReasonCode})
		case e.Refund != nil && e.Refund.WixTransactionID == wixTransactionID:
			label := "submitEvent: refund " + e.Refund.Amount + " approved"
			if e.Refund.ReasonCode != 0 {
				label = "submitEvent: refund declined, " + e.Refund.ErrorCode
			}
			out = append(out, eventView{ID: fmt.Sprintf("call %d", i+1), Label: label, ReasonCode: e.Refund.ReasonCode})
		}
	}
	return out
}

type shopEvent struct {
	ID       string    `json:"id"`
	Received time.Time `json:"received"`
	Event    api.Event `json:"event"`
}

// NewShop builds a shop that calls the relay at relayURL as keyID/secret
// and verifies webhooks with whsec.
func NewShop(relayURL, keyID, secret, whsec, base string, banks []string) (*Shop, error) {
	key, err := signer.ParseWebhookSecret(whsec)
	if err != nil {
		return nil, err
	}
	sort.Strings(banks)
	return &Shop{
		client: &relayclient.Client{BaseURL: relayURL, KeyID: keyID, Secret: []byte(secret)},
		whKey:  key, base: base, banks: banks,
		orders: map[string]*shopOrder{}, byPay: map[string]*shopOrder{}, seen: map[string]bool{},
	}, nil
}

func startShop(ctx context.Context, wg *sync.WaitGroup, info *Info) (*Shop, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("stand-in shop: %w", err)
	}
	base := "http://" + ln.Addr().String()
	banks := make([]string, 0, len(info.Banks))
	for b := range info.Banks {
		banks = append(banks, b)
	}
	shop, err := NewShop(info.Relay, info.KeyID, info.Secret, info.WebhookSecret, base, banks)
	if err != nil {
		ln.Close()
		return nil, "", err
	}
	serveBackground(ctx, wg, ln, shop.Handler())
	return shop, base, nil
}

// useKit makes the Velo kit the shop's backend (see kitSite).
func (s *Shop) useKit(k *kitSite) {
	s.mu.Lock()
	s.kit = k
	s.mu.Unlock()
}

// serveBackground serves h on ln until ctx is done.
func serveBackground(ctx context.Context, wg *sync.WaitGroup, ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	wg.Add(2)
	go func() {
		defer wg.Done()
		_ = srv.Serve(ln)
	}()
	go func() {
		defer wg.Done()
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
}

// Handler serves the shop's pages and its webhook endpoint.
func (s *Shop) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("POST /checkout", s.checkout)
	mux.HandleFunc("GET /frame", s.frame)
	mux.HandleFunc("GET /return", s.ret)
	mux.HandleFunc("POST /webhook", s.webhook)
	mux.HandleFunc("GET /webhooks.json", s.webhooksJSON)
	mux.HandleFunc("GET /orders/{id}", s.orderJSON)
	mux.HandleFunc("POST /close-day", s.closeDay)
	return mux
}

func (s *Shop) home(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	orders := make([]*shopOrder, 0, len(s.orders))
	for _, o := range s.orders {
		orders = append(orders, o)
	}
	s.mu.Unlock()
	sort.Slice(orders, func(i, j int) bool { return orders[i].Created.After(orders[j].Created) })
	s.mu.Lock()
	kit := s.kit != nil
	s.mu.Unlock()
	render(w, homeTmpl, map[string]any{"Banks": s.banks, "Orders": orders, "Cards": cardLines(), "Kit": kit})
}

func (s *Shop) newOrderID() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	s.mu.Lock()
	s.counter++
	n := s.counter
	s.mu.Unlock()
	return fmt.Sprintf("DEMO-%s-%d-%s", time.Now().Format("0102"), n, strings.ToUpper(hex.EncodeToString(b[:])))
}

func (s *Shop) checkout(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	amount, err := bank.ParseAmount(r.FormValue("amount"))
	if err != nil || amount <= 0 {
		renderError(w, http.StatusBadRequest, "Enter an amount such as 149.90.")
		return
	}
	inst, _ := strconv.Atoi(r.FormValue("installments"))
	orderID := s.newOrderID()
	ret := func(result string) string {
		return s.base + "/return?" + url.Values{"order": {orderID}, "result": {result}}.Encode()
	}
	req := &api.CreatePayment{
		Bank: r.FormValue("bank"), OrderID: orderID, Amount: amount, Currency: "TRY", Installments: inst,
		Type: r.FormValue("type"), Language: r.FormValue("lang"),
		ReturnURLs: api.ReturnURLs{Success: ret("success"), Error: ret("error"), Cancel: ret("cancel"), Pending: ret("pending")},
		Customer:   api.Customer{IP: clientIP(r), Email: "shopper@example.com", Name: "Demo Shopper"},
		// Wix hands the plugin a wixTransactionId; the shop makes one up.
		WixTransactionID: "wix-" + orderID,
	}
	ctx, cancel := context.WithTimeout(r.Context(), 12*time.Second)
	defer cancel()
	s.mu.Lock()
	kit := s.kit
	s.mu.Unlock()
	var paymentID, redirectURL, bankName string
	viaKit := kit != nil && req.Type != "preauth" && inst == 0
	if viaKit {
		// As a Wix site: the payment plugin's createTransaction (Wix has no
		// installments or pre-authorisations; those go the Go path below).
		res, err := kitCreate(ctx, kit, req)
		if err != nil {
			renderError(w, http.StatusBadGateway, "The Velo kit failed: "+err.Error())
			return
		}
		if res.ReasonCode != 0 || res.RedirectURL == "" {
			renderError(w, http.StatusBadGateway, fmt.Sprintf("createTransaction answered reason code %d (%s): %s", res.ReasonCode, res.ErrorCode, res.ErrorMessage))
			return
		}
		paymentID, redirectURL, bankName = res.PluginTransactionID, res.RedirectURL, req.Bank
	} else {
		p, err := s.client.CreatePayment(ctx, req, "")
		if err != nil {
			renderError(w, http.StatusBadGateway, "The relay refused the payment: "+err.Error())
			return
		}
		paymentID, redirectURL, bankName = p.ID, p.RedirectURL, p.Bank
	}
	o := &shopOrder{OrderID: orderID, PaymentID: paymentID, Bank: bankName, Amount: amount, Created: time.Now(), Iframe: r.FormValue("iframe") == "on",
		WixTransactionID: req.WixTransactionID, ViaKit: viaKit}
	s.mu.Lock()
	s.orders[orderID], s.byPay[paymentID] = o, o
	s.mu.Unlock()
	if o.Iframe {
		http.Redirect(w, r, "/frame?"+url.Values{"u": {redirectURL}, "order": {orderID}}.Encode(), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, redirectURL, http.StatusSeeOther)
}

// closeDay ends the simulated banks' business day: today's sales settle
// (refunds become possible; voids no longer are).
func (s *Shop) closeDay(w http.ResponseWriter, r *http.Request) {
	if s.bankDay == nil {
		http.Error(w, "the simulators' clock is not the demo's", http.StatusConflict)
		return
	}
	next := s.bankDay.closeDay()
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"bankTime": next.Format(time.RFC3339)})
		return
	}
	http.Redirect(w, r, "/?closed="+url.QueryEscape(next.Format("2006-01-02 15:04")), http.StatusSeeOther)
}

// frame shows the relay's page inside an iframe, the way Wix may show a
// hosted payment page.
func (s *Shop) frame(w http.ResponseWriter, r *http.Request) {
	u := r.URL.Query().Get("u")
	if !strings.HasPrefix(u, s.client.BaseURL+"/pay/") {
		http.Error(w, "not a relay payment page", http.StatusBadRequest)
		return
	}
	render(w, frameTmpl, map[string]any{"URL": u, "Order": r.URL.Query().Get("order")})
}

func (s *Shop) ret(w http.ResponseWriter, r *http.Request) {
	orderID := r.URL.Query().Get("order")
	s.mu.Lock()
	o := s.orders[orderID]
	s.mu.Unlock()
	if o == nil {
		renderError(w, http.StatusNotFound, "Unknown order.")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	p, err := s.client.GetPayment(ctx, o.PaymentID, false)
	if err != nil {
		renderError(w, http.StatusBadGateway, "Could not read the payment from the relay: "+err.Error())
		return
	}
	var events []eventView
	s.mu.Lock()
	kit := s.kit
	s.mu.Unlock()
	if o.ViaKit && kit != nil {
		events = kitEvents(r.Context(), kit, o.WixTransactionID)
	} else {
		for _, e := range s.eventsFor(o.PaymentID) {
			events = append(events, eventView{ID: e.ID, Label: e.Event.Type, ReasonCode: e.Event.Data.ReasonCode})
		}
	}
	msg := ""
	if p.Result != nil {
		msg = p.Result.Message.EN
	}
	render(w, returnTmpl, map[string]any{
		"Order": o, "Payment": p, "Result": r.URL.Query().Get("result"), "Message": msg,
		"Events": events, "Waiting": len(events) == 0 && p.Status != "pending",
		"Amount": bank.FormatAmount(p.Amount), "ViaKit": o.ViaKit,
	})
}

func (s *Shop) eventsFor(paymentID string) []shopEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []shopEvent
	for _, e := range s.events {
		if e.Event.Data.PaymentID == paymentID {
			out = append(out, e)
		}
	}
	return out
}

// webhook verifies a Standard Webhooks delivery on the raw body, drops
// duplicates by webhook-id, and records it — what http-functions.js does
// before calling submitEvent.
func (s *Shop) webhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		http.Error(w, "read error", http.StatusBadRequest)
		return
	}
	id := r.Header.Get("webhook-id")
	if err := signer.VerifyWebhook(s.whKey, id, r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature"), body, time.Now(), 5*time.Minute); err != nil {
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return
	}
	var ev api.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, "invalid body", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen[id] {
		w.WriteHeader(http.StatusNoContent) // duplicate: already handled
		return
	}
	s.seen[id] = true
	s.events = append(s.events, shopEvent{ID: id, Received: time.Now(), Event: ev})
	w.WriteHeader(http.StatusNoContent)
}

func (s *Shop) webhooksJSON(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	out := append([]shopEvent(nil), s.events...)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func (s *Shop) orderJSON(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	o := s.orders[r.PathValue("id")]
	s.mu.Unlock()
	if o == nil {
		http.Error(w, `{"error":"unknown order"}`, http.StatusNotFound)
		return
	}
	p, err := s.client.GetPayment(r.Context(), o.PaymentID, false)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	out := map[string]any{"order": o, "payment": p, "webhooks": s.eventsFor(o.PaymentID)}
	s.mu.Lock()
	kit := s.kit
	s.mu.Unlock()
	if o.ViaKit && kit != nil {
		out["submitEvents"] = kitEvents(r.Context(), kit, o.WixTransactionID)
	}
	_ = json.NewEncoder(w).Encode(out)
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return ""
	}
	return host
}

func render(w http.ResponseWriter, t *template.Template, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := t.Execute(w, data); err != nil && !errors.Is(err, http.ErrHandlerTimeout) {
		fmt.Fprintf(w, "<p>template error</p>")
	}
}

func renderError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = errorTmpl.Execute(w, msg)
}

const shopStyle = `<style>body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#222}
fieldset{border:1px solid #ccc;border-radius:8px;padding:1rem}label{display:block;margin:.5rem 0}
button{padding:.6rem 1.4rem;font-size:1rem;border-radius:6px;border:0;background:#116dff;color:#fff;cursor:pointer}
.ok{color:#0a7a32}.bad{color:#b00020}code{background:#f3f3f3;padding:0 .25rem}table{border-collapse:collapse}td,th{padding:.2rem .6rem;border-bottom:1px solid #eee;text-align:left}</style>`

var homeTmpl = template.Must(template.New("home").Parse(`<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>Demo shop — posrelay</title>` + shopStyle + `</head><body>
<h1>Demo shop</h1><p>This page plays the Wix site: it starts a payment through the relay's signed API, as the Velo payment plugin would.</p>
{{if .Kit}}<p id="backend">Its backend is the Velo kit from <code>wix/</code> running under Node — the payment plugin's <code>createTransaction</code> and the <code>post_posrelay</code> HTTP function — so this is the code a Wix site runs. (Wix has no installments or pre-authorisations: choosing those uses the relay's Go client instead.)</p>{{end}}
<form method="post" action="/checkout"><fieldset>
<label>Amount (TRY) <input name="amount" id="amount" value="149.90" inputmode="decimal"></label>
<label>Bank <select name="bank" id="bank">{{range .Banks}}<option value="{{.}}">{{.}}</option>{{end}}</select></label>
<label>Installments <select name="installments" id="installments"><option value="0">shopper chooses (relay card page)</option><option value="1">single payment</option><option>2</option><option>3</option><option>6</option><option>9</option><option>12</option></select></label>
<label>Type <select name="type" id="type"><option value="sale">sale</option><option value="preauth">pre-authorisation</option></select></label>
<label>Language <select name="lang" id="lang"><option value="tr">Türkçe</option><option value="en">English</option></select></label>
<label><input type="checkbox" name="iframe" id="iframe"> show the payment page inside an iframe (as Wix may)</label>
<button type="submit" id="pay">Pay</button></fieldset></form>
<h2>Test cards</h2><ul>{{range .Cards}}<li><code>{{.}}</code></li>{{end}}</ul>
{{if .Orders}}<h2>Orders</h2><table><tr><th>order</th><th>bank</th><th>payment</th></tr>
{{range .Orders}}<tr><td><a href="/return?order={{.OrderID}}">{{.OrderID}}</a></td><td>{{.Bank}}</td><td>{{.PaymentID}}</td></tr>{{end}}</table>{{end}}
<h2>The banks' day</h2><p>Banks refuse a refund until their end-of-day batch has run (void the sale the same day instead).
<form method="post" action="/close-day"><button type="submit" id="close-day" class="secondary">Close the banks' day (settle today's sales)</button></form></p>
<p><a href="/webhooks.json">Webhooks received (JSON)</a></p></body></html>`))

var frameTmpl = template.Must(template.New("frame").Parse(`<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>Checkout — demo shop</title>` + shopStyle + `</head><body>
<h1>Checkout</h1><p>Order {{.Order}}: the relay's page below is inside an iframe, as Wix may show it.</p>
<iframe id="payframe" src="{{.URL}}" style="width:100%;height:32rem;border:1px solid #ccc;border-radius:8px"></iframe></body></html>`))

var returnTmpl = template.Must(template.New("return").Parse(`<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">{{if .Waiting}}<meta http-equiv="refresh" content="2">{{end}}
<title>Order {{.Order.OrderID}} — demo shop</title>` + shopStyle + `</head><body>
<h1>Order {{.Order.OrderID}}</h1>
<p id="status" data-status="{{.Payment.Status}}" class="{{if eq .Payment.Status "succeeded"}}ok{{else}}bad{{end}}">
Payment <strong>{{.Payment.Status}}</strong> — {{.Amount}} {{.Payment.Currency}} through {{.Payment.Bank}}.</p>
{{if .Message}}<p id="message">{{.Message}}</p>{{end}}
{{if .Payment.Result}}<p>Bank code <code>{{.Payment.Result.BankCode}}</code>{{if .Payment.Result.ReasonCode}}, Wix reason code <code>{{.Payment.Result.ReasonCode}}</code>{{end}}.</p>{{end}}
<p>The relay sent the shopper back to the <code>{{.Result}}</code> return URL.</p>
<h2>{{if .ViaKit}}What the Velo kit told Wix (post_posrelay → submitEvent){{else}}Webhooks received for this payment{{end}}</h2>
{{if .Events}}<ul id="webhooks">{{range .Events}}<li><code>{{.Label}}</code> ({{.ID}}) {{if .ReasonCode}}reason {{.ReasonCode}}{{end}}</li>{{end}}</ul>
{{else}}<p id="webhooks-waiting">Waiting for the relay's webhook…</p>{{end}}
<p><a href="/">Back to the shop</a></p></body></html>`))

var errorTmpl = template.Must(template.New("error").Parse(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Error — demo shop</title>` + shopStyle + `</head><body>
<h1>Something went wrong</h1><p class="bad">{{.}}</p><p><a href="/">Back to the shop</a></p></body></html>`))
