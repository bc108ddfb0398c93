package proxy

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"html/template"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/posrelay/posrelay/bank"
	"github.com/posrelay/posrelay/config"
	"github.com/posrelay/posrelay/store"
)

// wixFrameAncestors are the Wix origins that may show the relay's pages in
// an iframe, besides the site's own return origins.
const wixFrameAncestors = "https://*.wix.com https://*.wixsite.com https://*.wixstudio.com https://*.editorx.io"

const pageCSS = `body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f5f6f8;color:#1d1d1f}
main{max-width:26rem;margin:1.5rem auto;background:#fff;border-radius:12px;padding:1.4rem 1.4rem 1rem;box-shadow:0 1px 6px rgba(0,0,0,.08)}
h1{font-size:1.25rem;margin:0 0 .3rem}p{line-height:1.45}.muted{color:#666;font-size:.88rem}.amount{font-size:1.6rem;font-weight:600;margin:.4rem 0 1rem}
label{display:block;margin:.7rem 0 .2rem;font-size:.9rem}input,select{width:100%;box-sizing:border-box;padding:.65rem;font-size:1.05rem;border:1px solid #bbb;border-radius:8px}
.row{display:flex;gap:.6rem}.row>div{flex:1}button,.button{display:block;width:100%;box-sizing:border-box;text-align:center;margin-top:1rem;padding:.8rem;font-size:1.05rem;border:0;border-radius:8px;background:#0b63ce;color:#fff;cursor:pointer;text-decoration:none}
.secondary{background:#e8eaed;color:#1d1d1f}.error{color:#b00020;background:#fdecee;border-radius:8px;padding:.6rem}.ok{color:#0a7a32}
.spinner{width:2rem;height:2rem;border:3px solid #ddd;border-top-color:#0b63ce;border-radius:50%;animation:s 1s linear infinite;margin:1rem auto}@keyframes s{to{transform:rotate(360deg)}}
nav{text-align:right;font-size:.85rem}nav a{color:#0b63ce}[hidden]{display:none}`

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="{{.T.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex">{{if .Refresh}}<meta http-equiv="refresh" content="{{.Refresh}}">{{end}}
<title>{{.T.Title}}</title><style nonce="{{.Nonce}}">` + pageCSS + `</style></head><body><main>
{{if .LangURL}}<nav><a href="{{.LangURL}}">{{.T.OtherLang}}</a></nav>{{end}}
{{if eq .Kind "autopost"}}
<h1>{{.T.Title}}</h1><p>{{.T.Redirecting}}</p><div class="spinner" aria-hidden="true"></div>
<form id="bankform" method="{{.Method}}" action="{{.URL}}" target="_top">{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">{{end}}
<p class="muted" id="hint">{{.T.ContinueHint}}</p><button type="submit" id="continue">{{.T.Continue}}</button></form>
<script nonce="{{.Nonce}}">(function(){var f=document.getElementById("bankform");if(window.top===window.self){document.getElementById("hint").hidden=true;f.submit();}})();</script>
{{else if eq .Kind "redirect"}}
<h1>{{.T.Title}}</h1><p>{{.T.Redirecting}}</p><div class="spinner" aria-hidden="true"></div>
<a class="button" id="continue" href="{{.URL}}" target="_top">{{.T.Continue}}</a>
<script nonce="{{.Nonce}}">(function(){if(window.top===window.self){location.replace(document.getElementById("continue").href);}})();</script>
{{else if eq .Kind "card"}}
<h1>{{.T.Title}}</h1><p class="muted">{{.T.Merchant}}: {{.Site}} · {{.T.Order}} {{.OrderID}}</p><div class="amount">{{.Amount}}</div>
{{if .Error}}<p class="error" id="error">{{.Error}}</p>{{end}}
<form id="cardform" method="post" action="{{.Action}}" target="_top" autocomplete="on">
<label for="number">{{.T.CardNumber}}</label><input id="number" name="number" inputmode="numeric" autocomplete="cc-number" maxlength="23" required>
<div class="row"><div><label for="exp_month">{{.T.Month}}</label><select id="exp_month" name="exp_month" autocomplete="cc-exp-month">{{range .Months}}<option>{{.}}</option>{{end}}</select></div>
<div><label for="exp_year">{{.T.Year}}</label><select id="exp_year" name="exp_year" autocomplete="cc-exp-year">{{range .Years}}<option>{{.}}</option>{{end}}</select></div>
<div><label for="cvv">CVV</label><input id="cvv" name="cvv" inputmode="numeric" autocomplete="cc-csc" maxlength="4" required></div></div>
<label for="holder">{{.T.Holder}}</label><input id="holder" name="holder" autocomplete="cc-name" maxlength="60" required>
{{if .Installments}}<label for="installments">{{.T.Installments}}</label><select id="installments" name="installments">{{range .Installments}}<option value="{{.}}">{{if eq . 1}}{{$.T.Single}}{{else}}{{.}}{{end}}</option>{{end}}</select>{{end}}
<button type="submit" id="pay">{{.T.Pay}} {{.Amount}}</button></form>
<form method="post" action="{{.CancelAction}}" target="_top"><button type="submit" class="secondary" id="cancel">{{.T.Cancel}}</button></form>
<p class="muted">{{.T.Secure}} {{.T.CardNumberHelp}}</p>
<script nonce="{{.Nonce}}">(function(){var f=document.getElementById("cardform");f.addEventListener("submit",function(){document.getElementById("pay").disabled=true;});})();</script>
{{else}}
<h1>{{.Heading}}</h1>{{if .Spinner}}<div class="spinner" aria-hidden="true"></div>{{end}}
{{if .Message}}<p id="message">{{.Message}}</p>{{end}}{{if .Detail}}<p class="muted">{{.Detail}}</p>{{end}}
{{if .LinkURL}}<a class="button" id="return" href="{{.LinkURL}}" target="_top">{{.LinkText}}</a>
{{if .AutoLink}}<script nonce="{{.Nonce}}">(function(){if(window.top===window.self){setTimeout(function(){location.replace(document.getElementById("return").href);},1500);}})();</script>{{end}}{{end}}
{{end}}
</main></body></html>`))

// page is what pageTmpl renders.
type page struct {
	Kind, Nonce, Refresh, LangURL string
	T                             *pageText
	// autopost / redirect
	URL, Method string
	Fields      bank.Fields
	// card
	Site, OrderID, Amount, Error, Action, CancelAction string
	Months, Years                                      []string
	Installments                                       []int
	// message
	Heading, Message, Detail, LinkURL, LinkText string
	Spinner, AutoLink                           bool
}

func newNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// renderPage writes a shopper page with a strict Content-Security-Policy.
// formOrigins are where the page may post forms; frameAncestors who may
// show it in a frame.
func (r *Relay) renderPage(ctx *fasthttp.RequestCtx, status int, pg *page, site *config.Site, formOrigins []string) {
	pg.Nonce = newNonce()
	if pg.Method == "" {
		pg.Method = "post"
	}
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, pg); err != nil {
		r.log.Error("render page", zap.Error(err))
		ctx.Error("internal error", fasthttp.StatusInternalServerError)
		return
	}
	h := &ctx.Response.Header
	h.SetContentType("text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", r.pageCSP(pg.Nonce, site, formOrigins))
	if r.secureScheme(ctx) {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	ctx.SetStatusCode(status)
	ctx.SetBody(buf.Bytes())
}

func (r *Relay) pageCSP(nonce string, site *config.Site, formOrigins []string) string {
	ancestors := "'self' " + wixFrameAncestors
	if site != nil {
		ancestors += " " + strings.Join(site.ReturnOrigins, " ")
	}
	forms := "'self'"
	if len(formOrigins) > 0 {
		forms += " " + strings.Join(formOrigins, " ")
	}
	return "default-src 'none'; script-src 'nonce-" + nonce + "'; style-src 'nonce-" + nonce + "'; img-src 'self' data:; " +
		"form-action " + forms + "; frame-ancestors " + ancestors + "; base-uri 'none'"
}

// messagePage renders a page with a heading, text and an optional link.
func (r *Relay) messagePage(ctx *fasthttp.RequestCtx, status int, t *pageText, site *config.Site, heading, msg string, link, linkText string) {
	r.renderPage(ctx, status, &page{Kind: "message", T: t, Heading: heading, Message: msg, LinkURL: link, LinkText: linkText}, site, nil)
}

// returnURL is where a payment in its current status sends the shopper.
func returnURL(p *store.Payment) string {
	u := p.ReturnURLs
	switch p.Status {
	case store.StatusSucceeded:
		return u.Success
	case store.StatusCanceled:
		if u.Cancel != "" {
			return u.Cancel
		}
	case store.StatusUnknown, store.StatusPending:
		if u.Pending != "" {
			return u.Pending
		}
		return ""
	}
	return u.Error
}

// framed reports whether the browser says the request loads inside a
// frame (Sec-Fetch-Dest). Without the header the relay assumes the top
// window: its bank steps always target it.
func framed(ctx *fasthttp.RequestCtx) bool {
	switch string(ctx.Request.Header.Peek("Sec-Fetch-Dest")) {
	case "iframe", "frame", "embed", "object":
		return true
	}
	return false
}

// sendBack answers with the payment's outcome: a 303 to the site's return
// URL, or, inside a frame, a page whose link (and script) navigates the
// top window.
func (r *Relay) sendBack(ctx *fasthttp.RequestCtx, p *store.Payment) {
	site := r.siteByID[p.SiteID]
	t := textFor(p.Language)
	target := returnURL(p)
	if target != "" && !framed(ctx) {
		ctx.Redirect(target, fasthttp.StatusSeeOther)
		ctx.Response.Header.Set("Cache-Control", "no-store")
		return
	}
	pg := &page{Kind: "message", T: t, LinkURL: target, LinkText: t.BackToShop, AutoLink: true}
	switch p.Status {
	case store.StatusSucceeded:
		pg.Heading = t.Done
	case store.StatusCanceled:
		pg.Heading = t.Canceled
	case store.StatusExpired:
		pg.Heading = t.Expired
	case store.StatusUnknown, store.StatusPending:
		pg.Heading, pg.Message, pg.Spinner = t.Processing, t.Unknown, true
		if target == "" {
			pg.Refresh = "5;url=/pay/" + p.PayToken
		}
	default:
		pg.Heading = t.Failed
	}
	if p.Result != nil && p.Status != store.StatusSucceeded && p.Status != store.StatusPending {
		pg.Message = p.Result.Message.In(p.Language)
	}
	if target == "" && (p.Status == store.StatusUnknown || p.Status == store.StatusPending) {
		pg.LinkURL = ""
	}
	r.renderPage(ctx, fasthttp.StatusOK, pg, site, nil)
}

// pay serves /pay/{token} (GET: the bank step; POST: the card form) and
// /pay/{token}/cancel.
func (r *Relay) pay(ctx *fasthttp.RequestCtx, rs *reqState, path string) {
	token, action, _ := strings.Cut(strings.TrimPrefix(path, "/pay/"), "/")
	switch action {
	case "":
		rs.route = "/pay/{token}"
	case "cancel":
		rs.route = "/pay/{token}/cancel"
	default:
		rs.route = "/pay/(unknown)"
	}
	t := textFor(string(ctx.QueryArgs().Peek("lang")))
	p := r.paymentByToken(ctx, rs, t, token, r.journal.PaymentByPayToken)
	if p == nil {
		return
	}
	if l := string(ctx.QueryArgs().Peek("lang")); l == "tr" || l == "en" {
		p.Language = l
	}
	method := string(ctx.Method())
	switch {
	case action == "" && (method == fasthttp.MethodGet || method == fasthttp.MethodHead):
		r.showPay(ctx, rs, p)
	case action == "" && method == fasthttp.MethodPost:
		r.submitCard(ctx, rs, p)
	case action == "cancel" && method == fasthttp.MethodPost:
		r.cancelPay(ctx, rs, p)
	default:
		rs.code = "not_found"
		r.messagePage(ctx, fasthttp.StatusNotFound, textFor(p.Language), nil, t.Title, t.NotFound, "", "")
	}
}

// expireIfDue marks a pending payment whose time is up and that never
// reached the bank as expired. It reports whether p is (now) expired.
func (r *Relay) expireIfDue(ctx context.Context, p *store.Payment) (*store.Payment, bool) {
	if p.Status != store.StatusPending || r.now().Before(p.ExpiresAt) {
		return p, false
	}
	if p.Stage != store.StageCreated {
		return p, false // the sweep asks the bank before it gives up
	}
	np, err := r.finalize(ctx, p.ID, func(q *store.Payment) bool { return q.Status == store.StatusPending && q.Stage == store.StageCreated },
		store.StatusExpired, &bank.Outcome{Status: bank.Failed, Result: bank.NewResult(bank.CodeExpired, "", "")}, "ttl")
	if err != nil {
		if cur, gerr := r.journal.GetPayment(ctx, p.ID); gerr == nil {
			return cur, cur.Status == store.StatusExpired
		}
		return p, false
	}
	return np, true
}

func (r *Relay) showPay(ctx *fasthttp.RequestCtx, rs *reqState, p *store.Payment) {
	c := context.Background()
	site := r.siteByID[p.SiteID]
	t := textFor(p.Language)
	p, _ = r.expireIfDue(c, p)
	if p.Status != store.StatusPending {
		rs.decision = "already_" + string(p.Status)
		r.sendBack(ctx, p)
		return
	}
	if p.Stage != store.StageCreated {
		rs.decision = "in_progress"
		pg := &page{Kind: "message", T: t, Heading: t.Title, Message: t.InProgress, Refresh: "10", Spinner: true}
		r.renderPage(ctx, fasthttp.StatusOK, pg, site, nil)
		return
	}
	g, ok := r.pageGateway(ctx, rs, t, site, p)
	if !ok {
		return
	}
	if p.Customer.IP == "" {
		// The site did not say; the banks want the shopper's address.
		p.Customer.IP = r.clientIP(ctx).String()
	}
	start := r.now()
	step, err := g.Start(c, r.bankPayment(p))
	rs.bankTime = r.now().Sub(start)
	if err != nil {
		rs.cause, rs.code = err, "bank_unavailable"
		r.messagePage(ctx, fasthttp.StatusBadGateway, t, site, t.Failed, t.BankUnavailable, "/pay/"+p.PayToken, t.TryAgain)
		return
	}
	if step.Kind == bank.CardForm {
		rs.decision = "card_form"
		r.cardPage(ctx, p, "", fasthttp.StatusOK)
		return
	}
	r.beginStep(ctx, rs, p, g, step)
}

// endAtStep finishes a payment whose bank step itself gave the final
// answer (e.g. a card not enrolled in 3-D Secure) and sends the shopper on.
func (r *Relay) endAtStep(ctx *fasthttp.RequestCtx, rs *reqState, p *store.Payment, out *bank.Outcome) {
	c := context.Background()
	np, err := r.settle(c, p, func(q *store.Payment) bool { return q.Status == store.StatusPending },
		outcomeStatus(out), out, "bank_step")
	if err != nil {
		rs.cause = err
		np, _ = r.journal.GetPayment(c, p.ID)
	}
	rs.decision = "bank_step_ended"
	if np != nil {
		r.sendBack(ctx, np)
	}
}

// paymentByToken finds the payment a page token names, or answers the
// page itself (not found, or an internal error) and returns nil.
func (r *Relay) paymentByToken(ctx *fasthttp.RequestCtx, rs *reqState, t *pageText, token string,
	lookup func(context.Context, string) (*store.Payment, error)) *store.Payment {
	if !validToken(token) {
		rs.code = "payment_not_found"
		r.messagePage(ctx, fasthttp.StatusNotFound, t, nil, t.Title, t.NotFound, "", "")
		return nil
	}
	p, err := lookup(context.Background(), token)
	if errors.Is(err, store.ErrNotFound) {
		rs.code = "payment_not_found"
		r.messagePage(ctx, fasthttp.StatusNotFound, t, nil, t.Title, t.NotFound, "", "")
		return nil
	}
	if err != nil {
		rs.cause = err
		r.messagePage(ctx, fasthttp.StatusInternalServerError, t, nil, t.Title, t.BankUnavailable, "", "")
		return nil
	}
	rs.payment, rs.bank, rs.site = p.ID, p.Bank, p.SiteID
	return p
}

// beginStep arms the callback (created → bankstep, saving the adapter's
// state) and shows the bank step. The pay token cannot start it again.
func (r *Relay) beginStep(ctx *fasthttp.RequestCtx, rs *reqState, p *store.Payment, g gateway, step *bank.Step) {
	c := context.Background()
	if step.Outcome != nil {
		r.endAtStep(ctx, rs, p, step.Outcome)
		return
	}
	_, err := r.journal.UpdatePayment(c, p.ID, func(q *store.Payment) (*store.Change, error) {
		if q.Status != store.StatusPending || q.Stage != store.StageCreated {
			// Another tab started the step first; its state stands.
			return nil, store.ErrConflict
		}
		now := r.now().UTC()
		q.Stage, q.UpdatedAt = store.StageBankStep, now
		if q.Customer.IP == "" {
			q.Customer.IP = p.Customer.IP
		}
		if len(step.State) > 0 {
			if q.BankState == nil {
				q.BankState = map[string]string{}
			}
			for k, v := range step.State {
				q.BankState[k] = v
			}
		}
		return &store.Change{Events: []store.Event{{At: now, Kind: "bank_step", Detail: map[string]string{"kind": stepName(step.Kind)}}}}, nil
	})
	if err != nil {
		rs.cause = err
		r.showInProgress(ctx, p)
		return
	}
	rs.decision = "bank_step"
	r.renderStep(ctx, p, g, step)
}

func (r *Relay) showInProgress(ctx *fasthttp.RequestCtx, p *store.Payment) {
	t := textFor(p.Language)
	r.renderPage(ctx, fasthttp.StatusOK, &page{Kind: "message", T: t, Heading: t.Title, Message: t.InProgress, Refresh: "10", Spinner: true}, r.siteByID[p.SiteID], nil)
}

func stepName(k bank.StepKind) string {
	switch k {
	case bank.AutoPost:
		return "autopost"
	case bank.CardForm:
		return "card_form"
	case bank.HTML:
		return "bank_page"
	case bank.Redirect:
		return "redirect"
	}
	return "unknown"
}

var headTag = regexp.MustCompile(`(?i)<head[^>]*>`)

// renderStep shows the bank step to the shopper.
func (r *Relay) renderStep(ctx *fasthttp.RequestCtx, p *store.Payment, g gateway, step *bank.Step) {
	site := r.siteByID[p.SiteID]
	t := textFor(p.Language)
	switch step.Kind {
	case bank.AutoPost:
		// The form goes to the adapter's known origins or, for an issuer's
		// ACS named by the bank at run time, to the step's own origin.
		origins := g.FormOrigins()
		if u, err := url.Parse(step.URL); err == nil && u.Host != "" {
			origins = append(origins, u.Scheme+"://"+u.Host)
		}
		r.renderPage(ctx, fasthttp.StatusOK, &page{Kind: "autopost", T: t, URL: step.URL, Method: strings.ToLower(step.Method), Fields: step.Fields}, site, origins)
	case bank.Redirect:
		if !framed(ctx) {
			ctx.Redirect(step.URL, fasthttp.StatusSeeOther)
			ctx.Response.Header.Set("Cache-Control", "no-store")
			return
		}
		r.renderPage(ctx, fasthttp.StatusOK, &page{Kind: "redirect", T: t, URL: step.URL}, site, nil)
	case bank.HTML:
		// The bank's own 3-D page, fetched from the relay's fixed address.
		// It is served sandboxed (an opaque origin: no access to the
		// relay's origin) with a base URL so its links reach the bank.
		body := step.HTML
		base := []byte(`<base href="` + template.HTMLEscapeString(step.BaseURL) + `">`)
		if loc := headTag.FindIndex(body); loc != nil {
			body = append(append(append([]byte{}, body[:loc[1]]...), base...), body[loc[1]:]...)
		} else {
			body = append(base, body...)
		}
		h := &ctx.Response.Header
		h.SetContentType("text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", "sandbox allow-forms allow-scripts allow-top-navigation allow-popups; frame-ancestors 'self' "+wixFrameAncestors+" "+strings.Join(site.ReturnOrigins, " "))
		ctx.SetStatusCode(fasthttp.StatusOK)
		ctx.SetBody(body)
	default:
		r.messagePage(ctx, fasthttp.StatusInternalServerError, t, site, t.Failed, t.BankUnavailable, "", "")
	}
}

// cardPage renders the relay's own card form (models where the merchant
// collects the card). Nothing the shopper typed is echoed back.
func (r *Relay) cardPage(ctx *fasthttp.RequestCtx, p *store.Payment, errMsg string, status int) {
	site := r.siteByID[p.SiteID]
	t := textFor(p.Language)
	pg := &page{Kind: "card", T: t, Site: p.SiteID, OrderID: p.OrderID, Amount: bank.FormatAmount(p.Amount) + " " + p.Currency,
		Error: errMsg, Action: "/pay/" + p.PayToken, CancelAction: "/pay/" + p.PayToken + "/cancel",
		LangURL: "/pay/" + p.PayToken + "?lang=" + t.OtherLangCode}
	for m := 1; m <= 12; m++ {
		pg.Months = append(pg.Months, twoDigits(m))
	}
	y := r.now().Year()
	for i := 0; i < 15; i++ {
		pg.Years = append(pg.Years, strconv.Itoa(y+i))
	}
	if p.Installments == 0 && site != nil && site.MaxInstallments > 1 && p.Currency == "TRY" {
		for _, n := range []int{1, 2, 3, 6, 9, 12} {
			if n <= site.MaxInstallments {
				pg.Installments = append(pg.Installments, n)
			}
		}
	}
	r.renderPage(ctx, status, pg, site, nil)
}

func twoDigits(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// readCard reads and checks the card form. The card lives in memory only.
func (r *Relay) readCard(ctx *fasthttp.RequestCtx, t *pageText, p *store.Payment) (*bank.Card, int, string) {
	args := ctx.PostArgs()
	num := strings.Map(func(c rune) rune {
		if c == ' ' || c == '-' {
			return -1
		}
		return c
	}, string(args.Peek("number")))
	c := &bank.Card{Number: num, ExpMonth: string(args.Peek("exp_month")), ExpYear: string(args.Peek("exp_year")),
		CVV: string(args.Peek("cvv")), Holder: strings.TrimSpace(string(args.Peek("holder")))}
	if !bank.Luhn(c.Number) || len(c.Number) < 13 {
		c.Wipe()
		return nil, 0, t.ErrCardNumber
	}
	m, err1 := strconv.Atoi(c.ExpMonth)
	y, err2 := strconv.Atoi(c.ExpYear)
	if len(c.ExpYear) == 2 {
		y += 2000
	}
	now := r.now().UTC()
	if err1 != nil || err2 != nil || m < 1 || m > 12 || y < now.Year() || y > now.Year()+20 || y == now.Year() && m < int(now.Month()) {
		c.Wipe()
		return nil, 0, t.ErrExpiry
	}
	c.ExpMonth, c.ExpYear = twoDigits(m), strconv.Itoa(y)
	want := 3 // Amex has 4
	if c.Brand() == "amex" {
		want = 4
	}
	if len(c.CVV) != want || strings.Trim(c.CVV, "0123456789") != "" {
		c.Wipe()
		return nil, 0, t.ErrCVV
	}
	if c.Holder == "" || len(c.Holder) > 60 || hasControl(c.Holder) || strings.ContainsAny(c.Holder, "<>|\\\"") {
		c.Wipe()
		return nil, 0, t.ErrHolder
	}
	inst := max(p.Installments, 1)
	if v := args.Peek("installments"); len(v) > 0 && p.Installments == 0 {
		n, err := strconv.Atoi(string(v))
		site := r.siteByID[p.SiteID]
		if err != nil || n < 1 || n > site.MaxInstallments || n > 1 && p.Currency != "TRY" {
			c.Wipe()
			return nil, 0, t.ErrInst
		}
		inst = n
	}
	return c, inst, ""
}

func (r *Relay) submitCard(ctx *fasthttp.RequestCtx, rs *reqState, p *store.Payment) {
	defer wipeCardForm(ctx) // on every path: a double click's second post carries the card too
	c := context.Background()
	t := textFor(p.Language)
	p, _ = r.expireIfDue(c, p)
	if p.Status != store.StatusPending {
		r.sendBack(ctx, p)
		return
	}
	if p.Stage != store.StageCreated {
		r.showInProgress(ctx, p)
		return
	}
	g, ok := r.pageGateway(ctx, rs, t, nil, p)
	if !ok {
		return
	}
	card, inst, msg := r.readCard(ctx, t, p)
	if card == nil {
		rs.code, rs.decision = "invalid_card_form", "card_form_refused"
		r.cardPage(ctx, p, msg, fasthttp.StatusUnprocessableEntity)
		return
	}
	defer card.Wipe()
	shopperIP := r.clientIP(ctx).String()
	// Claim the bank step before the card leaves the relay.
	claimed, err := r.journal.UpdatePayment(c, p.ID, func(q *store.Payment) (*store.Change, error) {
		if q.Status != store.StatusPending || q.Stage != store.StageCreated {
			return nil, store.ErrConflict
		}
		now := r.now().UTC()
		q.Stage, q.UpdatedAt, q.Installments = store.StageBankStep, now, inst
		if q.Customer.IP == "" {
			q.Customer.IP = shopperIP
		}
		return &store.Change{Events: []store.Event{{At: now, Kind: "card_submitted", Detail: map[string]string{"brand": card.Brand(), "installments": strconv.Itoa(inst)}}}}, nil
	})
	if err != nil {
		rs.cause = err
		r.showInProgress(ctx, p)
		return
	}
	start := r.now()
	step, err := g.SubmitCard(c, r.bankPayment(claimed), card)
	rs.bankTime = r.now().Sub(start)
	card.Wipe()
	if err != nil {
		// Nothing was charged: let the shopper try again.
		rs.cause, rs.code = err, "bank_unavailable"
		if _, rerr := r.journal.UpdatePayment(c, p.ID, func(q *store.Payment) (*store.Change, error) {
			if q.Stage != store.StageBankStep || q.Status != store.StatusPending {
				return nil, store.ErrConflict
			}
			q.Stage, q.UpdatedAt = store.StageCreated, r.now().UTC()
			return &store.Change{Events: []store.Event{{At: q.UpdatedAt, Kind: "bank_step_failed", Detail: map[string]string{"error": shortErr(err)}}}}, nil
		}); rerr != nil {
			r.log.Warn("could not reopen the card form", zap.String(logPayment, p.ID), zap.Error(rerr))
		}
		r.cardPage(ctx, claimed, t.BankUnavailable, fasthttp.StatusBadGateway)
		return
	}
	if step.Outcome == nil && len(step.State) > 0 {
		if _, err := r.journal.UpdatePayment(c, p.ID, func(q *store.Payment) (*store.Change, error) {
			if q.BankState == nil {
				q.BankState = map[string]string{}
			}
			for k, v := range step.State {
				q.BankState[k] = v
			}
			q.UpdatedAt = r.now().UTC()
			return &store.Change{}, nil
		}); err != nil {
			rs.cause = err
			r.messagePage(ctx, fasthttp.StatusInternalServerError, t, nil, t.Failed, t.BankUnavailable, "", "")
			return
		}
	}
	if step.Outcome != nil {
		r.endAtStep(ctx, rs, p, step.Outcome)
		return
	}
	rs.decision = "bank_step"
	r.renderStep(ctx, claimed, g, step)
}

func (r *Relay) cancelPay(ctx *fasthttp.RequestCtx, rs *reqState, p *store.Payment) {
	c := context.Background()
	np, err := r.finalize(c, p.ID, func(q *store.Payment) bool { return q.Status == store.StatusPending && q.Stage == store.StageCreated },
		store.StatusCanceled, &bank.Outcome{Status: bank.Failed, Result: bank.NewResult(bank.CodeCanceled, "", "canceled by the shopper")}, "shopper")
	if err != nil {
		if !errors.Is(err, store.ErrConflict) {
			rs.cause = err
		}
		np, _ = r.journal.GetPayment(c, p.ID)
		if np == nil {
			np = p
		}
		if np.Status == store.StatusPending {
			r.showInProgress(ctx, np)
			return
		}
	}
	rs.decision = "canceled"
	r.sendBack(ctx, np)
}

func outcomeStatus(o *bank.Outcome) store.PaymentStatus {
	switch o.Status {
	case bank.Succeeded:
		return store.StatusSucceeded
	case bank.Unknown:
		return store.StatusUnknown
	}
	if o.Result.Code == bank.CodeCanceled {
		return store.StatusCanceled
	}
	return store.StatusFailed
}

var _ = time.Second
