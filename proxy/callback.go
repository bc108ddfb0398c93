package proxy

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/posrelay/posrelay/bank"
	"github.com/posrelay/posrelay/store"
)

// maxCallbackFields bounds a callback form; real ones have ~120 fields.
const maxCallbackFields = 400

// readCallback reads the bank's fields exactly as received: in order, raw
// names, percent-decoded, no duplicates.
func readCallback(ctx *fasthttp.RequestCtx) (*bank.Callback, error) {
	cb := &bank.Callback{Method: string(ctx.Method())}
	var args *fasthttp.Args
	switch cb.Method {
	case fasthttp.MethodPost:
		ct := strings.ToLower(string(ctx.Request.Header.ContentType()))
		if !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
			return nil, fmt.Errorf("%w: content type %q, want a form post", bank.ErrMalformed, ct)
		}
		args = ctx.PostArgs()
	case fasthttp.MethodGet:
		args = ctx.QueryArgs()
	default:
		return nil, fmt.Errorf("%w: method %s", bank.ErrMalformed, cb.Method)
	}
	if args.Len() > maxCallbackFields {
		return nil, fmt.Errorf("%w: %d fields", bank.ErrMalformed, args.Len())
	}
	seen := make(map[string]bool, args.Len())
	for k, v := range args.All() {
		name := string(k)
		if seen[name] {
			return nil, fmt.Errorf("%w: field %q appears twice", bank.ErrMalformed, name)
		}
		seen[name] = true
		cb.Fields = append(cb.Fields, bank.F(name, string(v)))
	}
	if len(cb.Fields) == 0 {
		return nil, fmt.Errorf("%w: no fields", bank.ErrMalformed)
	}
	return cb, nil
}

// callback serves /callback/{token}: the bank's answer, through the
// shopper's browser. Nothing in it is trusted until the bank's hash
// verifies (where the bank signs) and it matches the stored payment.
func (r *Relay) callback(ctx *fasthttp.RequestCtx, rs *reqState, path string) {
	rs.route = "/callback/{token}"
	token := strings.TrimPrefix(path, "/callback/")
	c := context.Background()
	p := r.paymentByToken(ctx, rs, textFor("tr"), token, r.journal.PaymentByCallbackToken)
	if p == nil {
		return
	}
	site := r.siteByID[p.SiteID]
	t := textFor(p.Language)

	switch {
	case p.Status == store.StatusExpired || p.Status == store.StatusFailed || p.Status == store.StatusCanceled:
		// Late: the relay gave up on it, but the bank may have charged
		// the card after all.
		r.lateCallback(ctx, rs, p)
		r.sendBack(ctx, p)
		return
	case p.Status != store.StatusPending || p.Stage == store.StageDone:
		// Replayed: the payment is settled; show where it ended.
		rs.decision, rs.code = "callback_replayed", "callback_replayed"
		r.sendBack(ctx, p)
		return
	case p.Stage == store.StageCallback:
		rs.decision, rs.code = "callback_in_progress", "callback_replayed"
		r.showInProgress(ctx, p)
		return
	case p.Stage != store.StageBankStep:
		rs.decision, rs.code = "callback_rejected", "callback_before_bank_step"
		r.messagePage(ctx, fasthttp.StatusBadRequest, t, site, t.Failed, t.VerifyFailed, "", "")
		return
	}
	cb, err := readCallback(ctx)
	if err != nil {
		r.rejectCallback(ctx, rs, p, err)
		return
	}
	g, ok := r.pageGateway(ctx, rs, t, site, p)
	if !ok {
		return
	}
	bp := r.bankPayment(p)
	v, err := g.Verify(bp, cb)
	if err != nil {
		r.rejectCallback(ctx, rs, p, err)
		return
	}
	if err := bind(p, v.Echo); err != nil {
		r.rejectCallback(ctx, rs, p, err)
		return
	}
	atBankStep := func(q *store.Payment) bool {
		return q.Status == store.StatusPending && q.Stage == store.StageBankStep && q.CallbackToken == token
	}
	if v.Outcome != nil {
		np, err := r.settle(c, p, atBankStep, outcomeStatus(v.Outcome), v.Outcome, "callback "+v.Summary)
		r.afterCallback(ctx, rs, p, np, err)
		return
	}
	// Claim the callback so a replay cannot provision a second time, unless
	// another attempt of the order is paid or on its way (see orders.go).
	unlock := r.orders.lock(p.SiteID, p.OrderID)
	other, code, err := r.otherAttempt(c, p, true)
	if err != nil {
		unlock()
		rs.cause = err
		r.messagePage(ctx, fasthttp.StatusInternalServerError, t, site, t.Failed, t.BankUnavailable, "", "")
		return
	}
	if other != nil {
		unlock()
		rs.code = code
		out := &bank.Outcome{Status: bank.Failed, Result: bank.NewResult(code, "", "order "+p.OrderID+": see "+other.ID)}
		np, err := r.finalize(c, p.ID, atBankStep, store.StatusFailed, out, "another attempt "+other.ID)
		r.afterCallback(ctx, rs, p, np, err)
		return
	}
	claimed, err := r.journal.UpdatePayment(c, p.ID, func(q *store.Payment) (*store.Change, error) {
		if !atBankStep(q) {
			return nil, store.ErrConflict
		}
		now := r.now().UTC()
		q.Stage, q.UpdatedAt = store.StageCallback, now
		return &store.Change{Events: []store.Event{{At: now, Kind: "callback_accepted", Detail: map[string]string{"summary": v.Summary}}}}, nil
	})
	unlock()
	if err != nil {
		r.afterCallback(ctx, rs, p, nil, err)
		return
	}
	start := r.now()
	out, err := g.Finish(c, r.bankPayment(claimed), v)
	rs.bankTime = r.now().Sub(start)
	if err != nil {
		// The bank may have acted: never a false "failed"; the status
		// query settles it.
		rs.cause = err
		out = &bank.Outcome{Status: bank.Unknown, Result: bank.NewResult(bank.CodeUnknown, "", shortErr(err))}
	}
	np, err := r.settle(c, claimed, provisioning, outcomeStatus(out), out, "provision")
	r.afterCallback(ctx, rs, p, np, err)
}

