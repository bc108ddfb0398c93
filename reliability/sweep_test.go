package reliability

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/posrelay/posrelay/bank"
	"github.com/posrelay/posrelay/store"
)

// TestSweepFindsCutOffProvisioningBehindManyOpenPayments: a relay that
// stopped while provisioning leaves the payment in stage callback; the
// sweeper must find it however many other payments are open (shoppers
// still at the bank's 3-D page), not only among the oldest few hundred.
func TestSweepFindsCutOffProvisioningBehindManyOpenPayments(t *testing.T) {
	ctx := context.Background()
	acct := newBankAccount(t)
	s := newStack(t, acct, acct.serve(t), stackOptions{bankTimeout: "400ms"})

	// 600 shoppers at the bank's 3-D page, older than the cut-off payment.
	const open = 600
	old := s.clock.Now().Add(-10 * time.Minute).UTC()
	parallel(t, open, 8, func(i int) error {
		p := &store.Payment{
			ID: fmt.Sprintf("pay_%s", orderID("o")[2:]+"aaaaaaaaaa"), SiteID: "shop", Bank: "halkbank", Account: "hosted", Model: "3d_pay_hosting",
			OrderID: orderID("O"), Amount: 1000, Currency: "TRY", Installments: 1, Type: "sale", Language: "tr",
			PayToken: fmt.Sprintf("%032d", i) + "p", CallbackToken: fmt.Sprintf("%032d", i) + "c",
			Status: store.StatusPending, Stage: store.StageBankStep, CreatedAt: old, UpdatedAt: old, ExpiresAt: old.Add(time.Hour),
		}
		p.BankOrderID = p.OrderID
		return s.journal.CreatePayment(ctx, p, store.Event{At: old, Kind: "created"}, nil)
	})

	// A 3-D payment whose callback the relay claimed before it stopped:
	// the provisioning call never left.
	p := s.create(t, "h3d", 14990)
	if _, err := walkToCallback(ctx, s.http, p.RedirectURL, "4355084355084358"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.journal.UpdatePayment(ctx, p.ID, func(q *store.Payment) (*store.Change, error) {
		q.Stage, q.UpdatedAt = store.StageCallback, s.clock.Now().UTC()
		return &store.Change{Events: []store.Event{{Kind: "callback_accepted"}}}, nil
	}); err != nil {
		t.Fatal(err)
	}

	// Once the provisioning is surely over, the sweeper asks the bank; "no
	// such transaction" is believed only after payments.status_grace.
	s.clock.Advance(2*400*time.Millisecond + time.Second)
	if err := s.relay.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.payment(t, p.ID); got.Status != store.StatusPending || got.Stage != store.StageCallback {
		t.Fatalf("inside the grace period the cut-off payment is %s/%s; want it still open", got.Status, got.Stage)
	}
	s.clock.Advance(s.cfg.StatusGrace + time.Second)
	if err := s.relay.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	got := s.payment(t, p.ID)
	if got.Status != store.StatusFailed || got.Result == nil || got.Result.Code != bank.CodeNotFound {
		t.Fatalf("after the sweep the cut-off payment is %s/%s %+v; want failed not_found (the bank never saw it)", got.Status, got.Stage, got.Result)
	}
	if n := acct.sim.Calls().Provisions(got.BankOrderID); n != 0 {
		t.Fatalf("the sweep provisioned it: %d calls", n)
	}
}
