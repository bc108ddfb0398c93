// Package store is the relay's durable journal: payments and their state
// machine, an append-only event history per payment, after-sale operations
// (refunds, voids, captures), idempotency records and the webhook outbox.
//
// Journal is the interface the relay uses; OpenSQLite returns the embedded
// implementation (pure Go, WAL, fsync on commit). Card numbers, expiry dates
// and CVVs are never given to the store; only the masked PAN the bank
// returns is kept.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/posrelay/posrelay/bank"
)

// Errors the journal returns.
var (
	ErrNotFound  = errors.New("store: not found")
	ErrDuplicate = errors.New("store: already exists")
	// ErrBankOrderTaken: another payment already uses this bank order id at
	// this bank (it is also an ErrDuplicate).
	ErrBankOrderTaken = fmt.Errorf("%w: bank order id", ErrDuplicate)
	// ErrConflict: the change was refused because the record is not in the
	// state the caller expected (returned by callers' update functions too).
	ErrConflict = errors.New("store: state conflict")
)

// PaymentStatus is a payment's place in its state machine:
//
//	pending → succeeded | failed | canceled | expired | unknown
//	unknown → succeeded | failed          (resolved by the bank's status API)
//	succeeded → voided                    (same-day cancel)
//
// Refunds do not change the status; they add to Refunded.
type PaymentStatus string

const (
	StatusPending   PaymentStatus = "pending"
	StatusSucceeded PaymentStatus = "succeeded"
	StatusFailed    PaymentStatus = "failed"
	StatusCanceled  PaymentStatus = "canceled"
	StatusExpired   PaymentStatus = "expired"
	StatusUnknown   PaymentStatus = "unknown"
	StatusVoided    PaymentStatus = "voided"
)

// Final reports whether no further bank step can change the status (an
// unknown payment is not final: a status query will settle it).
func (s PaymentStatus) Final() bool {
	switch s {
	case StatusSucceeded, StatusFailed, StatusCanceled, StatusExpired, StatusVoided:
		return true
	}
	return false
}

// CanTransition reports whether the state machine allows from → to.
func CanTransition(from, to PaymentStatus) bool {
	switch from {
	case StatusPending:
		switch to {
		case StatusSucceeded, StatusFailed, StatusCanceled, StatusExpired, StatusUnknown:
			return true
		}
	case StatusUnknown:
		return to == StatusSucceeded || to == StatusFailed
	case StatusSucceeded:
		return to == StatusVoided
	}
	return false
}

// Stage is how far the shopper's bank step has come, within StatusPending.
type Stage string

const (
	StageCreated  Stage = "created"  // pay token not used yet
	StageBankStep Stage = "bankstep" // shopper sent to the bank; callback token armed
	StageCallback Stage = "callback" // callback accepted; provisioning under way
	StageDone     Stage = "done"     // status is final or unknown
)

// ReturnURLs are the Wix site's pages the shopper is sent back to.
type ReturnURLs struct {
	Success string `json:"success"`
	Error   string `json:"error"`
	Cancel  string `json:"cancel,omitempty"`
	Pending string `json:"pending,omitempty"`
}

// Customer is what the site told about the shopper.
type Customer struct {
	IP    string `json:"ip,omitempty"`
	Email string `json:"email,omitempty"`
	Name  string `json:"name,omitempty"`
}

// Payment is one payment attempt.
type Payment struct {
	ID      string // "pay_…"
	SiteID  string
	Bank    string // "halkbank", "qnb", "vakifbank"
	Account string // account name within the site's configuration
	Model   string // bank payment model, e.g. "3d_pay_hosting"

	OrderID          string // the site's order id
	BankOrderID      string // order id sent to the bank (OrderID, or OrderID-N for a later attempt)
	Amount           int64  // minor units
	Currency         string // "TRY"
	Installments     int
	Type             string // "sale" or "preauth"
	Language         string // "tr" or "en"
	ReturnURLs       ReturnURLs
	Customer         Customer
	WixTransactionID string

	PayToken      string // unguessable; /pay/<token>
	CallbackToken string // unguessable; /callback/<token>

	Status PaymentStatus
	Stage  Stage
	Result *bank.Result // set once the bank has answered
	Ref    bank.Ref
	// BankState is what the adapter asked to keep (bank.Step.State).
	BankState map[string]string

	Captured int64 // minor units moved (sale amount, or captured part of a pre-auth)
	Refunded int64 // minor units refunded so far
	// RefundPending holds the minor units of refunds sent to the bank whose
	// outcome is still open; new refunds may not exceed
	// Captured − Refunded − RefundPending.
	RefundPending int64

	CreatedAt time.Time
	UpdatedAt time.Time
	ExpiresAt time.Time
	FinalAt   time.Time // zero until the status is final
	Version   int64     // incremented by every update
}

