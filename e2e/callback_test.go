package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/posrelay/posrelay/api"
	"github.com/posrelay/posrelay/internal/browser"
	"github.com/posrelay/posrelay/signer"
	"github.com/posrelay/posrelay/store"
)

// walkToCallback follows the shopper's steps until the page that would post
// the bank's answer to the relay, and returns that form unsubmitted.
func walkToCallback(t *testing.T, payURL string, c card) *browser.Form {
	t.Helper()
	b := browser.New()
	ctx := context.Background()
	page, err := b.Get(ctx, payURL)
	if err != nil {
		t.Fatal(err)
	}
	return finishAtBank(t, b, page, c)
}

// postCallback posts fields to a callback URL without following redirects.
func postCallback(t *testing.T, action string, fields url.Values) (int, string) {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second}
	resp, err := c.Post(action, "application/x-www-form-urlencoded", strings.NewReader(fields.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

func clone(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// resign recomputes the ver3 HASH after a change, as someone holding the
// store key would: only the relay's binding to its record stops it then.
func resign(v url.Values, storeKey string) url.Values {
	m := map[string]string{}
	for k := range v {
		if k != "HASH" {
			m[k] = v.Get(k)
		}
	}
	v.Set("HASH", signer.ESTv3Hash(m, storeKey))
	return v
}

func TestForgedTamperedReplayedCallbacks(t *testing.T) {
	s := newRelayStack(t, "3d_pay_hosting")
	p1 := s.create(t, 14990)
	cb := walkToCallback(t, p1.RedirectURL, testCard("4355084355084358"))
	p2 := s.create(t, 14990)
	cb2 := walkToCallback(t, p2.RedirectURL, testCard("4355084355084358"))
	unchanged := func(t *testing.T, id string, version int64) {
		t.Helper()
		p := s.payment(t, id)
		if p.Status != store.StatusPending || p.Stage != store.StageBankStep || p.Version != version {
			t.Fatalf("payment %s changed: %s/%s v%d (was v%d)", id, p.Status, p.Stage, p.Version, version)
		}
	}
	v1 := s.payment(t, p1.ID).Version

	tests := []struct {
		name   string
		action string
		fields url.Values
	}{
		{"forged hash", cb.Action.String(), func() url.Values { v := clone(cb.Values); v.Set("HASH", strings.Repeat("A", 86)+"=="); return v }()},
		{"amount changed, hash kept", cb.Action.String(), func() url.Values { v := clone(cb.Values); v.Set("amount", "1.00"); return v }()},
		{"amount changed and re-signed", cb.Action.String(), resign(func() url.Values { v := clone(cb.Values); v.Set("amount", "1.00"); return v }(), s.storeKey)},
		{"currency changed and re-signed", cb.Action.String(), resign(func() url.Values { v := clone(cb.Values); v.Set("currency", "840"); return v }(), s.storeKey)},
		{"approval added to a decline", cb.Action.String(), func() url.Values {
			v := clone(cb.Values)
			v.Set("ProcReturnCode", "00")
			v.Set("EXTRA.NEW", "1")
			return v
		}()},
		{"another payment's genuine callback", cb2.Action.String(), cb.Values},
		{"field removed", cb.Action.String(), func() url.Values { v := clone(cb.Values); v.Del("EXTRA.CARDBRAND"); return v }()},
		{"empty body", cb.Action.String(), url.Values{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, loc := postCallback(t, tt.action, tt.fields)
			if status != http.StatusBadRequest || loc != "" {
				t.Fatalf("got %d %q; want 400 and no redirect", status, loc)
			}
			unchanged(t, p1.ID, v1)
		})
	}
	if got := s.recv.events(); len(got) != 0 {
		t.Fatalf("webhooks sent for rejected callbacks: %+v", got)
	}

	// The genuine callback completes the payment…
	status, loc := postCallback(t, cb.Action.String(), cb.Values)
	if status != http.StatusSeeOther || !strings.HasPrefix(loc, "https://shop.example/ok") {
		t.Fatalf("genuine callback: %d %q; want 303 to the success URL", status, loc)
	}
	done := s.payment(t, p1.ID)
	if done.Status != store.StatusSucceeded || done.Ref.MaskedPAN == "" {
		t.Fatalf("payment %s %+v; want succeeded with the masked PAN", done.Status, done.Ref)
	}
	// …and its replay changes nothing.
	status, loc = postCallback(t, cb.Action.String(), cb.Values)
	if status != http.StatusSeeOther || !strings.HasPrefix(loc, "https://shop.example/ok") {
		t.Fatalf("replayed callback: %d %q; want 303 to where the payment ended", status, loc)
	}
	if again := s.payment(t, p1.ID); again.Version != done.Version {
		t.Fatalf("replay changed the payment (v%d → v%d)", done.Version, again.Version)
	}
	waitFor(t, func() bool { return len(s.recv.events()) >= 1 })
	time.Sleep(50 * time.Millisecond) // a second webhook, if one were sent, would be here by now
	if got := s.recv.events(); len(got) != 1 || got[0].Event.Type != "payment.succeeded" || !got[0].Valid {
		t.Fatalf("webhooks %+v; want exactly one valid payment.succeeded", got)
	}
	if s.sim.Calls().GatePosts != 2 {
		t.Errorf("gate posts %d; want 2", s.sim.Calls().GatePosts)
	}
}

func TestRestartBetweenCreationAndCallback(t *testing.T) {
	for _, model := range []string{"3d_pay_hosting", "3d"} {
		t.Run(model, func(t *testing.T) {
			s := newRelayStack(t, model)
			p := s.create(t, 5000)
			cb := walkToCallback(t, p.RedirectURL, testCard("4355084355084358"))
			s.restart()
			status, loc := postCallback(t, cb.Action.String(), cb.Values)
			if status != http.StatusSeeOther || !strings.HasPrefix(loc, "https://shop.example/ok") {
				t.Fatalf("callback after restart: %d %q", status, loc)
			}
			if got := s.payment(t, p.ID); got.Status != store.StatusSucceeded {
				t.Fatalf("payment %s; want succeeded", got.Status)
			}
			if model == "3d" {
				if n := s.sim.Calls().Provisions(p.BankOrderID); n != 1 {
					t.Fatalf("%d provisioning calls; want 1", n)
				}
			}
			waitFor(t, func() bool { return len(s.recv.events()) == 1 })
		})
	}
}

// TestWebhookReceiverDownAndBack: the site is down for a simulated day
// and more; every message arrives once it is back, in order per payment,
// signed; one left dead is redelivered by command.
func TestWebhookReceiverDownAndBack(t *testing.T) {
	s := newRelayStack(t, "3d_pay_hosting")
	s.recv.setDown(true)
	for i, pan := range []string{"4355084355084358", "4000000000000515", "5400000000000005"} {
		p := s.create(t, int64(1000*(i+1)))
		cb := walkToCallback(t, p.RedirectURL, testCard(pan))
		postCallback(t, cb.Action.String(), cb.Values)
	}
	ctx := context.Background()
	attempts := func() int {
		ws, _ := s.journal.ListWebhooks(ctx, store.WebhookFilter{})
		n := 0
		for _, w := range ws {
			n += w.Attempts
		}
		return n
	}
	waitFor(t, func() bool { return attempts() >= 3 }) // the immediate attempts failed
	// A simulated day: walk the clock through the retry schedule.
	for _, d := range []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 14 * time.Hour} {
		s.clock.Advance(d + time.Second)
		if _, err := s.relay.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
	}
	ws, _ := s.journal.ListWebhooks(ctx, store.WebhookFilter{})
	for _, w := range ws {
		if w.Status != store.WebhookPending || w.Attempts < 7 {
			t.Fatalf("message %s: %s after %d attempts; want pending with ≥ 7 attempts", w.ID, w.Status, w.Attempts)
		}
	}
	s.recv.setDown(false)
	s.clock.Advance(20*time.Hour + time.Second)
	if _, err := s.relay.DeliverDue(ctx); err != nil {
		t.Fatal(err)
	}
	got := s.recv.events()
	if len(got) != 3 {
		t.Fatalf("%d webhooks after the receiver came back; want 3", len(got))
	}
	for _, e := range got {
		if !e.Valid {
			t.Errorf("webhook %s has an invalid signature", e.ID)
		}
	}

	// A message that exhausts the schedule is dead until redelivered.
	s.recv.setDown(true)
	p := s.create(t, 777)
	cb := walkToCallback(t, p.RedirectURL, testCard("4355084355084358"))
	postCallback(t, cb.Action.String(), cb.Values)
	waitFor(t, func() bool { return attempts() >= 11 })
	for i := 0; i < 12; i++ {
		s.clock.Advance(25 * time.Hour)
		if _, err := s.relay.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
	}
	dead, _ := s.journal.ListWebhooks(ctx, store.WebhookFilter{Status: store.WebhookDead})
	if len(dead) != 1 || dead[0].PaymentID != p.ID || dead[0].Attempts != 10 {
		t.Fatalf("dead messages %+v; want the new payment's, after 10 attempts", dead)
	}
	s.recv.setDown(false)
	if err := s.journal.Redeliver(ctx, dead[0].ID, s.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.relay.DeliverDue(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.recv.events(); len(got) != 4 || got[3].Event.Data.PaymentID != p.ID {
		t.Fatalf("redelivered: %d webhooks; want 4", len(got))
	}
}

// TestWebhooksInOrderPerPaymentAfterReceiverDown: while the site is down,
// payments collect several messages each (a payment and its void, its
// refunds); once it is back, every message arrives, signed, and each
// payment's in the order the relay created them (README "Webhooks":
// "at-least-once from a durable outbox, in order per payment"), however
// the payments' messages interleave.
func TestWebhooksInOrderPerPaymentAfterReceiverDown(t *testing.T) {
	s := newRelayStack(t, "3d_pay_hosting")
	ctx := context.Background()
	s.recv.setDown(true)

	payments := []struct {
		name string
		pan  string
		want []string // event types, in the order the steps below create them
		p    *api.Payment
	}{
		{name: "paid then voided", pan: "4355084355084358",
			want: []string{api.EventPaymentSucceeded, api.EventPaymentVoided}},
		{name: "paid, early refund refused, two refunds once the day closed", pan: "5400000000000005",
			want: []string{api.EventPaymentSucceeded, api.EventRefundFailed, api.EventRefundSucceeded, api.EventRefundSucceeded}},
		{name: "declined", pan: "4000000000000515",
			want: []string{api.EventPaymentFailed}},
	}
	for i := range payments {
		pm := &payments[i]
		pm.p = s.create(t, 10000)
		cb := walkToCallback(t, pm.p.RedirectURL, testCard(pm.pan))
		if status, _ := postCallback(t, cb.Action.String(), cb.Values); status != http.StatusSeeOther {
			t.Fatalf("%s: callback answered %d", pm.name, status)
		}
	}
	voided, refunded := payments[0].p, payments[1].p
	// The bank refuses a refund before its end of day: refund.failed.
	if op, err := s.client.Refund(ctx, refunded.ID, &api.Refund{Amount: 1000, WixRefundID: "wr-early-" + refunded.ID}, ""); err != nil || op.Status != "failed" {
		t.Fatalf("early refund = %+v, %v; want failed", op, err)
	}
	if op, err := s.client.Void(ctx, voided.ID, ""); err != nil || op.Status != "succeeded" {
		t.Fatalf("void = %+v, %v; want succeeded", op, err)
	}
	s.simClock.nextDay() // the bank's day closes: the sales settle
	for _, amount := range []int64{3000, 2000} {
		if op, err := s.client.Refund(ctx, refunded.ID, &api.Refund{Amount: amount, WixRefundID: fmt.Sprintf("wr-%d-%s", amount, refunded.ID)}, ""); err != nil || op.Status != "succeeded" {
			t.Fatalf("refund of %d = %+v, %v; want succeeded", amount, op, err)
		}
	}

	// What the relay created, per payment, in order.
	created := map[string][]*store.Webhook{}
	total := 0
	for _, pm := range payments {
		ws, err := s.journal.ListWebhooks(ctx, store.WebhookFilter{PaymentID: pm.p.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(ws) != len(pm.want) {
			t.Fatalf("%s: %d messages in the outbox; want %d", pm.name, len(ws), len(pm.want))
		}
		created[pm.p.ID] = ws
		total += len(ws)
	}

	// Some hours of the site down: the first message of each payment is
	// retried on schedule, the later ones wait behind it.
	waitFor(t, func() bool { // the immediate attempts
		for _, pm := range payments {
			if w, err := s.journal.ListWebhooks(ctx, store.WebhookFilter{PaymentID: pm.p.ID, Limit: 1}); err != nil || len(w) != 1 || w[0].Attempts == 0 {
				return false
			}
		}
		return true
	})
	for _, d := range []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour} {
		s.clock.Advance(d + time.Second)
		if _, err := s.relay.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.recv.events(); len(got) != 0 {
		t.Fatalf("%d webhooks received while the site was down", len(got))
	}
	ws, err := s.journal.ListWebhooks(ctx, store.WebhookFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		if w.Status != store.WebhookPending {
			t.Fatalf("message %s (%s) is %s while the site is down; want pending", w.ID, w.EventType, w.Status)
		}
	}
	for _, pm := range payments {
		for i, w := range created[pm.p.ID][1:] {
			// A later message tried before the earlier one is delivered
			// could overtake it.
			now, err := s.journal.GetWebhook(ctx, w.ID)
			if err != nil {
				t.Fatal(err)
			}
			if now.Attempts != 0 {
				t.Fatalf("%s: message %d (%s) tried %d times before the one ahead of it was delivered", pm.name, i+2, w.EventType, now.Attempts)
			}
		}
	}

	// The site is back: the next attempt of each first message is due
	// within 5 h; the messages behind it follow.
	s.recv.setDown(false)
	s.clock.Advance(5*time.Hour + time.Second)
	for range total + 1 {
		n, err := s.relay.DeliverDue(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	waitFor(t, func() bool {
		ws, err := s.journal.ListWebhooks(ctx, store.WebhookFilter{Status: store.WebhookDelivered})
		return err == nil && len(ws) == total
	})

	for _, pm := range payments {
		t.Run(pm.name, func(t *testing.T) {
			// Delivery is at least once: a message may come twice; the
			// order is that of each message's first arrival.
			var ids, types []string
			seen := map[string]bool{}
			for _, e := range s.eventsFor(pm.p.ID) {
				if !e.Valid {
					t.Errorf("webhook %s (%s) has an invalid signature", e.ID, e.Event.Type)
				}
				if !seen[e.ID] {
					seen[e.ID] = true
					ids, types = append(ids, e.ID), append(types, e.Event.Type)
				}
			}
			var want []string
			for _, w := range created[pm.p.ID] {
				want = append(want, w.ID)
			}
			if strings.Join(ids, " ") != strings.Join(want, " ") {
				t.Fatalf("messages arrived as %v (%v); created as %v", ids, types, want)
			}
			if strings.Join(types, " ") != strings.Join(pm.want, " ") {
				t.Fatalf("events arrived as %v; want %v", types, pm.want)
			}
		})
	}
}

// waitFor polls cond for up to 10 s (the relay's workers run on their own).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
