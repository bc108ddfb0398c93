package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/posrelay/posrelay/bank"
)

// This file maps the store's types to rows and back.

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

type scanner interface{ Scan(dest ...any) error }

// The statements every payment write runs. OpenSQLite prepares them once on
// the write connection; see writeTx.
var (
	insertPaymentSQL = "INSERT INTO payments (" + paymentCols + ") VALUES (" + placeholders(paymentColCount) + ")"
	paymentByIDSQL   = "SELECT " + paymentCols + " FROM payments WHERE id = ?"
	// updatePaymentSQL sets every column but the id (the first), where the
	// id and the version read match (belt and braces: the transaction holds
	// the write lock).
	updatePaymentSQL = "UPDATE payments SET " + setList(paymentCols) + " WHERE id = ? AND version = ?"
	lastEventSQL     = "SELECT coalesce(max(seq), 0) FROM events WHERE payment_id = ?"
	insertEventSQL   = "INSERT INTO events (payment_id, seq, at, kind, detail) VALUES (?, ?, ?, ?, ?)"
	// upsertOperationSQL replaces an operation but never its payment or its
	// creation time.
	upsertOperationSQL = `INSERT INTO operations (` + operationCols + `) VALUES (` + placeholders(15) + `)
		ON CONFLICT (id) DO UPDATE SET ` + setList(operationReplaceCols, "excluded.") + `
		WHERE operations.payment_id = excluded.payment_id`
	insertIdempotencySQL = `INSERT INTO idempotency
		(site_id, scope, key, request_hash, resource_id, status, body, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	insertWebhookSQL = "INSERT INTO webhooks (" + webhookCols + ") VALUES (" + placeholders(12) + ")"

	preparedWrites = []string{insertPaymentSQL, paymentByIDSQL, updatePaymentSQL, lastEventSQL,
		insertEventSQL, upsertOperationSQL, insertIdempotencySQL, insertWebhookSQL, useNonceSQL}
)

// The reads of request handling (a payment read, a callback, a creation)
// and of the outbox worker. OpenSQLite prepares them once on the reader
// pool; see readDB.
var (
	paymentByPayTokenSQL      = "SELECT " + paymentCols + " FROM payments WHERE pay_token = ?"
	paymentByCallbackTokenSQL = "SELECT " + paymentCols + " FROM payments WHERE callback_token = ?"
	paymentsByOrderSQL        = "SELECT " + paymentCols + " FROM payments WHERE site_id = ? AND order_id = ? ORDER BY created_at, rowid"
	operationByIDSQL          = "SELECT " + operationCols + " FROM operations WHERE id = ?"
	operationsOfPaymentSQL    = "SELECT " + operationCols + " FROM operations WHERE payment_id = ? ORDER BY created_at, rowid"
	idempotencySQL            = `SELECT site_id, scope, key, request_hash, resource_id, status,
		body, body IS NOT NULL, created_at
		FROM idempotency WHERE site_id = ? AND scope = ? AND key = ?`
	// A message waits while an earlier one of its payment is pending or
	// dead: the site must see a payment's events in order, so a dead letter
	// holds the rest until it is redelivered.
	dueWebhooksSQL = `SELECT ` + webhookCols + ` FROM webhooks w
		WHERE w.status = 'pending' AND w.next_attempt_at <= ?
		AND NOT EXISTS (SELECT 1 FROM webhooks e
			WHERE e.payment_id = w.payment_id AND e.status IN ('pending', 'dead') AND e.seq < w.seq)
		ORDER BY w.seq LIMIT ?`
	nextWebhookAtSQL = `SELECT min(w.next_attempt_at) FROM webhooks w
		WHERE w.status = 'pending'
		AND NOT EXISTS (SELECT 1 FROM webhooks e
			WHERE e.payment_id = w.payment_id AND e.status IN ('pending', 'dead') AND e.seq < w.seq)`

	preparedReads = []string{paymentByIDSQL, paymentByPayTokenSQL, paymentByCallbackTokenSQL, paymentsByOrderSQL,
		operationByIDSQL, operationsOfPaymentSQL, idempotencySQL, dueWebhooksSQL, nextWebhookAtSQL}
)

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// setList turns "id, a, b" into "a = ?, b = ?", or with a prefix into
// "a = excluded.a, b = excluded.b": every column but the first.
func setList(cols string, prefix ...string) string {
	var set []string
	for _, c := range strings.Split(cols, ",")[1:] {
		c = strings.TrimSpace(c)
		if len(prefix) > 0 {
			set = append(set, c+" = "+prefix[0]+c)
		} else {
			set = append(set, c+" = ?")
		}
	}
	return strings.Join(set, ", ")
}

// millis is a time as stored: unix milliseconds, or NULL for the zero time.
func millis(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// fromMillis reads a stored time back, in UTC.
func fromMillis(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.UnixMilli(n.Int64).UTC()
}

// stored returns t as it reads back: UTC, whole milliseconds.
func stored(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return time.UnixMilli(t.UnixMilli()).UTC()
}

// orNull stores an empty string as NULL (tokens: a unique index allows any
// number of NULLs but only one "").
func orNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// encoder marshals JSON columns, keeping the first error.
type encoder struct{ err error }

func (e *encoder) json(v any) string {
	b, err := json.Marshal(v)
	if err != nil && e.err == nil {
		e.err = err
	}
	return string(b)
}

// result stores a nil result as NULL.
func (e *encoder) result(r *bank.Result) any {
	if r == nil {
		return nil
	}
	return e.json(r)
}

// strMap stores a nil map as NULL, so nil and empty maps both round-trip.
func (e *encoder) strMap(m map[string]string) any {
	if m == nil {
		return nil
	}
	return e.json(m)
}

// decoder unmarshals JSON columns, keeping the first error.
type decoder struct {
	what string
	err  error
}

func (d *decoder) json(col string, s sql.NullString, v any) {
	if !s.Valid || d.err != nil {
		return
	}
	if err := json.Unmarshal([]byte(s.String), v); err != nil {
		d.err = fmt.Errorf("store: %s: column %s: %w", d.what, col, err)
	}
}

func (d *decoder) result(s sql.NullString) *bank.Result {
	if !s.Valid {
		return nil
	}
	r := new(bank.Result)
	d.json("result", s, r)
	return r
}

func (d *decoder) strMap(col string, s sql.NullString) map[string]string {
	if !s.Valid {
		return nil
	}
	m := map[string]string{}
	d.json(col, s, &m)
	return m
}

const (
	paymentCols = `id, site_id, bank, account, model, order_id, bank_order_id,
	amount, currency, installments, type, language, return_urls, customer,
	wix_transaction_id, pay_token, callback_token, status, stage, result, ref,
	bank_state, captured, refunded, refund_pending, created_at, updated_at, expires_at,
	final_at, version`
	paymentColCount = 30
)

// paymentArgs returns p's values in paymentCols order.
func paymentArgs(p *Payment) ([]any, error) {
	var e encoder
	args := []any{
		p.ID, p.SiteID, p.Bank, p.Account, p.Model, p.OrderID, p.BankOrderID,
		p.Amount, p.Currency, p.Installments, p.Type, p.Language, e.json(p.ReturnURLs), e.json(p.Customer),
		p.WixTransactionID, orNull(p.PayToken), orNull(p.CallbackToken), string(p.Status), string(p.Stage), e.result(p.Result), e.json(p.Ref),
		e.strMap(p.BankState), p.Captured, p.Refunded, p.RefundPending, millis(p.CreatedAt), millis(p.UpdatedAt), millis(p.ExpiresAt),
		millis(p.FinalAt), p.Version,
	}
	return args, e.err
}

func scanPayment(sc scanner) (*Payment, error) {
	var (
		p                                 Payment
		returnURLs, customer, ref         sql.NullString
		payToken, cbToken                 sql.NullString
		result, bankState                 sql.NullString
		created, updated, expires, finalA sql.NullInt64
	)
	err := sc.Scan(
		&p.ID, &p.SiteID, &p.Bank, &p.Account, &p.Model, &p.OrderID, &p.BankOrderID,
		&p.Amount, &p.Currency, &p.Installments, &p.Type, &p.Language, &returnURLs, &customer,
		&p.WixTransactionID, &payToken, &cbToken, &p.Status, &p.Stage, &result, &ref,
		&bankState, &p.Captured, &p.Refunded, &p.RefundPending, &created, &updated, &expires,
		&finalA, &p.Version)
	if err != nil {
		return nil, err
	}
	d := decoder{what: "payment " + p.ID}
	d.json("return_urls", returnURLs, &p.ReturnURLs)
	d.json("customer", customer, &p.Customer)
	d.json("ref", ref, &p.Ref)
	p.Result = d.result(result)
	p.BankState = d.strMap("bank_state", bankState)
	p.PayToken, p.CallbackToken = payToken.String, cbToken.String
	p.CreatedAt, p.UpdatedAt = fromMillis(created), fromMillis(updated)
	p.ExpiresAt, p.FinalAt = fromMillis(expires), fromMillis(finalA)
	return &p, d.err
}

// normalize rounds p's times the way they are stored.
func (p *Payment) normalize() {
	p.CreatedAt, p.UpdatedAt = stored(p.CreatedAt), stored(p.UpdatedAt)
	p.ExpiresAt, p.FinalAt = stored(p.ExpiresAt), stored(p.FinalAt)
}

func insertEvent(ctx context.Context, q querier, ev *Event) error {
	var e encoder
	detail := e.strMap(ev.Detail)
	if e.err != nil {
		return e.err
	}
	_, err := q.ExecContext(ctx, insertEventSQL, ev.PaymentID, ev.Seq, millis(ev.At), ev.Kind, detail)
	return err
}

func scanEvent(sc scanner) (Event, error) {
	var (
		ev     Event
		at     sql.NullInt64
		detail sql.NullString
	)
	if err := sc.Scan(&ev.PaymentID, &ev.Seq, &at, &ev.Kind, &detail); err != nil {
		return ev, err
	}
	ev.At = fromMillis(at)
	d := decoder{what: fmt.Sprintf("event %s/%d", ev.PaymentID, ev.Seq)}
	ev.Detail = d.strMap("detail", detail)
	return ev, d.err
}

const (
	operationCols = `id, payment_id, site_id, kind, amount, status,
	idempotency_key, wix_refund_id, result, ref, bank_state, bank_calls,
	created_at, updated_at, final_at`
	operationReplaceCols = `id, site_id, kind, amount, status,
	idempotency_key, wix_refund_id, result, ref, bank_state, bank_calls,
	updated_at, final_at`
)

// upsertOperation inserts op or replaces the stored operation with its id;
// an operation never moves to another payment and keeps its CreatedAt.
func upsertOperation(ctx context.Context, q querier, op *Operation) error {
	var e encoder
	args := []any{
		op.ID, op.PaymentID, op.SiteID, string(op.Kind), op.Amount, string(op.Status),
		op.IdempotencyKey, op.WixRefundID, e.result(op.Result), e.json(op.Ref), e.strMap(op.BankState), op.BankCalls,
		millis(op.CreatedAt), millis(op.UpdatedAt), millis(op.FinalAt),
	}
	if e.err != nil {
		return e.err
	}
	res, err := q.ExecContext(ctx, upsertOperationSQL, args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return errKind(ErrConflict, "operation %s belongs to another payment", op.ID)
	}
	return nil
}

func scanOperation(sc scanner) (*Operation, error) {
	var (
		op                       Operation
		result, ref, bankState   sql.NullString
		created, updated, finalA sql.NullInt64
	)
	err := sc.Scan(&op.ID, &op.PaymentID, &op.SiteID, &op.Kind, &op.Amount, &op.Status,
		&op.IdempotencyKey, &op.WixRefundID, &result, &ref, &bankState, &op.BankCalls,
		&created, &updated, &finalA)
	if err != nil {
		return nil, err
	}
	d := decoder{what: "operation " + op.ID}
	op.Result = d.result(result)
	d.json("ref", ref, &op.Ref)
	op.BankState = d.strMap("bank_state", bankState)
	op.CreatedAt, op.UpdatedAt, op.FinalAt = fromMillis(created), fromMillis(updated), fromMillis(finalA)
	return &op, d.err
}

func insertIdempotency(ctx context.Context, q querier, r *Idempotency) error {
	_, err := q.ExecContext(ctx, insertIdempotencySQL,
		r.SiteID, r.Scope, r.Key, r.RequestHash, r.ResourceID, r.Status, blob(r.Body), millis(r.CreatedAt))
	return err
}

// blob keeps nil and empty apart: nil is stored as NULL.
func blob(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

const webhookCols = `id, site_id, payment_id, event_type, body, status,
	attempts, next_attempt_at, last_error, last_status, created_at, delivered_at`

func insertWebhook(ctx context.Context, q querier, w *Webhook) error {
	body := w.Body
	if body == nil {
		body = []byte{}
	}
	_, err := q.ExecContext(ctx, insertWebhookSQL,
		w.ID, w.SiteID, w.PaymentID, w.EventType, body, string(w.Status),
		w.Attempts, millis(w.NextAttemptAt), w.LastError, w.LastStatus, millis(w.CreatedAt), millis(w.DeliveredAt))
	return err
}

func scanWebhook(sc scanner) (*Webhook, error) {
	var (
		w                         Webhook
		next, created, deliveredA sql.NullInt64
	)
	err := sc.Scan(&w.ID, &w.SiteID, &w.PaymentID, &w.EventType, &w.Body, &w.Status,
		&w.Attempts, &next, &w.LastError, &w.LastStatus, &created, &deliveredA)
	if err != nil {
		return nil, err
	}
	if w.Body == nil {
		w.Body = []byte{}
	}
	w.NextAttemptAt, w.CreatedAt, w.DeliveredAt = fromMillis(next), fromMillis(created), fromMillis(deliveredA)
	return &w, nil
}

// collect runs a query and scans every row.
func collect[T any](ctx context.Context, q querier, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
