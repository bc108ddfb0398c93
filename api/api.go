// Package api holds the JSON shapes of the relay's API and webhooks, shared
// by the relay, its Go client, the demo shop and the benchmark harness.
// Amounts are integers in minor units (kuruş); times are RFC 3339 in UTC.
package api

import "github.com/posrelay/posrelay/bank"

// CreatePayment is the body of POST /v1/payments.
type CreatePayment struct {
	Bank             string     `json:"bank"` // "halkbank", "qnb", "vakifbank", or an account name
	OrderID          string     `json:"orderId"`
	Amount           int64      `json:"amount"`
	Currency         string     `json:"currency"`
	Installments     int        `json:"installments,omitempty"` // 1–12; 0 means 1
	Type             string     `json:"type,omitempty"`         // "sale" (default) or "preauth"
	ReturnURLs       ReturnURLs `json:"returnUrls"`
	Customer         Customer   `json:"customer"`
	Language         string     `json:"language,omitempty"` // "tr" (default) or "en"
	WixTransactionID string     `json:"wixTransactionId,omitempty"`
}

// ReturnURLs are the site's pages the shopper comes back to.
type ReturnURLs struct {
	Success string `json:"success"`
	Error   string `json:"error"`
	Cancel  string `json:"cancel,omitempty"`
	Pending string `json:"pending,omitempty"`
}

// Customer describes the shopper.
type Customer struct {
	IP    string `json:"ip,omitempty"`
	Email string `json:"email,omitempty"`
	Name  string `json:"name,omitempty"`
}

// Payment is the relay's record of a payment, as the API returns it.
type Payment struct {
	ID               string       `json:"id"`
	Status           string       `json:"status"`
	Bank             string       `json:"bank"`
	Account          string       `json:"account"`
	Model            string       `json:"model"`
	OrderID          string       `json:"orderId"`
	BankOrderID      string       `json:"bankOrderId"`
	Amount           int64        `json:"amount"`
	Currency         string       `json:"currency"`
	Installments     int          `json:"installments"`
	Type             string       `json:"type"`
	WixTransactionID string       `json:"wixTransactionId,omitempty"`
	RedirectURL      string       `json:"redirectUrl,omitempty"` // while pending
	ExpiresAt        string       `json:"expiresAt"`
	CreatedAt        string       `json:"createdAt"`
	UpdatedAt        string       `json:"updatedAt"`
	Result           *bank.Result `json:"result,omitempty"`
	AuthCode         string       `json:"authCode,omitempty"`
	HostRef          string       `json:"hostRef,omitempty"`
	TransID          string       `json:"transId,omitempty"`
	MaskedPAN        string       `json:"maskedPan,omitempty"`
	Captured         int64        `json:"captured"`
	Refunded         int64        `json:"refunded"`
	Operations       []Operation  `json:"operations,omitempty"`
	BankStatus       *BankStatus  `json:"bankStatus,omitempty"` // with ?refresh=true
}

// Operation is a refund, void or capture.
type Operation struct {
	ID          string       `json:"id"`
	PaymentID   string       `json:"paymentId"`
	Kind        string       `json:"kind"` // "refund", "void", "capture"
	Amount      int64        `json:"amount"`
	Status      string       `json:"status"` // "pending", "succeeded", "failed", "unknown"
	WixRefundID string       `json:"wixRefundId,omitempty"`
	Result      *bank.Result `json:"result,omitempty"`
	CreatedAt   string       `json:"createdAt"`
	UpdatedAt   string       `json:"updatedAt"`
}

// BankStatus is what the bank's status API said.
type BankStatus struct {
	State    string `json:"state"`
	Amount   int64  `json:"amount"`
	Captured int64  `json:"captured"`
	Refunded int64  `json:"refunded"`
	// RefundedUnknown: the bank says the payment has refunds but not
	// their total (refunded is then 0).
	RefundedUnknown bool   `json:"refundedUnknown,omitempty"`
	Settled         bool   `json:"settled"`
	Checked         string `json:"checkedAt"`
}

// Refund is the body of POST /v1/payments/{id}/refunds.
type Refund struct {
	Amount      int64  `json:"amount,omitempty"` // 0 = the rest
	WixRefundID string `json:"wixRefundId,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

// Capture is the body of POST /v1/payments/{id}/capture.
type Capture struct {
	Amount int64 `json:"amount,omitempty"` // 0 = the authorised amount
}

// Error is the body of every error answer.
type Error struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail describes what went wrong.
type ErrorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Field     string `json:"field,omitempty"`
	RequestID string `json:"requestId"`
}

// Webhook event types.
const (
	EventPaymentSucceeded = "payment.succeeded"
	EventPaymentFailed    = "payment.failed"
	EventPaymentCanceled  = "payment.canceled"
	EventPaymentExpired   = "payment.expired"
	EventPaymentVoided    = "payment.voided"
	EventVoidFailed       = "payment.void_failed"
	EventRefundSucceeded  = "refund.succeeded"
	EventRefundFailed     = "refund.failed"
)

// Event is a webhook body (Standard Webhooks: type, timestamp, data).
type Event struct {
	Type      string    `json:"type"`
	Timestamp string    `json:"timestamp"`
	Data      EventData `json:"data"`
}

// EventData carries what a Wix site needs to call submitEvent without
// another round trip.
type EventData struct {
	PaymentID           string       `json:"paymentId"`
	PluginTransactionID string       `json:"pluginTransactionId"`
	WixTransactionID    string       `json:"wixTransactionId,omitempty"`
	Site                string       `json:"site"`
	OrderID             string       `json:"orderId"`
	Status              string       `json:"status"`
	Bank                string       `json:"bank"`
	Amount              int64        `json:"amount"`
	Currency            string       `json:"currency"`
	Result              *bank.Result `json:"result,omitempty"`
	// ReasonCode is the Wix reason code; absent when approved.
	ReasonCode   int    `json:"reasonCode,omitempty"`
	ErrorCode    string `json:"errorCode,omitempty"`
	ErrorMessage string `json:"errorMessage,omitempty"`
	AuthCode     string `json:"authCode,omitempty"`
	MaskedPAN    string `json:"maskedPan,omitempty"`
	// Refund events; refundId and wixRefundId also name the operation of
	// payment.voided and payment.void_failed.
	RefundID       string `json:"refundId,omitempty"`
	PluginRefundID string `json:"pluginRefundId,omitempty"`
	WixRefundID    string `json:"wixRefundId,omitempty"`
	RefundAmount   int64  `json:"refundAmount,omitempty"`
}
