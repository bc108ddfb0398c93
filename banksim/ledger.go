package banksim

import (
	"errors"
	"sync"
	"time"
)

// TxnKind is what a ledger transaction did.
type TxnKind string

const (
	KindSale    TxnKind = "sale"    // authorised and captured at once
	KindPreAuth TxnKind = "preauth" // authorised; a capture moves the money
	KindRefund  TxnKind = "refund"  // money back to the card
)

// TxnStatus is where a ledger transaction stands.
type TxnStatus string

const (
	TxnApproved TxnStatus = "approved"
	TxnDeclined TxnStatus = "declined"
	TxnVoided   TxnStatus = "voided"
)

// Txn is one transaction of an order in a simulator's ledger.
type Txn struct {
	Kind         TxnKind
	Status       TxnStatus
	Amount       int64  // requested/authorised amount, minor units
	Captured     int64  // captured amount (a sale or refund: Amount once approved)
	Currency     string // ISO 4217 numeric
	Installments string
	At           time.Time // authorisation (or attempt) time
	CapturedAt   time.Time // zero until captured
	VoidedAt     time.Time
	TransID      string
	AuthCode     string
	HostRef      string
	ProcCode     string // the bank's return code ("00", "51", "99", …)
	ErrCode      string // the bank's detailed error code, if any
	MaskedPAN    string
	Outcome      Outcome // the test card's outcome, for sales
	MDStatus     string  // 3-D details of a 3-D sale
	ECI          string
	CAVV         string
	XID          string
}

// Settled reports whether the transaction is in a closed batch at now:
// approved, captured, and the clock past the end of the capture's day.
func (t *Txn) Settled(now time.Time) bool {
	return t.Status == TxnApproved && SettledBy(t.CapturedAt, now)
}

// Ledger errors. Each simulator maps them to its bank's codes.
var (
	ErrNoSale         = errors.New("banksim: the order has no approved sale")
	ErrSaleVoided     = errors.New("banksim: the order's sale was voided")
	ErrNotPreAuth     = errors.New("banksim: the order's sale is not a pre-authorisation")
	ErrAlreadyCapture = errors.New("banksim: the pre-authorisation is already captured")
	ErrNotCaptured    = errors.New("banksim: nothing captured on the order")
	ErrNotSettled     = errors.New("banksim: the sale is not settled yet")
	ErrSettled        = errors.New("banksim: the transaction is settled; it can no longer be voided")
	ErrNothingToVoid  = errors.New("banksim: no transaction of the order can be voided")
	ErrZeroNet        = errors.New("banksim: the order's net amount is zero")
	ErrExceedsNet     = errors.New("banksim: amount exceeds the order's net amount")
	ErrExceedsPreAuth = errors.New("banksim: capture exceeds the pre-authorised amount")
	ErrCurrency       = errors.New("banksim: currency differs from the sale's")
)

// CaptureTolerance is how far above the pre-authorised amount a capture may
// go when the merchant states the original amount (EST Extra/PREAMT): 15 %.
const CaptureTolerance = 15

// History is one order's transactions, oldest first. Its methods apply the
// rules every simulated bank shares; call them inside Ledger.Do.
type History struct {
	OrderID string
	Txns    []*Txn
}

// Sale returns the order's sale or pre-authorisation that was approved
// (possibly voided since), or nil.
func (h *History) Sale() *Txn {
	for _, t := range h.Txns {
		if (t.Kind == KindSale || t.Kind == KindPreAuth) && t.Status != TxnDeclined {
			return t
		}
	}
	return nil
}

// Append records a transaction.
func (h *History) Append(t Txn) *Txn {
	p := &t
	h.Txns = append(h.Txns, p)
	return p
}

// Refunded is the sum of approved refunds.
func (h *History) Refunded() int64 {
	var n int64
	for _, t := range h.Txns {
		if t.Kind == KindRefund && t.Status == TxnApproved {
			n += t.Amount
		}
	}
	return n
}

// Capture captures the order's pre-authorisation. amount 0 captures the
// full pre-authorised amount. Above it, overStated must be true (the
// merchant sent the original amount) and the capture may exceed it by
// CaptureTolerance percent at most. currency "" means the sale's.
func (h *History) Capture(amount int64, currency string, overStated bool, now time.Time) (*Txn, error) {
	s := h.Sale()
	switch {
	case s == nil:
		return nil, ErrNoSale
	case s.Status == TxnVoided:
		return nil, ErrSaleVoided
	case s.Kind != KindPreAuth:
		return nil, ErrNotPreAuth
	case !s.CapturedAt.IsZero():
		return nil, ErrAlreadyCapture
	case currency != "" && currency != s.Currency:
		return nil, ErrCurrency
	}
	if amount == 0 {
		amount = s.Amount
	}
	if amount > s.Amount && (!overStated || amount*100 > s.Amount*(100+CaptureTolerance)) {
		return nil, ErrExceedsPreAuth
	}
	s.Captured, s.CapturedAt = amount, now
	return s, nil
}

