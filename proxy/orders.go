package proxy

import (
	"context"
	"hash/fnv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/posrelay/posrelay/bank"
	"github.com/posrelay/posrelay/store"
)

// An order may have several payment attempts (a shopper who left the
// bank's page and tried again), but must be charged once. Creation refuses
// a new attempt once one succeeded or is being provisioned; what remains is
// two attempts that both reached the bank's page:
//
//   - 3d model (the relay provisions): a callback is not provisioned while
//     another attempt of the order is paid, being provisioned or unknown;
//     it fails with order_already_paid or order_in_progress, no bank call.
//   - hosted models (the bank charges on its own page): the second approval
//     is recorded as it is (the money moved) and voided at once; the site
//     gets payment.succeeded then payment.voided for it.
//
// Both checks run under a per-order lock. One relay process owns its
// journal, so an in-process lock is enough.

// orderLocks serialises, per order, the steps where two attempts could
// both take money.
type orderLocks [64]sync.Mutex

func (l *orderLocks) lock(siteID, orderID string) func() {
	h := fnv.New32a()
	h.Write([]byte(siteID))
	h.Write([]byte{0})
	h.Write([]byte(orderID))
	m := &l[h.Sum32()%uint32(len(l))]
	m.Lock()
	return m.Unlock
}

// holdsMoney reports whether q charged (or holds, as a pre-authorisation)
// money the shopper has not been given back.
func holdsMoney(q *store.Payment) bool {
	return q.Status == store.StatusSucceeded && (q.Captured == 0 || q.Refunded < q.Captured)
}

// otherAttempt returns another payment of p's order that is paid, or (with
// inFlight) being provisioned or unknown, and the code to refuse p with.
func (r *Relay) otherAttempt(ctx context.Context, p *store.Payment, inFlight bool) (*store.Payment, string, error) {
	all, err := r.journal.PaymentsByOrder(ctx, p.SiteID, p.OrderID)
	if err != nil {
		return nil, "", err
	}
	for _, q := range all {
		switch {
		case q.ID == p.ID:
		case holdsMoney(q):
			return q, bank.CodeOrderPaid, nil
		case inFlight && (q.Status == store.StatusUnknown || provisioning(q)):
			return q, bank.CodeOrderInProgress, nil
		}
	}
	return nil, "", nil
}

// settle is finalize for p, an approval going through approve.
func (r *Relay) settle(ctx context.Context, p *store.Payment, guard func(*store.Payment) bool, to store.PaymentStatus, out *bank.Outcome, reason string) (*store.Payment, error) {
	if to == store.StatusSucceeded {
		return r.approve(ctx, p, guard, out, reason)
	}
	return r.finalize(ctx, p.ID, guard, to, out, reason)
}

// approve records an approval like finalize and, if another attempt of the
// order already holds the shopper's money, voids this one at once.
func (r *Relay) approve(ctx context.Context, p *store.Payment, guard func(*store.Payment) bool, out *bank.Outcome, reason string) (*store.Payment, error) {
	unlock := r.orders.lock(p.SiteID, p.OrderID)
	np, err := r.finalize(ctx, p.ID, guard, store.StatusSucceeded, out, reason)
	var other *store.Payment
	if err == nil {
		other, _, err = r.otherAttempt(ctx, np, false)
		if err != nil {
			r.log.Error("could not look for other payments of the order; check it for a double charge",
				zap.String(logPayment, p.ID), zap.String("order", p.OrderID), zap.Error(err))
			err = nil
		}
	}
	unlock()
	if err != nil || other == nil {
		return np, err
	}
	r.log.Warn("a second payment of one order was approved by the bank; voiding it",
		zap.String(logPayment, np.ID), zap.String("paid_by", other.ID), zap.String(logSite, np.SiteID), zap.String("order", np.OrderID))
	if verr := r.voidDuplicate(ctx, np, other.ID); verr != nil {
		r.log.Error("could not void a double charge; void or refund it by hand",
			zap.String(logPayment, np.ID), zap.String("paid_by", other.ID), zap.Error(verr))
	}
	return np, nil
}

// voidDuplicate starts the void of p, a second charge for an order that
// paidBy had paid, as if the site had asked for it (POST …/void with no
// key: a later request of the site gets this operation back).
func (r *Relay) voidDuplicate(ctx context.Context, p *store.Payment, paidBy string) error {
	g, ok := r.gatewayFor(p)
	if !ok {
		return errNoGateway(p)
	}
	now := r.now().UTC()
	key := string(bank.OpVoid)
	op := &store.Operation{ID: newID("op_"), PaymentID: p.ID, SiteID: p.SiteID, Kind: bank.OpVoid, Status: store.OpPending,
		IdempotencyKey: key, CreatedAt: now, UpdatedAt: now}
	_, err := r.journal.UpdatePayment(ctx, p.ID, func(q *store.Payment) (*store.Change, error) {
		if err := checkOperation(q, op); err != nil {
			return nil, err
		}
		op.BankCalls = 1
		q.UpdatedAt = now
		return &store.Change{
			Operations:  []*store.Operation{op},
			Idempotency: []*store.Idempotency{{SiteID: p.SiteID, Scope: opScope(bank.OpVoid, p.ID), Key: key, RequestHash: opRequestHash(bank.OpVoid, 0), ResourceID: op.ID, CreatedAt: now}},
			Events: []store.Event{{At: now, Kind: "duplicate_charge", Detail: map[string]string{"paid_by": paidBy, "operation": op.ID}},
				{At: now, Kind: "void_requested", Detail: map[string]string{"operation": op.ID, "amount": "0"}}},
		}, nil
	})
	if err != nil {
		return err
	}
	go r.survive("operation", func() {
		bctx, cancel := context.WithTimeout(context.Background(), r.cfg.Egress.BankTimeout+2*time.Second)
		defer cancel()
		r.runOperation(bctx, g, p.ID, op)
	})
	return nil
}

// provisioning reports whether the relay is completing a payment with the
// bank after its callback (the 3-D models' provisioning call is under way).
func provisioning(q *store.Payment) bool {
	return q.Status == store.StatusPending && q.Stage == store.StageCallback
}
