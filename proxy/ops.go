package proxy

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/posrelay/posrelay/api"
	"github.com/posrelay/posrelay/bank"
	"github.com/posrelay/posrelay/config"
	"github.com/posrelay/posrelay/store"
)

// answerWithin is how long an after-sale call waits for the bank before
// answering 202 with the operation still open: well inside the 14 s a Wix
// backend waits. The bank call goes on and records its outcome; a retry
// with the same key returns it.
var answerWithin = 10 * time.Second

type refundRequest struct {
	Amount      *int64 `json:"amount"`
	WixRefundID string `json:"wixRefundId"`
	Reason      string `json:"reason"`
}

type captureRequest struct {
	Amount *int64 `json:"amount"`
}

// operate handles POST /v1/payments/{id}/refunds|void|capture.
func (r *Relay) operate(ctx *fasthttp.RequestCtx, rs *reqState, site *config.Site, id, action string) {
	p, err := r.sitePayment(site, id)
	if err != nil {
		writeError(ctx, rs, err)
		return
	}
	rs.payment, rs.bank = p.ID, p.Bank
	body := ctx.PostBody()
	var kind bank.OpKind
	var amount int64
	var wixRefundID string
	switch action {
	case "refunds":
		kind = bank.OpRefund
		var in refundRequest
		if err := decodeJSON(orEmptyObject(body), &in); err != nil {
			writeError(ctx, rs, err)
			return
		}
		if in.Amount != nil {
			if amount = *in.Amount; amount <= 0 {
				writeError(ctx, rs, errInvalid("amount", "amount must be a positive integer in minor units, or left out to refund the rest"))
				return
			}
		}
		if len(in.WixRefundID) > maxWixIDLen || hasControl(in.WixRefundID) {
			writeError(ctx, rs, errInvalid("wixRefundId", "wixRefundId must be up to %d printable characters", maxWixIDLen))
			return
		}
		wixRefundID = in.WixRefundID
	case "void":
		// wixRefundId is optional: a Wix refund done as a same-day void
		// names it, so that the void's outcome can be reported against it.
		kind = bank.OpVoid
		var in struct {
			WixRefundID string `json:"wixRefundId"`
		}
		if err := decodeJSON(orEmptyObject(body), &in); err != nil {
			writeError(ctx, rs, err)
			return
		}
		if len(in.WixRefundID) > maxWixIDLen || hasControl(in.WixRefundID) {
			writeError(ctx, rs, errInvalid("wixRefundId", "wixRefundId must be up to %d printable characters", maxWixIDLen))
			return
		}
		wixRefundID = in.WixRefundID
	case "capture":
		kind = bank.OpCapture
		var in captureRequest
		if err := decodeJSON(orEmptyObject(body), &in); err != nil {
			writeError(ctx, rs, err)
			return
		}
		if in.Amount != nil {
			if amount = *in.Amount; amount <= 0 {
				writeError(ctx, rs, errInvalid("amount", "amount must be a positive integer in minor units, or left out to capture the authorised amount"))
				return
			}
		}
	default:
		writeError(ctx, rs, errNotFound)
		return
	}

	key := string(ctx.Request.Header.Peek("Idempotency-Key"))
	if key == "" {
		key = wixRefundID
	}
	if key == "" && kind != bank.OpRefund {
		key = string(kind) // one void and one capture per payment
	}
	if key == "" {
		writeError(ctx, rs, errBadRequest("idempotency_key_required", "Idempotency-Key",
			"A refund needs an Idempotency-Key header or a wixRefundId, so that a retry cannot refund twice."))
		return
	}
	if len(key) > maxIdemKeyLen || hasControl(key) {
		writeError(ctx, rs, errBadRequest("invalid_idempotency_key", "Idempotency-Key", "Idempotency-Key must be up to %d printable characters.", maxIdemKeyLen))
		return
	}
	scope, reqHash := opScope(kind, p.ID), opRequestHash(kind, amount)
	if r.replayed(ctx, rs, site.ID, scope, key, reqHash) {
		return
	}

	g, ok := r.gatewayFor(p)
	if !ok {
		writeError(ctx, rs, internalError(errNoGateway(p)))
		return
	}
	now := r.now().UTC()
	op := &store.Operation{ID: newID("op_"), PaymentID: p.ID, SiteID: p.SiteID, Kind: kind, Amount: amount,
		Status: store.OpPending, IdempotencyKey: key, WixRefundID: wixRefundID, CreatedAt: now, UpdatedAt: now}
	_, err = r.journal.UpdatePayment(context.Background(), p.ID, func(q *store.Payment) (*store.Change, error) {
		if err := checkOperation(q, op); err != nil {
			return nil, err
		}
		op.BankCalls = 1 // counted before the call: a crash after this line never resends
		q.UpdatedAt = now
		if op.Kind == bank.OpRefund {
			q.RefundPending += op.Amount
		}
		return &store.Change{
			Operations:  []*store.Operation{op},
			Idempotency: []*store.Idempotency{{SiteID: site.ID, Scope: scope, Key: key, RequestHash: reqHash, ResourceID: op.ID, CreatedAt: now}},
			Events:      []store.Event{{At: now, Kind: string(kind) + "_requested", Detail: map[string]string{"operation": op.ID, "amount": strconv.FormatInt(op.Amount, 10)}}},
		}, nil
	})
	if err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			if r.replayed(ctx, rs, site.ID, scope, key, reqHash) {
				return
			}
		}
		writeError(ctx, rs, asAPIError(err))
		return
	}
	rs.decision = string(kind) + "_sent"

	done := make(chan *store.Operation, 1)
	go func() {
		bctx, cancel := context.WithTimeout(context.Background(), r.cfg.Egress.BankTimeout+2*time.Second)
		defer cancel()
		r.survive("operation", func() { done <- r.runOperation(bctx, g, p.ID, op) })
	}()
	select {
	case final := <-done:
		rs.decision = string(kind) + "_" + string(final.Status)
		writeJSON(ctx, opHTTPStatus(final), apiOperation(final))
	case <-time.After(answerWithin):
		rs.decision = string(kind) + "_still_open"
		cur, err := r.journal.GetOperation(context.Background(), op.ID)
		if err != nil {
			cur = op
		}
		writeJSON(ctx, opHTTPStatus(cur), apiOperation(cur))
	}
}

