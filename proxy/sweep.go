package proxy

import (
	"context"
	"errors"
	"sync"
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
			r.survive("sweep", func() {
				if err := r.Sweep(ctx); err != nil && ctx.Err() == nil {
					r.log.Error("sweep", zap.Error(err))
				}
			})
		}
	}
}

// sweepBudget bounds the status queries one sweep makes. The grace
// periods before the bank's silence is believed are configured:
// payments.bank_step_grace (a shopper may still be at the bank's page past
// the expiry) and payments.status_grace (a bank may book a late answer).
const sweepBudget = 100

// Sweep settles what the shopper's browser left open: payments past their
// expiry, payments whose provisioning was cut off (a crash, a lost
// answer) and payments in status unknown. A payment that reached the bank
// is never given up on without asking the bank's status API, and the
// bank's silence is believed only after a grace period. Payments whose
// queries fail or stay undecided are asked again with backoff, so they do
// not crowd out newer ones. Tests with an injected clock call it directly.
func (r *Relay) Sweep(ctx context.Context) error {
	r.sweep.mu.Lock() // one sweep at a time: the loop's and a test's
	defer r.sweep.mu.Unlock()
	now := r.now()
	// Expired nonce records only take room (UseNonce ignores them): once
	// per auth window is enough, not a journal write every sweep.
	if now.Sub(r.sweep.noncesPruned) >= r.cfg.Auth.Window {
		if _, err := r.journal.PruneNonces(ctx, now); err != nil {
			r.log.Warn("could not prune expired request nonces; will retry", zap.Error(err))
		} else {
			r.sweep.noncesPruned = now
		}
	}
	budget := sweepBudget
	ask := func(p *store.Payment) {
		if budget <= 0 || !r.backoff.due(p.ID, now) {
			return
		}
		budget--
		decided, err := r.refresh(ctx, p)
		if err != nil {
			r.log.Warn("status query failed; will retry", zap.String(logPayment, p.ID), zap.String(logBank, p.Bank), zap.Error(err))
		}
		if decided {
			r.backoff.forget(p.ID)
		} else {
			r.backoff.later(p.ID, now)
		}
	}
	more := func() bool { return budget > 0 }
	err := r.sweep.expired.walk(ctx, r.journal, store.PaymentFilter{Status: store.StatusPending, ExpiresBefore: now}, more, func(p *store.Payment) {
		switch {
		case p.Stage == store.StageCreated:
			r.expireIfDue(ctx, p)
		case p.Stage == store.StageBankStep && !now.Before(p.ExpiresAt.Add(r.cfg.BankStepGrace)):
			ask(p)
		}
	})
	if err != nil {
		return err
	}
	// Provisioning that started but never finished (the relay stopped).
	// Selected by stage: however many shoppers are still at the bank's
	// page, they must not hide it.
	stuckBefore := now.Add(-2 * r.cfg.Egress.BankTimeout)
	err = r.sweep.callback.walk(ctx, r.journal, store.PaymentFilter{Status: store.StatusPending, Stage: store.StageCallback}, more, func(p *store.Payment) {
		if p.UpdatedAt.Before(stuckBefore) {
			ask(p)
		}
	})
	if err != nil {
		return err
	}
	err = r.sweep.unknown.walk(ctx, r.journal, store.PaymentFilter{Status: store.StatusUnknown}, more, ask)
	if err != nil {
		return err
	}
	return r.sweepOperations(ctx)
}

// sweepState is what one sweep leaves for the next: where each list of
// open payments was left off.
type sweepState struct {
	mu                         sync.Mutex
	expired, callback, unknown sweepCursor
	noncesPruned               time.Time // when expired nonce records were last deleted
}

// sweepPage is how many payments one sweep reads from a list at a time,
// and sweepPages how many pages at most.
const (
	sweepPage  = 500
	sweepPages = 20
)

// sweepCursor walks a list of open payments (oldest first) across sweeps:
// each sweep goes on from where the last one stopped, and starts over
// once it reaches the end. However many old payments stay unsettled (a
// bank that does not answer, an account taken out of the configuration),
// newer ones still get their turn.
type sweepCursor struct {
	from time.Time // created_at to go on from (inclusive); zero: the start
}

// walk calls visit for the payments matching f from the cursor on, page by
// page, while more reports true and for at most sweepPages pages, and
// leaves the cursor where it stopped.
func (c *sweepCursor) walk(ctx context.Context, j store.Journal, f store.PaymentFilter, more func() bool, visit func(*store.Payment)) error {
	f.Limit = sweepPage
	for range sweepPages {
		f.CreatedFrom = c.from
		ps, err := j.ListPayments(ctx, f)
		if err != nil {
			return err
		}
		for _, p := range ps {
			if !more() {
				// p's turn comes first next time (payments created in the
				// same millisecond before it may be visited twice; the
				// backoff spares the bank).
				c.from = p.CreatedAt
				return nil
			}
			visit(p)
		}
		if len(ps) < f.Limit {
			c.from = time.Time{} // the end: start over next sweep
			return nil
		}
		next := ps[len(ps)-1].CreatedAt
		if !next.After(c.from) {
			next = c.from.Add(time.Millisecond) // a whole page in one millisecond: do not loop on it
		}
		c.from = next
	}
	return nil
}

// refresh asks the bank's status API about a payment and applies the
// answer when it settles the payment (see decide). It reports whether
// the payment is now settled (or was already).
func (r *Relay) refresh(ctx context.Context, p *store.Payment) (bool, error) {
	_, decided, err := r.refreshStatus(ctx, p)
	return decided, err
}

