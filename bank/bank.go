// Package bank holds what every bank platform adapter shares: the view of a
// payment an adapter works on, the step it asks the relay to show the
// shopper, the callback it verifies, the normalised result with customer
// messages and Wix reason codes, and the transport it sends requests through.
//
// The platform packages (bank/est, bank/payfor, bank/payflex, bank/vakifcp)
// turn these into each bank's wire format. Nothing here performs I/O.
package bank

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// TxnType is what the shopper's payment does at the bank.
type TxnType string

const (
	// Sale authorises and captures in one step.
	Sale TxnType = "sale"
	// PreAuth only authorises; a later capture moves the money.
	PreAuth TxnType = "preauth"
)

// Currency is an ISO 4217 currency as the banks want it.
type Currency struct {
	Alpha   string // "TRY"
	Numeric string // "949"
}

// currencies lists what the relay accepts. All have two minor digits; the
// banks in scope accept no other currencies for e-commerce.
var currencies = map[string]Currency{
	"TRY": {"TRY", "949"},
	"USD": {"USD", "840"},
	"EUR": {"EUR", "978"},
	"GBP": {"GBP", "826"},
}

// LookupCurrency finds a supported currency by its alphabetic code.
func LookupCurrency(alpha string) (Currency, bool) {
	c, ok := currencies[alpha]
	return c, ok
}

// CurrencyByNumeric finds a supported currency by its numeric code.
func CurrencyByNumeric(num string) (Currency, bool) {
	for _, c := range currencies {
		if c.Numeric == num {
			return c, true
		}
	}
	return Currency{}, false
}

// SupportedCurrencies returns the alphabetic codes the relay accepts.
func SupportedCurrencies() []string { return []string{"TRY", "USD", "EUR", "GBP"} }

// FormatAmount writes minor units as a decimal string with a '.' separator
// and two decimals: 10050 → "100.50", 5 → "0.05".
func FormatAmount(minor int64) string {
	neg := ""
	if minor < 0 {
		neg, minor = "-", -minor
	}
	return fmt.Sprintf("%s%d.%02d", neg, minor/100, minor%100)
}

// ParseAmount reads a bank's decimal amount ("100.5", "100,50", "5") into
// minor units. It accepts '.' or ',' as the decimal separator, at most two
// decimals and no thousands separators.
func ParseAmount(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty amount")
	}
	whole, frac, _ := strings.Cut(strings.Replace(s, ",", ".", 1), ".")
	if len(frac) > 2 || strings.ContainsAny(whole+frac, "+-.,") || whole == "" && frac == "" {
		return 0, fmt.Errorf("amount %q: want digits with at most two decimals", s)
	}
	if whole == "" {
		whole = "0"
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > 1e15 {
		return 0, fmt.Errorf("amount %q: not a decimal number", s)
	}
	var f int64
	if frac != "" {
		for len(frac) < 2 {
			frac += "0"
		}
		if f, err = strconv.ParseInt(frac, 10, 64); err != nil {
			return 0, fmt.Errorf("amount %q: not a decimal number", s)
		}
	}
	return w*100 + f, nil
}

// Payment is what an adapter knows of one payment. The relay fills it from
// its journal; adapters never see the relay's tokens or the site's secrets.
type Payment struct {
	ID           string   // relay payment id, "pay_…"
	OrderID      string   // merchant order id, sent to the bank as the order number
	Amount       int64    // minor units
	Currency     Currency //
	Installments int      // 1 = single payment
	Type         TxnType
	Language     string // "tr" or "en"
	CustomerIP   string
	Email        string
	Name         string
	// CallbackURL is where the bank sends the shopper back (ok and fail URL alike).
	CallbackURL string
	// State is what the adapter asked the relay to keep when the bank step
	// began (Step.State), e.g. an enrollment request id. Never card data.
	State map[string]string
	// Ref holds the bank's references of the completed sale; refunds, voids,
	// captures and status calls use them.
	Ref Ref
}

// Lang returns "en" for English and "tr" for everything else.
func (p *Payment) Lang() string {
	if p.Language == "en" {
		return "en"
	}
	return "tr"
}

// Card is card data the relay's own page collected for a model that needs it.
// It lives in memory for one bank call; call Wipe as soon as that call returns.
type Card struct {
	Number   string // digits only
	ExpMonth string // "MM"
	ExpYear  string // "YYYY"
	CVV      string
	Holder   string
}

// Wipe clears the card data. Go strings are immutable, so this drops the
// references; the garbage collector frees the bytes.
func (c *Card) Wipe() { *c = Card{} }