// lateCallback looks at a callback for a payment the relay already closed
// as expired, failed or canceled. A verified approval means the bank took
// the money while the site was told the payment failed: that is recorded
// (event late_approval, once), logged as an error and counted, for the
// operator to void or refund; the payment's status is not changed, because
// the site has already been told. Anything else changes nothing.
//
// A signed approval whose fields do not match the payment (an unsigned
// amount changed, or another payment's callback posted here) is not taken
// on its word, nor dropped: the card may have been charged. The bank's
// status API, asked about this payment's own order, decides (refresh
// records a late approval when the bank says approved).
func (r *Relay) lateCallback(ctx *fasthttp.RequestCtx, rs *reqState, p *store.Payment) {
	rs.decision, rs.code = "callback_late", "callback_replayed"
	cb, err := readCallback(ctx)
	if err != nil {
		rs.cause = err
		return
	}
	g, ok := r.gatewayFor(p)
	if !ok {
		return
	}
	v, err := g.Verify(r.bankPayment(p), cb)
	if err != nil {
		rs.cause = err
		return
	}
	if v.Outcome == nil || v.Outcome.Status != bank.Succeeded {
		return // authentication only, or not approved: no money moved
	}
	c := context.Background()
	if err := bind(p, v.Echo); err != nil {
		rs.decision, rs.cause = "callback_late_mismatch", err
		// Whoever holds the callback URL and a signed approval could post
		// it again and again: the bank is asked with backoff per payment,
		// so the relay's address is not the one the bank blocks.
		start := r.now()
		if !r.backoff.due(p.ID, start) {
			rs.decision = "callback_late_mismatch_backoff"
			return
		}
		r.backoff.later(p.ID, start)
		_, _, qerr := r.refreshStatus(c, p)
		rs.bankTime = r.now().Sub(start)
		if qerr != nil {
			r.log.Error("a late callback carried the bank's signed approval with fields that do not match the payment, "+
				"and the bank's status service did not answer: check the order at the bank (posrelay payments show "+p.ID+")",
				zap.String(logPayment, p.ID), zap.String(logBank, p.Bank), zap.String(logSite, p.SiteID), zap.String("order", p.OrderID),
				zap.NamedError("mismatch", err), zap.NamedError("status_query", qerr))
		}
		return
	}
	rs.decision = "callback_late_approval"
	r.recordLateApproval(c, p, &v.Outcome.Ref, "callback")
}