// refreshStatus is refresh that also returns the bank's view.
func (r *Relay) refreshStatus(ctx context.Context, p *store.Payment) (*bank.StatusResult, bool, error) {
	g, ok := r.gatewayFor(p)
	if !ok {
		return nil, false, internalError(errNoGateway(p))
	}
	now := r.now()
	k := recentKey{p.ID, p.Version}
	var st *bank.StatusResult
	if c, ok := r.recent.Get(k); ok && now.Sub(c.at) < r.cfg.StatusReuse && !now.Before(c.at) {
		st = c.st
	} else {
		var err error
		if st, err = statusKnowingRefunds(ctx, g, r.bankPayment(p), p.Refunded > 0); err != nil {
			return nil, false, &apiError{Status: 502, Code: "bank_unavailable", Message: "The bank's status service did not answer; try again shortly.", Cause: err}
		}
		r.recent.Add(k, recentStatus{at: now, st: st})
	}
	if p.Status.Final() {
		if (st.State == bank.TxnApproved || st.State == bank.TxnRefunded) &&
			(p.Status == store.StatusFailed || p.Status == store.StatusExpired || p.Status == store.StatusCanceled) {
			r.recordLateApproval(ctx, p, &st.Ref, "status query")
		}
		return st, true, nil
	}
	to, out := r.decide(p, st, r.now())
	if out == nil {
		return st, false, nil
	}
	from, stage := p.Status, p.Stage
	_, err := r.settle(ctx, p, func(q *store.Payment) bool { return q.Status == from && q.Stage == stage }, to, out, "status query")
	if err != nil && !errors.Is(err, store.ErrConflict) {
		return st, false, internalError(err)
	}
	return st, true, nil
}

// recentKey names a payment as it stood: any change (a refund, a final
// status) makes a new version, and so a new question to the bank.
type recentKey struct {
	id      string
	version int64
}

type recentStatus struct {
	at time.Time
	st *bank.StatusResult
}

// decide turns the bank's view of an open payment into its final status,
// or nil while the answer could still change:
//
//   - approved: succeeded (unless the amount differs: the operator decides);
//   - nothing is decided while provisioning may be in flight, nor while the
//     shopper may still be at the bank's page (expiry + bank_step_grace);
//   - "no such transaction" or a decline settle an unknown or cut-off
//     payment only status_grace after the last bank call.
func (r *Relay) decide(p *store.Payment, st *bank.StatusResult, now time.Time) (store.PaymentStatus, *bank.Outcome) {
	switch {
	case p.Status == store.StatusPending && p.Stage == store.StageCreated:
		return "", nil // never reached the bank
	case provisioning(p) && now.Before(p.UpdatedAt.Add(2*r.cfg.Egress.BankTimeout)):
		return "", nil // provisioning may still be on its way
	}
	if st.State == bank.TxnApproved || st.State == bank.TxnRefunded {
		if st.Amount != 0 && st.Amount != p.Amount {
			r.log.Error("bank reports another amount for this order; leaving it to the operator",
				zap.String(logPayment, p.ID), zap.Int64("journal_amount", p.Amount), zap.Int64("bank_amount", st.Amount))
			return "", nil
		}
		return store.StatusSucceeded, &bank.Outcome{Status: bank.Succeeded, Result: bank.NewResult(bank.CodeApproved, st.Result.BankCode, "confirmed by status query"), Ref: st.Ref}
	}
	// Every other answer is only believed once nothing can still change it.
	atBank := p.Status == store.StatusPending && p.Stage == store.StageBankStep
	if atBank && now.Before(p.ExpiresAt.Add(r.cfg.BankStepGrace)) || !atBank && now.Before(p.UpdatedAt.Add(r.cfg.StatusGrace)) {
		return "", nil
	}
	switch st.State {
	case bank.TxnDeclined:
		res := st.Result
		if res.Code == bank.CodeApproved || res.Code == "" {
			res = bank.NewResult(bank.CodeDeclined, res.BankCode, res.BankMessage)
		}
		return store.StatusFailed, &bank.Outcome{Status: bank.Failed, Result: res, Ref: st.Ref}
	case bank.TxnNotFound:
		if atBank {
			return store.StatusExpired, &bank.Outcome{Status: bank.Failed, Result: bank.NewResult(bank.CodeExpired, "", "no transaction at the bank")}
		}
		return store.StatusFailed, &bank.Outcome{Status: bank.Failed, Result: bank.NewResult(bank.CodeNotFound, "", "no transaction at the bank")}
	case bank.TxnVoided:
		return store.StatusFailed, &bank.Outcome{Status: bank.Failed, Result: bank.NewResult(bank.CodeAlreadyVoided, "", "voided at the bank")}
	}
	return "", nil
}

// backoff spaces out the status queries of payments and operations the
// bank has not settled yet: 5 s, doubling to 10 min.
type backoff struct {
	mu   sync.Mutex
	next map[string]backoffEntry
}

type backoffEntry struct {
	at   time.Time
	wait time.Duration
}

func (b *backoff) due(id string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.next[id]
	return !ok || !now.Before(e.at)
}

func (b *backoff) later(id string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.next == nil {
		b.next = map[string]backoffEntry{}
	}
	e := b.next[id]
	e.wait = min(max(2*e.wait, sweepInterval), 10*time.Minute)
	e.at = now.Add(e.wait)
	b.next[id] = e
}

func (b *backoff) forget(id string) {
	b.mu.Lock()
	delete(b.next, id)
	b.mu.Unlock()
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
