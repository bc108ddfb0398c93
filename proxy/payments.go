package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/posrelay/posrelay/api"
	"github.com/posrelay/posrelay/bank"
	"github.com/posrelay/posrelay/config"
	"github.com/posrelay/posrelay/store"
)

// Limits of the payment request.
const (
	maxOrderIDLen = 40
	maxAmount     = 100_000_000_00 // 100 million in major units
	maxEmailLen   = 254
	maxNameLen    = 100
	maxWixIDLen   = 128
	maxIdemKeyLen = 200
	scopeCreate   = "POST /v1/payments"
)

// createRequest is POST /v1/payments as received; numbers are kept raw to
// give precise errors.
type createRequest struct {
	Bank             string          `json:"bank"`
	OrderID          string          `json:"orderId"`
	Amount           json.RawMessage `json:"amount"`
	Currency         string          `json:"currency"`
	Installments     json.RawMessage `json:"installments"`
	Type             string          `json:"type"`
	ReturnURLs       api.ReturnURLs  `json:"returnUrls"`
	Customer         api.Customer    `json:"customer"`
	Language         string          `json:"language"`
	WixTransactionID string          `json:"wixTransactionId"`
}

// decodeJSON decodes a request body strictly: one JSON object, no unknown
// fields. Errors name the field.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errBadRequest("invalid_json", "", "The request body is empty; send a JSON object.")
	}
	if !utf8.Valid(body) {
		return errBadRequest("invalid_json", "", "The request body is not valid UTF-8.")
	}
	if bytes.TrimSpace(body)[0] != '{' {
		return errBadRequest("invalid_json", "", "The request body must be a JSON object ({…}).")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			// The whole path names the field, as the other checks do
			// (customer.ip, returnUrls.success).
			return errInvalid(te.Field, "%s has the wrong type (got a JSON %s); see the API reference.", te.Field, te.Value)
		case errors.As(err, &se):
			return errBadRequest("invalid_json", "", "The body is not valid JSON (at byte %d).", se.Offset)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return errBadRequest("unknown_field", f, "Unknown field %q; check the spelling against the API reference.", f)
		}
		return errBadRequest("invalid_json", "", "The body is not a JSON object of the expected shape.")
	}
	if dec.More() {
		return errBadRequest("invalid_json", "", "The body holds more than one JSON value.")
	}
	return nil
}

// intField reads a JSON integer.
func intField(raw json.RawMessage, name, example string) (int64, bool, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if f, ferr := strconv.ParseFloat(s, 64); ferr == nil && f > 0 {
			return 0, true, errInvalid(name, "%s must be a whole number of minor units (kuruş): %s", name, example)
		}
		return 0, true, errInvalid(name, "%s must be a JSON integer, e.g. %s", name, example)
	}
	return n, true, nil
}

// paymentRequest is a checked POST /v1/payments.
type paymentRequest struct {
	account      *config.Account
	orderID      string
	amount       int64
	currency     bank.Currency
	installments int
	typ          bank.TxnType
	returns      store.ReturnURLs
	customer     store.Customer
	language     string
	wixID        string
}

