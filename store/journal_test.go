package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/posrelay/posrelay/bank"
)

// This file is the Journal conformance suite. Every implementation runs it
// through testJournal with a function that opens a fresh, empty journal.

// t0 is the suite's clock: fixed, so failures are reproducible. It has
// sub-millisecond digits on purpose, to check the stored precision.
var t0 = time.Date(2026, 3, 14, 9, 26, 53, 589_000_000, time.UTC)

func testJournal(t *testing.T, open func(t *testing.T) Journal) {
	tests := []struct {
		name string
		run  func(t *testing.T, j Journal)
	}{
		{"RoundTrip", testRoundTrip},
		{"Duplicates", testDuplicates},
		{"Tokens", testTokens},
		{"PaymentsByOrder", testPaymentsByOrder},
		{"ListPayments", testListPayments},
		{"Update", testUpdate},
		{"UpdateRefused", testUpdateRefused},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"Operations", testOperations},
		{"UpdateOperation", testUpdateOperation},
		{"BankOrderUnique", testBankOrderUnique},
		{"Idempotency", testIdempotency},
		{"Outbox", testOutbox},
		{"Nonces", testNonces},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := open(t)
			t.Cleanup(func() {
				if err := j.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.run(t, j)
		})
	}
}

// newPayment returns a pending payment as the relay creates one.
func newPayment(id, site, order string, created time.Time) *Payment {
	return &Payment{
		ID: id, SiteID: site, Bank: "halkbank", Account: "main", Model: "3d_pay_hosting",
		OrderID: order, BankOrderID: order + "@" + id, Amount: 12_550, Currency: "TRY", Installments: 1,
		Type: "sale", Language: "tr",
		ReturnURLs: ReturnURLs{Success: "https://shop.example/ok", Error: "https://shop.example/error"},
		Customer:   Customer{IP: "203.0.113.7", Email: "ayse@example.com", Name: "Ayşe Yılmaz"},
		PayToken:   "pt_" + id,
		Status:     StatusPending, Stage: StageCreated,
		CreatedAt: created, UpdatedAt: created, ExpiresAt: created.Add(30 * time.Minute),
	}
}

func created(at time.Time) Event {
	return Event{At: at, Kind: "created", Detail: map[string]string{"bank": "halkbank"}}
}

func mustCreate(t *testing.T, j Journal, p *Payment) {
	t.Helper()
	if err := j.CreatePayment(t.Context(), p, created(p.CreatedAt), nil); err != nil {
		t.Fatalf("CreatePayment(%s): %v", p.ID, err)
	}
}

func mustUpdate(t *testing.T, j Journal, id string, fn func(p *Payment) (*Change, error)) *Payment {
	t.Helper()
	p, err := j.UpdatePayment(t.Context(), id, fn)
	if err != nil {
		t.Fatalf("UpdatePayment(%s): %v", id, err)
	}
	return p
}

// storedCopy returns a copy of p as the journal gives it back.
func storedCopy(p *Payment) *Payment {
	c := *p
	c.normalize()
	return &c
}

func samePayment(t *testing.T, what string, got, want *Payment) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// allSet fails the test if a field of the struct v points to is zero, so a
// field added later cannot silently escape the round-trip test.
func allSet(t *testing.T, v any) {
	t.Helper()
	rv := reflect.ValueOf(v).Elem()
	for i := range rv.NumField() {
		if rv.Field(i).IsZero() {
			t.Errorf("test data: %s.%s is zero; set it so the round trip covers it", rv.Type().Name(), rv.Type().Field(i).Name)
		}
	}
}

func ids[T any](xs []T, id func(T) string) []string {
	out := []string{}
	for _, x := range xs {
		out = append(out, id(x))
	}
	return out
}

func paymentIDs(ps []*Payment) []string { return ids(ps, func(p *Payment) string { return p.ID }) }
func webhookIDs(ws []*Webhook) []string { return ids(ws, func(w *Webhook) string { return w.ID }) }
func opIDs(ops []*Operation) []string   { return ids(ops, func(o *Operation) string { return o.ID }) }

