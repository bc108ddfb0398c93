package proxy

import (
	"context"
	"encoding/json"
	"time"

	"github.com/posrelay/posrelay/api"
	"github.com/posrelay/posrelay/bank"
	"github.com/posrelay/posrelay/config"
	"github.com/posrelay/posrelay/store"
	"github.com/valyala/fasthttp"
)

// finalize moves a payment to status `to` with the bank's outcome and, for a
// final status, enqueues its webhook — in one transaction. guard says
// whether the payment is still where the caller found it; if not, nothing
// is written and store.ErrConflict is returned.
func (r *Relay) finalize(ctx context.Context, id string, guard func(*store.Payment) bool, to store.PaymentStatus, out *bank.Outcome, reason string) (*store.Payment, error) {
	p, err := r.journal.UpdatePayment(ctx, id, func(p *store.Payment) (*store.Change, error) {
		if !guard(p) || !store.CanTransition(p.Status, to) {
			return nil, store.ErrConflict
		}
		now := r.now().UTC()
		p.Status, p.Stage, p.UpdatedAt = to, store.StageDone, now
		res := out.Result
		p.Result = &res
		mergeRef(&p.Ref, out.Ref)
		if to == store.StatusSucceeded && p.Type == string(bank.Sale) {
			p.Captured = p.Amount
		}
		if to.Final() {
			p.FinalAt = now
		}
		detail := map[string]string{"code": res.Code, "bank_code": res.BankCode}
		if reason != "" {
			detail["reason"] = reason
		}
		ch := &store.Change{Events: []store.Event{{At: now, Kind: string(to), Detail: detail}}}
		if to.Final() {
			ch.Webhooks = append(ch.Webhooks, r.paymentWebhook(p, now))
		}
		return ch, nil
	})
	if err == nil {
		r.metrics.inc("posrelay_payments_total", "bank", p.Bank, "status", string(to))
		if to.Final() {
			r.wake()
		}
	}
	return p, err
}

// mergeRef copies the bank's references that src has into dst, cleaned
// (bank.CleanRef: a callback's references are outside input).
func mergeRef(dst *bank.Ref, src bank.Ref) {
	src = bank.CleanRef(src)
	if src.AuthCode != "" {
		dst.AuthCode = src.AuthCode
	}
	if src.HostRef != "" {
		dst.HostRef = src.HostRef
	}
	if src.TransID != "" {
		dst.TransID = src.TransID
	}
	if src.MaskedPAN != "" {
		dst.MaskedPAN = src.MaskedPAN
	}
}

// wake tells the outbox worker there is something to deliver.
func (r *Relay) wake() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

var statusEvent = map[store.PaymentStatus]string{
	store.StatusSucceeded: api.EventPaymentSucceeded,
	store.StatusFailed:    api.EventPaymentFailed,
	store.StatusCanceled:  api.EventPaymentCanceled,
	store.StatusExpired:   api.EventPaymentExpired,
	store.StatusVoided:    api.EventPaymentVoided,
}

// paymentWebhook builds the outbox message for a payment's final status.
func (r *Relay) paymentWebhook(p *store.Payment, now time.Time) store.Webhook {
	typ := statusEvent[p.Status]
	return r.webhook(p, typ, r.eventData(p), now)
}

func (r *Relay) eventData(p *store.Payment) api.EventData {
	d := api.EventData{
		PaymentID: p.ID, PluginTransactionID: p.ID, WixTransactionID: p.WixTransactionID, Site: p.SiteID,
		OrderID: p.OrderID, Status: string(p.Status), Bank: p.Bank, Amount: p.Amount, Currency: p.Currency,
		Result: webhookResult(p.Result), AuthCode: p.Ref.AuthCode, MaskedPAN: p.Ref.MaskedPAN,
	}
	if p.Result != nil && p.Status != store.StatusSucceeded && p.Status != store.StatusVoided {
		d.ReasonCode = p.Result.ReasonCode
		d.ErrorCode = p.Result.Code
		d.ErrorMessage = p.Result.Message.EN
		if p.Result.BankCode != "" {
			d.ErrorMessage += " (bank code " + p.Result.BankCode + ")"
		}
	}
	return d
}

// webhookResult is the result a site is told: the bank's own free text
// stays with the relay's operator (it can echo what the bank was sent).
func webhookResult(res *bank.Result) *bank.Result {
	if res == nil {
		return nil
	}
	c := *res
	c.BankMessage = ""
	return &c
}

func (r *Relay) webhook(p *store.Payment, typ string, data api.EventData, now time.Time) store.Webhook {
	body, _ := json.Marshal(api.Event{Type: typ, Timestamp: now.UTC().Format(time.RFC3339), Data: data})
	return store.Webhook{
		ID: newID("msg_"), SiteID: p.SiteID, PaymentID: p.ID, EventType: typ, Body: body,
		Status: store.WebhookPending, NextAttemptAt: now, CreatedAt: now,
	}
}

// bankPayment is the adapter's view of a payment.
func (r *Relay) bankPayment(p *store.Payment) *bank.Payment {
	cur, _ := bank.LookupCurrency(p.Currency)
	return &bank.Payment{
		ID: p.ID, OrderID: p.BankOrderID, Amount: p.Amount, Currency: cur, Installments: max(p.Installments, 1),
		Type: bank.TxnType(p.Type), Language: p.Language, CustomerIP: p.Customer.IP, Email: p.Customer.Email,
		Name: p.Customer.Name, CallbackURL: r.cfg.Server.PublicURL.String() + "/callback/" + p.CallbackToken,
		State: p.BankState, Ref: p.Ref,
	}
}

func (r *Relay) gatewayFor(p *store.Payment) (gateway, bool) {
	g, ok := r.gateways[gatewayKey(p.SiteID, p.Account, p.Model)]
	return g, ok
}

// pageGateway is gatewayFor for a shopper's page: without a gateway (the
// account left the configuration) the shopper gets the bank-unavailable
// page and the log the cause.
func (r *Relay) pageGateway(ctx *fasthttp.RequestCtx, rs *reqState, t *pageText, site *config.Site, p *store.Payment) (gateway, bool) {
	g, ok := r.gatewayFor(p)
	if !ok {
		rs.cause = errNoGateway(p)
		r.messagePage(ctx, fasthttp.StatusInternalServerError, t, site, t.Failed, t.BankUnavailable, "", "")
	}
	return g, ok
}
