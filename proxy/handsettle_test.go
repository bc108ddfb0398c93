package proxy

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/posrelay/posrelay/bank"
	"github.com/posrelay/posrelay/store"
)

func TestCheckSettleNote(t *testing.T) {
	for _, tc := range []struct {
		name, note, wantErr string
	}{
		{"a reference", "refund seen in the merchant panel, RRN 123456789012", ""},
		{"Turkish text", "banka şubesi aradı: iade yapılmış", ""},
		{"empty", "", "--note is required"},
		{"card number", "card 4355084355084358 refunded", "may hold a card number"},
		{"card number in groups", "card 4355 0843 5508 4358", "may hold a card number"},
		{"card number with hyphens", "4355-0843-5508-4358", "may hold a card number"},
		{"two numbers with a word between", "RRN 123456789012 auth 123456", ""},
		{"card number with dots", "4355.0843.5508.4358", "may hold a card number"},
		{"line break", "seen\nin the panel", "control characters"},
		{"too long", strings.Repeat("x", maxSettleNote+1), "at most"},
		{"not UTF-8", "seen \xff", "UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckSettleNote(tc.note)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v; want one saying %q", err, tc.wantErr)
			case err != nil && strings.Contains(err.Error(), "4355"):
				t.Fatalf("the error repeats the card number: %v", err)
			}
		})
	}
}

// TestSettleOperationByHand: an operator settles the operations the bank
// left open, with the effects the bank's answer would have had, and
// cannot settle one that is final, unknown to the journal, or whose bank
// call may still be running.
func TestSettleOperationByHand(t *testing.T) {
	tr := reportRelay(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	tr.now = func() time.Time { return now }
	ctx := context.Background()
	putPayments(t, tr.Relay, []reportPayment{{id: "pay_h1", order: "H1", status: store.StatusSucceeded, stage: store.StageDone, captured: 10000}})
	ops := []*store.Operation{
		{ID: "op_unknown", Kind: bank.OpRefund, Amount: 1000, Status: store.OpUnknown, CreatedAt: now.Add(-2 * time.Hour)},
		{ID: "op_inflight", Kind: bank.OpRefund, Amount: 500, Status: store.OpPending, CreatedAt: now.Add(-time.Second)},
		{ID: "op_stale", Kind: bank.OpRefund, Amount: 300, Status: store.OpPending, CreatedAt: now.Add(-10 * time.Minute)},
		{ID: "op_done", Kind: bank.OpRefund, Amount: 200, Status: store.OpSucceeded, CreatedAt: now.Add(-3 * time.Hour), FinalAt: now.Add(-3 * time.Hour)},
	}
	if _, err := tr.journal.UpdatePayment(ctx, "pay_h1", func(q *store.Payment) (*store.Change, error) {
		for _, o := range ops {
			o.PaymentID, o.SiteID, o.UpdatedAt = q.ID, q.SiteID, o.CreatedAt
			if o.Status != store.OpSucceeded {
				q.RefundPending += o.Amount
			}
		}
		q.Refunded = 200
		return &store.Change{Operations: ops}, nil
	}); err != nil {
		t.Fatal(err)
	}

	open, err := tr.OpenOperations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, o := range open {
		ids = append(ids, o.ID)
	}
	if strings.Join(ids, " ") != "op_unknown op_stale op_inflight" {
		t.Fatalf("open operations %v; want the unknown and pending ones, oldest first", ids)
	}

	for _, tc := range []struct {
		name      string
		op        string
		succeeded bool
		note      string
		wantErr   string
		// the payment after the step, and the webhook it sent ("" = none)
		refunded, pending int64
		webhook           string
	}{
		{"unknown refund the bank did", "op_unknown", true, "seen in the merchant panel, RRN 123456789012", "", 1200, 800, "refund.succeeded"},
		{"pending refund whose call may still run", "op_inflight", false, "no refund in the panel", "may still be running", 1200, 800, ""},
		{"pending refund of a relay stopped mid-call, not done", "op_stale", false, "no refund in the panel", "", 1200, 500, "refund.failed"},
		{"final operation", "op_done", false, "changed my mind", "already succeeded", 1200, 500, ""},
		{"settled one again", "op_unknown", false, "changed my mind", "already succeeded", 1200, 500, ""},
		{"unknown operation", "op_nope", true, "seen", "not found", 1200, 500, ""},
		{"card number in the note", "op_inflight", true, "card 4355 0843 5508 4358", "card number", 1200, 500, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, err := tr.journal.ListWebhooks(ctx, store.WebhookFilter{PaymentID: "pay_h1"})
			if err != nil {
				t.Fatal(err)
			}
			op, err := tr.SettleOperationByHand(ctx, tc.op, tc.succeeded, tc.note)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v; want one saying %q", err, tc.wantErr)
				}
			} else {
				want := store.OpFailed
				if tc.succeeded {
					want = store.OpSucceeded
				}
				if err != nil || op.Status != want || op.FinalAt.IsZero() {
					t.Fatalf("settled %+v, %v; want %s", op, err, want)
				}
				evs, err := tr.journal.Events(ctx, "pay_h1")
				if err != nil {
					t.Fatal(err)
				}
				last := evs[len(evs)-1]
				if last.Kind != "refund_"+string(want) || last.Detail["operation"] != tc.op || last.Detail["reason"] != "operator: "+tc.note {
					t.Errorf("last event %+v; want refund_%s naming the operation and the operator's note", last, want)
				}
			}
			p, err := tr.journal.GetPayment(ctx, "pay_h1")
			if err != nil {
				t.Fatal(err)
			}
			if p.Refunded != tc.refunded || p.RefundPending != tc.pending {
				t.Errorf("payment refunded %d, held %d; want %d, %d", p.Refunded, p.RefundPending, tc.refunded, tc.pending)
			}
			after, err := tr.journal.ListWebhooks(ctx, store.WebhookFilter{PaymentID: "pay_h1"})
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.webhook == "" && len(after) != len(before):
				t.Errorf("%d new webhooks; want none", len(after)-len(before))
			case tc.webhook != "" && (len(after) != len(before)+1 || after[len(after)-1].EventType != tc.webhook):
				t.Errorf("webhooks %d → %d; want one %s", len(before), len(after), tc.webhook)
			case tc.webhook != "" && strings.Contains(string(after[len(after)-1].Body), tc.note):
				t.Error("the operator's note went into the site's webhook")
			}
		})
	}
}