func sameIDs(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

func testRoundTrip(t *testing.T, j Journal) {
	ctx := t.Context()
	trt := time.FixedZone("TRT", 3*60*60)
	at := time.Date(2026, 3, 14, 12, 26, 53, 589_123_456, trt) // not UTC, sub-millisecond
	full := &Payment{
		ID: "pay_full", SiteID: "site_a", Bank: "qnb", Account: "secondary", Model: "3DHost",
		OrderID: "10042", BankOrderID: "10042-2", Amount: 1_234_567, Currency: "EUR", Installments: 6,
		Type: "preauth", Language: "en",
		ReturnURLs:       ReturnURLs{Success: "https://s.example/ok", Error: "https://s.example/err", Cancel: "https://s.example/cancel", Pending: "https://s.example/wait"},
		Customer:         Customer{IP: "2001:db8::1", Email: "j@example.com", Name: "Jülide \"J\" Öz"},
		WixTransactionID: "wix_tx_1",
		PayToken:         "pt_full", CallbackToken: "cb_full",
		Status: StatusPending, Stage: StageBankStep,
		Result:    &bank.Result{Code: bank.CodeApproved, BankCode: "00", BankMessage: "Onaylandı", Message: bank.Message{TR: "tr", EN: "en"}},
		Ref:       bank.Ref{AuthCode: "A1", HostRef: "R2", TransID: "T3", MaskedPAN: "435508******4358"},
		BankState: map[string]string{"enrollment": "e-1", "empty": ""},
		Captured:  5, Refunded: 1, RefundPending: 2,
		CreatedAt: at, UpdatedAt: at.Add(time.Second), ExpiresAt: at.Add(time.Hour), FinalAt: at.Add(2 * time.Hour),
		Version: 3,
	}
	allSet(t, full)

	tests := []struct {
		name string
		p    *Payment
	}{
		{"every field set", full},
		{"minimal", &Payment{ID: "pay_min", SiteID: "site_a", Status: StatusPending, Stage: StageCreated, CreatedAt: t0}},
		{"empty bank state", func() *Payment {
			p := newPayment("pay_empty", "site_a", "o", t0)
			p.BankState = map[string]string{}
			return p
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := j.CreatePayment(ctx, tt.p, created(tt.p.CreatedAt), nil); err != nil {
				t.Fatalf("CreatePayment: %v", err)
			}
			got, err := j.GetPayment(ctx, tt.p.ID)
			if err != nil {
				t.Fatalf("GetPayment: %v", err)
			}
			want := storedCopy(tt.p)
			samePayment(t, "GetPayment", got, want)
			if got.CreatedAt.Location() != time.UTC || got.CreatedAt.Nanosecond()%int(time.Millisecond) != 0 {
				t.Errorf("CreatedAt = %v, want UTC with millisecond precision", got.CreatedAt)
			}
		})
	}

	// The same through an update, to a final state.
	final := at.Add(3 * time.Hour)
	got := mustUpdate(t, j, "pay_full", func(p *Payment) (*Change, error) {
		p.Status, p.Stage, p.FinalAt, p.UpdatedAt = StatusSucceeded, StageDone, final, final
		p.BankState = map[string]string{"k": "v"}
		p.Result = &bank.Result{Code: bank.CodeDeclined, BankCode: "05", ReasonCode: 3000}
		return nil, nil
	})
	want := storedCopy(full)
	want.Status, want.Stage, want.FinalAt, want.UpdatedAt = StatusSucceeded, StageDone, stored(final), stored(final)
	want.BankState = map[string]string{"k": "v"}
	want.Result = &bank.Result{Code: bank.CodeDeclined, BankCode: "05", ReasonCode: 3000}
	want.Version = 4
	samePayment(t, "UpdatePayment result", got, want)
	again, err := j.GetPayment(ctx, "pay_full")
	if err != nil {
		t.Fatal(err)
	}
	samePayment(t, "GetPayment after update", again, want)

	evs, err := j.Events(ctx, "pay_full")
	if err != nil {
		t.Fatal(err)
	}
	wantEv := []Event{{PaymentID: "pay_full", Seq: 1, At: stored(at), Kind: "created", Detail: map[string]string{"bank": "halkbank"}}}
	if !reflect.DeepEqual(evs, wantEv) {
		t.Errorf("Events = %+v, want %+v", evs, wantEv)
	}

	if _, err := j.GetPayment(ctx, "pay_nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetPayment(unknown) = %v, want ErrNotFound", err)
	}
}

func testDuplicates(t *testing.T, j Journal) {
	ctx := t.Context()
	first := newPayment("pay_1", "site_a", "o1", t0)
	first.CallbackToken = "cb_1"
	idem := &Idempotency{SiteID: "site_a", Scope: "POST /v1/payments", Key: "k1", RequestHash: "h", ResourceID: "pay_1"}
	if err := j.CreatePayment(ctx, first, created(t0), idem); err != nil {
		t.Fatal(err)
	}
	// Two payments without a callback token yet are no duplicates.
	if err := j.CreatePayment(ctx, newPayment("pay_2", "site_a", "o2", t0), created(t0), nil); err != nil {
		t.Fatalf("second payment without callback token: %v", err)
	}

	tests := []struct {
		name   string
		change func(p *Payment)
		idem   *Idempotency
	}{
		{"payment id", func(p *Payment) { p.ID = "pay_1" }, nil},
		{"pay token", func(p *Payment) { p.PayToken = "pt_pay_1" }, nil},
		{"callback token", func(p *Payment) { p.CallbackToken = "cb_1" }, nil},
		{"idempotency key", func(p *Payment) {}, &Idempotency{SiteID: "site_a", Scope: "POST /v1/payments", Key: "k1", RequestHash: "h2", ResourceID: "pay_new"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPayment("pay_new", "site_a", "o3", t0.Add(time.Minute))
			tt.change(p)
			err := j.CreatePayment(ctx, p, created(p.CreatedAt), tt.idem)
			if !errors.Is(err, ErrDuplicate) {
				t.Fatalf("CreatePayment = %v, want ErrDuplicate", err)
			}
			if p.ID != "pay_1" {
				if _, err := j.GetPayment(ctx, p.ID); !errors.Is(err, ErrNotFound) {
					t.Errorf("after a refused create, GetPayment = %v, want ErrNotFound", err)
				}
			}
		})
	}
	// The same key in another scope or site is another key.
	for _, r := range []*Idempotency{
		{SiteID: "site_a", Scope: "refund pay_1", Key: "k1"},
		{SiteID: "site_b", Scope: "POST /v1/payments", Key: "k1"},
	} {
		p := newPayment("pay_"+r.SiteID+r.Scope, r.SiteID, "o", t0)
		if err := j.CreatePayment(ctx, p, created(t0), r); err != nil {
			t.Errorf("CreatePayment with key %+v: %v", r, err)
		}
	}
	evs, err := j.Events(ctx, "pay_1")
	if err != nil || len(evs) != 1 {
		t.Errorf("Events(pay_1) = %d events, %v; want 1", len(evs), err)
	}
}

