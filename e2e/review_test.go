package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posrelay/posrelay/api"
	"github.com/posrelay/posrelay/banksim"
	"github.com/posrelay/posrelay/config"
	"github.com/posrelay/posrelay/internal/browser"
	"github.com/posrelay/posrelay/store"
)

// Regression tests for the security review of the payment state machine:
// what the relay does while a bank call is in flight, when the bank's
// answer comes late, and with many open payments or hostile paths.

// relayBankTimeout is egress.bank_timeout in newRelayStackWith's config.
const relayBankTimeout = 2 * time.Second

// sweepEvery is the relay's sweep interval.
const sweepEvery = 5 * time.Second

// isProvision matches the bank API call that charges a 3d payment.
func isProvision(body []byte) bool {
	return bytes.Contains(body, []byte("<Type>Auth</Type>")) && bytes.Contains(body, []byte("<Number>"))
}

// isRefund matches a refund (EST Credit) bank API call.
func isRefund(body []byte) bool { return bytes.Contains(body, []byte("<Type>Credit</Type>")) }

// bankHold stops the first bank API call that matches at the bank until
// the test lets it through; the bank then acts on it as usual.
type bankHold struct {
	match   func(body []byte) bool
	cut     bool // cut the relay's connection at once: the bank acts later and its answer is lost
	armed   atomic.Bool
	arrived chan struct{} // closed when the call reached the bank
	release chan struct{} // closed by let
	booked  chan struct{} // closed once the bank acted on the call
	once    sync.Once
}

func newBankHold(cut bool, match func([]byte) bool) *bankHold {
	h := &bankHold{match: match, cut: cut, arrived: make(chan struct{}), release: make(chan struct{}), booked: make(chan struct{})}
	h.armed.Store(true)
	return h
}

// let lets the held call through; safe to call more than once.
func (h *bankHold) let() { h.once.Do(func() { close(h.release) }) }

func (h *bankHold) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if !h.match(body) || !h.armed.CompareAndSwap(true, false) {
			next.ServeHTTP(w, r)
			return
		}
		close(h.arrived)
		var out http.ResponseWriter = w
		if h.cut {
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
			}
			out = httptestRecorder{}
		}
		<-h.release
		// The relay may have stopped waiting long ago: the bank acts all
		// the same.
		r = r.WithContext(context.Background())
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(out, r)
		close(h.booked)
	})
}

// waitClosed blocks until ch is closed, for at most 10 s.
func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: not within 10 s", what)
	}
}

// sweep runs one sweep of the relay.
func sweep(t *testing.T, s *relayStack) {
	t.Helper()
	if err := s.relay.Sweep(context.Background()); err != nil {
		t.Fatalf("sweep: %v", err)
	}
}

// heldStack is a relay stack whose bank holds the call h matches; the
// hold is let go before the stack stops.
func heldStack(t *testing.T, model string, h *bankHold) *relayStack {
	t.Helper()
	s := newRelayStackWith(t, model, h.wrap)
	t.Cleanup(h.let) // runs before the simulator's server waits for its handlers
	return s
}

// callbackAnswer is the relay's answer to a callback posted in the
// background.
type callbackAnswer struct {
	status int
	loc    string
	err    error
}

// postCallbackAsync posts a callback in the background (its answer waits
// on the bank), without following redirects.
func postCallbackAsync(action string, fields url.Values) <-chan callbackAnswer {
	out := make(chan callbackAnswer, 1)
	go func() {
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second}
		resp, err := c.Post(action, "application/x-www-form-urlencoded", strings.NewReader(fields.Encode()))
		if err != nil {
			out <- callbackAnswer{err: err}
			return
		}
		resp.Body.Close()
		out <- callbackAnswer{status: resp.StatusCode, loc: resp.Header.Get("Location")}
	}()
	return out
}

// createOrder starts a payment for a given order id.
func (s *relayStack) createOrder(order string, amount int64) (*api.Payment, error) {
	return s.client.CreatePayment(context.Background(), &api.CreatePayment{Bank: "halkbank", OrderID: order, Amount: amount, Currency: "TRY",
		ReturnURLs: api.ReturnURLs{Success: "https://shop.example/ok?o=" + order, Error: "https://shop.example/fail?o=" + order}}, "")
}

// mustCreateOrder is createOrder that fails the test on an error.
func (s *relayStack) mustCreateOrder(t *testing.T, order string, amount int64) *api.Payment {
	t.Helper()
	p, err := s.createOrder(order, amount)
	if err != nil {
		t.Fatalf("create order %s: %v", order, err)
	}
	return p
}

// newOrderID is an order id no other test uses.
func newOrderID(prefix string) string {
	return prefix + strconv.FormatInt(time.Now().UnixNano(), 36)
}