// TestSettleOperationByHandVoidAndCapture: a void settled by hand voids
// the payment and tells the site; a capture settled by hand sets the
// captured amount and sends nothing (Wix has no event for it).
func TestSettleOperationByHandVoidAndCapture(t *testing.T) {
	tr := reportRelay(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	tr.now = func() time.Time { return now }
	ctx := context.Background()
	putPayments(t, tr.Relay, []reportPayment{
		{id: "pay_v", order: "V1", status: store.StatusSucceeded, stage: store.StageDone, captured: 10000},
		{id: "pay_c", order: "C1", status: store.StatusSucceeded, stage: store.StageDone},
	})
	for _, tc := range []struct {
		name, payment, op string
		kind              bank.OpKind
		amount            int64
		check             func(p *store.Payment) bool
		webhook           string
	}{
		{"void", "pay_v", "op_void", bank.OpVoid, 10000, func(p *store.Payment) bool { return p.Status == store.StatusVoided }, "payment.voided"},
		{"capture", "pay_c", "op_cap", bank.OpCapture, 8000, func(p *store.Payment) bool { return p.Captured == 8000 }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op := &store.Operation{ID: tc.op, PaymentID: tc.payment, SiteID: "shop1", Kind: tc.kind, Amount: tc.amount,
				Status: store.OpUnknown, CreatedAt: now.Add(-time.Hour), UpdatedAt: now.Add(-time.Hour)}
			if _, err := tr.journal.UpdatePayment(ctx, tc.payment, func(*store.Payment) (*store.Change, error) {
				return &store.Change{Operations: []*store.Operation{op}}, nil
			}); err != nil {
				t.Fatal(err)
			}
			if got, err := tr.SettleOperationByHand(ctx, tc.op, true, "seen in the merchant panel"); err != nil || got.Status != store.OpSucceeded {
				t.Fatalf("settled %+v, %v", got, err)
			}
			p, err := tr.journal.GetPayment(ctx, tc.payment)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(p) {
				t.Errorf("payment after the %s: status %s captured %d", tc.name, p.Status, p.Captured)
			}
			hooks, err := tr.journal.ListWebhooks(ctx, store.WebhookFilter{PaymentID: tc.payment})
			if err != nil {
				t.Fatal(err)
			}
			var types []string
			for _, h := range hooks {
				types = append(types, h.EventType)
			}
			if want := tc.webhook; want == "" && len(hooks) != 0 || want != "" && (len(hooks) != 1 || hooks[0].EventType != want) {
				t.Errorf("webhooks %v; want %q", types, want)
			}
		})
	}
}