func testTokens(t *testing.T, j Journal) {
	ctx := t.Context()
	p := newPayment("pay_1", "site_a", "o1", t0)
	mustCreate(t, j, p)
	mustCreate(t, j, newPayment("pay_2", "site_a", "o2", t0))
	mustUpdate(t, j, "pay_1", func(p *Payment) (*Change, error) {
		p.Stage, p.CallbackToken = StageBankStep, "cb_1"
		return nil, nil
	})
	tests := []struct {
		name   string
		lookup func() (*Payment, error)
		want   string // payment id, "" for ErrNotFound
	}{
		{"pay token", func() (*Payment, error) { return j.PaymentByPayToken(ctx, "pt_pay_1") }, "pay_1"},
		{"other pay token", func() (*Payment, error) { return j.PaymentByPayToken(ctx, "pt_pay_2") }, "pay_2"},
		{"callback token", func() (*Payment, error) { return j.PaymentByCallbackToken(ctx, "cb_1") }, "pay_1"},
		{"unknown pay token", func() (*Payment, error) { return j.PaymentByPayToken(ctx, "pt_nope") }, ""},
		{"unknown callback token", func() (*Payment, error) { return j.PaymentByCallbackToken(ctx, "cb_nope") }, ""},
		{"pay token as callback token", func() (*Payment, error) { return j.PaymentByCallbackToken(ctx, "pt_pay_1") }, ""},
		{"empty callback token", func() (*Payment, error) { return j.PaymentByCallbackToken(ctx, "") }, ""},
		{"empty pay token", func() (*Payment, error) { return j.PaymentByPayToken(ctx, "") }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := tt.lookup()
			switch {
			case tt.want == "" && !errors.Is(err, ErrNotFound):
				t.Errorf("got %v, %v; want ErrNotFound", p, err)
			case tt.want != "" && (err != nil || p.ID != tt.want):
				t.Errorf("got %v, %v; want %s", p, err, tt.want)
			}
		})
	}
}

func testPaymentsByOrder(t *testing.T, j Journal) {
	ctx := t.Context()
	// Inserted out of time order; listed oldest first.
	mustCreate(t, j, newPayment("pay_b", "site_a", "o1", t0.Add(2*time.Minute)))
	mustCreate(t, j, newPayment("pay_a", "site_a", "o1", t0))
	mustCreate(t, j, newPayment("pay_c", "site_a", "o1", t0.Add(5*time.Minute)))
	mustCreate(t, j, newPayment("pay_other_order", "site_a", "o2", t0))
	mustCreate(t, j, newPayment("pay_other_site", "site_b", "o1", t0))

	ps, err := j.PaymentsByOrder(ctx, "site_a", "o1")
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "PaymentsByOrder(site_a, o1)", paymentIDs(ps), "pay_a", "pay_b", "pay_c")
	ps, err = j.PaymentsByOrder(ctx, "site_a", "o9")
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "PaymentsByOrder(site_a, o9)", paymentIDs(ps))
}

func testListPayments(t *testing.T, j Journal) {
	h := time.Hour
	mustCreate(t, j, newPayment("p1", "site_a", "o1", t0))
	mustCreate(t, j, newPayment("p2", "site_a", "o2", t0.Add(h)))
	mustCreate(t, j, newPayment("p3", "site_b", "o3", t0.Add(2*h)))
	mustCreate(t, j, newPayment("p4", "site_a", "o4", t0.Add(3*h)))
	mustUpdate(t, j, "p2", func(p *Payment) (*Change, error) {
		p.Status, p.Stage = StatusSucceeded, StageDone
		return nil, nil
	})
	tests := []struct {
		name string
		f    PaymentFilter
		want []string
	}{
		{"all", PaymentFilter{}, []string{"p1", "p2", "p3", "p4"}},
		{"site", PaymentFilter{SiteID: "site_a"}, []string{"p1", "p2", "p4"}},
		{"status", PaymentFilter{Status: StatusPending}, []string{"p1", "p3", "p4"}},
		{"site and status", PaymentFilter{SiteID: "site_a", Status: StatusSucceeded}, []string{"p2"}},
		{"unknown site", PaymentFilter{SiteID: "site_z"}, nil},
		{"created range, from inclusive, before exclusive", PaymentFilter{CreatedFrom: t0.Add(h), CreatedBefore: t0.Add(3 * h)}, []string{"p2", "p3"}},
		{"created from", PaymentFilter{CreatedFrom: t0.Add(2 * h)}, []string{"p3", "p4"}},
		{"created before", PaymentFilter{CreatedBefore: t0.Add(h)}, []string{"p1"}},
		{"expires strictly before", PaymentFilter{ExpiresBefore: t0.Add(2*h + 30*time.Minute)}, []string{"p1", "p2"}},
		{"expiry sweep", PaymentFilter{Status: StatusPending, ExpiresBefore: t0.Add(4 * h), Limit: 2}, []string{"p1", "p3"}},
		{"limit", PaymentFilter{Limit: 1}, []string{"p1"}},
		{"created range in another zone", PaymentFilter{CreatedFrom: t0.Add(h).In(time.FixedZone("X", -5*3600))}, []string{"p2", "p3", "p4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps, err := j.ListPayments(t.Context(), tt.f)
			if err != nil {
				t.Fatal(err)
			}
			sameIDs(t, "ListPayments", paymentIDs(ps), tt.want...)
		})
	}
}