func (r *Relay) checkPayment(site *config.Site, in *createRequest) (*paymentRequest, error) {
	p := &paymentRequest{}
	var ok bool
	if p.account, ok = site.Account(in.Bank); !ok || in.Bank == "" && len(site.Accounts) > 1 {
		names := make([]string, 0, len(site.Accounts))
		for _, a := range site.Accounts {
			names = append(names, a.Name)
		}
		return nil, errInvalid("bank", "bank %q is not configured for this site; use one of: %s", in.Bank, strings.Join(names, ", "))
	}
	if err := checkOrderID(in.OrderID); err != nil {
		return nil, err
	}
	p.orderID = in.OrderID
	amount, present, err := intField(in.Amount, "amount", "14990 for 149.90 TRY")
	switch {
	case err != nil:
		return nil, err
	case !present:
		return nil, errInvalid("amount", "amount is required: an integer in minor units, e.g. 14990 for 149.90 TRY")
	case amount <= 0:
		return nil, errInvalid("amount", "amount must be greater than 0 (got %d)", amount)
	case amount > maxAmount:
		return nil, errInvalid("amount", "amount %d is larger than the relay accepts (%d)", amount, int64(maxAmount))
	}
	p.amount = amount
	if p.currency, ok = bank.LookupCurrency(in.Currency); !ok {
		return nil, errInvalid("currency", "currency %q is not supported; use one of %s (ISO 4217 letters)", in.Currency, strings.Join(bank.SupportedCurrencies(), ", "))
	}
	inst, present, err := intField(in.Installments, "installments", "3")
	if err != nil {
		return nil, err
	}
	// Omitted: single payment, or the shopper's choice where the relay's
	// card page is shown (installments 0 until then).
	if present && (inst < 1 || inst > 12) {
		return nil, errInvalid("installments", "installments must be 1 (single payment) to 12 (got %d)", inst)
	}
	if inst > int64(site.MaxInstallments) {
		return nil, errInvalid("installments", "installments %d is more than this site allows (%d)", inst, site.MaxInstallments)
	}
	if inst > 1 && p.currency.Alpha != "TRY" {
		return nil, errInvalid("installments", "installments are only offered in TRY")
	}
	p.installments = int(inst)
	switch in.Type {
	case "", "sale":
		p.typ = bank.Sale
	case "preauth":
		p.typ = bank.PreAuth
		if p.account.Model == "common_payment" {
			return nil, errInvalid("type", "pre-authorisation is not offered by VakıfBank Common Payment; use type sale or the mpi model")
		}
	default:
		return nil, errInvalid("type", "type %q is not supported; use sale or preauth", in.Type)
	}
	for _, u := range []struct{ name, val string }{
		{"success", in.ReturnURLs.Success}, {"error", in.ReturnURLs.Error},
		{"cancel", in.ReturnURLs.Cancel}, {"pending", in.ReturnURLs.Pending},
	} {
		required := u.name == "success" || u.name == "error"
		if err := checkReturnURL(site, "returnUrls."+u.name, u.val, required); err != nil {
			return nil, err
		}
	}
	p.returns = store.ReturnURLs(in.ReturnURLs)
	c := in.Customer
	if c.IP != "" {
		if _, err := netip.ParseAddr(c.IP); err != nil {
			return nil, errInvalid("customer.ip", "customer.ip %q is not an IP address", c.IP)
		}
	}
	if len(c.Email) > maxEmailLen || c.Email != "" && (!strings.Contains(c.Email, "@") || hasControl(c.Email) || strings.ContainsAny(c.Email, " <>\"|\\")) {
		return nil, errInvalid("customer.email", "customer.email is not an e-mail address")
	}
	if utf8.RuneCountInString(c.Name) > maxNameLen || hasControl(c.Name) || strings.ContainsAny(c.Name, "<>|\\") {
		return nil, errInvalid("customer.name", "customer.name must be up to %d printable characters without <, >, | or \\", maxNameLen)
	}
	p.customer = store.Customer(c)
	switch in.Language {
	case "", "tr", "tr-TR":
		p.language = "tr"
	case "en", "en-US", "en-GB":
		p.language = "en"
	default:
		return nil, errInvalid("language", "language %q is not offered; use tr or en", in.Language)
	}
	if len(in.WixTransactionID) > maxWixIDLen || hasControl(in.WixTransactionID) {
		return nil, errInvalid("wixTransactionId", "wixTransactionId must be up to %d printable characters", maxWixIDLen)
	}
	p.wixID = in.WixTransactionID
	return p, nil
}

// checkOrderID allows what every bank accepts in an order number.
func checkOrderID(s string) error {
	if s == "" {
		return errInvalid("orderId", "orderId is required: the site's order number (letters, digits, - and _)")
	}
	if len(s) > maxOrderIDLen {
		return errInvalid("orderId", "orderId is %d characters; the banks accept at most %d", len(s), maxOrderIDLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return errInvalid("orderId", "orderId may only contain letters, digits, - and _ (found %q at position %d)", string(rune(c)), i+1)
		}
	}
	return nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return true
		}
	}
	return false
}

