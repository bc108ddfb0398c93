package demo

import (
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
}

type shopOrder struct {
	OrderID   string
	PaymentID string
	Bank      string
	Amount    int64
	Created   time.Time
	Iframe    bool
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

func startShop(ctx context.Context, wg *sync.WaitGroup, info *Info) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("stand-in shop: %w", err)
	}
	base := "http://" + ln.Addr().String()
	banks := make([]string, 0, len(info.Banks))
	for b := range info.Banks {
		banks = append(banks, b)
	}
	shop, err := NewShop(info.Relay, info.KeyID, info.Secret, info.WebhookSecret, base, banks)
	if err != nil {
		ln.Close()
		return "", err
	}
	serveBackground(ctx, wg, ln, shop.Handler())
	return base, nil
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
	render(w, homeTmpl, map[string]any{"Banks": s.banks, "Orders": orders, "Cards": cardLines()})
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
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	p, err := s.client.CreatePayment(ctx, req, "")
	if err != nil {
		renderError(w, http.StatusBadGateway, "The relay refused the payment: "+err.Error())
		return
	}
	o := &shopOrder{OrderID: orderID, PaymentID: p.ID, Bank: p.Bank, Amount: amount, Created: time.Now(), Iframe: r.FormValue("iframe") == "on"}
	s.mu.Lock()
	s.orders[orderID], s.byPay[p.ID] = o, o
	s.mu.Unlock()
	if o.Iframe {
		http.Redirect(w, r, "/frame?"+url.Values{"u": {p.RedirectURL}, "order": {orderID}}.Encode(), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, p.RedirectURL, http.StatusSeeOther)
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
	events := s.eventsFor(o.PaymentID)
	msg := ""
	if p.Result != nil {
		msg = p.Result.Message.EN
	}
	render(w, returnTmpl, map[string]any{
		"Order": o, "Payment": p, "Result": r.URL.Query().Get("result"), "Message": msg,
		"Events": events, "Waiting": len(events) == 0 && p.Status != "pending",
		"Amount": bank.FormatAmount(p.Amount),
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
	_ = json.NewEncoder(w).Encode(map[string]any{"order": o, "payment": p, "webhooks": s.eventsFor(o.PaymentID)})
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
<h2>Webhooks received for this payment</h2>
{{if .Events}}<ul id="webhooks">{{range .Events}}<li><code>{{.Event.Type}}</code> ({{.ID}}) {{if .Event.Data.ReasonCode}}reason {{.Event.Data.ReasonCode}}{{end}}</li>{{end}}</ul>
{{else}}<p id="webhooks-waiting">Waiting for the relay's webhook…</p>{{end}}
<p><a href="/">Back to the shop</a></p></body></html>`))

var errorTmpl = template.Must(template.New("error").Parse(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Error — demo shop</title>` + shopStyle + `</head><body>
<h1>Something went wrong</h1><p class="bad">{{.}}</p><p><a href="/">Back to the shop</a></p></body></html>`))