func testUpdate(t *testing.T, j Journal) {
	ctx := t.Context()
	mustCreate(t, j, newPayment("pay_1", "site_a", "o1", t0))
	done := t0.Add(2 * time.Minute)
	msgAt := done.Add(time.Second)
	ch := &Change{
		Events: []Event{
			{Kind: "callback", Detail: map[string]string{"mdStatus": "1"}},
			{At: done, Kind: "succeeded"},
		},
		Webhooks: []Webhook{
			{ID: "msg_1", EventType: "payment.succeeded", Body: []byte(`{"id":"pay_1"}`)},
			{ID: "msg_2", EventType: "payment.succeeded", Body: []byte(`{}`), CreatedAt: msgAt, NextAttemptAt: msgAt.Add(time.Minute)},
		},
		Idempotency: []*Idempotency{{SiteID: "site_a", Scope: "capture pay_1", Key: "k", ResourceID: "pay_1", Status: 200, Body: []byte("{}")}},
	}
	got := mustUpdate(t, j, "pay_1", func(p *Payment) (*Change, error) {
		if p.Version != 0 || p.Status != StatusPending {
			t.Errorf("fn got version %d status %s, want the stored payment", p.Version, p.Status)
		}
		p.Status, p.Stage, p.UpdatedAt, p.FinalAt = StatusSucceeded, StageDone, done, done
		p.Ref = bank.Ref{AuthCode: "123456", MaskedPAN: "435508******4358"}
		p.Captured = p.Amount
		return ch, nil
	})
	if got.Version != 1 || got.Status != StatusSucceeded || got.Captured != 12_550 {
		t.Errorf("UpdatePayment returned version %d status %s captured %d", got.Version, got.Status, got.Captured)
	}
	again, err := j.GetPayment(ctx, "pay_1")
	if err != nil {
		t.Fatal(err)
	}
	samePayment(t, "stored after update", again, got)

	evs, err := j.Events(ctx, "pay_1")
	if err != nil {
		t.Fatal(err)
	}
	wantEv := []Event{
		{PaymentID: "pay_1", Seq: 1, At: t0, Kind: "created", Detail: map[string]string{"bank": "halkbank"}},
		{PaymentID: "pay_1", Seq: 2, At: done, Kind: "callback", Detail: map[string]string{"mdStatus": "1"}},
		{PaymentID: "pay_1", Seq: 3, At: done, Kind: "succeeded"},
	}
	if !reflect.DeepEqual(evs, wantEv) {
		t.Errorf("Events:\n got %+v\nwant %+v", evs, wantEv)
	}
	if ch.Events[0].Seq != 2 || ch.Events[1].Seq != 3 || ch.Events[0].PaymentID != "pay_1" {
		t.Errorf("Change.Events not filled in: %+v", ch.Events)
	}

	w1, err := j.GetWebhook(ctx, "msg_1")
	if err != nil {
		t.Fatal(err)
	}
	want1 := &Webhook{ID: "msg_1", SiteID: "site_a", PaymentID: "pay_1", EventType: "payment.succeeded",
		Body: []byte(`{"id":"pay_1"}`), Status: WebhookPending, NextAttemptAt: done, CreatedAt: done}
	if !reflect.DeepEqual(w1, want1) {
		t.Errorf("webhook with zero times:\n got %+v\nwant %+v", w1, want1)
	}
	w2, err := j.GetWebhook(ctx, "msg_2")
	if err != nil {
		t.Fatal(err)
	}
	if !w2.CreatedAt.Equal(stored(msgAt)) || !w2.NextAttemptAt.Equal(stored(msgAt.Add(time.Minute))) {
		t.Errorf("webhook with times: created %v next %v, want them as given", w2.CreatedAt, w2.NextAttemptAt)
	}
	r, err := j.GetIdempotency(ctx, "site_a", "capture pay_1", "k")
	if err != nil || r.ResourceID != "pay_1" || !r.CreatedAt.Equal(stored(done)) {
		t.Errorf("GetIdempotency = %+v, %v", r, err)
	}

	// Versions count updates; an update with no Change writes only the payment.
	for want := int64(2); want <= 4; want++ {
		p := mustUpdate(t, j, "pay_1", func(p *Payment) (*Change, error) { p.Refunded++; return nil, nil })
		if p.Version != want {
			t.Errorf("Version = %d, want %d", p.Version, want)
		}
	}
	if evs, _ := j.Events(ctx, "pay_1"); len(evs) != 3 {
		t.Errorf("%d events after updates without events, want 3", len(evs))
	}
}

// journalCounts is what an update writes besides the payment.
type journalCounts struct {
	version               int64
	status                PaymentStatus
	events, webhooks, ops int
	idemFound             bool
}