// String never prints card data.
func (c *Card) String() string { return "[card]" }

// GoString never prints card data.
func (c *Card) GoString() string { return "[card]" }

// Brand names a card scheme from the card number's leading digits.
func (c *Card) Brand() string { return BrandOf(c.Number) }

// BrandOf names a card scheme from the leading digits of a card number:
// "visa", "mastercard", "troy", "amex" or "".
func BrandOf(pan string) string {
	switch {
	case strings.HasPrefix(pan, "34"), strings.HasPrefix(pan, "37"):
		return "amex"
	case strings.HasPrefix(pan, "4"):
		return "visa"
	case strings.HasPrefix(pan, "5"), strings.HasPrefix(pan, "2"):
		return "mastercard"
	case strings.HasPrefix(pan, "9"), strings.HasPrefix(pan, "65"):
		return "troy"
	}
	return ""
}

// Luhn reports whether a digit string passes the Luhn check.
func Luhn(digits string) bool {
	if len(digits) < 12 || len(digits) > 19 {
		return false
	}
	sum, double := 0, false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if d < 0 || d > 9 {
			return false
		}
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// MaskPAN keeps the first six and last four digits: 435508******4358.
func MaskPAN(pan string) string {
	if len(pan) < 12 {
		return strings.Repeat("*", len(pan))
	}
	return pan[:6] + strings.Repeat("*", len(pan)-10) + pan[len(pan)-4:]
}

// Ref is what the bank returned to identify a completed transaction.
type Ref struct {
	AuthCode  string `json:"authCode,omitempty"`
	HostRef   string `json:"hostRef,omitempty"` // RRN / HostRefNum
	TransID   string `json:"transId,omitempty"` // the bank's transaction id
	MaskedPAN string `json:"maskedPan,omitempty"`
}

// Field is one form field, in the order it is sent or was received.
type Field struct{ Name, Value string }

// F makes a Field.
func F(name, value string) Field { return Field{Name: name, Value: value} }

// Fields is an ordered form.
type Fields []Field

// Get returns the first value of name and whether it is present.
func (f Fields) Get(name string) (string, bool) {
	for _, x := range f {
		if x.Name == name {
			return x.Value, true
		}
	}
	return "", false
}

// Value returns the first value of name, or "".
func (f Fields) Value(name string) string { v, _ := f.Get(name); return v }

// Map returns the fields as a map. Callers must have rejected duplicates.
func (f Fields) Map() map[string]string {
	m := make(map[string]string, len(f))
	for _, x := range f {
		m[x.Name] = x.Value
	}
	return m
}

// Encode writes the fields as application/x-www-form-urlencoded, in order.
func (f Fields) Encode() string {
	var b strings.Builder
	for i, x := range f {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(x.Name))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(x.Value))
	}
	return b.String()
}

// StepKind says how the relay shows a bank step to the shopper.
type StepKind int

const (
	// AutoPost renders a page that posts Fields to URL in the top window.
	AutoPost StepKind = iota + 1
	// CardForm renders the relay's own card page; its submission reaches
	// the adapter's SubmitCard.
	CardForm
	// HTML serves a page the relay fetched from the bank server-side.
	HTML
	// Redirect sends the top window to URL with a GET.
	Redirect
)

// Step is what the shopper sees next.
type Step struct {
	Kind   StepKind
	URL    string // AutoPost target or Redirect location
	Fields Fields // AutoPost fields
	// Method is the AutoPost method; "" means POST.
	Method string
	// HTML is the bank's page for Kind HTML; BaseURL is where it came from.
	HTML    []byte
	BaseURL string
	// State is kept with the payment and handed back in Payment.State.
	State map[string]string
	// Outcome, when set, ends the payment at this step (e.g. a card that is
	// not enrolled in 3-D Secure); the other fields are then unused.
	Outcome *Outcome
}

// Callback is what the bank (through the shopper's browser) sent to the
// callback URL: the fields exactly as received, in order, with raw names.
type Callback struct {
	Method string // "POST" or "GET"
	Fields Fields
}

// Echo is what a callback or answer says about the order, for the relay to
// compare with its record. Empty strings mean the bank did not say.
type Echo struct {
	OrderID   string
	Amount    int64 // minor units; valid only when HasAmount
	HasAmount bool
	Currency  string // numeric code, "" if absent
	// Installments is the callback's installment count (1 = single
	// payment, as a bank's "0" is); 0 when the callback does not say.
	Installments int
}