// TestBankAnswerAfterHandSettlement: a bank answer that comes after an
// operation was settled the other way does not change it (the site has
// been told) but is not lost either: an event, an error log and a metric.
// The sweep's "not confirmed" after its grace is no answer and is not
// flagged.
func TestBankAnswerAfterHandSettlement(t *testing.T) {
	tr := reportRelay(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	tr.now = func() time.Time { return now }
	ctx := context.Background()
	putPayments(t, tr.Relay, []reportPayment{{id: "pay_d", order: "D1", status: store.StatusSucceeded, stage: store.StageDone, captured: 10000}})
	ops := []*store.Operation{
		{ID: "op_r1", Kind: bank.OpRefund, Amount: 1000, Status: store.OpUnknown, CreatedAt: now.Add(-2 * time.Hour)},
		{ID: "op_r2", Kind: bank.OpRefund, Amount: 2000, Status: store.OpUnknown, CreatedAt: now.Add(-2 * time.Hour)},
	}
	if _, err := tr.journal.UpdatePayment(ctx, "pay_d", func(q *store.Payment) (*store.Change, error) {
		for _, o := range ops {
			o.PaymentID, o.SiteID, o.UpdatedAt = q.ID, q.SiteID, o.CreatedAt
			q.RefundPending += o.Amount
		}
		return &store.Change{Operations: ops}, nil
	}); err != nil {
		t.Fatal(err)
	}
	approved := &bank.OpResult{Status: bank.Succeeded, Result: bank.NewResult(bank.CodeApproved, "00", "")}
	notConfirmed := &bank.OpResult{Status: bank.Failed, Result: bank.NewResult(bank.CodeNotFound, "", "not confirmed by the bank's status query")}
	for _, tc := range []struct {
		name     string
		op       string
		handAs   bool
		late     *bank.OpResult
		reason   string
		flagged  bool
		recorded store.OpStatus
	}{
		{"operator said failed, the bank's answer says refunded", "op_r1", false, approved, reasonBankAnswer, true, store.OpFailed},
		{"operator said refunded, the sweep could not confirm", "op_r2", true, notConfirmed, "status query", false, store.OpSucceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tr.SettleOperationByHand(ctx, tc.op, tc.handAs, "checked by phone"); err != nil {
				t.Fatal(err)
			}
			got, err := tr.settleOperation(ctx, tc.op, tc.late, tc.reason)
			if err != nil || got.Status != tc.recorded {
				t.Fatalf("late answer: %+v, %v; want the operation left %s", got, err, tc.recorded)
			}
			evs, err := tr.journal.Events(ctx, "pay_d")
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, e := range evs {
				if e.Kind == eventOperationDisagrees && e.Detail["operation"] == tc.op {
					n++
					if e.Detail["recorded"] != "failed" || e.Detail["bank_says"] != "succeeded" {
						t.Errorf("event detail %v", e.Detail)
					}
				}
			}
			if flagged := n == 1; flagged != tc.flagged || n > 1 {
				t.Fatalf("%d %s events; want flagged %v", n, eventOperationDisagrees, tc.flagged)
			}
			if tc.flagged && !tr.logged("the bank's answer disagrees with how this operation was settled: the site was told failed but the bank says succeeded; check it with the bank and put it right (refund, or refund again)", "") {
				t.Error("no error log for the disagreement")
			}
		})
	}
	var b strings.Builder
	tr.metrics.write(&b)
	if !strings.Contains(b.String(), `posrelay_operation_disagreements_total{kind="refund"} 1`) {
		t.Errorf("metrics lack the disagreement:\n%s", b.String())
	}
}