func countJournal(t *testing.T, j Journal, id string) journalCounts {
	t.Helper()
	ctx := t.Context()
	p, err := j.GetPayment(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := j.Events(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := j.ListWebhooks(ctx, WebhookFilter{PaymentID: id})
	if err != nil {
		t.Fatal(err)
	}
	ops, err := j.Operations(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	_, err = j.GetIdempotency(ctx, "site_a", "refund "+id, "new-key")
	return journalCounts{version: p.Version, status: p.Status, events: len(evs), webhooks: len(ws), ops: len(ops), idemFound: err == nil}
}

func testUpdateRefused(t *testing.T, j Journal) {
	ctx := t.Context()
	mustCreate(t, j, newPayment("pay_1", "site_a", "o1", t0))
	mustCreate(t, j, newPayment("pay_2", "site_a", "o2", t0))
	mustUpdate(t, j, "pay_1", func(p *Payment) (*Change, error) {
		p.Status = StatusSucceeded
		return &Change{
			Events:      []Event{{Kind: "succeeded"}},
			Webhooks:    []Webhook{{ID: "msg_1", EventType: "payment.succeeded", Body: []byte("{}")}},
			Idempotency: []*Idempotency{{SiteID: "site_a", Scope: "refund pay_1", Key: "used-key"}},
		}, nil
	})
	before := countJournal(t, j, "pay_1")
	errMine := errors.New("the caller's reason")

	// Each case makes a full change (event, webhook, operation, new key) and
	// then something that must make the whole update write nothing.
	tests := []struct {
		name  string
		edit  func(p *Payment, ch *Change) error
		check func(err error) bool
	}{
		{"fn error", func(p *Payment, ch *Change) error { return errMine },
			func(err error) bool { return err == errMine }},
		{"fn conflict", func(p *Payment, ch *Change) error { return fmt.Errorf("refund too large: %w", ErrConflict) },
			func(err error) bool { return errors.Is(err, ErrConflict) }},
		{"state machine: succeeded to failed", func(p *Payment, ch *Change) error { p.Status = StatusFailed; return nil },
			func(err error) bool { return errors.Is(err, ErrConflict) }},
		{"duplicate idempotency key", func(p *Payment, ch *Change) error {
			ch.Idempotency = append(ch.Idempotency, &Idempotency{SiteID: "site_a", Scope: "refund pay_1", Key: "used-key"})
			return nil
		}, func(err error) bool { return errors.Is(err, ErrDuplicate) }},
		{"duplicate webhook id", func(p *Payment, ch *Change) error {
			ch.Webhooks = append(ch.Webhooks, Webhook{ID: "msg_1", EventType: "x", Body: []byte("{}")})
			return nil
		}, func(err error) bool { return errors.Is(err, ErrDuplicate) }},
		{"duplicate pay token", func(p *Payment, ch *Change) error { p.PayToken = "pt_pay_2"; return nil },
			func(err error) bool { return errors.Is(err, ErrDuplicate) }},
		{"webhook of another payment", func(p *Payment, ch *Change) error {
			ch.Webhooks = append(ch.Webhooks, Webhook{ID: "msg_x", PaymentID: "pay_2", EventType: "x"})
			return nil
		}, func(err error) bool { return errors.Is(err, ErrConflict) }},
		{"changed id", func(p *Payment, ch *Change) error { p.ID = "pay_3"; return nil },
			func(err error) bool { return err != nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := j.UpdatePayment(ctx, "pay_1", func(p *Payment) (*Change, error) {
				p.Refunded = 100
				ch := &Change{
					Events:      []Event{{Kind: "refund_requested"}},
					Webhooks:    []Webhook{{ID: "msg_new", EventType: "refund.succeeded", Body: []byte("{}")}},
					Operations:  []*Operation{{ID: "op_new", Kind: bank.OpRefund, Amount: 100, Status: OpPending}},
					Idempotency: []*Idempotency{{SiteID: "site_a", Scope: "refund pay_1", Key: "new-key"}},
				}
				if err := tt.edit(p, ch); err != nil {
					return nil, err
				}
				return ch, nil
			})
			if p != nil || !tt.check(err) {
				t.Errorf("UpdatePayment = %v, %v", p, err)
			}
			if after := countJournal(t, j, "pay_1"); after != before {
				t.Errorf("a refused update wrote something:\n before %+v\n after  %+v", before, after)
			}
			if _, err := j.GetWebhook(ctx, "msg_new"); !errors.Is(err, ErrNotFound) {
				t.Errorf("GetWebhook(msg_new) = %v, want ErrNotFound", err)
			}
		})
	}

	_, err := j.UpdatePayment(ctx, "pay_nope", func(p *Payment) (*Change, error) {
		t.Error("fn called for an unknown payment")
		return nil, nil
	})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdatePayment(unknown) = %v, want ErrNotFound", err)
	}
}

func testConcurrentUpdates(t *testing.T, j Journal) {
	ctx := t.Context()
	mustCreate(t, j, newPayment("pay_1", "site_a", "o1", t0))
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := j.UpdatePayment(ctx, "pay_1", func(p *Payment) (*Change, error) {
				if p.BankState == nil {
					p.BankState = map[string]string{}
				}
				var c int
				fmt.Sscan(p.BankState["n"], &c)
				p.BankState["n"] = fmt.Sprint(c + 1)
				return &Change{Events: []Event{{Kind: "tick", Detail: map[string]string{"g": fmt.Sprint(i)}}}}, nil
			})
			if err != nil {
				errs <- err
			}
			// Readers run alongside the writers.
			if _, err := j.GetPayment(ctx, "pay_1"); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	p, err := j.GetPayment(ctx, "pay_1")
	if err != nil {
		t.Fatal(err)
	}
	if p.BankState["n"] != fmt.Sprint(n) || p.Version != n {
		t.Errorf("after %d concurrent increments: n = %s, version %d", n, p.BankState["n"], p.Version)
	}
	evs, err := j.Events(ctx, "pay_1")
	if err != nil {
		t.Fatal(err)
	}
	for i, ev := range evs {
		if ev.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d", i, ev.Seq)
		}
	}
	if len(evs) != n+1 {
		t.Errorf("%d events, want %d", len(evs), n+1)
	}
}

func testOperations(t *testing.T, j Journal) {
	ctx := t.Context()
	h := time.Hour
	mustCreate(t, j, newPayment("pay_1", "site_a", "o1", t0))
	mustCreate(t, j, newPayment("pay_2", "site_a", "o2", t0))
	addOps := func(id string, ops ...*Operation) {
		t.Helper()
		mustUpdate(t, j, id, func(p *Payment) (*Change, error) { return &Change{Operations: ops}, nil })
	}
	addOps("pay_1",
		&Operation{ID: "op_1", Kind: bank.OpRefund, Amount: 500, Status: OpPending, IdempotencyKey: "k1", CreatedAt: t0.Add(h), UpdatedAt: t0.Add(h)},
		&Operation{ID: "op_2", Kind: bank.OpVoid, Status: OpUnknown, CreatedAt: t0.Add(2 * h)})
	addOps("pay_2", &Operation{ID: "op_3", PaymentID: "pay_2", SiteID: "site_a", Kind: bank.OpCapture, Amount: 100, Status: OpPending, CreatedAt: t0.Add(4 * h)})

	// Replace op_1 with its outcome; every field set.
	full := &Operation{
		ID: "op_1", PaymentID: "pay_1", SiteID: "site_a", Kind: bank.OpRefund, Amount: 500, Status: OpSucceeded,
		IdempotencyKey: "k1", WixRefundID: "wix_r1",
		Result:    &bank.Result{Code: bank.CodeApproved, BankCode: "00"},
		Ref:       bank.Ref{TransID: "T9", HostRef: "H9", AuthCode: "A9", MaskedPAN: "540000******0005"},
		BankState: map[string]string{"retry": "1"}, BankCalls: 2,
		CreatedAt: t0.Add(h), UpdatedAt: t0.Add(h + time.Minute), FinalAt: t0.Add(h + time.Minute),
	}
	allSet(t, full)
	addOps("pay_1", full)
	got, err := j.GetOperation(ctx, "op_1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, full) {
		t.Errorf("GetOperation:\n got %+v\nwant %+v", got, full)
	}
	// A replacement keeps the creation time, whatever it says.
	again := *full
	again.CreatedAt, again.BankCalls = time.Time{}, 3
	addOps("pay_1", &again)
	if got, err := j.GetOperation(ctx, "op_1"); err != nil || !got.CreatedAt.Equal(full.CreatedAt) || got.BankCalls != 3 {
		t.Errorf("after a replacement with a zero CreatedAt: %+v, %v; want CreatedAt %v kept", got, err, full.CreatedAt)
	}
	if op, err := j.GetOperation(ctx, "op_2"); err != nil || op.PaymentID != "pay_1" || op.SiteID != "site_a" {
		t.Errorf("GetOperation(op_2) = %+v, %v; want payment and site filled in", op, err)
	}
	if _, err := j.GetOperation(ctx, "op_nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetOperation(unknown) = %v, want ErrNotFound", err)
	}

	// An operation id cannot move to another payment.
	_, err = j.UpdatePayment(ctx, "pay_2", func(p *Payment) (*Change, error) {
		return &Change{Operations: []*Operation{{ID: "op_1", Kind: bank.OpRefund, Status: OpPending, CreatedAt: t0}}}, nil
	})
	if !errors.Is(err, ErrConflict) {
		t.Errorf("reusing another payment's operation id = %v, want ErrConflict", err)
	}

	tests := []struct {
		name string
		list func() ([]*Operation, error)
		want []string
	}{
		{"Operations(pay_1)", func() ([]*Operation, error) { return j.Operations(ctx, "pay_1") }, []string{"op_1", "op_2"}},
		{"Operations(pay_2)", func() ([]*Operation, error) { return j.Operations(ctx, "pay_2") }, []string{"op_3"}},
		{"Operations(unknown)", func() ([]*Operation, error) { return j.Operations(ctx, "pay_9") }, nil},
		{"OperationsBetween: from inclusive, before exclusive", func() ([]*Operation, error) { return j.OperationsBetween(ctx, t0.Add(h), t0.Add(2*h)) }, []string{"op_1"}},
		{"OperationsBetween: all", func() ([]*Operation, error) { return j.OperationsBetween(ctx, t0, t0.Add(5*h)) }, []string{"op_1", "op_2", "op_3"}},
		{"UnresolvedOperations: skips final and recent", func() ([]*Operation, error) { return j.UnresolvedOperations(ctx, t0.Add(3*h)) }, []string{"op_2"}},
		{"UnresolvedOperations: all", func() ([]*Operation, error) { return j.UnresolvedOperations(ctx, t0.Add(5*h)) }, []string{"op_2", "op_3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops, err := tt.list()
			if err != nil {
				t.Fatal(err)
			}
			sameIDs(t, tt.name, opIDs(ops), tt.want...)
		})
	}
}

