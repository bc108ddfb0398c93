package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posrelay/posrelay/api"
	"github.com/posrelay/posrelay/banksim/vakif"
	"github.com/posrelay/posrelay/store"
)

// TestVakifbankRefundAnswerLost: VakıfBank books a refund whose answer
// never reaches the relay. The refund stays unknown, is never sent twice,
// and is settled from the bank's Search: confirmed when Search gives the
// refunded total, and left unknown (its amount held, the operator told)
// when Search says only IsRefunded — that is no proof of this refund.
func TestVakifbankRefundAnswerLost(t *testing.T) {
	totalTag := regexp.MustCompile(`<TotalRefundAmount>[^<]*</TotalRefundAmount>`)
	for _, tt := range []struct {
		name      string
		earlier   int64          // a refund that succeeded before the lost one (0 = none)
		hideTotal bool           // Search answers without TotalRefundAmount
		want      store.OpStatus // the refund's status after the grace period
	}{
		{"search gives the refunded total", 0, false, store.OpSucceeded},
		{"search gives the total, after an earlier refund", 2000, false, store.OpSucceeded},
		{"no total, the only refund sent: it is the one the bank shows", 0, true, store.OpSucceeded},
		{"no total after an earlier refund: not proof of this one", 2000, true, store.OpUnknown},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var lose atomic.Bool
			var refunds atomic.Int32
			wrap := func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					body, _ := io.ReadAll(r.Body)
					r.Body = io.NopCloser(bytes.NewReader(body))
					msg := string(body)
					if q, err := url.ParseQuery(msg); err == nil && q.Get("prmstr") != "" {
						msg = q.Get("prmstr")
					}
					switch {
					case r.URL.Path == vakif.VPOSPath && strings.Contains(msg, "<TransactionType>Refund</TransactionType>"):
						refunds.Add(1)
						if lose.Load() { // the bank books it; the answer is lost
							next.ServeHTTP(httptest.NewRecorder(), r)
							<-r.Context().Done()
							return
						}
					case r.URL.Path == vakif.SearchPath && tt.hideTotal:
						rec := httptest.NewRecorder()
						next.ServeHTTP(rec, r)
						for k, v := range rec.Header() {
							if k != "Content-Length" {
								w.Header()[k] = v
							}
						}
						w.WriteHeader(rec.Code)
						_, _ = w.Write(totalTag.ReplaceAll(rec.Body.Bytes(), nil))
						return
					}
					next.ServeHTTP(w, r)
				})
			}
			s := newVakifStackWith(t, "mpi", wrap)
			ctx := context.Background()
			p := s.create(t)
			if status, _ := s.toCallback(t, p, "mpi").deliver(t); status != http.StatusSeeOther {
				t.Fatalf("callback: %d", status)
			}
			if got, err := s.journal.GetPayment(ctx, p.ID); err != nil || got.Status != store.StatusSucceeded {
				t.Fatalf("payment %+v, %v; want succeeded", got, err)
			}
			s.clock.Advance(25 * time.Hour) // the bank's day is closed: refunds allowed

			if tt.earlier > 0 {
				if op, err := s.client.Refund(ctx, p.ID, &api.Refund{Amount: tt.earlier, WixRefundID: "wr-earlier"}, ""); err != nil || op.Status != "succeeded" {
					t.Fatalf("earlier refund = %+v, %v; want succeeded", op, err)
				}
			}
			lose.Store(true)
			op, err := s.client.Refund(ctx, p.ID, &api.Refund{Amount: 4000, WixRefundID: "wr-lost"}, "")
			if err != nil {
				t.Fatal(err)
			}
			if op.Status != "unknown" {
				t.Fatalf("refund with a lost answer = %s; want unknown", op.Status)
			}
			lose.Store(false)
			// Past the bank call, then past the grace for unconfirmed operations.
			for _, step := range []time.Duration{time.Minute, 2 * time.Hour} {
				s.clock.Advance(step)
				if err := s.relay.Sweep(ctx); err != nil {
					t.Fatal(err)
				}
			}
			got, err := s.journal.GetOperation(ctx, op.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tt.want || got.BankCalls != 1 {
				t.Fatalf("refund after the status queries: %s with %d bank calls; want %s with 1", got.Status, got.BankCalls, tt.want)
			}
			if want := 1 + btoi(tt.earlier > 0); refunds.Load() != int32(want) {
				t.Fatalf("the bank saw %d refunds; want exactly %d", refunds.Load(), want)
			}
			if tt.want == store.OpUnknown {
				if !strings.Contains(s.logs.String(), "refunds on this payment but not their total") {
					t.Error("the operator was not told why the refund stays unknown")
				}
				// The unknown refund's amount stays held: the rest cannot be over-refunded.
				if _, err := s.client.Refund(ctx, p.ID, &api.Refund{Amount: 14990 - tt.earlier - 3999, WixRefundID: "wr-over"}, ""); apiErr(err) == nil || apiErr(err).Code != "refund_exceeds_captured" {
					t.Fatalf("refund over the held amount: %v; want refund_exceeds_captured", err)
				}
				settleByOperator(t, s, p.ID, op.ID, tt.earlier+4000)
			}
		})
	}
}