// Void cancels the newest approved transaction of the order (a sale, a
// pre-authorisation with or without its capture, or a refund) if its batch
// is still open.
func (h *History) Void(now time.Time) (*Txn, error) {
	for i := len(h.Txns) - 1; i >= 0; i-- {
		t := h.Txns[i]
		if t.Status != TxnApproved {
			continue
		}
		if t.Settled(now) {
			return nil, ErrSettled
		}
		t.Status, t.VoidedAt = TxnVoided, now
		return t, nil
	}
	return nil, ErrNothingToVoid
}

// CheckRefund applies the refund rules: the sale is captured and settled,
// the currency matches and amount is not above the net amount (captured
// minus refunded).
func (h *History) CheckRefund(amount int64, currency string, now time.Time) error {
	s := h.Sale()
	switch {
	case s == nil:
		return ErrNoSale
	case s.Status == TxnVoided:
		return ErrSaleVoided
	case s.CapturedAt.IsZero():
		return ErrNotCaptured
	case !s.Settled(now):
		return ErrNotSettled
	case currency != "" && currency != s.Currency:
		return ErrCurrency
	}
	net := s.Captured - h.Refunded()
	switch {
	case net <= 0:
		return ErrZeroNet
	case amount > net:
		return ErrExceedsNet
	}
	return nil
}

// Order is a snapshot of one order in a simulator's ledger.
type Order struct {
	OrderID  string
	Kind     TxnKind // of the sale: KindSale or KindPreAuth
	State    OrderState
	Amount   int64  // authorised amount, minor units
	Currency string // ISO 4217 numeric
	Captured int64
	Refunded int64
	Settled  bool // the sale's batch is closed (refunds possible, voids not)
	TransID  string
	AuthCode string
	HostRef  string
	ProcCode string
	// MaskedPAN is the card as the bank masks it; Outcome is the test card's.
	MaskedPAN string
	Outcome   Outcome
	Txns      []Txn // every transaction, oldest first
}

// OrderState summarises an order.
type OrderState string

const (
	StateApproved OrderState = "approved" // sale or pre-authorisation stands (perhaps partly refunded)
	StateDeclined OrderState = "declined" // no attempt was approved
	StateVoided   OrderState = "voided"   // the sale was cancelled
	StateRefunded OrderState = "refunded" // fully refunded
)

// Snapshot summarises the history at now.
func (h *History) Snapshot(now time.Time) Order {
	o := Order{OrderID: h.OrderID}
	for _, t := range h.Txns {
		o.Txns = append(o.Txns, *t)
	}
	s := h.Sale()
	if s == nil {
		o.State = StateDeclined
		if n := len(h.Txns); n > 0 {
			s = h.Txns[n-1]
		}
	}
	if s == nil {
		return o
	}
	o.Kind, o.Amount, o.Currency = s.Kind, s.Amount, s.Currency
	o.TransID, o.AuthCode, o.HostRef, o.ProcCode = s.TransID, s.AuthCode, s.HostRef, s.ProcCode
	o.MaskedPAN, o.Outcome = s.MaskedPAN, s.Outcome
	if o.State == StateDeclined {
		return o
	}
	o.Settled = s.Settled(now)
	o.Refunded = h.Refunded()
	switch {
	case s.Status == TxnVoided:
		o.State = StateVoided
	case s.Captured > 0 && o.Refunded >= s.Captured:
		o.State, o.Captured = StateRefunded, s.Captured
	default:
		o.State, o.Captured = StateApproved, s.Captured
	}
	return o
}

// Ledger holds the orders a simulator has seen. It is safe for concurrent
// use.
type Ledger struct {
	mu     sync.Mutex
	orders map[string]*History
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger { return &Ledger{orders: map[string]*History{}} }

// Do runs fn on the order's history under the ledger's lock, creating an
// empty history if there is none; an order left without transactions is
// forgotten again.
func (l *Ledger) Do(orderID string, fn func(h *History) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.orders[orderID]
	if h == nil {
		h = &History{OrderID: orderID}
	}
	err := fn(h)
	if len(h.Txns) > 0 {
		l.orders[orderID] = h
	}
	return err
}

// Order returns a snapshot of the order at now.
func (l *Ledger) Order(orderID string, now time.Time) (Order, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.orders[orderID]
	if h == nil {
		return Order{}, false
	}
	return h.Snapshot(now), true
}