// Event is one entry of a payment's append-only history. Detail never holds
// card data or secrets.
type Event struct {
	PaymentID string
	Seq       int64 // assigned by the store, 1, 2, … per payment
	At        time.Time
	Kind      string // e.g. "created", "bank_step", "callback", "succeeded", "refund_requested"
	Detail    map[string]string
}

// OpStatus is an after-sale operation's state.
type OpStatus string

const (
	OpPending   OpStatus = "pending"
	OpSucceeded OpStatus = "succeeded"
	OpFailed    OpStatus = "failed"
	OpUnknown   OpStatus = "unknown"
)

// Operation is one refund, void or capture.
type Operation struct {
	ID             string // "op_…"
	PaymentID      string
	SiteID         string
	Kind           bank.OpKind
	Amount         int64
	Status         OpStatus
	IdempotencyKey string
	WixRefundID    string
	Result         *bank.Result
	Ref            bank.Ref
	BankState      map[string]string
	// BankCalls counts the requests sent to the bank for this operation.
	BankCalls int
	CreatedAt time.Time
	UpdatedAt time.Time
	FinalAt   time.Time
}

// Idempotency remembers the first answer to a request with a given key.
type Idempotency struct {
	SiteID      string
	Scope       string // e.g. "POST /v1/payments" or "refund pay_…"
	Key         string
	RequestHash string // hex SHA-256 of the request body
	ResourceID  string // payment or operation id
	Status      int    // HTTP status of the first answer (0 = rebuild from the resource)
	Body        []byte // body of the first answer (nil = rebuild from the resource)
	CreatedAt   time.Time
}

// WebhookStatus is a webhook message's delivery state.
type WebhookStatus string

const (
	WebhookPending   WebhookStatus = "pending"
	WebhookDelivered WebhookStatus = "delivered"
	WebhookDead      WebhookStatus = "dead"
)

// Webhook is one message in the outbox. Messages for one payment are
// delivered in the order they were enqueued.
type Webhook struct {
	ID            string // "msg_…", the webhook-id header
	SiteID        string
	PaymentID     string
	EventType     string // "payment.succeeded", …
	Body          []byte // exact JSON sent
	Status        WebhookStatus
	Attempts      int
	NextAttemptAt time.Time
	LastError     string // short, secret-free
	LastStatus    int    // HTTP status of the last attempt, 0 if none
	CreatedAt     time.Time
	DeliveredAt   time.Time
}

// Change is what an update function adds next to its changes to a payment;
// the store writes it all in the same transaction.
type Change struct {
	Events      []Event        // PaymentID and Seq are filled in by the store
	Webhooks    []Webhook      // new outbox messages (Status pending)
	Operations  []*Operation   // inserted or, when the ID exists, replaced
	Idempotency []*Idempotency // inserted; ErrDuplicate if the key exists
}

// PaymentFilter selects payments for listings and reports.
type PaymentFilter struct {
	SiteID        string
	Status        PaymentStatus
	CreatedFrom   time.Time // inclusive; zero = no bound
	CreatedBefore time.Time // exclusive; zero = no bound
	ExpiresBefore time.Time // ExpiresAt strictly before; zero = no bound
	Stage         Stage     // "" = any stage
	Limit         int       // 0 = no limit
}

// WebhookFilter selects outbox messages.
type WebhookFilter struct {
	SiteID    string
	PaymentID string
	Status    WebhookStatus
	Limit     int
}