// recordLateApproval notes that the bank approved a payment the relay had
// closed without success. It is idempotent per payment.
func (r *Relay) recordLateApproval(c context.Context, p *store.Payment, ref *bank.Ref, source string) {
	if evs, err := r.journal.Events(c, p.ID); err == nil && findEvent(evs, eventLateApproval) != nil {
		return
	}
	now := r.now().UTC()
	clean := bank.CleanRef(*ref)
	detail := map[string]string{"source": source, "status_was": string(p.Status), "auth_code": clean.AuthCode, "host_ref": clean.HostRef}
	if _, err := r.journal.UpdatePayment(c, p.ID, func(q *store.Payment) (*store.Change, error) {
		q.UpdatedAt = now
		return &store.Change{Events: []store.Event{{At: now, Kind: eventLateApproval, Detail: detail}}}, nil
	}); err != nil {
		r.log.Error("could not record a late approval", zap.String(logPayment, p.ID), zap.Error(err))
	}
	r.metrics.inc("posrelay_late_approvals_total", "bank", p.Bank)
	r.log.Error("the bank approved a payment the relay had already closed; the card was charged but the site was told "+
		string(p.Status)+": void or refund it (posrelay payments show "+p.ID+")",
		zap.String(logPayment, p.ID), zap.String(logBank, p.Bank), zap.String(logSite, p.SiteID), zap.String("order", p.OrderID),
		zap.String("source", source))
}

// eventLateApproval is the event kind of an approval that came after the
// payment was closed; the daily report lists such payments.
const eventLateApproval = "late_approval"

// bind checks that a verified callback is about this payment: order,
// amount and currency as recorded. Nothing is taken from the callback
// that the record already knows.
func bind(p *store.Payment, e bank.Echo) error {
	if e.OrderID != p.BankOrderID {
		return fmt.Errorf("%w: order %q, payment is for %q", bank.ErrBinding, e.OrderID, p.BankOrderID)
	}
	if e.HasAmount && e.Amount != p.Amount {
		return fmt.Errorf("%w: amount %d, payment is for %d", bank.ErrBinding, e.Amount, p.Amount)
	}
	if e.Installments > 0 && e.Installments != max(p.Installments, 1) {
		return fmt.Errorf("%w: %d installments, payment is for %d", bank.ErrBinding, e.Installments, max(p.Installments, 1))
	}
	if e.Currency != "" {
		cur, _ := bank.LookupCurrency(p.Currency)
		if e.Currency != cur.Numeric && e.Currency != cur.Alpha {
			return fmt.Errorf("%w: currency %q, payment is in %s", bank.ErrBinding, e.Currency, p.Currency)
		}
	}
	return nil
}

// rejectCallback answers a callback that changes nothing.
func (r *Relay) rejectCallback(ctx *fasthttp.RequestCtx, rs *reqState, p *store.Payment, err error) {
	rs.decision, rs.cause = "callback_rejected", err
	switch {
	case errors.Is(err, bank.ErrHashMismatch):
		rs.code = "callback_hash_mismatch"
	case errors.Is(err, bank.ErrBinding):
		rs.code = "callback_mismatch"
	default:
		rs.code = "callback_malformed"
	}
	t := textFor(p.Language)
	r.messagePage(ctx, fasthttp.StatusBadRequest, t, r.siteByID[p.SiteID], t.Failed, t.VerifyFailed, "", "")
}

// afterCallback sends the shopper on once the callback is settled.
func (r *Relay) afterCallback(ctx *fasthttp.RequestCtx, rs *reqState, p, np *store.Payment, err error) {
	if err != nil {
		if !errors.Is(err, store.ErrConflict) {
			rs.cause = err
			r.log.Error("callback: journal write failed", zap.String(logPayment, p.ID), zap.Error(err))
		}
		rs.decision = "callback_raced"
		np, _ = r.journal.GetPayment(context.Background(), p.ID)
		if np == nil {
			np = p
		}
	} else {
		rs.decision = "callback_" + string(np.Status)
	}
	if np.Status == store.StatusPending {
		r.showInProgress(ctx, np)
		return
	}
	r.sendBack(ctx, np)
}

// findEvent returns the first event of kind in evs, or nil.
func findEvent(evs []store.Event, kind string) *store.Event {
	for i := range evs {
		if evs[i].Kind == kind {
			return &evs[i]
		}
	}
	return nil
}
