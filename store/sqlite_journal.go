package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// CreatePayment inserts p with ev as its first event (Seq 1) and, when idem
// is not nil, its idempotency record. p must be pending with a CreatedAt;
// p is stored as given, Version included. A zero ev.At becomes p.CreatedAt,
// a zero idem.CreatedAt too.
func (s *SQLite) CreatePayment(ctx context.Context, p *Payment, ev Event, idem *Idempotency) error {
	c, err := newCreate(p, ev, idem)
	if err != nil {
		return err
	}
	return c.result(s.write(ctx, c.run))
}

// create is one CreatePayment, checked and encoded outside the write
// transaction so that the transaction only runs statements.
type create struct {
	id   string
	args []any
	ev   Event
	idem *Idempotency
}

func newCreate(p *Payment, ev Event, idem *Idempotency) (*create, error) {
	switch {
	case p.ID == "":
		return nil, errors.New("store: create payment: empty id")
	case p.CreatedAt.IsZero():
		return nil, fmt.Errorf("store: create payment %s: CreatedAt is zero", p.ID)
	case p.Status != StatusPending:
		return nil, fmt.Errorf("store: create payment %s: status %q: a new payment is %q", p.ID, p.Status, StatusPending)
	case ev.Kind == "":
		return nil, fmt.Errorf("store: create payment %s: the first event has no kind", p.ID)
	}
	args, err := paymentArgs(p)
	if err != nil {
		return nil, fmt.Errorf("store: create payment %s: %w", p.ID, err)
	}
	ev.PaymentID, ev.Seq = p.ID, 1
	if ev.At.IsZero() {
		ev.At = p.CreatedAt
	}
	if idem != nil && idem.CreatedAt.IsZero() {
		c := *idem
		c.CreatedAt = p.CreatedAt
		idem = &c
	}
	return &create{id: p.ID, args: args, ev: ev, idem: idem}, nil
}

func (c *create) run(ctx context.Context, tx writeTx) error {
	if _, err := tx.ExecContext(ctx, insertPaymentSQL, c.args...); err != nil {
		return err
	}
	if err := insertEvent(ctx, tx, &c.ev); err != nil {
		return err
	}
	if c.idem != nil {
		return insertIdempotency(ctx, tx, c.idem)
	}
	return nil
}

// result maps the transaction's outcome to CreatePayment's error.
func (c *create) result(err error) error {
	if what := duplicate(err); what != "" {
		if what == "bank order id" {
			return errKind(ErrBankOrderTaken, "create payment %s: %s already exists", c.id, what)
		}
		return errKind(ErrDuplicate, "create payment %s: %s already exists", c.id, what)
	}
	if err != nil {
		return fmt.Errorf("store: create payment %s: %w", c.id, err)
	}
	return nil
}

func (s *SQLite) onePayment(ctx context.Context, q querier, what, query string, arg any) (*Payment, error) {
	p, err := scanPayment(q.QueryRowContext(ctx, query, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errKind(ErrNotFound, "payment %s not found", what)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get payment %s: %w", what, err)
	}
	return p, nil
}

// GetPayment returns the payment with the given id, or ErrNotFound.
func (s *SQLite) GetPayment(ctx context.Context, id string) (*Payment, error) {
	return s.onePayment(ctx, s.r, id, paymentByIDSQL, id)
}

// PaymentByPayToken finds a payment by its pay token, or ErrNotFound.
func (s *SQLite) PaymentByPayToken(ctx context.Context, token string) (*Payment, error) {
	if token == "" {
		return nil, errKind(ErrNotFound, "payment with an empty pay token not found")
	}
	// The token is a bearer secret: errors do not repeat it.
	return s.onePayment(ctx, s.r, "with this pay token", paymentByPayTokenSQL, token)
}

// PaymentByCallbackToken finds a payment by its callback token, or
// ErrNotFound.
func (s *SQLite) PaymentByCallbackToken(ctx context.Context, token string) (*Payment, error) {
	if token == "" {
		return nil, errKind(ErrNotFound, "payment with an empty callback token not found")
	}
	return s.onePayment(ctx, s.r, "with this callback token", paymentByCallbackTokenSQL, token)
}

// PaymentsByOrder lists a site's payments for one order id, oldest first.
func (s *SQLite) PaymentsByOrder(ctx context.Context, siteID, orderID string) ([]*Payment, error) {
	ps, err := collect(ctx, s.r, scanPayment, paymentsByOrderSQL, siteID, orderID)
	if err != nil {
		return nil, fmt.Errorf("store: payments of order %s/%s: %w", siteID, orderID, err)
	}
	return ps, nil
}

// ListPayments returns the payments f selects, oldest first.
func (s *SQLite) ListPayments(ctx context.Context, f PaymentFilter) ([]*Payment, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, arg any) {
		where = append(where, cond)
		args = append(args, arg)
	}
	if f.SiteID != "" {
		add("site_id = ?", f.SiteID)
	}
	if f.Status != "" {
		add("status = ?", string(f.Status))
	}
	if f.Stage != "" {
		add("stage = ?", string(f.Stage))
	}
	if !f.CreatedFrom.IsZero() {
		add("created_at >= ?", f.CreatedFrom.UnixMilli())
	}
	if !f.CreatedBefore.IsZero() {
		add("created_at < ?", f.CreatedBefore.UnixMilli())
	}
	if !f.ExpiresBefore.IsZero() {
		add("expires_at < ?", f.ExpiresBefore.UnixMilli()) // NULL (no expiry) never matches
	}
	q := "SELECT " + paymentCols + " FROM payments"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY created_at, rowid LIMIT ?"
	args = append(args, sqlLimit(f.Limit))
	ps, err := collect(ctx, s.r, scanPayment, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list payments: %w", err)
	}
	return ps, nil
}