// checkReturnURL requires an absolute https URL on one of the site's
// return origins.
func checkReturnURL(site *config.Site, field, raw string, required bool) error {
	if raw == "" {
		if required {
			return errInvalid(field, "%s is required: the site page the shopper returns to", field)
		}
		return nil
	}
	// White space anywhere (Unicode's too: the origin check would trim a
	// trailing U+2028 and pass a URL it did not check) makes it no URL.
	if len(raw) > 2048 || hasControl(raw) || strings.ContainsAny(raw, " \\<>\"") || strings.IndexFunc(raw, unicode.IsSpace) >= 0 {
		return errInvalid(field, "%s is not a valid URL", field)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.User != nil || u.Opaque != "" {
		return errInvalid(field, "%s must be an absolute https URL", field)
	}
	origin, err := config.NormalizeOrigin(u.Scheme + "://" + u.Host)
	if err != nil {
		return errInvalid(field, "%s: %v", field, err)
	}
	for _, o := range site.ReturnOrigins {
		if o == origin {
			return nil
		}
	}
	return errInvalid(field, "%s is on %s, which is not one of this site's return origins (%s); add it to sites[].return_origins", field, origin, strings.Join(site.ReturnOrigins, ", "))
}

// createPayment handles POST /v1/payments.
func (r *Relay) createPayment(ctx *fasthttp.RequestCtx, rs *reqState, site *config.Site) {
	var in createRequest
	if err := decodeJSON(ctx.PostBody(), &in); err != nil {
		writeError(ctx, rs, err)
		return
	}
	req, err := r.checkPayment(site, &in)
	if err != nil {
		writeError(ctx, rs, err)
		return
	}
	rs.bank = req.account.Bank
	key := string(ctx.Request.Header.Peek("Idempotency-Key"))
	if key == "" {
		key = req.wixID
	}
	if len(key) > maxIdemKeyLen || hasControl(key) {
		writeError(ctx, rs, errBadRequest("invalid_idempotency_key", "Idempotency-Key", "Idempotency-Key must be up to %d printable characters.", maxIdemKeyLen))
		return
	}
	// What makes two requests "the same payment".
	material := fmt.Sprintf("%s|%s|%d|%s|%d|%s", req.account.Name, req.orderID, req.amount, req.currency.Alpha, req.installments, req.typ)
	reqHash := sha256Hex([]byte(material))
	c := context.Background()
	if key != "" {
		if r.replayed(ctx, rs, site.ID, scopeCreate, key, reqHash) {
			return
		}
	}

	prior, err := r.journal.PaymentsByOrder(c, site.ID, req.orderID)
	if err != nil {
		writeError(ctx, rs, internalError(err))
		return
	}
	for _, p := range prior {
		if p.Status == store.StatusSucceeded || p.Status == store.StatusUnknown {
			writeError(ctx, rs, &apiError{Status: fasthttp.StatusConflict, Code: "order_already_paid", Field: "orderId",
				Message: fmt.Sprintf("Order %s already has a %s payment (%s); refund or void it instead of paying again.", req.orderID, p.Status, p.ID)})
			return
		}
		if provisioning(p) {
			writeError(ctx, rs, &apiError{Status: fasthttp.StatusConflict, Code: "order_in_progress", Field: "orderId",
				Message: fmt.Sprintf("Order %s has a payment (%s) the bank is completing right now; try again in a minute.", req.orderID, p.ID)})
			return
		}
	}
	now := r.now().UTC()
	p := &store.Payment{
		ID: newID("pay_"), SiteID: site.ID, Bank: req.account.Bank, Account: req.account.Name, Model: req.account.Model,
		OrderID: req.orderID, Amount: req.amount, Currency: req.currency.Alpha,
		Installments: req.installments, Type: string(req.typ), Language: req.language, ReturnURLs: req.returns,
		Customer: req.customer, WixTransactionID: req.wixID, PayToken: newToken(), CallbackToken: newToken(),
		Status: store.StatusPending, Stage: store.StageCreated, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(r.cfg.PaymentTTL),
	}
	rs.payment = p.ID
	ev := store.Event{At: now, Kind: "created", Detail: map[string]string{"bank": p.Bank, "model": p.Model, "amount": strconv.FormatInt(p.Amount, 10), "currency": p.Currency, "request_id": rs.id}}
	var body []byte
	// The bank order number must be new at the bank: the journal's unique
	// index decides, so concurrent attempts and an order literally named
	// like another's later attempt ("X-2") each get their own.
	for attempt := len(prior); ; attempt++ {
		p.BankOrderID = bankOrderID(req.orderID, attempt)
		body, _ = json.Marshal(r.apiPayment(p, nil))
		var idem *store.Idempotency
		if key != "" {
			idem = &store.Idempotency{SiteID: site.ID, Scope: scopeCreate, Key: key, RequestHash: reqHash, ResourceID: p.ID,
				Status: fasthttp.StatusCreated, Body: body, CreatedAt: now}
		}
		err := r.journal.CreatePayment(c, p, ev, idem)
		if err == nil {
			break
		}
		if errors.Is(err, store.ErrBankOrderTaken) && attempt < len(prior)+100 {
			continue
		}
		if errors.Is(err, store.ErrDuplicate) && key != "" {
			if r.replayed(ctx, rs, site.ID, scopeCreate, key, reqHash) {
				return
			}
		}
		writeError(ctx, rs, internalError(err))
		return
	}
	r.supersede(c, prior, p.ID)
	rs.decision = "created"
	ctx.Response.Header.Set("Location", "/v1/payments/"+p.ID)
	ctx.Response.Header.SetContentType("application/json; charset=utf-8")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetStatusCode(fasthttp.StatusCreated)
	ctx.SetBody(append(body, '\n'))
}

// bankOrderID is the order number sent to the bank: banks refuse an order
// number twice, so a later attempt for the same order gets a suffix (and
// the journal's unique index moves past one another order already has).
func bankOrderID(orderID string, attempt int) string {
	if attempt == 0 {
		return orderID
	}
	return fmt.Sprintf("%s-%d", orderID, attempt+1)
}

// supersede cancels earlier attempts of the same order that never reached
// the bank: the shopper started over, so they must not be paid later.
func (r *Relay) supersede(ctx context.Context, prior []*store.Payment, newID string) {
	for _, p := range prior {
		if p.Status != store.StatusPending || p.Stage != store.StageCreated {
			continue
		}
		_, err := r.finalize(ctx, p.ID, func(p *store.Payment) bool { return p.Status == store.StatusPending && p.Stage == store.StageCreated },
			store.StatusCanceled, &bank.Outcome{Status: bank.Failed, Result: bank.NewResult(bank.CodeCanceled, "", "superseded by "+newID)}, "superseded")
		if err != nil && !errors.Is(err, store.ErrConflict) {
			r.log.Warn("could not cancel a superseded attempt", zap.String(logPayment, p.ID), zap.Error(err))
		}
	}
}

// replayed answers a request whose idempotency key was seen before (the
// first answer again, or the error why not) and reports whether it did;
// false means the key is new.
func (r *Relay) replayed(ctx *fasthttp.RequestCtx, rs *reqState, siteID, scope, key, reqHash string) bool {
	done, err := r.replay(ctx, rs, siteID, scope, key, reqHash)
	if err != nil {
		writeError(ctx, rs, err)
		return true
	}
	return done
}

func (r *Relay) replay(ctx *fasthttp.RequestCtx, rs *reqState, siteID, scope, key, reqHash string) (bool, error) {
	rec, err := r.journal.GetIdempotency(context.Background(), siteID, scope, key)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, internalError(err)
	}
	if rec.RequestHash != reqHash {
		return false, &apiError{Status: fasthttp.StatusUnprocessableEntity, Code: "idempotency_key_reused", Field: "Idempotency-Key",
			Message: "This Idempotency-Key (or wixTransactionId) was used for a different request; use a new key for a new payment."}
	}
	rs.decision = "replayed"
	rs.payment = rec.ResourceID
	ctx.Response.Header.Set("Idempotent-Replayed", "true")
	if rec.Body != nil {
		ctx.Response.Header.SetContentType("application/json; charset=utf-8")
		ctx.Response.Header.Set("Cache-Control", "no-store")
		ctx.SetStatusCode(rec.Status)
		ctx.SetBody(append(append([]byte(nil), rec.Body...), '\n'))
		return true, nil
	}
	return true, r.writeResource(ctx, rs, rec)
}

