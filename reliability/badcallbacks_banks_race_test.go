package reliability

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/posrelay/posrelay/store"
)

// TestBankCallbackReplayRace: the genuine callback of one payment arriving
// many times at once (a double submit, a replay racing the original) is
// acted on once: one provisioning call (QNB 3DModel, VakıfBank MPI) or one
// result query (Common Payment), one webhook; every copy is answered with
// where the payment ended or the "being confirmed" page, never an error.
func TestBankCallbackReplayRace(t *testing.T) {
	b := newBanksStack(t)
	const copies = 8
	for _, m := range bankCallbackModels {
		t.Run(m.file, func(t *testing.T) {
			w := &bankCBWorld{b: b, model: m.file, account: m.account}
			ctx := context.Background()
			p := b.create(t, m.account, 14990)
			r, err := walkToReturn(ctx, p.RedirectURL, cardApproved)
			if err != nil {
				t.Fatal(err)
			}
			rec := b.payment(t, p.ID)
			prov, queries := w.provisions(rec.BankOrderID), w.queries()
			var wg sync.WaitGroup
			answers := make([]*bankAnswer, copies)
			errs := make([]error, copies)
			for i := range copies {
				wg.Add(1)
				go func() {
					defer wg.Done()
					answers[i], errs[i] = w.deliver(r)
				}()
			}
			wg.Wait()
			redirected := 0
			for i, a := range answers {
				switch {
				case errs[i] != nil:
					t.Errorf("copy %d: %v", i, errs[i])
				case a.status == http.StatusSeeOther && strings.HasPrefix(a.location, "https://shop.example/ok"):
					redirected++
				case a.status == http.StatusOK && a.location == "":
					// the "being confirmed" page of a copy that came while
					// the first was at the bank
				default:
					t.Errorf("copy %d: %d %q; want 303 to the success page or the page of a payment being confirmed", i, a.status, a.location)
				}
			}
			if redirected == 0 {
				t.Error("no copy was sent to the success page")
			}
			done := b.payment(t, p.ID)
			wantProv, wantQueries := 0, 0
			switch m.file {
			case "qnb_3dmodel", "vakifbank_mpi":
				wantProv = 1
			case "vakifbank_common_payment":
				wantQueries = 1
			}
			if done.Status != store.StatusSucceeded || w.provisions(rec.BankOrderID)-prov != wantProv || w.queries()-queries != wantQueries {
				t.Errorf("payment %s with %d provisioning calls and %d queries; want succeeded with %d and %d",
					done.Status, w.provisions(rec.BankOrderID)-prov, w.queries()-queries, wantProv, wantQueries)
			}
			hooks, err := b.journal.ListWebhooks(ctx, store.WebhookFilter{PaymentID: p.ID})
			if err != nil || len(hooks) != 1 {
				t.Errorf("%d webhooks (%v); want one", len(hooks), err)
			}
			if !b.healthy() {
				t.Fatal("the relay does not answer /healthz")
			}
		})
	}
}