// sqlLimit turns "0 = no limit" into SQLite's LIMIT -1.
func sqlLimit(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

// UpdatePayment loads the payment in a write transaction and calls fn; see
// Journal. In addition:
//   - a status change must be allowed by CanTransition, else ErrConflict;
//   - fn must not change the payment's ID;
//   - Change.Events get PaymentID and Seq (max+1, …); a zero At becomes the
//     payment's UpdatedAt;
//   - Change.Webhooks are stored pending, with Attempts as given; an empty
//     PaymentID or SiteID is the payment's; a zero CreatedAt is the
//     payment's UpdatedAt and a zero NextAttemptAt is CreatedAt (due now);
//   - Change.Operations with an empty PaymentID or SiteID get the payment's,
//     a zero CreatedAt the payment's UpdatedAt; a replaced operation keeps
//     its stored CreatedAt; an operation of another payment is refused with
//     ErrConflict.
//
// fn runs on the journal's committer goroutine, inside a write transaction
// that other writes wait for or share (see groupcommit.go): it must be
// quick, do no network I/O and must not call the journal's write methods,
// which would wait for it forever (reads are fine). A panic in fn is
// re-raised in the caller's goroutine, after the rollback.
func (s *SQLite) UpdatePayment(ctx context.Context, id string, fn func(p *Payment) (*Change, error)) (*Payment, error) {
	var out *Payment
	var fnErr error
	err := s.write(ctx, func(ctx context.Context, tx writeTx) error {
		p, err := s.onePayment(ctx, tx, id, paymentByIDSQL, id)
		if err != nil {
			return err
		}
		from, version := p.Status, p.Version
		ch, err := fn(p)
		if err != nil {
			fnErr = err
			return err
		}
		if p.ID != id {
			return fmt.Errorf("the update changed the payment id to %q", p.ID)
		}
		if p.Status != from && !CanTransition(from, p.Status) {
			return errKind(ErrConflict, "update payment %s: status %s → %s is not allowed", id, from, p.Status)
		}
		p.Version = version + 1
		if err := s.writeUpdate(ctx, tx, p, version, ch); err != nil {
			return err
		}
		p.normalize()
		out = p
		return nil
	})
	switch {
	case err == nil:
		return out, nil
	case fnErr != nil:
		return nil, fnErr // the caller's own error, as returned
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrConflict):
		return nil, err
	}
	if what := duplicate(err); what != "" {
		return nil, errKind(ErrDuplicate, "update payment %s: %s already exists", id, what)
	}
	return nil, fmt.Errorf("store: update payment %s: %w", id, err)
}