// opScope and opRequestHash key an operation's idempotency record.
func opScope(kind bank.OpKind, paymentID string) string { return string(kind) + " " + paymentID }

func opRequestHash(kind bank.OpKind, amount int64) string {
	return sha256Hex([]byte(fmt.Sprintf("%s|%d", kind, amount)))
}

func orEmptyObject(b []byte) []byte {
	if len(b) == 0 {
		return []byte("{}")
	}
	return b
}

// checkOperation applies the relay's own rules before anything reaches the
// bank. It sets op.Amount where the request left it out.
func checkOperation(p *store.Payment, op *store.Operation) error {
	conflict := func(code, format string, args ...any) error {
		return &apiError{Status: fasthttp.StatusConflict, Code: code, Message: fmt.Sprintf(format, args...)}
	}
	if p.Status == store.StatusVoided {
		return conflict("already_voided", "Payment %s was voided; nothing is left to %s.", p.ID, op.Kind)
	}
	if p.Status != store.StatusSucceeded {
		return conflict("payment_not_succeeded", "Payment %s is %s; only a succeeded payment can be refunded, voided or captured.", p.ID, p.Status)
	}
	switch op.Kind {
	case bank.OpRefund:
		if p.Captured == 0 {
			return conflict("not_captured", "Payment %s is a pre-authorisation that was never captured: void it (or capture it first).", p.ID)
		}
		left := p.Captured - p.Refunded - p.RefundPending
		if left <= 0 {
			if p.RefundPending > 0 {
				return conflict("refund_in_progress", "The rest of payment %s is being refunded already; retry with the same key to see it.", p.ID)
			}
			return conflict("already_refunded", "Payment %s is fully refunded.", p.ID)
		}
		if op.Amount == 0 {
			op.Amount = left
		}
		if op.Amount > left {
			return &apiError{Status: fasthttp.StatusUnprocessableEntity, Code: "refund_exceeds_captured", Field: "amount",
				Message: fmt.Sprintf("A refund of %d exceeds what is left to refund (%d of %d captured).", op.Amount, left, p.Captured)}
		}
	case bank.OpVoid:
		if p.Refunded > 0 || p.RefundPending > 0 {
			return conflict("has_refunds", "Payment %s has refunds; refund the rest instead of voiding.", p.ID)
		}
		op.Amount = p.Amount
	case bank.OpCapture:
		if p.Type != string(bank.PreAuth) {
			return conflict("not_preauth", "Payment %s is a sale; only a pre-authorisation can be captured.", p.ID)
		}
		if p.Captured > 0 {
			return conflict("already_captured", "Payment %s was captured already.", p.ID)
		}
		if op.Amount == 0 {
			op.Amount = p.Amount
		}
		if op.Amount > p.Amount {
			return &apiError{Status: fasthttp.StatusUnprocessableEntity, Code: "capture_exceeds_authorised", Field: "amount",
				Message: fmt.Sprintf("A capture of %d exceeds the authorised %d.", op.Amount, p.Amount)}
		}
	}
	return nil
}