func testIdempotency(t *testing.T, j Journal) {
	ctx := t.Context()
	tests := []struct {
		name string
		r    Idempotency
	}{
		{"rebuild from resource", Idempotency{SiteID: "site_a", Scope: "POST /v1/payments", Key: "k1", RequestHash: "aa", ResourceID: "pay_1", CreatedAt: t0}},
		{"stored answer", Idempotency{SiteID: "site_a", Scope: "POST /v1/payments", Key: "k2", RequestHash: "bb", ResourceID: "pay_2", Status: 201, Body: []byte(`{"id":"pay_2"}`), CreatedAt: t0}},
		{"empty body", Idempotency{SiteID: "site_a", Scope: "POST /v1/payments", Key: "k3", RequestHash: "cc", ResourceID: "pay_3", Status: 204, Body: []byte{}, CreatedAt: t0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.r
			p := newPayment(r.ResourceID, "site_a", "o", t0)
			if err := j.CreatePayment(ctx, p, created(t0), &r); err != nil {
				t.Fatal(err)
			}
			got, err := j.GetIdempotency(ctx, r.SiteID, r.Scope, r.Key)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tt.r) || (got.Body == nil) != (tt.r.Body == nil) {
				t.Errorf("GetIdempotency:\n got %+v\nwant %+v", got, tt.r)
			}
		})
	}
	if _, err := j.GetIdempotency(ctx, "site_a", "POST /v1/payments", "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetIdempotency(unknown) = %v, want ErrNotFound", err)
	}
}