// UpdateOperation loads an operation and its payment in the write
// transaction, calls fn, and writes both with the Change. See Journal.
// fn runs under the same rules as UpdatePayment's.
func (s *SQLite) UpdateOperation(ctx context.Context, opID string, fn func(p *Payment, op *Operation) (*Change, error)) (*Payment, *Operation, error) {
	var outP *Payment
	var outOp *Operation
	var fnErr error
	err := s.write(ctx, func(ctx context.Context, tx writeTx) error {
		op, err := scanOperation(tx.QueryRowContext(ctx, "SELECT "+operationCols+" FROM operations WHERE id = ?", opID))
		if errors.Is(err, sql.ErrNoRows) {
			return errKind(ErrNotFound, "operation %s not found", opID)
		}
		if err != nil {
			return err
		}
		p, err := s.onePayment(ctx, tx, op.PaymentID, paymentByIDSQL, op.PaymentID)
		if err != nil {
			return err
		}
		from, version := p.Status, p.Version
		ch, err := fn(p, op)
		if err != nil {
			fnErr = err
			return err
		}
		if p.ID != op.PaymentID || op.ID != opID {
			return fmt.Errorf("the update changed the ids of operation %s or its payment", opID)
		}
		if p.Status != from && !CanTransition(from, p.Status) {
			return errKind(ErrConflict, "update operation %s: payment status %s → %s is not allowed", opID, from, p.Status)
		}
		if ch == nil {
			ch = &Change{}
		}
		ch.Operations = append(ch.Operations, op)
		p.Version = version + 1
		if err := s.writeUpdate(ctx, tx, p, version, ch); err != nil {
			return err
		}
		p.normalize()
		outP, outOp = p, op
		return nil
	})
	switch {
	case err == nil:
		return outP, outOp, nil
	case fnErr != nil:
		return nil, nil, fnErr
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrConflict):
		return nil, nil, err
	}
	return nil, nil, fmt.Errorf("store: update operation %s: %w", opID, err)
}

// writeUpdate stores p (whose stored version is version) and ch in tx.
func (s *SQLite) writeUpdate(ctx context.Context, tx writeTx, p *Payment, version int64, ch *Change) error {
	args, err := paymentArgs(p)
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, updatePaymentSQL, append(args[1:], p.ID, version)...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n != 1 {
		return errKind(ErrConflict, "update payment %s: version %d is no longer current", p.ID, version)
	}
	if ch == nil {
		return nil
	}
	at := p.UpdatedAt
	if at.IsZero() {
		at = s.now()
	}
	if len(ch.Events) > 0 {
		var last int64
		if err := tx.QueryRowContext(ctx, lastEventSQL, p.ID).Scan(&last); err != nil {
			return err
		}
		for i := range ch.Events {
			ev := &ch.Events[i]
			if ev.Kind == "" {
				return fmt.Errorf("event %d has no kind", i)
			}
			ev.PaymentID, ev.Seq = p.ID, last+int64(i)+1
			if ev.At.IsZero() {
				ev.At = at
			}
			if err := insertEvent(ctx, tx, ev); err != nil {
				return err
			}
		}
	}
	for i := range ch.Webhooks {
		w := ch.Webhooks[i] // a copy: the caller's message is not rewritten
		if w.ID == "" {
			return fmt.Errorf("webhook %d has no id", i)
		}
		if w.PaymentID == "" {
			w.PaymentID = p.ID
		} else if w.PaymentID != p.ID {
			return errKind(ErrConflict, "update payment %s: webhook %s is for payment %s", p.ID, w.ID, w.PaymentID)
		}
		if w.SiteID == "" {
			w.SiteID = p.SiteID
		}
		w.Status = WebhookPending
		if w.CreatedAt.IsZero() {
			w.CreatedAt = at
		}
		if w.NextAttemptAt.IsZero() {
			w.NextAttemptAt = w.CreatedAt
		}
		if err := insertWebhook(ctx, tx, &w); err != nil {
			return err
		}
	}
	for _, op := range ch.Operations {
		o := *op
		if o.ID == "" {
			return errors.New("operation with an empty id")
		}
		if o.PaymentID == "" {
			o.PaymentID = p.ID
		} else if o.PaymentID != p.ID {
			return errKind(ErrConflict, "update payment %s: operation %s is for payment %s", p.ID, o.ID, o.PaymentID)
		}
		if o.SiteID == "" {
			o.SiteID = p.SiteID
		}
		if o.CreatedAt.IsZero() {
			o.CreatedAt = at
		}
		if err := upsertOperation(ctx, tx, &o); err != nil {
			return err
		}
	}
	for _, r := range ch.Idempotency {
		c := *r
		if c.CreatedAt.IsZero() {
			c.CreatedAt = at
		}
		if err := insertIdempotency(ctx, tx, &c); err != nil {
			return err
		}
	}
	return nil
}

// Events returns a payment's history, oldest first (empty, not an error,
// for an unknown payment).
func (s *SQLite) Events(ctx context.Context, paymentID string) ([]Event, error) {
	evs, err := collect(ctx, s.r, scanEvent,
		"SELECT payment_id, seq, at, kind, detail FROM events WHERE payment_id = ? ORDER BY seq", paymentID)
	if err != nil {
		return nil, fmt.Errorf("store: events of payment %s: %w", paymentID, err)
	}
	return evs, nil
}