// eventsFor returns the webhooks received so far for a payment.
func (s *relayStack) eventsFor(id string) []received {
	var out []received
	for _, e := range s.recv.events() {
		if e.Event.Data.PaymentID == id {
			out = append(out, e)
		}
	}
	return out
}

// onlySucceededWebhook waits for the payment's webhook and checks that
// it is a single valid payment.succeeded.
func (s *relayStack) onlySucceededWebhook(t *testing.T, id string) {
	t.Helper()
	waitFor(t, func() bool { return len(s.eventsFor(id)) >= 1 })
	time.Sleep(50 * time.Millisecond) // a second webhook, if one were sent, would be here by now
	ev := s.eventsFor(id)
	if len(ev) != 1 || ev[0].Event.Type != api.EventPaymentSucceeded || !ev[0].Valid {
		types := []string{}
		for _, e := range ev {
			types = append(types, e.Event.Type)
		}
		t.Fatalf("webhooks for %s: %v; want exactly one valid payment.succeeded", id, types)
	}
}

// TestChecksDuringProvisioningKeepApprovedPayment guards against a status
// check made while the 3d model's provisioning (the Auth call that
// charges the card) is still at the bank — a site's ?refresh=true, or the
// sweeper once the payment's expiry passes or the call looks cut off —
// taking the bank's "no such order" for a failure: the journal would say
// failed (and the site be told so) for a card the bank then charges. It
// also checks that nothing starts a second charge meanwhile: the callback
// replayed, or a new attempt for the order (409 order_in_progress).
func TestChecksDuringProvisioningKeepApprovedPayment(t *testing.T) {
	tests := []struct {
		name string
		// before runs before the callback is posted, during while the
		// provisioning is held at the bank.
		before func(s *relayStack)
		during func(t *testing.T, s *relayStack, p *api.Payment)
	}{
		{
			name: "site asks with refresh=true",
			during: func(t *testing.T, s *relayStack, p *api.Payment) {
				got, err := s.client.GetPayment(context.Background(), p.ID, true)
				if err != nil {
					t.Fatalf("refresh during provisioning: %v", err)
				}
				if got.Status != string(store.StatusPending) {
					t.Fatalf("refresh during provisioning: %s; want pending", got.Status)
				}
			},
		},
		{
			name:   "sweep as the expiry passes",
			before: func(s *relayStack) { s.clock.Advance(config.DefaultPaymentTTL - time.Second) },
			during: func(t *testing.T, s *relayStack, p *api.Payment) {
				s.clock.Advance(2 * time.Second)
				sweep(t, s)
			},
		},
		{
			name: "sweep once the call looks cut off",
			during: func(t *testing.T, s *relayStack, p *api.Payment) {
				s.clock.Advance(2*relayBankTimeout + time.Second)
				sweep(t, s)
			},
		},
		{
			name: "sweep long past the expiry, the call looking cut off",
			before: func(s *relayStack) {
				s.clock.Advance(config.DefaultPaymentTTL + config.DefaultBankStepGrace - time.Second)
			},
			during: func(t *testing.T, s *relayStack, p *api.Payment) {
				s.clock.Advance(2*relayBankTimeout + time.Second)
				sweep(t, s)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newBankHold(false, isProvision)
			s := heldStack(t, "3d", h)
			p := s.create(t, 5000)
			cb := walkToCallback(t, p.RedirectURL, testCard("4355084355084358"))
			if tt.before != nil {
				tt.before(s)
			}
			done := postCallbackAsync(cb.Action.String(), cb.Values)
			waitClosed(t, h.arrived, "provisioning call at the bank")

			tt.during(t, s, p)
			if got := s.payment(t, p.ID); got.Status != store.StatusPending || got.Stage != store.StageCallback {
				t.Fatalf("while provisioning: %s/%s; want pending/callback", got.Status, got.Stage)
			}
			// Nothing may start a second charge meanwhile.
			if st, loc := postCallback(t, cb.Action.String(), cb.Values); st != http.StatusOK || loc != "" {
				t.Errorf("callback replayed during provisioning: %d %q; want the in-progress page", st, loc)
			}
			if _, err := s.createOrder(p.OrderID, 5000); apiErr(err) == nil || apiErr(err).Status != http.StatusConflict || apiErr(err).Code != "order_in_progress" {
				t.Errorf("new attempt during provisioning: %v; want 409 order_in_progress", err)
			}

			h.let()
			a := <-done
			if a.err != nil || a.status != http.StatusSeeOther || !strings.HasPrefix(a.loc, "https://shop.example/ok") {
				t.Fatalf("callback: %d %q %v; want 303 to the success URL", a.status, a.loc, a.err)
			}
			if got := s.payment(t, p.ID); got.Status != store.StatusSucceeded {
				t.Fatalf("payment %s %+v; want succeeded (the bank approved)", got.Status, got.Result)
			}
			if n := s.sim.Calls().Provisions(p.BankOrderID); n != 1 {
				t.Fatalf("%d provisioning calls; want 1", n)
			}
			s.onlySucceededWebhook(t, p.ID)
		})
	}
}

