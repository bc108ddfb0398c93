package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// createReq is a write request that creates payment id, with pay token tok.
func createReq(t *testing.T, ctx context.Context, id, tok string) *writeReq {
	t.Helper()
	p := newPayment(id, "site_a", "o-"+id, t0)
	p.PayToken = tok
	c, err := newCreate(p, created(t0), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &writeReq{ctx: ctx, fn: c.run}
}

func exists(t *testing.T, j Journal, id string) bool {
	t.Helper()
	_, err := j.GetPayment(t.Context(), id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// TestGroupCommitBatch runs one batch by hand: each request's failure stays
// its own, later requests see earlier ones' writes, and only the
// successful writes are committed.
func TestGroupCommitBatch(t *testing.T) {
	s := openTestSQLite(t, "", fast)
	defer closeJournal(t, s)
	ctx := t.Context()
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	errMine := errors.New("the caller's reason")

	ok1 := createReq(t, ctx, "pay_1", "tok_1")
	dupToken := createReq(t, ctx, "pay_2", "tok_1") // pay_1's token, not yet committed
	fnErr := createReq(t, ctx, "pay_3", "tok_3")
	run3 := fnErr.fn
	fnErr.fn = func(ctx context.Context, tx writeTx) error {
		if err := run3(ctx, tx); err != nil {
			return err
		}
		return errMine // after writing: the writes must go
	}
	panics := createReq(t, ctx, "pay_4", "tok_4")
	run4 := panics.fn
	panics.fn = func(ctx context.Context, tx writeTx) error {
		if err := run4(ctx, tx); err != nil {
			return err
		}
		panic("boom")
	}
	gone := createReq(t, canceled, "pay_5", "tok_5")
	gone.fn = func(context.Context, writeTx) error {
		t.Error("the request of a canceled context ran")
		return nil
	}
	seesFirst := &writeReq{ctx: ctx, fn: func(ctx context.Context, tx writeTx) error {
		res, err := tx.ExecContext(ctx, "UPDATE payments SET version = version + 1 WHERE id = 'pay_1'")
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("pay_1 not visible to a later request of its batch (%d rows)", n)
		}
		return nil
	}}
	ok6 := createReq(t, ctx, "pay_6", "tok_6")

	s.runBatch([]*writeReq{ok1, dupToken, fnErr, panics, gone, seesFirst, ok6})

	tests := []struct {
		name  string
		r     *writeReq
		check func(r *writeReq) bool
		id    string // payment the request creates, "" if none
		kept  bool
	}{
		{"ok", ok1, func(r *writeReq) bool { return r.err == nil }, "pay_1", true},
		{"duplicate of an earlier request", dupToken, func(r *writeReq) bool { return duplicate(r.err) == "pay token" }, "pay_2", false},
		{"fn error after writing", fnErr, func(r *writeReq) bool { return r.err == errMine }, "pay_3", false},
		{"panic after writing", panics, func(r *writeReq) bool { return r.panicked == "boom" && r.err == nil }, "pay_4", false},
		{"canceled before its turn", gone, func(r *writeReq) bool { return errors.Is(r.err, context.Canceled) }, "pay_5", false},
		{"sees an earlier request", seesFirst, func(r *writeReq) bool { return r.err == nil }, "", false},
		{"ok after the failures", ok6, func(r *writeReq) bool { return r.err == nil }, "pay_6", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.check(tt.r) {
				t.Errorf("outcome: err %v, panic %v", tt.r.err, tt.r.panicked)
			}
			if tt.id != "" && exists(t, s, tt.id) != tt.kept {
				t.Errorf("%s stored: %v, want %v", tt.id, !tt.kept, tt.kept)
			}
		})
	}
	if p, err := s.GetPayment(ctx, "pay_1"); err != nil || p.Version != 1 {
		t.Errorf("pay_1 = %+v, %v; want version 1 from the later request", p, err)
	}
}

// TestGroupCommitAbort: when the shared transaction breaks, no request of
// the batch is reported as written, and none is.
func TestGroupCommitAbort(t *testing.T) {
	s := openTestSQLite(t, "", fast)
	defer closeJournal(t, s)
	ctx := t.Context()
	first := createReq(t, ctx, "pay_1", "tok_1")
	breaks := &writeReq{ctx: ctx, fn: func(ctx context.Context, tx writeTx) error {
		// Ends SQLite's transaction behind the store's back, as an I/O
		// error or a full disk would.
		_, err := tx.ExecContext(ctx, "ROLLBACK")
		return err
	}}
	last := createReq(t, ctx, "pay_3", "tok_3")
	s.runBatch([]*writeReq{first, breaks, last})
	for i, r := range []*writeReq{first, breaks, last} {
		if r.err == nil {
			t.Errorf("request %d: no error from a broken transaction", i)
		}
	}
	for _, id := range []string{"pay_1", "pay_3"} {
		if exists(t, s, id) {
			t.Errorf("%s stored by a broken transaction", id)
		}
	}
	// The journal works on.
	mustCreate(t, s, newPayment("pay_9", "site_a", "o9", t0))
}

func TestGroupCommitPanic(t *testing.T) {
	s := openTestSQLite(t, "", fast)
	defer closeJournal(t, s)
	mustCreate(t, s, newPayment("pay_1", "site_a", "o1", t0))
	func() {
		defer func() {
			if p := recover(); p != "fn panicked" {
				t.Errorf("recovered %v, want fn's panic in the caller", p)
			}
		}()
		s.UpdatePayment(t.Context(), "pay_1", func(p *Payment) (*Change, error) {
			p.Refunded = 1
			panic("fn panicked")
		})
	}()
	p := mustUpdate(t, s, "pay_1", func(p *Payment) (*Change, error) { return nil, nil })
	if p.Refunded != 0 || p.Version != 1 {
		t.Errorf("after a panicking update: refunded %d version %d, want 0 and 1", p.Refunded, p.Version)
	}
}

// TestGroupCommitCancelWhileQueued: a writer whose context ends while it
// waits for the committer gives up and writes nothing.
func TestGroupCommitCancelWhileQueued(t *testing.T) {
	s := openTestSQLite(t, "", fast)
	defer closeJournal(t, s)
	mustCreate(t, s, newPayment("pay_1", "site_a", "o1", t0))
	entered, release := make(chan struct{}), make(chan struct{})
	busy := make(chan error)
	go func() {
		_, err := s.UpdatePayment(context.Background(), "pay_1", func(p *Payment) (*Change, error) {
			close(entered)
			<-release // holds the committer
			return nil, nil
		})
		busy <- err
	}()
	<-entered
	ctx, cancel := context.WithCancel(t.Context())
	queued := make(chan error)
	go func() { queued <- s.CreatePayment(ctx, newPayment("pay_2", "site_a", "o2", t0), created(t0), nil) }()
	cancel()
	if err := <-queued; !errors.Is(err, context.Canceled) {
		t.Errorf("CreatePayment with a canceled context = %v, want context.Canceled", err)
	}
	close(release)
	if err := <-busy; err != nil {
		t.Error(err)
	}
	if exists(t, s, "pay_2") {
		t.Error("the canceled create was written")
	}
}

func TestGroupCommitClose(t *testing.T) {
	s := openTestSQLite(t, "", fast)
	closeJournal(t, s)
	closeJournal(t, s) // twice is fine
	err := s.CreatePayment(t.Context(), newPayment("pay_1", "site_a", "o1", t0), created(t0), nil)
	if !errors.Is(err, errClosed) {
		t.Errorf("CreatePayment after Close = %v, want %v", err, errClosed)
	}
}

// TestGroupCommitConcurrentCreates: concurrent creations, a third of them
// retries of the same idempotency key, end with exactly one payment per key
// whatever the batches were.
func TestGroupCommitConcurrentCreates(t *testing.T) {
	s := openTestSQLite(t, "", fast)
	defer closeJournal(t, s)
	const keys, tries = 40, 3
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		won  = map[int]int{}
		errs []error
	)
	for k := range keys {
		for try := range tries {
			wg.Go(func() {
				id := fmt.Sprintf("pay_%d_%d", k, try)
				idem := &Idempotency{SiteID: "site_a", Scope: "POST /v1/payments", Key: fmt.Sprint("key-", k), ResourceID: id}
				err := s.CreatePayment(t.Context(), newPayment(id, "site_a", "o", t0), created(t0), idem)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won[k]++
				case !errors.Is(err, ErrDuplicate):
					errs = append(errs, err)
				}
			})
		}
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	for k := range keys {
		if won[k] != 1 {
			t.Errorf("key %d: %d creations succeeded, want 1", k, won[k])
		}
	}
	ps, err := s.ListPayments(t.Context(), PaymentFilter{})
	if err != nil || len(ps) != keys {
		t.Errorf("%d payments stored (%v), want %d", len(ps), err, keys)
	}
}