// GetOperation returns an operation, or ErrNotFound.
func (s *SQLite) GetOperation(ctx context.Context, id string) (*Operation, error) {
	op, err := scanOperation(s.r.QueryRowContext(ctx, operationByIDSQL, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errKind(ErrNotFound, "operation %s not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get operation %s: %w", id, err)
	}
	return op, nil
}

// Operations lists a payment's operations, oldest first.
func (s *SQLite) Operations(ctx context.Context, paymentID string) ([]*Operation, error) {
	ops, err := collect(ctx, s.r, scanOperation, operationsOfPaymentSQL, paymentID)
	if err != nil {
		return nil, fmt.Errorf("store: operations of payment %s: %w", paymentID, err)
	}
	return ops, nil
}

// OperationsBetween lists operations created in [from, before), oldest
// first.
func (s *SQLite) OperationsBetween(ctx context.Context, from, before time.Time) ([]*Operation, error) {
	ops, err := collect(ctx, s.r, scanOperation,
		"SELECT "+operationCols+" FROM operations WHERE created_at >= ? AND created_at < ? ORDER BY created_at, rowid",
		from.UnixMilli(), before.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("store: operations between %s and %s: %w", from.UTC().Format(time.RFC3339), before.UTC().Format(time.RFC3339), err)
	}
	return ops, nil
}

// UnresolvedOperations lists pending and unknown operations created before
// createdBefore, oldest first.
func (s *SQLite) UnresolvedOperations(ctx context.Context, createdBefore time.Time) ([]*Operation, error) {
	ops, err := collect(ctx, s.r, scanOperation,
		"SELECT "+operationCols+" FROM operations WHERE status IN (?, ?) AND created_at < ? ORDER BY created_at, rowid",
		string(OpPending), string(OpUnknown), createdBefore.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("store: unresolved operations: %w", err)
	}
	return ops, nil
}

// GetIdempotency returns the record for a key, or ErrNotFound.
func (s *SQLite) GetIdempotency(ctx context.Context, siteID, scope, key string) (*Idempotency, error) {
	var (
		r       Idempotency
		hasBody bool
		created sql.NullInt64
	)
	err := s.r.QueryRowContext(ctx, idempotencySQL, siteID, scope, key).
		Scan(&r.SiteID, &r.Scope, &r.Key, &r.RequestHash, &r.ResourceID, &r.Status, &r.Body, &hasBody, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errKind(ErrNotFound, "idempotency key %q of site %s (%s) not found", key, siteID, scope)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get idempotency key %q of site %s (%s): %w", key, siteID, scope, err)
	}
	if hasBody && r.Body == nil {
		r.Body = []byte{} // an empty answer, not "rebuild from the resource"
	}
	r.CreatedAt = fromMillis(created)
	return &r, nil
}

// DueWebhooks returns pending messages due at now whose payment has no
// earlier (by insertion) pending message, in insertion order. limit ≤ 0
// means no limit.
func (s *SQLite) DueWebhooks(ctx context.Context, now time.Time, limit int) ([]*Webhook, error) {
	ws, err := collect(ctx, s.r, scanWebhook, dueWebhooksSQL, now.UnixMilli(), sqlLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("store: due webhooks: %w", err)
	}
	return ws, nil
}

// NextWebhookAt returns the earliest NextAttemptAt of a pending message
// that is first in its payment's queue, i.e. the next time DueWebhooks can
// return something (zero time if none). A message waiting behind an earlier
// one of its payment is not counted: its own time may be past while the
// earlier one backs off, and counting it would make the worker spin.
func (s *SQLite) NextWebhookAt(ctx context.Context) (time.Time, error) {
	var next sql.NullInt64
	err := s.r.QueryRowContext(ctx, nextWebhookAtSQL).Scan(&next)
	if err != nil {
		return time.Time{}, fmt.Errorf("store: next webhook time: %w", err)
	}
	return fromMillis(next), nil
}

// RecordAttempt stores the outcome of one delivery attempt; ErrNotFound for
// an unknown message.
func (s *SQLite) RecordAttempt(ctx context.Context, w *Webhook) error {
	switch w.Status {
	case WebhookPending, WebhookDelivered, WebhookDead:
	default:
		return fmt.Errorf("store: record attempt of webhook %s: unknown status %q", w.ID, w.Status)
	}
	if w.Status == WebhookPending && w.NextAttemptAt.IsZero() {
		return fmt.Errorf("store: record attempt of webhook %s: a pending message needs its NextAttemptAt", w.ID)
	}
	err := s.write(ctx, func(ctx context.Context, tx writeTx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhooks SET status = ?, attempts = ?, next_attempt_at = ?,
			last_error = ?, last_status = ?, delivered_at = ? WHERE id = ?`,
			string(w.Status), w.Attempts, w.NextAttemptAt.UnixMilli(), w.LastError, w.LastStatus, millis(w.DeliveredAt), w.ID)
		if err != nil {
			return err
		}
		return oneRow(res, "webhook "+w.ID)
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("store: record attempt of webhook %s: %w", w.ID, err)
	}
	return err
}

func oneRow(res sql.Result, what string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return errKind(ErrNotFound, "%s not found", what)
	}
	return nil
}

// GetWebhook returns an outbox message, or ErrNotFound.
func (s *SQLite) GetWebhook(ctx context.Context, id string) (*Webhook, error) {
	w, err := scanWebhook(s.r.QueryRowContext(ctx, "SELECT "+webhookCols+" FROM webhooks WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errKind(ErrNotFound, "webhook %s not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get webhook %s: %w", id, err)
	}
	return w, nil
}

// ListWebhooks returns the messages f selects, in insertion order.
func (s *SQLite) ListWebhooks(ctx context.Context, f WebhookFilter) ([]*Webhook, error) {
	var (
		where = []string{"1"}
		args  []any
	)
	if f.SiteID != "" {
		where, args = append(where, "site_id = ?"), append(args, f.SiteID)
	}
	if f.PaymentID != "" {
		where, args = append(where, "payment_id = ?"), append(args, f.PaymentID)
	}
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, string(f.Status))
	}
	args = append(args, sqlLimit(f.Limit))
	ws, err := collect(ctx, s.r, scanWebhook,
		"SELECT "+webhookCols+" FROM webhooks WHERE "+strings.Join(where, " AND ")+" ORDER BY seq LIMIT ?", args...)
	if err != nil {
		return nil, fmt.Errorf("store: list webhooks: %w", err)
	}
	return ws, nil
}

// Redeliver puts a delivered or dead message back in the queue, due at now,
// with Attempts reset to 0 so it gets the whole retry schedule again
// (LastError and LastStatus are kept until the next attempt). It keeps its
// place in its payment's order. ErrConflict if it is already pending,
// ErrNotFound if unknown.
func (s *SQLite) Redeliver(ctx context.Context, id string, now time.Time) error {
	err := s.write(ctx, func(ctx context.Context, tx writeTx) error {
		var status WebhookStatus
		err := tx.QueryRowContext(ctx, "SELECT status FROM webhooks WHERE id = ?", id).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) {
			return errKind(ErrNotFound, "webhook %s not found", id)
		}
		if err != nil {
			return err
		}
		if status == WebhookPending {
			return errKind(ErrConflict, "redeliver webhook %s: it is still pending", id)
		}
		_, err = tx.ExecContext(ctx, `UPDATE webhooks SET status = 'pending', attempts = 0,
			next_attempt_at = ?, delivered_at = NULL WHERE id = ?`, now.UnixMilli(), id)
		return err
	})
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrConflict) {
		return fmt.Errorf("store: redeliver webhook %s: %w", id, err)
	}
	return err
}

// useNonceSQL inserts a nonce record, or replaces an expired one; it
// changes no row when an unexpired one exists.
const useNonceSQL = `INSERT INTO nonces (id, expires_at) VALUES (?, ?)
	ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at WHERE nonces.expires_at <= ?`

// UseNonce records an accepted request's nonce (see Journal).
func (s *SQLite) UseNonce(ctx context.Context, keyID, nonce string, expires, now time.Time) error {
	sum := sha256.Sum256([]byte(keyID + "\x00" + nonce))
	id := hex.EncodeToString(sum[:])
	err := s.write(ctx, func(ctx context.Context, tx writeTx) error {
		// An unexpired record stays as it is: no row changes, a replay.
		res, err := tx.ExecContext(ctx, useNonceSQL, id, expires.UnixMilli(), now.UnixMilli())
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrDuplicate
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrDuplicate) {
		return fmt.Errorf("store: use nonce of key %s: %w", keyID, err)
	}
	return err
}

// PruneNonces deletes expired nonce records (see Journal).
func (s *SQLite) PruneNonces(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := s.write(ctx, func(ctx context.Context, tx writeTx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM nonces WHERE expires_at <= ?`, now.UnixMilli())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: prune nonces: %w", err)
	}
	return n, nil
}
