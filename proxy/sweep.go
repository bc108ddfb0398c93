package proxy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/posrelay/posrelay/bank"
	"github.com/posrelay/posrelay/store"
)

// sweepInterval is how often open payments are looked at.
const sweepInterval = 5 * time.Second

// sweepLoop settles open payments until ctx is done.
func (r *Relay) sweepLoop(ctx context.Context) {
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := r.Sweep(ctx); err != nil && ctx.Err() == nil {
				r.log.Error("sweep", zap.Error(err))
			}
		}
	}
}

// Sweep settles what the shopper's browser left open: payments past their
// expiry, payments whose provisioning was cut off (a crash, a lost
// answer) and payments in status unknown. A payment that reached the bank
// is never given up on without asking the bank's status API. Tests with an
// injected clock call it directly.
func (r *Relay) Sweep(ctx context.Context) error {
	now := r.now()
	expired, err := r.journal.ListPayments(ctx, store.PaymentFilter{Status: store.StatusPending, ExpiresBefore: now, Limit: 200})
	if err != nil {
		return err
	}
	for _, p := range expired {
		if p.Stage == store.StageCreated {
			r.expireIfDue(ctx, p)
			continue
		}
		r.resolve(ctx, p)
	}
	// Provisioning that started but never finished (the relay stopped).
	// Selected by stage: however many shoppers are still at the bank's
	// page, they must not hide it.
	stuckBefore := now.Add(-2 * r.cfg.Egress.BankTimeout)
	pending, err := r.journal.ListPayments(ctx, store.PaymentFilter{Status: store.StatusPending, Stage: store.StageCallback, Limit: 500})
	if err != nil {
		return err
	}
	for _, p := range pending {
		if p.Stage == store.StageCallback && p.UpdatedAt.Before(stuckBefore) && !p.ExpiresAt.Before(now) {
			r.resolve(ctx, p)
		}
	}
	unknown, err := r.journal.ListPayments(ctx, store.PaymentFilter{Status: store.StatusUnknown, Limit: 200})
	if err != nil {
		return err
	}
	for _, p := range unknown {
		r.resolve(ctx, p)
	}
	return r.sweepOperations(ctx)
}

// resolve asks the bank about an open payment and settles it if the
// bank's answer is final.
func (r *Relay) resolve(ctx context.Context, p *store.Payment) {
	if _, err := r.refresh(ctx, p); err != nil {
		r.log.Warn("status query failed; will retry", zap.String(logPayment, p.ID), zap.String(logBank, p.Bank), zap.Error(err))
	}
}

// refresh asks the bank's status API and applies the answer to a payment
// that is not final. It returns the bank's view.
func (r *Relay) refresh(ctx context.Context, p *store.Payment) (*bank.StatusResult, error) {
	g, ok := r.gatewayFor(p)
	if !ok {
		return nil, internalError(fmt.Errorf("no gateway for account %s", p.Account))
	}
	st, err := statusKnowingRefunds(ctx, g, r.bankPayment(p), p.Refunded > 0)
	if err != nil {
		return nil, &apiError{Status: 502, Code: "bank_unavailable", Message: "The bank's status service did not answer; try again shortly.", Cause: err}
	}
	if p.Status.Final() {
		return st, nil
	}
	if p.Status == store.StatusPending && p.Stage == store.StageCreated {
		return st, nil // never reached the bank
	}
	var to store.PaymentStatus
	var out *bank.Outcome
	switch st.State {
	case bank.TxnApproved, bank.TxnRefunded:
		if st.Amount != 0 && st.Amount != p.Amount {
			r.log.Error("bank reports another amount for this order; leaving it to the operator",
				zap.String(logPayment, p.ID), zap.Int64("journal_amount", p.Amount), zap.Int64("bank_amount", st.Amount))
			return st, nil
		}
		to, out = store.StatusSucceeded, &bank.Outcome{Status: bank.Succeeded, Result: bank.NewResult(bank.CodeApproved, st.Result.BankCode, "confirmed by status query"), Ref: st.Ref}
	case bank.TxnDeclined:
		res := st.Result
		if res.Code == bank.CodeApproved || res.Code == "" {
			res = bank.NewResult(bank.CodeDeclined, res.BankCode, res.BankMessage)
		}
		to, out = store.StatusFailed, &bank.Outcome{Status: bank.Failed, Result: res, Ref: st.Ref}
	case bank.TxnNotFound:
		// The bank never took it. Past the expiry (or after a cut-off
		// provisioning) it is over.
		if p.Status == store.StatusPending && r.now().Before(p.ExpiresAt) && p.Stage != store.StageCallback {
			return st, nil
		}
		if p.Status == store.StatusPending && p.Stage == store.StageBankStep {
			to, out = store.StatusExpired, &bank.Outcome{Status: bank.Failed, Result: bank.NewResult(bank.CodeExpired, "", "no transaction at the bank")}
		} else {
			to, out = store.StatusFailed, &bank.Outcome{Status: bank.Failed, Result: bank.NewResult(bank.CodeNotFound, "", "no transaction at the bank")}
		}
	case bank.TxnVoided:
		to, out = store.StatusFailed, &bank.Outcome{Status: bank.Failed, Result: bank.NewResult(bank.CodeAlreadyVoided, "", "voided at the bank")}
	default:
		return st, nil
	}
	if p.Status == store.StatusUnknown && to == store.StatusExpired {
		to = store.StatusFailed
	}
	from, stage := p.Status, p.Stage
	_, err = r.finalize(ctx, p.ID, func(q *store.Payment) bool { return q.Status == from && q.Stage == stage }, to, out, "status query")
	if err != nil && !errors.Is(err, store.ErrConflict) {
		return st, internalError(err)
	}
	return st, nil
}

// refundAware is a gateway whose status query can leave out what only
// matters once a payment has refunds (bank/est: the ORDERHISTORY call).
type refundAware interface {
	StatusKnowingRefunds(ctx context.Context, p *bank.Payment, refunds bool) (*bank.StatusResult, error)
}

// statusKnowingRefunds asks the bank's status API, telling an adapter that
// can use it whether the journal records refunds of the payment.
func statusKnowingRefunds(ctx context.Context, g gateway, p *bank.Payment, refunds bool) (*bank.StatusResult, error) {
	if ra, ok := g.(refundAware); ok {
		return ra.StatusKnowingRefunds(ctx, p, refunds)
	}
	return g.Status(ctx, p)
}