// TestLateHostedApprovalSucceeds guards against the sweeper giving up on
// a hosted-page payment at its expiry while the shopper is still on the
// bank's page: the payment would end expired (payment.expired sent to the
// site) and the bank's approval that follows be lost. Within
// payments.bank_step_grace the sweeper must not ask; past it, the bank's
// approval found by the status query settles the payment succeeded.
func TestLateHostedApprovalSucceeds(t *testing.T) {
	tests := []struct {
		name     string
		wait     time.Duration // relay clock moved after the shopper reached the bank
		callback bool          // the bank's answer reaches the relay through the browser
	}{
		{"callback just past the expiry", config.DefaultPaymentTTL + time.Minute, true},
		{"callback at the end of the grace", config.DefaultPaymentTTL + config.DefaultBankStepGrace - time.Minute, true},
		{"callback lost, sweep past the grace", config.DefaultPaymentTTL + config.DefaultBankStepGrace + time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newRelayStack(t, "3d_pay_hosting")
			p := s.create(t, 5000)
			ctx := context.Background()
			b := browser.New()
			page, err := b.Get(ctx, p.RedirectURL) // the relay's page: the bank step is armed
			if err != nil {
				t.Fatal(err)
			}
			if got := s.payment(t, p.ID); got.Stage != store.StageBankStep {
				t.Fatalf("after the relay's page: stage %s; want bankstep", got.Stage)
			}
			// The shopper is at the bank's page while time passes.
			s.clock.Advance(tt.wait)
			if tt.callback {
				sweep(t, s)
				if got := s.payment(t, p.ID); got.Status != store.StatusPending {
					t.Fatalf("sweep within the grace: %s %+v; want pending", got.Status, got.Result)
				}
			}
			cb := finishAtBank(t, b, page, testCard("4355084355084358"))
			if tt.callback {
				if st, loc := postCallback(t, cb.Action.String(), cb.Values); st != http.StatusSeeOther || !strings.HasPrefix(loc, "https://shop.example/ok") {
					t.Fatalf("late callback: %d %q; want 303 to the success URL", st, loc)
				}
			} else {
				sweep(t, s)
			}
			got := s.payment(t, p.ID)
			if got.Status != store.StatusSucceeded {
				t.Fatalf("payment %s %+v; want succeeded (the bank charged the card)", got.Status, got.Result)
			}
			if o, ok := s.sim.Order(p.BankOrderID); !ok || o.State != banksim.StateApproved {
				t.Fatalf("bank order %s: %+v; want approved", p.BankOrderID, o)
			}
			s.onlySucceededWebhook(t, p.ID)
		})
	}
}

// finishAtBank goes on from a page on the way to the bank through the
// bank's pages, and returns the callback form unsubmitted.
func finishAtBank(t *testing.T, b *browser.Browser, page *browser.Page, c card) *browser.Form {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		f, err := page.Form("")
		if err != nil {
			t.Fatalf("no form on the way to the callback: %v (history %v)", err, b.History)
		}
		if strings.HasPrefix(f.Action.Path, "/callback/") {
			return f
		}
		set := map[string]string{}
		for _, n := range f.Names {
			if v, ok := c.fieldValue(n); ok && (f.Values.Get(n) == "" || n == "exp_month" || n == "exp_year") {
				set[n] = v
			}
		}
		if page, err = b.Submit(ctx, f, set); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatalf("no callback form after 10 pages: %v", b.History)
	return nil
}

// TestBankOrderIDsNeverShared guards against two payments getting the
// same bank order id — an order literally named like another order's
// later attempt ("X-2"), or attempts created at once — so that a status
// query, a refund or a void can only ever reach the payment it is for.
func TestBankOrderIDsNeverShared(t *testing.T) {
	s := newRelayStack(t, "3d_pay_hosting")
	tests := []struct {
		name   string
		create func(t *testing.T, base string) []*api.Payment
	}{
		{"an order named like a later attempt, created first", func(t *testing.T, base string) []*api.Payment {
			return []*api.Payment{s.mustCreateOrder(t, base+"-2", 1000), s.mustCreateOrder(t, base, 1000), s.mustCreateOrder(t, base, 1000)}
		}},
		{"an order named like a later attempt, created after it", func(t *testing.T, base string) []*api.Payment {
			return []*api.Payment{s.mustCreateOrder(t, base, 1000), s.mustCreateOrder(t, base, 1000), s.mustCreateOrder(t, base+"-2", 1000)}
		}},
		{"attempts for one order created at once", func(t *testing.T, base string) []*api.Payment {
			const n = 8
			out := make([]*api.Payment, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					out[i], errs[i] = s.createOrder(base, 1000)
				}()
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatalf("concurrent create: %v", err)
				}
			}
			return out
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := tt.create(t, newOrderID("C"))
			seen := map[string]string{}
			for _, p := range ps {
				if prev, dup := seen[p.BankOrderID]; dup {
					t.Fatalf("payments %s and %s share bank order id %s", prev, p.ID, p.BankOrderID)
				}
				seen[p.BankOrderID] = p.ID
			}
		})
	}
}