// runOperation sends the operation to the bank once and records what came
// back. A call whose answer never arrived leaves the operation unknown.
func (r *Relay) runOperation(ctx context.Context, g gateway, paymentID string, op *store.Operation) *store.Operation {
	p, err := r.journal.GetPayment(ctx, paymentID)
	if err != nil {
		r.log.Error("operation: payment vanished", zap.String("operation", op.ID), zap.Error(err))
		return op
	}
	start := r.now()
	res, err := g.Operate(ctx, r.bankPayment(p), &bank.Operation{ID: op.ID, Kind: op.Kind, Amount: op.Amount, State: op.BankState})
	r.log.Info("bank operation", zap.String("operation", op.ID), zap.String("kind", string(op.Kind)), zap.String(logPayment, paymentID),
		zap.Float64(logBankMS, float64(r.now().Sub(start).Microseconds())/1000), zap.Bool("error", err != nil))
	switch {
	case err == nil:
	case errors.Is(err, bank.ErrNotSupported):
		res = &bank.OpResult{Status: bank.Failed, Result: bank.NewResult(bank.CodeRefundNotAllowed, "", err.Error())}
	case bank.OutcomeUnknown(err):
		res = &bank.OpResult{Status: bank.Unknown, Result: bank.NewResult(bank.CodeUnknown, "", shortErr(err))}
	default: // never reached the bank
		res = &bank.OpResult{Status: bank.Failed, Result: bank.NewResult(bank.CodeBankError, "", shortErr(err))}
	}
	final, err := r.settleOperation(ctx, op.ID, res, reasonBankAnswer)
	if err != nil {
		r.log.Error("operation: journal write failed", zap.String("operation", op.ID), zap.Error(err))
		return op
	}
	return final
}

// settleOperation records an operation's outcome with its effect on the
// payment and its webhook, in one transaction. An operation already final
// is left alone and returned as it is.
func (r *Relay) settleOperation(ctx context.Context, opID string, res *bank.OpResult, reason string) (*store.Operation, error) {
	return r.settleOperationIf(ctx, opID, res, reason, nil)
}