// getPayment handles GET /v1/payments/{id}[?refresh=true].
func (r *Relay) getPayment(ctx *fasthttp.RequestCtx, rs *reqState, site *config.Site, id string) {
	p, err := r.sitePayment(site, id)
	if err != nil {
		writeError(ctx, rs, err)
		return
	}
	rs.payment, rs.bank = p.ID, p.Bank
	var bs *api.BankStatus
	if string(ctx.QueryArgs().Peek("refresh")) == "true" {
		start := r.now()
		st, decided, err := r.refreshStatus(context.Background(), p)
		rs.bankTime = r.now().Sub(start)
		if err != nil {
			writeError(ctx, rs, err)
			return
		}
		bs = &api.BankStatus{State: string(st.State), Amount: st.Amount, Captured: st.Captured, Refunded: st.Refunded,
			RefundedUnknown: st.RefundedUnknown, Settled: st.Settled, Checked: r.now().UTC().Format(time.RFC3339)}
		// refresh writes only when it settles a payment that was open:
		// read it again only then.
		if decided && !p.Status.Final() {
			if p, err = r.journal.GetPayment(context.Background(), p.ID); err != nil {
				writeError(ctx, rs, internalError(err))
				return
			}
		}
		rs.decision = "refreshed"
	}
	ops, err := r.journal.Operations(context.Background(), p.ID)
	if err != nil {
		writeError(ctx, rs, internalError(err))
		return
	}
	out := r.apiPayment(p, ops)
	out.BankStatus = bs
	writeJSON(ctx, fasthttp.StatusOK, out)
}

