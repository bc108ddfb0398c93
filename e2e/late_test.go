package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posrelay/posrelay/banksim/est"
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
		evs := eventsOfKind(t, s.journal, p.ID, "late_approval")
		for _, e := range evs {
			if e.Detail["auth_code"] == "" || e.Detail["status_was"] != "expired" {
				t.Errorf("late_approval detail %v; want the auth code and the closed status", e.Detail)
			}
		}
		return len(evs)
	}

	steps := []struct {
		name   string
		fields func() map[string][]string
		want   int // late_approval events after the step
	}{
		{"forged", func() map[string][]string {
			v := clone(cb.Values)
			v.Set("HASH", strings.Repeat("A", 86)+"==")
			return v
		}, 0},
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

// TestRefreshReusesRecentAnswer checks that a site polling ?refresh=true
// does not become a stream of status queries from the relay's address (a
// bank may block it for every merchant), that a change to the payment asks
// again, and that a refresh of a closed payment the bank approved flags
// it as a late approval.
func TestRefreshReusesRecentAnswer(t *testing.T) {
	s := newRelayStack(t, "3d_pay_hosting")
	ctx := context.Background()
	statusCalls := func() int {
		c := s.sim.Calls()
		return c.API["ORDERSTATUS"] + c.API["ORDERHISTORY"]
	}
	refresh := func(t *testing.T, id string) {
		t.Helper()
		if _, err := s.client.GetPayment(ctx, id, true); err != nil {
			t.Fatal(err)
		}
	}

	p := s.create(t, 14990)
	cb := walkToCallback(t, p.RedirectURL, testCard("4355084355084358"))
	if status, _ := postCallback(t, cb.Action.String(), cb.Values); status != http.StatusSeeOther {
		t.Fatalf("callback: %d", status)
	}
	steps := []struct {
		name    string
		advance time.Duration
		more    int // status queries the refresh may cost
	}{
		{"first refresh asks the bank", 0, 1},
		{"a second within seconds reuses it", time.Second, 0},
		{"and a third", 2 * time.Second, 0},
		{"once the answer is old the bank is asked again", 5 * time.Second, 1},
	}
	for _, st := range steps {
		s.clock.Advance(st.advance)
		before := statusCalls()
		refresh(t, p.ID)
		if got := statusCalls() - before; got == 0 && st.more > 0 || got > st.more {
			t.Fatalf("%s: %d status queries; want %d", st.name, got, st.more)
		}
	}

	// A payment closed as expired that the bank approved.
	q := s.create(t, 14990)
	walkToCallback(t, q.RedirectURL, testCard("4355084355084358"))
	if _, err := s.journal.UpdatePayment(ctx, q.ID, func(x *store.Payment) (*store.Change, error) {
		x.Status, x.Stage, x.FinalAt = store.StatusExpired, store.StageDone, s.clock.Now()
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	refresh(t, q.ID)
	refresh(t, q.ID) // flagged once
	evs := eventsOfKind(t, s.journal, q.ID, "late_approval")
	for _, e := range evs {
		if e.Detail["source"] != "status query" {
			t.Errorf("late_approval source %q; want status query", e.Detail["source"])
		}
	}
	if n := len(evs); n != 1 {
		t.Fatalf("%d late_approval events after two refreshes; want 1", n)
	}
	if got := s.payment(t, q.ID); got.Status != store.StatusExpired {
		t.Fatalf("refresh turned the closed payment into %s", got.Status)
	}
}

// TestRefreshWithoutReuse checks payments.status_reuse: 0s, which the
// bench harness relies on to measure the forward path: every refresh asks
// the bank.
func TestRefreshWithoutReuse(t *testing.T) {
	s := newRelayStack(t, "3d_pay_hosting")
	s.stop()
	s.yaml += "payments: {status_reuse: 0s}\n"
	s.start()
	p := s.create(t, 14990)
	cb := walkToCallback(t, p.RedirectURL, testCard("4355084355084358"))
	if status, _ := postCallback(t, cb.Action.String(), cb.Values); status != http.StatusSeeOther {
		t.Fatalf("callback: %d", status)
	}
	before := s.sim.Calls().API["ORDERSTATUS"]
	for i := 0; i < 3; i++ {
		if _, err := s.client.GetPayment(context.Background(), p.ID, true); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.sim.Calls().API["ORDERSTATUS"] - before; got != 3 {
		t.Fatalf("%d status queries for 3 refreshes with status_reuse 0s; want 3", got)
	}
}

// TestLateSignedApprovalThatDoesNotBind covers a late callback that carries
// the bank's signed approval but fields that do not match the payment: an
// amount changed and re-signed, or another payment's genuine callback
// posted at this payment's URL. Such a callback is not taken on its word,
// nor dropped: the relay asks the bank's status API about this payment's
// own order, and only the bank's answer records a late approval. When the
// status service does not answer, an error log names the payment.
func TestLateSignedApprovalThatDoesNotBind(t *testing.T) {
	var apiDown atomic.Bool
	s := newRelayStackWith(t, "3d_pay_hosting", func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if apiDown.Load() && r.URL.Path == est.APIPath {
				http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	ctx := context.Background()
	closeAs := func(t *testing.T, id string, status store.PaymentStatus) {
		t.Helper()
		if _, err := s.journal.UpdatePayment(ctx, id, func(q *store.Payment) (*store.Change, error) {
			q.Status, q.Stage, q.FinalAt = status, store.StageDone, s.clock.Now()
			return nil, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	late := func(t *testing.T, id string) []store.Event {
		t.Helper()
		return eventsOfKind(t, s.journal, id, "late_approval")
	}
	statusCalls := func() int {
		c := s.sim.Calls()
		return c.API["ORDERSTATUS"] + c.API["ORDERHISTORY"]
	}
	post := func(t *testing.T, action string, v url.Values, closed *store.Payment) {
		t.Helper()
		status, loc := postCallback(t, action, v)
		if status != http.StatusSeeOther || !strings.HasPrefix(loc, "https://shop.example/fail") {
			t.Fatalf("late callback: %d %q; want 303 to where the payment ended (the error URL)", status, loc)
		}
		if got := s.payment(t, closed.ID); got.Status != closed.Status || got.Captured != closed.Captured || got.Ref != closed.Ref {
			t.Fatalf("payment is now %s captured %d ref %+v; a late callback must not change it", got.Status, got.Captured, got.Ref)
		}
	}

	t.Run("amount changed and re-signed, the bank approved", func(t *testing.T) {
		p := s.create(t, 14990)
		cb := walkToCallback(t, p.RedirectURL, testCard("4355084355084358"))
		closeAs(t, p.ID, store.StatusExpired)
		closed := s.payment(t, p.ID)
		before := statusCalls()
		post(t, cb.Action.String(), resign(withField(cb.Values, "amount", "0.01"), s.storeKey), closed)
		if n := statusCalls() - before; n < 1 {
			t.Fatal("the relay did not ask the bank about a signed approval that does not bind")
		}
		evs := late(t, p.ID)
		if len(evs) != 1 || evs[0].Detail["source"] != "status query" || evs[0].Detail["auth_code"] == "" {
			t.Fatalf("late_approval events %+v; want one from the status query, with the bank's auth code", evs)
		}
		// Posted again and again, it asks the bank with backoff (5 s, then
		// 10 s, …), not once per post; the status answer is reused for 5 s.
		for _, st := range []struct {
			advance time.Duration
			queries int
		}{{0, 0}, {6 * time.Second, 1}, {6 * time.Second, 0}, {0, 0}, {6 * time.Second, 1}} {
			s.clock.Advance(st.advance)
			before := statusCalls()
			post(t, cb.Action.String(), resign(withField(cb.Values, "amount", "0.01"), s.storeKey), closed)
			if n := statusCalls() - before; n != st.queries {
				t.Fatalf("a repeated post %v later cost %d status queries; want %d", st.advance, n, st.queries)
			}
		}
		if evs := late(t, p.ID); len(evs) != 1 {
			t.Fatalf("%d late_approval events after repeated posts; want 1", len(evs))
		}
	})

	t.Run("another payment's callback at a declined payment's URL", func(t *testing.T) {
		declined := s.create(t, 14990)
		dcb := walkToCallback(t, declined.RedirectURL, testCard("4000000000000515"))
		if status, _ := postCallback(t, dcb.Action.String(), dcb.Values); status != http.StatusSeeOther {
			t.Fatalf("declined callback: %d", status)
		}
		closed := s.payment(t, declined.ID)
		if closed.Status != store.StatusFailed {
			t.Fatalf("declined payment is %s; want failed", closed.Status)
		}
		other := s.create(t, 14990)
		ocb := walkToCallback(t, other.RedirectURL, testCard("4355084355084358"))
		before := statusCalls()
		post(t, dcb.Action.String(), ocb.Values, closed)
		if n := statusCalls() - before; n < 1 {
			t.Fatal("the relay did not ask the bank about the declined payment")
		}
		if evs := late(t, declined.ID); len(evs) != 0 {
			t.Fatalf("late_approval %+v on a payment the bank declined, from another payment's callback", evs)
		}
		if got := s.payment(t, other.ID); got.Status != store.StatusPending || len(late(t, other.ID)) != 0 {
			t.Fatalf("the other payment changed: %s", got.Status)
		}
	})

	t.Run("status service down", func(t *testing.T) {
		p := s.create(t, 14990)
		cb := walkToCallback(t, p.RedirectURL, testCard("4355084355084358"))
		closeAs(t, p.ID, store.StatusCanceled)
		closed := s.payment(t, p.ID)
		apiDown.Store(true)
		defer apiDown.Store(false)
		post(t, cb.Action.String(), resign(withField(cb.Values, "amount", "0.01"), s.storeKey), closed)
		if evs := late(t, p.ID); len(evs) != 0 {
			t.Fatalf("late_approval %+v recorded on the callback's word", evs)
		}
		logs := s.logs.String()
		if !strings.Contains(logs, "the bank's status service did not answer: check the order at the bank (posrelay payments show "+p.ID+")") {
			t.Fatalf("no error log naming %s for the unanswered status query:\n%s", p.ID, logs)
		}
	})
}

// withField is a copy of v with field k set to val.
func withField(v url.Values, k, val string) url.Values {
	out := clone(v)
	out.Set(k, val)
	return out
}

// eventsOfKind is a payment's events of one kind, oldest first.
func eventsOfKind(t *testing.T, j store.Journal, paymentID, kind string) []store.Event {
	t.Helper()
	evs, err := j.Events(context.Background(), paymentID)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Event
	for _, e := range evs {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}