// TestOrderNamedLikeAnotherAttemptKeepsItsOwnMoney guards against the
// bank-order-id collision's consequences: order "X-2", opened and never
// paid, would have been settled succeeded from order "X"'s second
// attempt's transaction by the sweeper, and a refund of it would have
// given back another customer's money.
func TestOrderNamedLikeAnotherAttemptKeepsItsOwnMoney(t *testing.T) {
	s := newRelayStack(t, "3d_pay_hosting")
	ctx := context.Background()
	base := newOrderID("E")
	// Order "<base>-2" (another customer): at the bank's page, abandoned.
	other := s.mustCreateOrder(t, base+"-2", 5000)
	if _, err := browser.New().Get(ctx, other.RedirectURL); err != nil {
		t.Fatal(err)
	}
	// Order "<base>": the first attempt abandoned before the bank, the second paid.
	first := s.mustCreateOrder(t, base, 5000)
	second := s.mustCreateOrder(t, base, 5000)
	if second.BankOrderID == other.BankOrderID || second.BankOrderID == first.BankOrderID {
		t.Fatalf("bank order ids: other %s, first %s, second %s; want all different", other.BankOrderID, first.BankOrderID, second.BankOrderID)
	}
	cb := walkToCallback(t, second.RedirectURL, testCard("4355084355084358"))
	if st, loc := postCallback(t, cb.Action.String(), cb.Values); st != http.StatusSeeOther || !strings.HasPrefix(loc, "https://shop.example/ok") {
		t.Fatalf("callback: %d %q", st, loc)
	}
	if got := s.payment(t, first.ID); got.Status != store.StatusCanceled {
		t.Errorf("superseded first attempt: %s; want canceled", got.Status)
	}

	// The abandoned payment expires; past the grace the sweeper asks the
	// bank about its own order id, which the bank never saw.
	s.clock.Advance(config.DefaultPaymentTTL + config.DefaultBankStepGrace + time.Minute)
	sweep(t, s)
	if o := s.payment(t, other.ID); o.Status != store.StatusExpired || o.Ref.TransID != "" {
		t.Fatalf("never-paid order %s: %s (ref %+v); want expired with no bank reference", other.OrderID, o.Status, o.Ref)
	}
	if _, ok := s.sim.Order(other.BankOrderID); ok {
		t.Fatalf("the bank has a transaction on never-paid order %s", other.BankOrderID)
	}

	s.simClock.nextDay()
	if _, err := s.client.Refund(ctx, other.ID, &api.Refund{WixRefundID: "wr-other"}, ""); apiErr(err) == nil || apiErr(err).Code != "payment_not_succeeded" {
		t.Fatalf("refund of the never-paid order: %v; want 409 payment_not_succeeded", err)
	}
	op, err := s.client.Refund(ctx, second.ID, &api.Refund{WixRefundID: "wr-second"}, "")
	if err != nil || op.Status != string(store.OpSucceeded) || op.Amount != 5000 {
		t.Fatalf("refund of the paid order: %+v, %v; want succeeded for 5000", op, err)
	}
	calls := s.sim.Calls()
	if n := calls.Count(second.BankOrderID, "Credit"); n != 1 {
		t.Errorf("refunds sent for %s: %d; want 1", second.BankOrderID, n)
	}
	if n := calls.Count(other.BankOrderID, "Credit") + calls.Count(first.BankOrderID, "Credit"); n != 0 {
		t.Errorf("refunds sent to other orders' bank ids: %d", n)
	}
	if o, _ := s.sim.Order(second.BankOrderID); o.Refunded != 5000 {
		t.Errorf("bank refunded %d on %s; want 5000", o.Refunded, second.BankOrderID)
	}
}

