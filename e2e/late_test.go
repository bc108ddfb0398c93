package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/posrelay/posrelay/store"
)

// TestLateApprovalIsFlagged covers a bank approval that arrives after the
// relay closed the payment (it expired while the bank kept the shopper on
// its page, and the bank's status API did not know the order yet): the
// site was told the payment failed, so the relay must not change its
// status, but it must not bury the charge either. The genuine callback is
// recorded once as late_approval, logged as an error, counted and listed
// in the daily report; forged and repeated ones change nothing.
func TestLateApprovalIsFlagged(t *testing.T) {
	s := newRelayStack(t, "3d_pay_hosting")
	ctx := context.Background()
	p := s.create(t, 14990)
	cb := walkToCallback(t, p.RedirectURL, testCard("4355084355084358")) // the bank approved
	// The relay gives up on it, as its sweep does when the bank's status
	// API still says "not found" after the grace period.
	if _, err := s.journal.UpdatePayment(ctx, p.ID, func(q *store.Payment) (*store.Change, error) {
		q.Status, q.Stage, q.FinalAt = store.StatusExpired, store.StageDone, s.clock.Now()
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	closed := s.payment(t, p.ID)

	lateEvents := func() int {
		evs, err := s.journal.Events(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range evs {
			if e.Kind == "late_approval" {
				n++
				if e.Detail["auth_code"] == "" || e.Detail["status_was"] != "expired" {
					t.Errorf("late_approval detail %v; want the auth code and the closed status", e.Detail)
				}
			}
		}
		return n
	}

	steps := []struct {
		name   string
		fields func() map[string][]string
		want   int // late_approval events after the step
	}{
		{"forged", func() map[string][]string { v := clone(cb.Values); v.Set("HASH", strings.Repeat("A", 86)+"=="); return v }, 0},
		{"genuine", func() map[string][]string { return clone(cb.Values) }, 1},
		{"repeated", func() map[string][]string { return clone(cb.Values) }, 1},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			status, loc := postCallback(t, cb.Action.String(), st.fields())
			if status != http.StatusSeeOther || !strings.HasPrefix(loc, "https://shop.example/fail") {
				t.Fatalf("late callback: %d %q; want 303 to where the payment ended (the error URL)", status, loc)
			}
			if got := s.payment(t, p.ID); got.Status != store.StatusExpired || got.Captured != closed.Captured || got.Ref != closed.Ref {
				t.Fatalf("payment is now %s captured %d ref %+v; a late callback must not change it", got.Status, got.Captured, got.Ref)
			}
			if n := lateEvents(); n != st.want {
				t.Fatalf("%d late_approval events; want %d", n, st.want)
			}
		})
	}

	if !strings.Contains(s.logs.String(), `"the bank approved a payment the relay had already closed`) {
		t.Error("no error log line for the late approval")
	}
	rec := httptest.NewRecorder()
	s.relay.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `posrelay_late_approvals_total{bank="halkbank"} 1`) {
		t.Errorf("metrics lack the late approval:\n%s", rec.Body.String())
	}
	rep, err := s.relay.DailyReport(ctx, "", time.Now().In(time.FixedZone("TR", 3*3600)).Format("2006-01-02"), false)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, i := range rep.Issues {
		found = found || (i.Issue == "late_approval" && i.PaymentID == p.ID)
	}
	if !found {
		t.Errorf("report issues %+v; want late_approval for %s", rep.Issues, p.ID)
	}
	for _, e := range s.recv.events() {
		if e.Event.Data.PaymentID == p.ID && e.Event.Type == "payment.succeeded" {
			t.Error("a late approval sent payment.succeeded after the site was told the payment failed")
		}
	}
}