// settleOperationIf is settleOperation when check, given, passes on the
// operation as it stands in the transaction; its error is returned and
// nothing written otherwise.
func (r *Relay) settleOperationIf(ctx context.Context, opID string, res *bank.OpResult, reason string, check func(*store.Operation) error) (*store.Operation, error) {
	var already *store.Operation
	_, op, err := r.journal.UpdateOperation(ctx, opID, func(p *store.Payment, o *store.Operation) (*store.Change, error) {
		if check != nil {
			if err := check(o); err != nil {
				return nil, err
			}
		}
		if o.Status == store.OpSucceeded || o.Status == store.OpFailed {
			cp := *o
			already = &cp
			return nil, store.ErrConflict
		}
		now := r.now().UTC()
		o.UpdatedAt = now
		result := res.Result
		o.Result = &result
		mergeRef(&o.Ref, res.Ref)
		if res.State != nil {
			o.BankState = res.State
		}
		switch res.Status {
		case bank.Succeeded:
			o.Status, o.FinalAt = store.OpSucceeded, now
		case bank.Failed:
			o.Status, o.FinalAt = store.OpFailed, now
		default:
			o.Status = store.OpUnknown
		}
		final := o.Status == store.OpSucceeded || o.Status == store.OpFailed
		if final && o.Kind == bank.OpRefund {
			p.RefundPending = max(p.RefundPending-o.Amount, 0)
		}
		if o.Status == store.OpSucceeded {
			switch o.Kind {
			case bank.OpRefund:
				p.Refunded += o.Amount
			case bank.OpVoid:
				p.Status, p.FinalAt = store.StatusVoided, now
			case bank.OpCapture:
				p.Captured = o.Amount
			}
		}
		p.UpdatedAt = now
		ch := &store.Change{Events: []store.Event{{At: now, Kind: string(o.Kind) + "_" + string(o.Status),
			Detail: map[string]string{"operation": o.ID, "code": result.Code, "bank_code": result.BankCode, "reason": reason}}}}
		if final {
			if w, ok := r.operationWebhook(p, o, now); ok {
				ch.Webhooks = []store.Webhook{w}
			}
		}
		return ch, nil
	})
	if errors.Is(err, store.ErrConflict) && already != nil {
		if check == nil {
			r.noteDisagreement(ctx, already, res, reason)
		}
		return already, nil
	}
	if err != nil {
		return nil, err
	}
	r.metrics.inc("posrelay_operations_total", "kind", string(op.Kind), "status", string(op.Status))
	r.wake()
	return op, nil
}

// noteDisagreement records a bank-derived final answer for an operation
// that was already settled the other way — by an operator, or failed by
// the sweep after its grace period — so that it is not lost: the bank
// refunded what the site was told failed, or the reverse. The operation
// stays as it is (the site has been told); an event on the payment, an
// error log and posrelay_operation_disagreements_total tell the operator
// to put it right with the bank.
func (r *Relay) noteDisagreement(ctx context.Context, op *store.Operation, res *bank.OpResult, reason string) {
	var says store.OpStatus
	switch {
	case res.Status == bank.Succeeded:
		says = store.OpSucceeded
	case res.Status == bank.Failed && reason == reasonBankAnswer:
		says = store.OpFailed
	default:
		return // no answer, or the sweep's "not confirmed": no evidence either way
	}
	if says == op.Status {
		return
	}
	now := r.now().UTC()
	detail := map[string]string{"operation": op.ID, "recorded": string(op.Status), "bank_says": string(says),
		"bank_code": res.Result.BankCode, "source": reason}
	if _, err := r.journal.UpdatePayment(ctx, op.PaymentID, func(q *store.Payment) (*store.Change, error) {
		q.UpdatedAt = now
		return &store.Change{Events: []store.Event{{At: now, Kind: eventOperationDisagrees, Detail: detail}}}, nil
	}); err != nil {
		r.log.Error("could not record a bank answer that disagrees with an operation", zap.String("operation", op.ID), zap.Error(err))
	}
	r.metrics.inc("posrelay_operation_disagreements_total", "kind", string(op.Kind))
	r.log.Error("the bank's answer disagrees with how this operation was settled: the site was told "+string(op.Status)+
		" but the bank says "+string(says)+"; check it with the bank and put it right (refund, or refund again)",
		zap.String("operation", op.ID), zap.String("kind", string(op.Kind)), zap.String(logPayment, op.PaymentID),
		zap.Int64("amount", op.Amount), zap.String("source", reason))
}