// TestOneOrderIsChargedOnce guards against one order being charged twice
// through two attempts (checkout retried in a second tab). A second
// attempt is refused once the first is paid. Two attempts that both
// reached the bank's page end with one charge standing: in the 3d model
// the relay does not provision the second (order_already_paid, no bank
// call); in a hosted model, where the bank charged on its own page, the
// second approval is recorded and voided at once, and the site hears
// payment.succeeded then payment.voided for it.
func TestOneOrderIsChargedOnce(t *testing.T) {
	tests := []struct {
		name  string
		model string
		// concurrent: the second attempt is created while the first is at
		// the bank's page; otherwise once the first is paid.
		concurrent bool
		// secondEnds is the second attempt's final status.
		secondEnds store.PaymentStatus
	}{
		{name: "second attempt after the first was paid", model: "3d_pay_hosting"},
		{name: "two tabs at the 3-D page, provisioned one after the other", model: "3d", concurrent: true, secondEnds: store.StatusFailed},
		{name: "two tabs at the bank's hosted page", model: "3d_pay_hosting", concurrent: true, secondEnds: store.StatusVoided},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newRelayStack(t, tt.model)
			order := newOrderID("D")
			a := s.mustCreateOrder(t, order, 5000)
			cbA := walkToCallback(t, a.RedirectURL, testCard("4355084355084358"))
			if !tt.concurrent {
				postCallback(t, cbA.Action.String(), cbA.Values)
				if _, err := s.createOrder(order, 5000); apiErr(err) == nil || apiErr(err).Status != http.StatusConflict || apiErr(err).Code != "order_already_paid" {
					t.Fatalf("second attempt after payment: %v; want 409 order_already_paid", err)
				}
				return
			}
			b, err := s.createOrder(order, 5000)
			if err != nil {
				t.Fatalf("second attempt while the first is at the bank's page: %v; want it created (the shopper may have left that page)", err)
			}
			cbB := walkToCallback(t, b.RedirectURL, testCard("4355084355084358"))
			postCallback(t, cbA.Action.String(), cbA.Values)
			_, loc := postCallback(t, cbB.Action.String(), cbB.Values)
			if got := s.payment(t, a.ID); got.Status != store.StatusSucceeded {
				t.Fatalf("first attempt: %s; want succeeded", got.Status)
			}
			waitFor(t, func() bool { return s.payment(t, b.ID).Status == tt.secondEnds })
			pb := s.payment(t, b.ID)
			charged := 0
			for _, p := range []*api.Payment{a, b} {
				if o, ok := s.sim.Order(p.BankOrderID); ok && o.State == banksim.StateApproved {
					charged++
				}
			}
			if charged != 1 {
				t.Fatalf("order %s: %d charges standing at the bank; want 1", order, charged)
			}
			types := func(id string) []string {
				var out []string
				for _, e := range s.recv.events() {
					if e.Event.Data.PaymentID == id {
						out = append(out, e.Event.Type)
					}
				}
				return out
			}
			switch tt.secondEnds {
			case store.StatusFailed:
				if pb.Result == nil || pb.Result.Code != "order_already_paid" || pb.Result.ReasonCode != 3027 {
					t.Errorf("second attempt result %+v; want order_already_paid (Wix 3027)", pb.Result)
				}
				if n := s.sim.Calls().Count(b.BankOrderID, "Auth"); n != 0 {
					t.Errorf("second attempt provisioned %d times; want never", n)
				}
				if !strings.HasPrefix(loc, "https://shop.example/fail") {
					t.Errorf("shopper of the second attempt sent to %q; want the error URL", loc)
				}
				waitFor(t, func() bool { return len(types(b.ID)) == 1 })
				if got := types(b.ID); got[0] != "payment.failed" {
					t.Errorf("second attempt's webhooks %v; want payment.failed", got)
				}
			case store.StatusVoided:
				if o, _ := s.sim.Order(b.BankOrderID); o.State != banksim.StateVoided {
					t.Errorf("second charge at the bank: %s; want voided", o.State)
				}
				waitFor(t, func() bool { return len(types(b.ID)) == 2 })
				if got := types(b.ID); got[0] != "payment.succeeded" || got[1] != "payment.voided" {
					t.Errorf("second attempt's webhooks %v; want payment.succeeded then payment.voided", got)
				}
				// A void the site asks for later gets this one back.
				op, err := s.client.Void(context.Background(), b.ID, "")
				if err != nil || op.Status != string(store.OpSucceeded) || s.sim.Calls().Count(b.BankOrderID, "Void") != 1 {
					t.Errorf("site's void after the relay's: %+v, %v; want the relay's operation, one void at the bank", op, err)
				}
			}
			if got := types(a.ID); len(got) != 1 || got[0] != "payment.succeeded" {
				t.Errorf("first attempt's webhooks %v; want payment.succeeded", got)
			}
		})
	}
}

