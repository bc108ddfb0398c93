package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posrelay/posrelay/api"
	"github.com/posrelay/posrelay/store"
)

// TestRefundAnswerLost: the bank takes a refund but its answer never comes
// back. The refund must end unknown (never failed, never sent twice) and be
// resolved from the bank's status API.
func TestRefundAnswerLost(t *testing.T) {
	var lose atomic.Bool
	var credits atomic.Int32
	lossy := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			if !bytes.Contains(body, []byte("<Type>Credit</Type>")) {
				next.ServeHTTP(w, r)
				return
			}
			credits.Add(1)
			if !lose.Load() {
				next.ServeHTTP(w, r)
				return
			}
			// The bank acts on the refund, but the answer is lost on the way.
			next.ServeHTTP(httptestRecorder{}, r)
			<-r.Context().Done()
		})
	}
	s := newRelayStackWith(t, "3d_pay_hosting", lossy)
	p := s.create(t, 10000)
	cb := walkToCallback(t, p.RedirectURL, testCard("4355084355084358"))
	postCallback(t, cb.Action.String(), cb.Values)
	s.simClock.nextDay() // settled: refunds are allowed

	lose.Store(true)
	ctx := context.Background()
	op, err := s.client.Refund(ctx, p.ID, &api.Refund{Amount: 4000, WixRefundID: "wr-lost"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if op.Status != "unknown" {
		t.Fatalf("refund with a lost answer = %s; want unknown (never failed)", op.Status)
	}
	// A retry with the same key reports the same operation and sends nothing.
	again, err := s.client.Refund(ctx, p.ID, &api.Refund{Amount: 4000, WixRefundID: "wr-lost"}, "")
	if err != nil || again.ID != op.ID || again.Status != "unknown" {
		t.Fatalf("retry = %+v, %v; want the same unknown operation", again, err)
	}
	// The rest cannot be over-refunded meanwhile: the open refund is held.
	if _, err := s.client.Refund(ctx, p.ID, &api.Refund{Amount: 7000, WixRefundID: "wr-over"}, ""); apiErr(err) == nil || apiErr(err).Code != "refund_exceeds_captured" {
		t.Fatalf("refund over the held amount: %v; want refund_exceeds_captured", err)
	}
	lose.Store(false)
	// The sweeper asks the bank once the call is surely over.
	s.clock.Advance(time.Minute)
	if err := s.relay.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := s.journal.GetOperation(ctx, op.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.OpSucceeded || got.BankCalls != 1 {
		t.Fatalf("refund after the status query: %s with %d bank calls; want succeeded with 1", got.Status, got.BankCalls)
	}
	if n := credits.Load(); n != 1 {
		t.Fatalf("the bank saw %d refunds; want exactly 1", n)
	}
	pay := s.payment(t, p.ID)
	if pay.Refunded != 4000 || pay.RefundPending != 0 {
		t.Fatalf("payment refunded %d, pending %d; want 4000 and 0", pay.Refunded, pay.RefundPending)
	}
	waitFor(t, func() bool {
		for _, e := range s.recv.events() {
			if e.Event.Type == "refund.succeeded" && e.Event.Data.WixRefundID == "wr-lost" {
				return true
			}
		}
		return false
	})
}

// httptestRecorder swallows an answer.
type httptestRecorder struct{}

func (httptestRecorder) Header() http.Header         { return http.Header{} }
func (httptestRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (httptestRecorder) WriteHeader(int)             {}
