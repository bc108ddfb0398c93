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
		{"card number", "card 4355084355084358 refunded", "may be a card number"},
		{"card number in groups", "card 4355 0843 5508 4358", "may be a card number"},
		{"card number with hyphens", "4355-0843-5508-4358", "may be a card number"},
		{"two short numbers are not one", "RRN 123456789012 - 1234", ""},
		{"line break", "seen\nin the panel", "control characters"},
		{"too long", strings.Repeat("x", maxSettleNote+1), "at most"},
		{"not UTF-8", "seen \xff", "UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkSettleNote(tc.note)
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