// TestMetricSeriesBoundedUnderRandomPaths guards against attacker-chosen
// paths becoming metric label values: every distinct path would be a new
// series, kept forever, and /metrics (and the relay's memory) would grow
// without bound.
func TestMetricSeriesBoundedUnderRandomPaths(t *testing.T) {
	s := newRelayStack(t, "3d_pay_hosting")
	shapes := []struct {
		name string
		path func(junk string) string
	}{
		{"unknown API route", func(j string) string { return "/v1/" + j }},
		{"deep API route", func(j string) string { return "/v1/payments/" + j + "/" + j }},
		{"API route under a known one", func(j string) string { return "/v1/reports/" + j }},
		{"payment page action", func(j string) string { return "/pay/" + j + "/" + j }},
		{"callback token", func(j string) string { return "/callback/" + j }},
		{"anything else", func(j string) string { return "/" + j }},
	}
	c := &http.Client{Timeout: 10 * time.Second}
	get := func(path string) {
		resp, err := c.Get("http://" + s.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	series := func() (int, string) {
		rec := httptest.NewRecorder()
		s.relay.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		n := 0
		for _, l := range strings.Split(rec.Body.String(), "\n") {
			if l != "" && !strings.HasPrefix(l, "#") {
				n++
			}
		}
		return n, rec.Body.String()
	}
	junk := func(i int) string { return fmt.Sprintf("j%d%s", i, strings.Repeat("x", 100)) }
	for _, sh := range shapes { // every shape seen once
		get(sh.path(junk(0)))
	}
	before, _ := series()
	for i := 1; i <= 100; i++ {
		for _, sh := range shapes {
			get(sh.path(junk(i)))
		}
	}
	after, text := series()
	if after != before {
		t.Errorf("%d series after one request per path shape, %d after %d more distinct paths; want no growth", before, after, 100*len(shapes))
	}
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, "xxxxxxxx") {
			t.Errorf("a requested path appears in /metrics: %.120s…", l)
			break
		}
	}
}

// TestSweepNotStarvedByFailingStatusQueries guards against older open
// payments whose status queries keep failing crowding every newer one
// out of the sweep (a bounded sweep that always starts with the oldest):
// a newer payment the bank charged, whose callback never arrived, must
// still be settled, and the failing ones stay open (never failed on a
// query that did not answer).
func TestSweepNotStarvedByFailingStatusQueries(t *testing.T) {
	tests := []struct {
		name    string
		stuck   int
		account string // of the stuck payments
		bug     string
	}{
		{name: "bank's status API failing for more than a sweep's budget", stuck: 250, account: "halkbank"},
		{name: "more than a sweep's pages, of an account no longer configured", stuck: 1001, account: "removed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.bug != "" {
				t.Skip(tt.bug)
			}
			var failed atomic.Int64
			wrap := func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					body, _ := io.ReadAll(r.Body)
					r.Body = io.NopCloser(bytes.NewReader(body))
					if bytes.Contains(body, []byte("<OrderId>STUCK")) {
						failed.Add(1)
						http.Error(w, "busy", http.StatusServiceUnavailable)
						return
					}
					next.ServeHTTP(w, r)
				})
			}
			s := newRelayStackWith(t, "3d_pay_hosting", wrap)
			stuck := openAtBankLongAgo(t, s, tt.account, tt.stuck)
			// A newer payment: the bank charged it, the shopper's callback never arrived.
			p := s.create(t, 7000)
			walkToCallback(t, p.RedirectURL, testCard("4355084355084358"))
			s.clock.Advance(config.DefaultPaymentTTL + config.DefaultBankStepGrace + time.Minute)
			sweeps := tt.stuck/100 + 2
			for i := 0; i < sweeps && s.payment(t, p.ID).Status == store.StatusPending; i++ {
				sweep(t, s)
			}
			if got := s.payment(t, p.ID); got.Status != store.StatusSucceeded {
				t.Fatalf("charged payment after %d sweeps: %s/%s; want succeeded (%d failed status queries)", sweeps, got.Status, got.Stage, failed.Load())
			}
			if tt.account == "halkbank" && failed.Load() < int64(tt.stuck) {
				t.Fatalf("%d status queries of the %d stuck payments reached the bank; want each asked", failed.Load(), tt.stuck)
			}
			for _, id := range []string{stuck[0], stuck[len(stuck)-1]} {
				if got := s.payment(t, id); got.Status != store.StatusPending {
					t.Fatalf("payment %s whose status query failed: %s; want still pending", id, got.Status)
				}
			}
			s.onlySucceededWebhook(t, p.ID)
		})
	}
}