// reasonBankAnswer is the settle reason of the bank's own answer to an
// operation's call.
const reasonBankAnswer = "bank answer"

// eventOperationDisagrees is the event of a bank answer that came after
// its operation was settled the other way.
const eventOperationDisagrees = "operation_disagrees"

// operationWebhook is the message a finished operation sends: refunds
// succeed or fail, a void voids the payment or fails (a void answered 202
// would otherwise end unseen). A capture sends nothing (Wix has no event
// for it).
func (r *Relay) operationWebhook(p *store.Payment, op *store.Operation, now time.Time) (store.Webhook, bool) {
	d := r.eventData(p)
	var typ string
	switch {
	case op.Kind == bank.OpRefund:
		typ = api.EventRefundSucceeded
		if op.Status == store.OpFailed {
			typ = api.EventRefundFailed
		}
		d.RefundID, d.PluginRefundID, d.WixRefundID, d.RefundAmount = op.ID, op.ID, op.WixRefundID, op.Amount
		d.ReasonCode, d.ErrorCode, d.ErrorMessage = 0, "", ""
		if op.Status == store.OpFailed && op.Result != nil {
			d.Result = webhookResult(op.Result)
			d.ReasonCode, d.ErrorCode = op.Result.ReasonCode, op.Result.Code
			d.ErrorMessage = op.Result.Message.EN
		}
	case op.Kind == bank.OpVoid && op.Status == store.OpSucceeded:
		typ = api.EventPaymentVoided
		d.RefundID, d.WixRefundID = op.ID, op.WixRefundID
	case op.Kind == bank.OpVoid && op.Status == store.OpFailed:
		typ = api.EventVoidFailed
		d.RefundID, d.WixRefundID = op.ID, op.WixRefundID
		d.ReasonCode, d.ErrorCode, d.ErrorMessage = 0, "", ""
		if op.Result != nil {
			d.Result = webhookResult(op.Result)
			d.ReasonCode, d.ErrorCode = op.Result.ReasonCode, op.Result.Code
			d.ErrorMessage = op.Result.Message.EN
		}
	default:
		return store.Webhook{}, false
	}
	return r.webhook(p, typ, d, now), true
}

func apiOperation(op *store.Operation) *api.Operation {
	return &api.Operation{ID: op.ID, PaymentID: op.PaymentID, Kind: string(op.Kind), Amount: op.Amount, Status: string(op.Status),
		WixRefundID: op.WixRefundID, Result: op.Result, CreatedAt: fmtTime(op.CreatedAt), UpdatedAt: fmtTime(op.UpdatedAt)}
}

// opHTTPStatus is 200 for a final operation (succeeded or failed: a bank
// refusal is a result, not an HTTP error) and 202 while it is open.
func opHTTPStatus(op *store.Operation) int {
	switch op.Status {
	case store.OpSucceeded, store.OpFailed:
		return fasthttp.StatusOK
	}
	return fasthttp.StatusAccepted
}

// sweepOperations resolves operations left unknown, or left pending by a
// relay that stopped mid-call, from the bank's status API. Nothing is ever
// sent to the bank a second time.
func (r *Relay) sweepOperations(ctx context.Context) error {
	ops, err := r.journal.UnresolvedOperations(ctx, r.now().Add(-(r.cfg.Egress.BankTimeout + 5*time.Second)))
	if err != nil {
		return err
	}
	now := r.now()
	budget := sweepBudget
	for _, op := range ops {
		if budget <= 0 || !r.backoff.due(op.ID, now) {
			continue
		}
		budget--
		decided, err := r.resolveOperation(ctx, op)
		if err != nil {
			r.log.Warn("operation status query failed; will retry", zap.String("operation", op.ID), zap.Error(err))
		}
		if decided {
			r.backoff.forget(op.ID)
		} else {
			r.backoff.later(op.ID, now)
		}
	}
	return nil
}