func testOutbox(t *testing.T, j Journal) {
	ctx := t.Context()
	mustCreate(t, j, newPayment("pay_a", "site_a", "o1", t0))
	mustCreate(t, j, newPayment("pay_b", "site_b", "o2", t0))
	enqueue := func(id string, ws ...Webhook) {
		t.Helper()
		mustUpdate(t, j, id, func(p *Payment) (*Change, error) { return &Change{Webhooks: ws}, nil })
	}
	msg := func(id string, next time.Time) Webhook {
		return Webhook{ID: id, EventType: "payment.succeeded", Body: []byte(`{"id":"` + id + `"}`), CreatedAt: t0, NextAttemptAt: next}
	}
	enqueue("pay_a", msg("a1", t0), msg("a2", t0))
	enqueue("pay_b", msg("b1", t0.Add(10*time.Minute)))
	enqueue("pay_a", msg("a3", t0))

	due := func(now time.Time, limit int, want ...string) {
		t.Helper()
		ws, err := j.DueWebhooks(ctx, now, limit)
		if err != nil {
			t.Fatal(err)
		}
		sameIDs(t, fmt.Sprintf("DueWebhooks(t0+%v, %d)", now.Sub(t0), limit), webhookIDs(ws), want...)
	}
	next := func(want time.Time) {
		t.Helper()
		got, err := j.NextWebhookAt(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(want) {
			t.Errorf("NextWebhookAt = %v, want %v", got, want)
		}
	}
	record := func(w *Webhook) {
		t.Helper()
		if err := j.RecordAttempt(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	get := func(id string) *Webhook {
		t.Helper()
		w, err := j.GetWebhook(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}

	// a2 waits for a1, b1 is not due yet.
	due(t0, 0, "a1")
	next(t0)

	// a1 fails and backs off: a2, due long ago, still waits for it, and is
	// not what the worker should wake up for.
	a1 := get("a1")
	a1.Attempts, a1.NextAttemptAt, a1.LastError, a1.LastStatus = 1, t0.Add(5*time.Second), "http 500", 500
	record(a1)
	due(t0.Add(time.Second), 0)
	next(t0.Add(5 * time.Second))
	due(t0.Add(5*time.Second), 0, "a1")
	if got := get("a1"); !reflect.DeepEqual(got, a1) {
		t.Errorf("after RecordAttempt:\n got %+v\nwant %+v", got, a1)
	}

	// a1 is dead-lettered: pay_a's later messages wait for an operator to
	// redeliver it rather than reach the site out of order; pay_b goes on.
	a1.Status, a1.Attempts, a1.LastError, a1.LastStatus = WebhookDead, 10, "timeout", 0
	record(a1)
	due(t0.Add(5*time.Second), 0)
	due(t0.Add(10*time.Minute), 0, "b1")
	due(t0.Add(10*time.Minute), 1, "b1")
	next(t0.Add(10 * time.Minute))

	a2 := get("a2")
	a2.Status, a2.Attempts, a2.LastStatus, a2.DeliveredAt = WebhookDelivered, 1, 204, t0.Add(time.Minute)
	record(a2)
	if got := get("a2"); !reflect.DeepEqual(got, a2) {
		t.Errorf("after delivery:\n got %+v\nwant %+v", got, a2)
	}
	due(t0.Add(10*time.Minute), 0, "b1") // a3 still waits behind the dead a1

	listTests := []struct {
		name string
		f    WebhookFilter
		want []string
	}{
		{"all", WebhookFilter{}, []string{"a1", "a2", "b1", "a3"}},
		{"dead", WebhookFilter{Status: WebhookDead}, []string{"a1"}},
		{"pending", WebhookFilter{Status: WebhookPending}, []string{"b1", "a3"}},
		{"payment", WebhookFilter{PaymentID: "pay_a"}, []string{"a1", "a2", "a3"}},
		{"site", WebhookFilter{SiteID: "site_b"}, []string{"b1"}},
		{"site and status", WebhookFilter{SiteID: "site_a", Status: WebhookDelivered}, []string{"a2"}},
		{"limit", WebhookFilter{Limit: 2}, []string{"a1", "a2"}},
	}
	for _, tt := range listTests {
		t.Run("ListWebhooks/"+tt.name, func(t *testing.T) {
			ws, err := j.ListWebhooks(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			sameIDs(t, "ListWebhooks", webhookIDs(ws), tt.want...)
		})
	}

	// Redelivering the dead a1 puts it back first in pay_a's queue.
	later := t0.Add(time.Hour)
	if err := j.Redeliver(ctx, "a1", later); err != nil {
		t.Fatal(err)
	}
	got := get("a1")
	if got.Status != WebhookPending || got.Attempts != 0 || !got.NextAttemptAt.Equal(later) || !got.DeliveredAt.IsZero() {
		t.Errorf("after Redeliver: %+v", got)
	}
	due(t0.Add(10*time.Minute), 0, "b1")
	due(later, 0, "a1", "b1")
	a1 = get("a1")
	a1.Status, a1.Attempts, a1.LastStatus, a1.DeliveredAt = WebhookDelivered, 1, 204, later
	record(a1)
	due(later, 0, "b1", "a3") // insertion order across payments
	if err := j.Redeliver(ctx, "a2", later); err != nil {
		t.Errorf("Redeliver(delivered) = %v", err)
	}

	redeliverTests := []struct {
		name, id string
		want     error
	}{
		{"pending", "b1", ErrConflict},
		{"unknown", "nope", ErrNotFound},
	}
	for _, tt := range redeliverTests {
		if err := j.Redeliver(ctx, tt.id, later); !errors.Is(err, tt.want) {
			t.Errorf("Redeliver(%s) = %v, want %v", tt.name, err, tt.want)
		}
	}
	if err := j.RecordAttempt(ctx, &Webhook{ID: "nope", Status: WebhookDead}); !errors.Is(err, ErrNotFound) {
		t.Errorf("RecordAttempt(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := j.GetWebhook(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetWebhook(unknown) = %v, want ErrNotFound", err)
	}

	// Nothing pending: no next time.
	for _, id := range []string{"a1", "a2", "b1", "a3"} {
		w := get(id)
		w.Status = WebhookDelivered
		record(w)
	}
	next(time.Time{})
	due(later, 0)
}

// testUpdateOperation checks that UpdateOperation sees the operation's
// current state inside the write transaction and writes both records.
func testUpdateOperation(t *testing.T, j Journal) {
	ctx := context.Background()
	p := newPayment("pay_updop", "shop1", "ORD-UPDOP", t0)
	if err := j.CreatePayment(ctx, p, Event{At: p.CreatedAt, Kind: "created"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := j.UpdatePayment(ctx, p.ID, func(q *Payment) (*Change, error) {
		q.Status, q.Stage, q.Captured = StatusSucceeded, StageDone, 1000
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	op := &Operation{ID: "op_updop", PaymentID: p.ID, SiteID: p.SiteID, Kind: "refund", Amount: 300, Status: OpPending,
		IdempotencyKey: "k", CreatedAt: p.CreatedAt, UpdatedAt: p.CreatedAt}
	if _, err := j.UpdatePayment(ctx, p.ID, func(q *Payment) (*Change, error) {
		q.RefundPending += op.Amount
		return &Change{Operations: []*Operation{op}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	// Two settlements race; exactly one applies.
	applied := make(chan bool, 2)
	for i := 0; i < 2; i++ {
		go func() {
			_, _, err := j.UpdateOperation(ctx, op.ID, func(q *Payment, o *Operation) (*Change, error) {
				if o.Status != OpPending {
					return nil, ErrConflict
				}
				o.Status = OpSucceeded
				q.RefundPending -= o.Amount
				q.Refunded += o.Amount
				return &Change{Events: []Event{{At: p.CreatedAt, Kind: "refund_succeeded"}}}, nil
			})
			applied <- err == nil
		}()
	}
	n := 0
	for i := 0; i < 2; i++ {
		if <-applied {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d settlements applied; want exactly 1", n)
	}
	got, _ := j.GetPayment(ctx, p.ID)
	gop, _ := j.GetOperation(ctx, op.ID)
	if got.Refunded != 300 || got.RefundPending != 0 || gop.Status != OpSucceeded {
		t.Fatalf("payment refunded %d pending %d, op %s; want 300, 0, succeeded", got.Refunded, got.RefundPending, gop.Status)
	}
	if _, _, err := j.UpdateOperation(ctx, "op_missing", func(*Payment, *Operation) (*Change, error) { return nil, nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing operation: %v; want ErrNotFound", err)
	}
}

// testBankOrderUnique: a bank order number names one payment per bank.
func testBankOrderUnique(t *testing.T, j Journal) {
	ctx := context.Background()
	a := newPayment("pay_boa", "shop1", "X", t0)
	a.BankOrderID = "X-2"
	if err := j.CreatePayment(ctx, a, Event{At: t0, Kind: "created"}, nil); err != nil {
		t.Fatal(err)
	}
	b := newPayment("pay_bob", "shop2", "X-2", t0)
	b.BankOrderID = "X-2"
	err := j.CreatePayment(ctx, b, Event{At: t0, Kind: "created"}, nil)
	if !errors.Is(err, ErrBankOrderTaken) || !errors.Is(err, ErrDuplicate) {
		t.Fatalf("second payment with bank order X-2: %v; want ErrBankOrderTaken", err)
	}
	c := newPayment("pay_boc", "shop1", "X-2", t0)
	c.Bank, c.BankOrderID = "qnb", "X-2" // another bank: no clash
	if err := j.CreatePayment(ctx, c, Event{At: t0, Kind: "created"}, nil); err != nil {
		t.Fatalf("same bank order at another bank: %v", err)
	}
}

// testNonces checks the durable replay record: a nonce is refused while
// unexpired, per key, usable again once expired, and pruned.
func testNonces(t *testing.T, j Journal) {
	ctx := context.Background()
	const window = 300 * time.Second
	steps := []struct {
		name       string
		key, nonce string
		at         time.Duration // after t0
		wantDup    bool
	}{
		{"first use", "k1", "n-aaaaaaaaaaaaaaaaaaaaaa", 0, false},
		{"replayed at once", "k1", "n-aaaaaaaaaaaaaaaaaaaaaa", time.Second, true},
		{"same nonce, another key", "k2", "n-aaaaaaaaaaaaaaaaaaaaaa", time.Second, false},
		{"replayed just before expiry", "k1", "n-aaaaaaaaaaaaaaaaaaaaaa", window - time.Millisecond, true},
		{"used again once expired", "k1", "n-aaaaaaaaaaaaaaaaaaaaaa", window, false},
		{"and refused again after that", "k1", "n-aaaaaaaaaaaaaaaaaaaaaa", window + time.Second, true},
	}
	for _, st := range steps {
		now := t0.Add(st.at)
		err := j.UseNonce(ctx, st.key, st.nonce, now.Add(window), now)
		if st.wantDup != errors.Is(err, ErrDuplicate) || err != nil && !st.wantDup {
			t.Fatalf("%s: UseNonce = %v; want duplicate %v", st.name, err, st.wantDup)
		}
	}
	// k2's record expires at t0+1s+window; k1's at t0+2·window.
	n, err := j.PruneNonces(ctx, t0.Add(window+time.Second))
	if err != nil || n != 1 {
		t.Fatalf("PruneNonces = %d, %v; want 1 (k2's)", n, err)
	}
	if err := j.UseNonce(ctx, "k1", "n-aaaaaaaaaaaaaaaaaaaaaa", t0.Add(3*window), t0.Add(window+2*time.Second)); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("pruning removed an unexpired nonce: %v", err)
	}
	if n, err := j.PruneNonces(ctx, t0.Add(10*window)); err != nil || n != 1 {
		t.Fatalf("PruneNonces = %d, %v; want 1", n, err)
	}
}