// ParseInstallments reads a callback's installment count: "" is 0 (not
// said), "0" and "1" are a single payment (1), N > 1 is N. It reports false
// for anything else.
func ParseInstallments(s string) (int, bool) {
	if s == "" {
		return 0, true
	}
	if len(s) > 2 || !isDigits(s) {
		return 0, false
	}
	n, _ := strconv.Atoi(s)
	return max(n, 1), true
}

// Status is the outcome of a bank operation.
type Status string

const (
	Succeeded Status = "succeeded"
	Failed    Status = "failed"
	// Unknown means the bank may or may not have acted; only a status
	// query may turn it into a final answer.
	Unknown Status = "unknown"
)

// Outcome is the final word on a payment's bank step.
type Outcome struct {
	Status Status
	Result Result
	Ref    Ref
	Echo   Echo
}

// Errors an adapter returns from a callback. The relay changes nothing when
// it gets one of them.
var (
	// ErrHashMismatch: the callback's signature does not verify.
	ErrHashMismatch = errors.New("bank: callback hash does not verify")
	// ErrBinding: the callback does not belong to this payment or attempt.
	ErrBinding = errors.New("bank: callback does not match the payment")
	// ErrMalformed: a required field is missing or unreadable.
	ErrMalformed = errors.New("bank: malformed callback or answer")
	// ErrNotSupported: the model or bank does not offer the operation.
	ErrNotSupported = errors.New("bank: operation not supported")
)

// Doer sends one HTTP request to a bank. The relay's implementation dials
// only allowlisted hosts from the configured source address and never
// retries on its own.
type Doer interface {
	Do(ctx context.Context, req *Request) (*Response, error)
}

// Request is an outbound bank call.
type Request struct {
	Method      string // "" = POST
	URL         string
	ContentType string
	Accept      string
	Body        []byte
	// FollowRedirects allows that many redirects, each to an allowlisted host.
	FollowRedirects int
	// Sensitive marks a body that carries card data: the transport zeroes
	// its buffers once the call is over.
	Sensitive bool
}

// Response is a bank's answer. Body is a copy the caller owns.
type Response struct {
	Status      int
	ContentType string
	Body        []byte
	URL         string // final URL after redirects
}

// TransportError is a failed bank call. Sent reports whether the request
// may have reached the bank: a payment, refund or void that fails with
// Sent=true has an unknown outcome and must be resolved by a status query,
// never retried blindly.
type TransportError struct {
	Op      string // what was attempted, e.g. "provision"
	Sent    bool
	Timeout bool
	Err     error
}