// sitePayment loads a payment of this site; another site's payment is
// reported as not found.
func (r *Relay) sitePayment(site *config.Site, id string) (*store.Payment, error) {
	if !validID("pay_", id) {
		return nil, &apiError{Status: fasthttp.StatusNotFound, Code: "payment_not_found", Message: "No payment with this id; payment ids look like pay_…"}
	}
	p, err := r.journal.GetPayment(context.Background(), id)
	if errors.Is(err, store.ErrNotFound) || err == nil && p.SiteID != site.ID {
		return nil, &apiError{Status: fasthttp.StatusNotFound, Code: "payment_not_found", Message: "No payment with this id for this site."}
	}
	if err != nil {
		return nil, internalError(err)
	}
	return p, nil
}

func (r *Relay) writeResource(ctx *fasthttp.RequestCtx, rs *reqState, rec *store.Idempotency) error {
	c := context.Background()
	if strings.HasPrefix(rec.ResourceID, "op_") {
		op, err := r.journal.GetOperation(c, rec.ResourceID)
		if err != nil {
			return internalError(err)
		}
		writeJSON(ctx, opHTTPStatus(op), apiOperation(op))
		return nil
	}
	p, err := r.journal.GetPayment(c, rec.ResourceID)
	if err != nil {
		return internalError(err)
	}
	ops, _ := r.journal.Operations(c, p.ID)
	writeJSON(ctx, fasthttp.StatusOK, r.apiPayment(p, ops))
	return nil
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// apiPayment is a payment as the API shows it.
func (r *Relay) apiPayment(p *store.Payment, ops []*store.Operation) *api.Payment {
	out := &api.Payment{
		ID: p.ID, Status: string(p.Status), Bank: p.Bank, Account: p.Account, Model: p.Model, OrderID: p.OrderID,
		BankOrderID: p.BankOrderID, Amount: p.Amount, Currency: p.Currency, Installments: p.Installments, Type: p.Type,
		WixTransactionID: p.WixTransactionID, ExpiresAt: fmtTime(p.ExpiresAt), CreatedAt: fmtTime(p.CreatedAt),
		UpdatedAt: fmtTime(p.UpdatedAt), Result: p.Result, AuthCode: p.Ref.AuthCode, HostRef: p.Ref.HostRef,
		TransID: p.Ref.TransID, MaskedPAN: p.Ref.MaskedPAN, Captured: p.Captured, Refunded: p.Refunded,
	}
	if p.Status == store.StatusPending {
		out.RedirectURL = r.cfg.Server.PublicURL.String() + "/pay/" + p.PayToken
	}
	for _, op := range ops {
		out.Operations = append(out.Operations, *apiOperation(op))
	}
	return out
}