// opUnknownGrace is how long an operation the bank has not confirmed stays
// unknown — its amount still held against further refunds — before it is
// marked failed and reported to the operator: six times
// payments.status_grace (an hour by default). A bank may book a refund
// late; failing it early would let a retry refund twice.
func (r *Relay) opUnknownGrace() time.Duration { return 6 * r.cfg.StatusGrace }

// resolveOperation decides an open operation from the bank's view of the
// payment: a refund is done if the bank's refunded total covers it on top
// of what the journal already counts; a void if the bank shows the payment
// voided; a capture if the bank shows it captured. Without that evidence
// it stays unknown until opUnknownGrace has passed. It reports whether
// the operation is settled.
func (r *Relay) resolveOperation(ctx context.Context, op *store.Operation) (bool, error) {
	p, err := r.journal.GetPayment(ctx, op.PaymentID)
	if err != nil {
		return false, err
	}
	g, ok := r.gatewayFor(p)
	if !ok {
		return false, errNoGateway(p)
	}
	st, err := g.Status(ctx, r.bankPayment(p))
	if err != nil {
		return false, err
	}
	res := &bank.OpResult{Status: bank.Failed, Result: bank.NewResult(bank.CodeNotFound, "", "not confirmed by the bank's status query")}
	switch op.Kind {
	case bank.OpRefund:
		// Open refunds created before this one are counted first.
		earlier := int64(0)
		ops, err := r.journal.Operations(ctx, p.ID)
		if err != nil {
			return false, err
		}
		open := 0 // other refunds still open, before or after this one
		for _, o := range ops {
			if o.ID != op.ID && o.Kind == bank.OpRefund && (o.Status == store.OpUnknown || o.Status == store.OpPending) {
				open++
				if o.CreatedAt.Before(op.CreatedAt) {
					earlier += o.Amount
				}
			}
		}
		switch {
		case st.Refunded >= p.Refunded+earlier+op.Amount:
			res = &bank.OpResult{Status: bank.Succeeded, Result: bank.NewResult(bank.CodeApproved, "", "confirmed by status query")}
		case st.RefundedUnknown && p.Refunded == 0 && open == 0:
			// The bank shows refunds without their total, and this is the
			// only refund the relay ever sent for the payment: it is the
			// one the bank shows.
			res = &bank.OpResult{Status: bank.Succeeded, Result: bank.NewResult(bank.CodeApproved, "", "confirmed by status query (the only refund; the bank gave no total)")}
		}
	case bank.OpVoid:
		if st.State == bank.TxnVoided {
			res = &bank.OpResult{Status: bank.Succeeded, Result: bank.NewResult(bank.CodeApproved, "", "confirmed by status query")}
		}
	case bank.OpCapture:
		if st.Captured >= op.Amount {
			res = &bank.OpResult{Status: bank.Succeeded, Result: bank.NewResult(bank.CodeApproved, "", "confirmed by status query")}
		}
	}
	if res.Status != bank.Succeeded {
		if r.now().Before(op.CreatedAt.Add(r.opUnknownGrace())) {
			return false, nil
		}
		if op.Kind == bank.OpRefund && st.RefundedUnknown {
			// The bank shows refunds without their total: this one may be
			// among them. Failing it would invite a second refund, so it
			// stays unknown (its amount held) until an operator checks.
			r.log.Error("the bank reports refunds on this payment but not their total; the refund stays unknown — check it with the bank, "+
				"then record what it says: posrelay operations settle "+op.ID+" --as succeeded|failed --note \"…\"",
				zap.String("operation", op.ID), zap.String(logPayment, op.PaymentID), zap.Int64("amount", op.Amount), zap.String("bank_state", string(st.State)))
			return false, nil
		}
		r.log.Error("the bank has not confirmed this operation within the grace period; marking it failed — check it with the bank",
			zap.String("operation", op.ID), zap.String("kind", string(op.Kind)), zap.String(logPayment, op.PaymentID),
			zap.Int64("amount", op.Amount), zap.Int64("bank_refunded", st.Refunded), zap.String("bank_state", string(st.State)))
	}
	_, err = r.settleOperation(ctx, op.ID, res, "status query")
	return err == nil, err
}