// Journal is the relay's durable state. Every method is safe for
// concurrent use. Times are stored with millisecond precision in UTC.
type Journal interface {
	// CreatePayment inserts a new payment with its first event and, when
	// idem is not nil, its idempotency record, in one transaction.
	// ErrDuplicate if the payment id, a token or the idempotency key exists;
	// ErrBankOrderTaken (an ErrDuplicate) if the bank order id is in use at
	// the same bank.
	CreatePayment(ctx context.Context, p *Payment, ev Event, idem *Idempotency) error
	GetPayment(ctx context.Context, id string) (*Payment, error)
	// PaymentByPayToken / PaymentByCallbackToken find a payment by token.
	PaymentByPayToken(ctx context.Context, token string) (*Payment, error)
	PaymentByCallbackToken(ctx context.Context, token string) (*Payment, error)
	// PaymentsByOrder lists a site's payments for one order id, oldest first.
	PaymentsByOrder(ctx context.Context, siteID, orderID string) ([]*Payment, error)
	ListPayments(ctx context.Context, f PaymentFilter) ([]*Payment, error)
	// UpdatePayment loads the payment in a write transaction and calls fn.
	// If fn returns an error nothing is written and the error is returned.
	// Otherwise the changed payment (Version+1, UpdatedAt set by fn) and the
	// Change are committed together and the stored payment is returned.
	// A status change CanTransition refuses is ErrConflict and writes
	// nothing.
	UpdatePayment(ctx context.Context, id string, fn func(p *Payment) (*Change, error)) (*Payment, error)
	// UpdateOperation loads an operation and its payment in one write
	// transaction and calls fn, which may change both (the operation keeps
	// its id and payment). If fn returns an error nothing is written;
	// otherwise the payment (Version+1), the operation and the Change are
	// committed together. Read the operation here, not with GetOperation,
	// when the decision depends on its current state.
	UpdateOperation(ctx context.Context, opID string, fn func(p *Payment, op *Operation) (*Change, error)) (*Payment, *Operation, error)
	// Events returns a payment's history, oldest first.
	Events(ctx context.Context, paymentID string) ([]Event, error)

	GetOperation(ctx context.Context, id string) (*Operation, error)
	Operations(ctx context.Context, paymentID string) ([]*Operation, error)
	// OperationsBetween lists operations created in [from, before).
	OperationsBetween(ctx context.Context, from, before time.Time) ([]*Operation, error)
	// UnresolvedOperations lists operations in OpUnknown or OpPending created before the given time.
	UnresolvedOperations(ctx context.Context, createdBefore time.Time) ([]*Operation, error)

	GetIdempotency(ctx context.Context, siteID, scope, key string) (*Idempotency, error)

	// DueWebhooks returns pending messages with NextAttemptAt ≤ now whose
	// payment has no earlier pending or dead message (a dead letter holds
	// its payment's later messages until it is redelivered), oldest first.
	DueWebhooks(ctx context.Context, now time.Time, limit int) ([]*Webhook, error)
	// NextWebhookAt returns the earliest NextAttemptAt of a pending message
	// that is first in its payment's queue, i.e. the next time DueWebhooks
	// can return something (zero time if none). A message waiting behind an
	// earlier pending one of its payment does not count: its own time may
	// have passed while the earlier one backs off.
	NextWebhookAt(ctx context.Context) (time.Time, error)
	// RecordAttempt stores the outcome of one delivery attempt: w's Status,
	// Attempts, NextAttemptAt, LastError, LastStatus and DeliveredAt.
	RecordAttempt(ctx context.Context, w *Webhook) error
	GetWebhook(ctx context.Context, id string) (*Webhook, error)
	ListWebhooks(ctx context.Context, f WebhookFilter) ([]*Webhook, error)
	// Redeliver puts a delivered or dead message back in the queue, due at
	// now, with Attempts reset to 0 (a new retry schedule) and DeliveredAt
	// cleared; it keeps its place in its payment's order. ErrConflict if the
	// message is pending.
	Redeliver(ctx context.Context, id string, now time.Time) error

	// UseNonce records that a signed request with this nonce of keyID was
	// accepted, until expires. ErrDuplicate if it is recorded and its
	// expiry is after now (a replay); an expired record is replaced.
	UseNonce(ctx context.Context, keyID, nonce string, expires, now time.Time) error
	// PruneNonces deletes the records that expired at or before now and
	// returns how many.
	PruneNonces(ctx context.Context, now time.Time) (int64, error)

	Close() error
}