// openAtBankLongAgo records n payments whose shoppers reached the bank's
// page two hours before the relay's clock (bank order ids STUCK…), and
// returns their ids.
func openAtBankLongAgo(t *testing.T, s *relayStack, account string, n int) []string {
	t.Helper()
	ctx := context.Background()
	old := s.clock.Now().Add(-2 * time.Hour).UTC().Truncate(time.Millisecond)
	ids := make([]string, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for w := range 16 { // the journal commits concurrent writes together
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 16 {
				// One a millisecond, as the relay records them at its
				// measured ~3,000 creations a second at most.
				at := old.Add(time.Duration(i) * time.Millisecond)
				p := &store.Payment{ID: "pay_stuck" + letters(i), SiteID: "shop", Bank: "halkbank", Account: account, Model: "3d_pay_hosting",
					OrderID: fmt.Sprintf("STUCK%d", i), Amount: 1000, Currency: "TRY", Installments: 1, Type: "sale", Language: "tr",
					PayToken: fmt.Sprintf("p%031d", i), CallbackToken: fmt.Sprintf("c%031d", i),
					Status: store.StatusPending, Stage: store.StageBankStep, CreatedAt: at, UpdatedAt: at, ExpiresAt: at.Add(config.DefaultPaymentTTL)}
				p.BankOrderID = p.OrderID
				if err := s.journal.CreatePayment(ctx, p, store.Event{At: old, Kind: "created"}, nil); err != nil {
					errs <- err
					return
				}
				ids[i] = p.ID
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return ids
}

// letters spells n in the letters a–j: ids of made-up payments hold no
// digit runs that the log scan could take for a card number.
func letters(n int) string {
	d := []byte(fmt.Sprintf("%011d", n))
	for i := range d {
		d[i] += 'a' - '0'
	}
	return string(d)
}

// refundRaw posts a refund and returns the HTTP status and the operation.
func refundRaw(s *relayStack, paymentID string, r *api.Refund) (int, *api.Operation, error) {
	body, _ := json.Marshal(r)
	st, raw, err := s.client.DoRaw(context.Background(), http.MethodPost, "/v1/payments/"+paymentID+"/refunds", body, nil)
	if err != nil {
		return 0, nil, err
	}
	if st >= 300 {
		return st, nil, fmt.Errorf("refund: %d %s", st, raw)
	}
	var op api.Operation
	if err := json.Unmarshal(raw, &op); err != nil {
		return st, nil, fmt.Errorf("refund answer %d: %w", st, err)
	}
	return st, &op, nil
}

// mustRefundRaw is refundRaw that fails the test on an error.
func mustRefundRaw(t *testing.T, s *relayStack, paymentID string, r *api.Refund) (int, *api.Operation) {
	t.Helper()
	st, op, err := refundRaw(s, paymentID, r)
	if err != nil {
		t.Fatal(err)
	}
	return st, op
}

// TestSlowRefundRetriedOnce guards against a refund the bank books after
// the relay stopped waiting being settled "failed" by the sweeper's first
// status query (or sent again on a retry): the site would refund again
// and the shopper get the money twice. The refund must be answered 202
// unknown, a retry with the same key must return the same operation
// without a bank call, and the sweep must settle it once the bank shows
// it: the bank sees exactly one refund.
func TestSlowRefundRetriedOnce(t *testing.T) {
	tests := []struct {
		name string
		cut  bool
	}{
		{"bank slower than bank_timeout", false},
		{"connection cut before the answer", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newBankHold(tt.cut, isRefund)
			s := heldStack(t, "3d_pay_hosting", h)
			p := s.create(t, 10000)
			cb := walkToCallback(t, p.RedirectURL, testCard("4355084355084358"))
			postCallback(t, cb.Action.String(), cb.Values)
			s.simClock.nextDay() // settled: refunds are allowed
			ctx := context.Background()
			req := &api.Refund{Amount: 4000, WixRefundID: "wr-slow"}

			type answer struct {
				status int
				op     *api.Operation
				err    error
			}
			first := make(chan answer, 1)
			go func() {
				st, op, err := refundRaw(s, p.ID, req)
				first <- answer{st, op, err}
			}()
			waitClosed(t, h.arrived, "refund at the bank")
			// The site retries while the bank is still at it.
			st, again := mustRefundRaw(t, s, p.ID, req)
			if st != http.StatusAccepted || again.Status == string(store.OpSucceeded) || again.Status == string(store.OpFailed) {
				t.Fatalf("retry while the refund is at the bank: %d %s; want 202 with the operation open", st, again.Status)
			}
			a := <-first
			if a.err != nil {
				t.Fatal(a.err)
			}
			if a.status != http.StatusAccepted || a.op.Status != string(store.OpUnknown) || a.op.ID != again.ID {
				t.Fatalf("refund the bank did not answer: %d %+v; want 202 unknown, operation %s", a.status, a.op, again.ID)
			}

			// The sweeper asks the bank, which has not booked it yet.
			for _, d := range []time.Duration{time.Minute, 30 * time.Minute} {
				s.clock.Advance(d)
				sweep(t, s)
				got, err := s.journal.GetOperation(ctx, a.op.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.Status != store.OpUnknown {
					t.Fatalf("refund after a sweep %v later, before the bank booked it: %s; want unknown (never failed)", d, got.Status)
				}
			}
			if st, retry := mustRefundRaw(t, s, p.ID, req); st != http.StatusAccepted || retry.ID != a.op.ID || retry.Status != string(store.OpUnknown) {
				t.Fatalf("retry after the sweep: %d %+v; want 202 with the same unknown operation", st, retry)
			}
			// The held amount cannot be refunded again under another key.
			if _, err := s.client.Refund(ctx, p.ID, &api.Refund{Amount: 7000, WixRefundID: "wr-more"}, ""); apiErr(err) == nil || apiErr(err).Code != "refund_exceeds_captured" {
				t.Fatalf("refund over the held amount: %v; want refund_exceeds_captured", err)
			}

			h.let()
			waitClosed(t, h.booked, "the bank booking the refund")
			s.clock.Advance(time.Minute)
			sweep(t, s)
			if got, err := s.journal.GetOperation(ctx, a.op.ID); err != nil || got.Status != store.OpSucceeded || got.BankCalls != 1 {
				t.Fatalf("refund once the bank booked it: %+v, %v; want succeeded with 1 bank call", got, err)
			}
			if st, retry := mustRefundRaw(t, s, p.ID, req); st != http.StatusOK || retry.ID != a.op.ID || retry.Status != string(store.OpSucceeded) {
				t.Fatalf("retry after the refund settled: %d %+v; want 200 with the same succeeded operation", st, retry)
			}
			if n := s.sim.Calls().Count(p.BankOrderID, "Credit"); n != 1 {
				t.Fatalf("the bank saw %d refunds; want exactly 1", n)
			}
			if o, _ := s.sim.Order(p.BankOrderID); o.Refunded != 4000 {
				t.Fatalf("bank refunded %d; want 4000", o.Refunded)
			}
			if pay := s.payment(t, p.ID); pay.Refunded != 4000 || pay.RefundPending != 0 {
				t.Fatalf("payment refunded %d, pending %d; want 4000 and 0", pay.Refunded, pay.RefundPending)
			}
			waitFor(t, func() bool { return len(s.eventsFor(p.ID)) >= 2 })
			time.Sleep(50 * time.Millisecond)
			var types []string
			for _, e := range s.eventsFor(p.ID) {
				types = append(types, e.Event.Type)
			}
			if len(types) != 2 || types[1] != api.EventRefundSucceeded {
				t.Fatalf("webhooks %v; want payment.succeeded then one refund.succeeded", types)
			}
		})
	}
}

// TestSlowProvisioningChargedOnce guards against a 3d provisioning the
// bank books after the relay stopped waiting being failed by the next
// sweep ("no such order" taken at once) — the site told failed for a
// charged card and the shopper sent to pay again — or provisioned a second
// time by a replayed callback or a new attempt. The payment must stay
// unknown until the bank shows the sale, then succeed, with one Auth.
func TestSlowProvisioningChargedOnce(t *testing.T) {
	tests := []struct {
		name string
		cut  bool
	}{
		{"bank slower than bank_timeout", false},
		{"connection cut before the answer", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newBankHold(tt.cut, isProvision)
			s := heldStack(t, "3d", h)
			p := s.create(t, 5000)
			cb := walkToCallback(t, p.RedirectURL, testCard("4355084355084358"))
			// The relay stops waiting: the shopper is shown "being
			// confirmed" (the site gave no pending URL), not the error page.
			if st, loc := postCallback(t, cb.Action.String(), cb.Values); st != http.StatusOK || loc != "" {
				t.Fatalf("callback without the bank's answer: %d %q; want the being-confirmed page", st, loc)
			}
			waitClosed(t, h.arrived, "provisioning at the bank")
			if got := s.payment(t, p.ID); got.Status != store.StatusUnknown {
				t.Fatalf("after the relay stopped waiting: %s; want unknown", got.Status)
			}

			// Sweeps before the bank booked it: "no such order" is not
			// believed within payments.status_grace.
			for _, d := range []time.Duration{sweepEvery, time.Minute, config.DefaultStatusGrace - 3*time.Minute} {
				s.clock.Advance(d)
				sweep(t, s)
				if got := s.payment(t, p.ID); got.Status != store.StatusUnknown {
					t.Fatalf("sweep %v later, the bank still working: %s %+v; want unknown", d, got.Status, got.Result)
				}
			}
			// Nothing starts a second charge.
			if st, loc := postCallback(t, cb.Action.String(), cb.Values); st != http.StatusOK || loc != "" {
				t.Errorf("replayed callback: %d %q; want the being-confirmed page", st, loc)
			}
			if _, err := s.createOrder(p.OrderID, 5000); apiErr(err) == nil || apiErr(err).Status != http.StatusConflict || apiErr(err).Code != "order_already_paid" {
				t.Errorf("new attempt while the payment is unknown: %v; want 409 order_already_paid", err)
			}

			h.let()
			waitClosed(t, h.booked, "the bank booking the provisioning")
			s.clock.Advance(time.Minute) // past the payment's backoff
			sweep(t, s)
			if got := s.payment(t, p.ID); got.Status != store.StatusSucceeded {
				t.Fatalf("once the bank booked the sale: %s %+v; want succeeded", got.Status, got.Result)
			}
			if n := s.sim.Calls().Provisions(p.BankOrderID); n != 1 {
				t.Fatalf("%d provisioning calls; want 1", n)
			}
			s.onlySucceededWebhook(t, p.ID)
		})
	}
}