// settleByOperator is the way out of a refund the bank cannot confirm:
// the operator checks it in the bank's merchant panel and records it with
// posrelay operations settle, next to the serving relay. The refund then
// counts, its hold is released, the site gets refund.succeeded, and the
// operator's note is in the payment's history but not in the webhook.
func settleByOperator(t *testing.T, s *vakifStack, paymentID, opID string, refunded int64) {
	t.Helper()
	ctx := context.Background()
	cfgFile, cliRun := operatorCLI(t, s.yaml, s.env)
	run := func(args ...string) (string, int) { return cliRun(append(args, "--config", cfgFile)...) }
	const note = "refund seen in the merchant panel, RRN 123456789012"
	for _, st := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"the open refund is listed", []string{"operations", "list"}, 0, opID + " "},
		{"no outcome given", []string{"operations", "settle", opID, "--note", note}, 2, "--as succeeded"},
		{"no note", []string{"operations", "settle", opID, "--as", "succeeded"}, 1, "--note is required"},
		{"a card number in the note", []string{"operations", "settle", opID, "--as", "succeeded", "--note", "card 4355 0843 5508 4358"}, 1, "card number"},
		{"settled", []string{"operations", "settle", opID, "--as", "succeeded", "--note", note}, 0, "is now succeeded"},
		{"settled again", []string{"operations", "settle", opID, "--as", "failed", "--note", note}, 1, "already succeeded"},
		{"no longer listed", []string{"operations", "list"}, 0, "ID "},
	} {
		out, code := run(st.args...)
		if code != st.code || !strings.Contains(out, st.want) {
			t.Fatalf("%s: exit %d\n%s\nwant exit %d and %q", st.name, code, out, st.code, st.want)
		}
		if st.name == "no longer listed" && strings.Contains(out, opID) {
			t.Fatalf("the settled refund is still listed:\n%s", out)
		}
		if strings.Contains(out, "4355084355084358") || strings.Contains(out, "4355 0843 5508 4358") {
			t.Fatalf("%s: the output repeats the card number", st.name)
		}
	}
	got, err := s.journal.GetPayment(ctx, paymentID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Refunded != refunded || got.RefundPending != 0 {
		t.Fatalf("payment refunded %d, held %d; want %d, 0", got.Refunded, got.RefundPending, refunded)
	}
	// The serving relay delivers the webhook the command put in the outbox.
	waitFor(t, func() bool {
		for _, e := range s.recv.events() {
			if e.Event.Type == "refund.succeeded" && e.Event.Data.RefundID == opID {
				return true
			}
		}
		return false
	})
	hooks, err := s.journal.ListWebhooks(ctx, store.WebhookFilter{PaymentID: paymentID})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hooks {
		if strings.Contains(string(h.Body), "merchant panel") {
			t.Fatal("the operator's note went into the site's webhook")
		}
	}
	evs, err := s.journal.Events(ctx, paymentID)
	if err != nil {
		t.Fatal(err)
	}
	if e := evs[len(evs)-1]; e.Kind != "refund_succeeded" || e.Detail["reason"] != "operator: "+note {
		t.Fatalf("last event %+v; want refund_succeeded with the operator's note", e)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