func (e *TransportError) Error() string {
	switch {
	case e.Timeout:
		return fmt.Sprintf("%s: bank did not answer in time: %v", e.Op, e.Err)
	case e.Sent:
		return fmt.Sprintf("%s: bank answer lost: %v", e.Op, e.Err)
	}
	return fmt.Sprintf("%s: bank unreachable: %v", e.Op, e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }

// OutcomeUnknown reports whether err leaves a money-moving call's outcome
// open: the request may have reached the bank but no usable answer came back.
func OutcomeUnknown(err error) bool {
	var te *TransportError
	if errors.As(err, &te) {
		return te.Sent || te.Timeout
	}
	return errors.Is(err, ErrMalformed)
}

// OpKind names an after-sale operation.
type OpKind string

const (
	OpRefund  OpKind = "refund"
	OpVoid    OpKind = "void"
	OpCapture OpKind = "capture"
)

// Operation is one refund, void or capture on a completed payment.
type Operation struct {
	ID     string // relay operation id; adapters may use it as the bank order id where a new one is needed
	Kind   OpKind
	Amount int64 // minor units; 0 for a void
	// State is what the adapter kept from an earlier attempt of this operation.
	State map[string]string
}

// OpResult is the bank's answer to an operation.
type OpResult struct {
	Status Status
	Result Result
	Ref    Ref
	State  map[string]string
}

// TxnState is what a bank's status API says about one transaction.
type TxnState string

const (
	TxnNotFound TxnState = "not_found"
	TxnApproved TxnState = "approved" // authorised / sold, not reversed
	TxnDeclined TxnState = "declined"
	TxnVoided   TxnState = "voided"
	TxnRefunded TxnState = "refunded" // fully or partly, see Refunded
	TxnPending  TxnState = "pending"
)

// StatusResult is a bank's view of a payment.
type StatusResult struct {
	State    TxnState
	Amount   int64 // authorised amount, minor units (0 if the bank did not say)
	Captured int64 // captured amount, minor units
	Refunded int64 // refunded amount, minor units
	// RefundedUnknown: the bank says the payment has refunds but not their
	// total (Refunded is then 0). Evidence that some refund exists, not
	// that a particular one does.
	RefundedUnknown bool
	Settled         bool // in a closed batch (refund allowed, void not)
	Ref             Ref
	Result          Result
	// Raw is a short, secret-free summary of the bank's answer for operators.
	Raw string
}

// Verified is a callback an adapter accepted: the bank's signature checks
// out (where the bank signs) and the callback names this payment's attempt.
type Verified struct {
	// Echo is what the callback says about the order, for the relay to bind
	// it to its record before anything else happens.
	Echo Echo
	// Outcome is set when the callback is the final word (3D Pay, hosted
	// pages, every failure). When nil, the adapter's Finish completes the
	// payment with a server call (3D model provisioning, a result query).
	Outcome *Outcome
	// Finish carries what that server call needs (never card data).
	Finish map[string]string
	// Summary is a short secret-free description for the event history,
	// e.g. "mdStatus=1".
	Summary string
}

// CleanRef keeps only what a bank reference can be. Callbacks reach the
// relay through the shopper's browser and some of their fields are not
// signed, so a reference is outside input, stored and sent in webhooks:
//   - an id longer than 64 bytes or with a character ids do not have
//     (anything but letters, digits and -_.:/) is dropped;
//   - an authorisation code or RRN (6 and 12 characters by ISO 8583) that
//     holds a card number (a Luhn-valid run of 13–19 digits) is dropped;
//     the bank's transaction id is not judged by digits, as a long numeric
//     id may pass Luhn by chance and operations need it;
//   - a "masked" card number must be masked (at most the first 6 and
//     last 4 digits around *, X or x, or 8 and 4 of 16 digits or more); a
//     bare card number is masked, anything else dropped.
func CleanRef(r Ref) Ref {
	return Ref{AuthCode: cleanID(r.AuthCode, true), HostRef: cleanID(r.HostRef, true), TransID: cleanID(r.TransID, false), MaskedPAN: CleanMaskedPAN(r.MaskedPAN)}
}

func cleanID(s string, noCards bool) string {
	if len(s) > 64 || noCards && hasCardNumber(s) {
		return ""
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || strings.IndexByte("-_.:/", c) >= 0) {
			return ""
		}
	}
	return s
}

// CleanMaskedPAN checks a masked card number as CleanRef does: a masked
// one is kept, a bare card number masked, anything else dropped.
func CleanMaskedPAN(s string) string {
	compact := strings.ReplaceAll(s, " ", "")
	if isDigits(compact) {
		if len(compact) >= 12 && len(compact) <= 19 {
			return MaskPAN(compact)
		}
		return ""
	}
	if len(compact) > 19 {
		return ""
	}
	i := 0
	for i < len(compact) && isDigit(compact[i]) {
		i++
	}
	lead := i
	for i < len(compact) && strings.IndexByte("*Xx", compact[i]) >= 0 {
		i++
	}
	mask := i - lead
	j := i
	for j < len(compact) && isDigit(compact[j]) {
		j++
	}
	// PCI DSS shows at most the first 6 and last 4 digits, or the first 8
	// and last 4 of a number of 16 digits or more; more would give the
	// rest away with the Luhn check digit.
	shown := lead + j - i
	if j != len(compact) || mask == 0 || lead > 8 || j-i > 4 || shown > 10 && (shown > 12 || len(compact) < 16) || len(s) > 32 {
		return ""
	}
	return s
}

// hasCardNumber reports whether s holds a Luhn-valid run of 13–19 digits
// (a whole run: longer digit runs are not card numbers).
func hasCardNumber(s string) bool {
	run := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && isDigit(s[i]) {
			run++
			continue
		}
		if run >= 13 && run <= 19 && Luhn(s[i-run:i]) {
			return true
		}
		run = 0
	}
	return false
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// OriginOf is the origin (scheme://host[:port]) of a URL, as a one-entry
// list for a gateway's FormOrigins; nil when the URL does not parse.
func OriginOf(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	return []string{u.Scheme + "://" + u.Host}
}

// AuthName is the transaction type as EST and PayFor name it: "PreAuth"
// for a pre-authorisation, else "Auth" (a sale).
func (t TxnType) AuthName() string {
	if t == PreAuth {
		return "PreAuth"
	}
	return "Auth"
}
