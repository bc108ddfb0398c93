// Package vakifcp speaks VakıfBank's Common Payment ("Ortak Ödeme",
// protocol document §3B) in its 3D Host form: the relay registers the
// transaction from its fixed address, sends the shopper to the bank's own
// payment page (the card never touches the relay), takes the shopper's
// return (a GET with Rc, TransactionId and PaymentToken) and asks the bank
// for the authoritative result with VposTransaction.
//
// The return is unsigned, and the library's section on this product is the
// least reliable of the document (§3B). So the return proves nothing: it is
// bound to the payment by the PaymentToken the register call gave this
// payment (kept in the payment's state), and its Rc is never the result —
// the VposTransaction answer is, and it must name this payment's order,
// amount and currency.
//
// Decisions where the document is UNCERTAIN:
//
//   - HashedData (§3B, §7 item 7) is not sent. The library's own comment
//     says sending it produced 5029 "Geçersiz İstek", its constant
//     VBank3DPay2014 is marked todo, and the document says to try without
//     it first. signer.VakifCPHash is ready should VakıfBank ask for it.
//   - AllowNotEnrolledCard follows the site's half-secure setting: true lets
//     the bank charge cards without full 3-D Secure (half-secure).
//   - Only sales: the library wires only Sale for this product (§3B), so a
//     pre-authorisation (and its capture) is refused; the mpi model has them.
//   - Status, Cancel and Refund go through the VPOS (package
//     payflex): a Common Payment sale is a VPOS transaction of the same host
//     merchant and terminal (CP-F3 names terminal VP000579, the VPOS
//     terminal of VB-F3/F5), which the VPOS field sets of §3A.8 address by
//     its TransactionId (the PHP peer tcgunel/omnipay-vakifbank offers
//     Common Payment next to void and refund, §5). The library has no such
//     calls for this product, so confirm it in the sandbox; without VPOS and
//     Search URLs these operations answer bank.ErrNotSupported.
//
// Every URL comes from Config (the configuration's endpoint table); the
// payment page the bank names must be on the configured page host.
package vakifcp

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/posrelay/posrelay/bank"
	"github.com/posrelay/posrelay/bank/payflex"
)

// Config is one VakıfBank Common Payment merchant account.
type Config struct {
	MerchantID string // HostMerchantId
	TerminalNo string // HostTerminalId
	Password   string // MerchantPassword

	RegisterURL string // CommonPayment/api/RegisterTransaction
	PageURL     string // CommonPayment/SecurePayment: the payment page must be on this host
	QueryURL    string // CommonPayment/api/VposTransaction
	// VPOSURL and SearchURL reach the VPOS for status, cancel, refund and
	// capture; without them those answer bank.ErrNotSupported.
	VPOSURL, SearchURL string

	// AllowHalfSecure registers with AllowNotEnrolledCard=true.
	AllowHalfSecure bool
}

// StateToken is the payment state key under which the register call's
// PaymentToken is kept.
const StateToken = "payment_token"

// Gateway is a Common Payment merchant account.
type Gateway struct {
	cfg  Config
	page *url.URL
	vpos *payflex.VPOS // nil without VPOS endpoints
	doer bank.Doer
}

// New checks the configuration and returns a gateway that sends its calls
// through doer.
func New(cfg Config, doer bank.Doer) (*Gateway, error) {
	switch {
	case cfg.MerchantID == "":
		return nil, errors.New("vakifcp: MerchantID is empty; set merchant_id to the HostMerchantId VakıfBank gave (e.g. 000100000013506)")
	case cfg.TerminalNo == "":
		return nil, errors.New("vakifcp: TerminalNo is empty; set terminal_no to the HostTerminalId VakıfBank gave (e.g. VP000579)")
	case cfg.Password == "":
		return nil, errors.New("vakifcp: Password is empty; set password to the merchant password")
	case doer == nil:
		return nil, errors.New("vakifcp: no transport")
	}
	for _, u := range []struct{ name, v string }{{"RegisterURL", cfg.RegisterURL}, {"PageURL", cfg.PageURL}, {"QueryURL", cfg.QueryURL}} {
		if _, err := absURL(u.v); err != nil {
			return nil, fmt.Errorf("vakifcp: %s %q: %v; use the bank's URL from the endpoint table", u.name, u.v, err)
		}
	}
	page, _ := absURL(cfg.PageURL)
	g := &Gateway{cfg: cfg, page: page, doer: doer}
	if cfg.VPOSURL != "" || cfg.SearchURL != "" {
		v, err := payflex.NewVPOS(cfg.MerchantID, cfg.TerminalNo, cfg.Password, cfg.VPOSURL, cfg.SearchURL, doer)
		if err != nil {
			return nil, fmt.Errorf("vakifcp: %w", err)
		}
		g.vpos = v
	}
	return g, nil
}

func absURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, errors.New("not a URL")
	case u.Scheme != "https" && u.Scheme != "http", u.Host == "", u.User != nil:
		return nil, errors.New("not an absolute http(s) URL")
	}
	return u, nil
}

// FormOrigins is empty: the shopper is redirected, no form is posted.
func (g *Gateway) FormOrigins() []string { return nil }

func language(p *bank.Payment) string {
	if p.Lang() == "en" {
		return "en-US"
	}
	return "tr-TR"
}

// registerFields is the RegisterTransaction request of the 3D Host model
// (§3B): no card fields, no HashedData (see the package comment).
func (g *Gateway) registerFields(p *bank.Payment) bank.Fields {
	f := bank.Fields{
		bank.F("HostMerchantId", g.cfg.MerchantID),
		bank.F("MerchantPassword", g.cfg.Password),
		bank.F("HostTerminalId", g.cfg.TerminalNo),
		bank.F("TransactionType", "Sale"),
		bank.F("AmountCode", p.Currency.Numeric),
		bank.F("Amount", bank.FormatAmount(p.Amount)),
		bank.F("OrderID", p.OrderID),
		bank.F("IsSecure", "true"),
		bank.F("AllowNotEnrolledCard", strconv.FormatBool(g.cfg.AllowHalfSecure)),
		bank.F("SuccessUrl", p.CallbackURL),
		bank.F("FailUrl", p.CallbackURL),
		bank.F("RequestLanguage", language(p)),
	}
	if p.Installments > 1 {
		f = append(f, bank.F("InstallmentCount", strconv.Itoa(p.Installments)))
	}
	return f
}

// text is an element's character data without surrounding white space.
type text = payflex.Text

// registerResponse is RegisterTransaction's answer.
type registerResponse struct {
	CommonPaymentURL text `xml:"CommonPaymentUrl"`
	PaymentToken     text `xml:"PaymentToken"`
	ErrorCode        text `xml:"ErrorCode"`
	ResponseMessage  text `xml:"ResponseMessage"`
}

func parseRegister(body []byte) (*registerResponse, error) {
	var r registerResponse
	if _, err := payflex.DecodeXML(body, &r); err != nil {
		return nil, err
	}
	if r.ErrorCode == "" && r.PaymentToken == "" {
		return nil, fmt.Errorf("%w: register answer has neither PaymentToken nor ErrorCode", bank.ErrMalformed)
	}
	return &r, nil
}

// post sends form fields with Accept: text/xml (§3B) and returns the body.
func (g *Gateway) post(ctx context.Context, op, target string, f bank.Fields) ([]byte, error) {
	return payflex.PostForm(ctx, g.doer, op, target, "text/xml", []byte(f.Encode()))
}

// Start registers the transaction and redirects the shopper to the bank's
// payment page with the PaymentToken. A refused registration ends the
// payment (merchant_config: the account or the request is wrong, the
// shopper can do nothing about it); a payment page off the configured host
// is refused.
func (g *Gateway) Start(ctx context.Context, p *bank.Payment) (*bank.Step, error) {
	switch {
	case p.Type == bank.PreAuth:
		return nil, fmt.Errorf("%w: Common Payment takes sales only (the library wires only Sale, §3B); use the mpi model for pre-authorisations", bank.ErrNotSupported)
	case p.Currency.Numeric == "":
		return nil, errors.New("vakifcp: payment has no numeric currency code")
	}
	body, err := g.post(ctx, "register", g.cfg.RegisterURL, g.registerFields(p))
	if err != nil {
		return nil, err
	}
	r, err := parseRegister(body)
	if err != nil {
		return nil, &bank.TransportError{Op: "register", Sent: true, Err: err}
	}
	if r.ErrorCode != "" {
		res := payflex.Result(string(r.ErrorCode), string(r.ResponseMessage))
		res = bank.NewResult(bank.CodeMerchantConfig, res.BankCode, res.BankMessage)
		return &bank.Step{Outcome: &bank.Outcome{Status: bank.Failed, Result: res}}, nil
	}
	target, err := g.pageURL(string(r.CommonPaymentURL), string(r.PaymentToken))
	if err != nil {
		return nil, err
	}
	return &bank.Step{Kind: bank.Redirect, URL: target, State: map[string]string{StateToken: string(r.PaymentToken)}}, nil
}

// pageURL builds the payment page address: CommonPaymentUrl (the
// configured page when the bank leaves it out) with Ptkn=PaymentToken. It
// must be on the configured page's scheme, host and port.
func (g *Gateway) pageURL(raw, token string) (string, error) {
	if raw == "" {
		raw = g.cfg.PageURL
	}
	u, err := absURL(raw)
	if err != nil {
		return "", fmt.Errorf("vakifcp: payment page %q: %v", raw, err)
	}
	if !strings.EqualFold(u.Scheme, g.page.Scheme) || !strings.EqualFold(u.Host, g.page.Host) {
		return "", fmt.Errorf("vakifcp: the bank named payment page %s://%s, not the configured %s://%s; refusing to send the shopper there (check the environment's page URL)",
			u.Scheme, u.Host, g.page.Scheme, g.page.Host)
	}
	q := u.Query()
	if t := q.Get("Ptkn"); t != "" && t != token {
		return "", fmt.Errorf("vakifcp: payment page carries another Ptkn than the PaymentToken")
	}
	q.Set("Ptkn", token)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// SubmitCard is not part of this model: the bank's page takes the card.
func (g *Gateway) SubmitCard(context.Context, *bank.Payment, *bank.Card) (*bank.Step, error) {
	return nil, fmt.Errorf("%w: Common Payment takes the card on the bank's page", bank.ErrNotSupported)
}

// finishTransID is the Finish key of the return's TransactionId.
const finishTransID = "transaction_id"

// Verify reads the shopper's return (a GET, §3B). Its PaymentToken must be
// the one the register call gave this payment (bank.ErrBinding otherwise).
// Nothing else in it is believed: Finish always asks VposTransaction.
func (g *Gateway) Verify(p *bank.Payment, cb *bank.Callback) (*bank.Verified, error) {
	want := p.State[StateToken]
	if want == "" {
		return nil, fmt.Errorf("%w: no registered PaymentToken on record for this payment", bank.ErrBinding)
	}
	got := cb.Fields.Value("PaymentToken")
	if got == "" {
		return nil, fmt.Errorf("%w: return has no PaymentToken", bank.ErrMalformed)
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return nil, fmt.Errorf("%w: PaymentToken is not this payment's", bank.ErrBinding)
	}
	rc := payflex.Token(cb.Fields.Value("Rc"))
	return &bank.Verified{
		Echo:    bank.Echo{OrderID: p.OrderID},
		Finish:  map[string]string{finishTransID: cb.Fields.Value("TransactionId")},
		Summary: "Rc=" + rc,
	}, nil
}

// queryResponse is VposTransaction's answer (CP-F1…F3).
type queryResponse struct {
	Rc              text `xml:"Rc"`
	AuthCode        text `xml:"AuthCode"`
	Rrn             text `xml:"Rrn"`
	Message         text `xml:"Message"`
	TransactionID   text `xml:"TransactionId"`
	PaymentToken    text `xml:"PaymentToken"`
	MaskedPan       text `xml:"MaskedPan"`
	HostMerchantID  text `xml:"HostMerchantId"`
	AmountCode      text `xml:"AmountCode"`
	Amount          text `xml:"Amount"`
	OrderID         text `xml:"OrderID"`
	ErrorCode       text `xml:"ErrorCode"`
	ResponseMessage text `xml:"ResponseMessage"`
}

func parseQuery(body []byte) (*queryResponse, error) {
	var r queryResponse
	if _, err := payflex.DecodeXML(body, &r); err != nil {
		return nil, err
	}
	if r.Rc == "" && r.ErrorCode == "" {
		return nil, fmt.Errorf("%w: VposTransaction answer has neither Rc nor ErrorCode", bank.ErrMalformed)
	}
	return &r, nil
}

// Finish asks VposTransaction for the result (§3B) and takes only that.
//
// An approval must name this payment's order, amount (which comes with a
// decimal comma, "1,01") and currency. If it names others, the bank has
// charged something this payment did not ask for: Finish returns an error
// wrapping bank.ErrBinding and no outcome. The relay must not mark such a
// payment failed — money moved — so an error leaves it unknown, where the
// status query and the operator see it.
func (g *Gateway) Finish(ctx context.Context, p *bank.Payment, v *bank.Verified) (*bank.Outcome, error) {
	token := p.State[StateToken]
	if v.Finish == nil || token == "" {
		return nil, errors.New("vakifcp: nothing to finish: no verified return")
	}
	body, err := g.post(ctx, "result query", g.cfg.QueryURL, bank.Fields{
		bank.F("HostMerchantId", g.cfg.MerchantID),
		bank.F("Password", g.cfg.Password),
		bank.F("TransactionId", v.Finish[finishTransID]),
		bank.F("PaymentToken", token),
	})
	if err != nil {
		return nil, err
	}
	r, err := parseQuery(body)
	if err != nil {
		return nil, &bank.TransportError{Op: "result query", Sent: true, Err: err}
	}
	if r.PaymentToken != "" && string(r.PaymentToken) != token {
		return nil, fmt.Errorf("vakifcp: VposTransaction answered for another PaymentToken: %w", bank.ErrBinding)
	}
	if r.HostMerchantID != "" && string(r.HostMerchantID) != g.cfg.MerchantID {
		return nil, fmt.Errorf("vakifcp: VposTransaction answered for merchant %q: %w", r.HostMerchantID, bank.ErrBinding)
	}
	if r.Rc == "" {
		// An error of the query itself (unknown token, refused address…):
		// it says nothing about the payment.
		res := payflex.Result(string(r.ErrorCode), string(r.ResponseMessage))
		return nil, fmt.Errorf("vakifcp: VposTransaction refused the query: %s %s (%s)", res.BankCode, res.BankMessage, res.Code)
	}
	ref := bank.Ref{AuthCode: string(r.AuthCode), HostRef: string(r.Rrn), TransID: string(r.TransactionID), MaskedPAN: string(r.MaskedPan)}
	msg := string(r.Message)
	if msg == "" {
		msg = string(r.ResponseMessage)
	}
	if r.Rc != "0000" {
		return &bank.Outcome{Status: bank.Failed, Result: rcResult(string(r.Rc), msg), Ref: ref, Echo: v.Echo}, nil
	}
	if r.OrderID == "" || r.Amount == "" {
		return nil, fmt.Errorf("vakifcp: VposTransaction approved transaction %q without OrderID or Amount: %w", r.TransactionID, bank.ErrMalformed)
	}
	if r.OrderID != text(p.OrderID) {
		return nil, fmt.Errorf("vakifcp: VposTransaction approved order %q, payment is for %q: %w", r.OrderID, p.OrderID, bank.ErrBinding)
	}
	amount, err := bank.ParseAmount(string(r.Amount))
	if err != nil {
		return nil, fmt.Errorf("vakifcp: VposTransaction Amount %q: %v: %w", r.Amount, err, bank.ErrMalformed)
	}
	if amount != p.Amount {
		return nil, fmt.Errorf("vakifcp: VposTransaction approved amount %s, payment is for %s: %w", r.Amount, bank.FormatAmount(p.Amount), bank.ErrBinding)
	}
	if r.AmountCode != "" && string(r.AmountCode) != p.Currency.Numeric {
		return nil, fmt.Errorf("vakifcp: VposTransaction approved currency %s, payment is in %s: %w", r.AmountCode, p.Currency.Numeric, bank.ErrBinding)
	}
	return &bank.Outcome{Status: bank.Succeeded, Result: payflex.Result("0000", msg), Ref: ref, Echo: v.Echo}, nil
}

// rcResult maps a Common Payment Rc. 2053 carries the directory's VERes
// status in its text ("VeRes status is E Message : …", CP-F1): status N
// means the card is not enrolled.
func rcResult(rc, msg string) bank.Result {
	res := payflex.Result(rc, msg)
	if rc == "2053" && strings.Contains(strings.ToLower(msg), "status is n") {
		res = bank.NewResult(bank.Code3DSNotEnrolled, rc, res.BankMessage)
	}
	return res
}

// Status asks the VPOS's Search for the order (see the package comment).
func (g *Gateway) Status(ctx context.Context, p *bank.Payment) (*bank.StatusResult, error) {
	if g.vpos == nil {
		return nil, fmt.Errorf("%w: status needs the VPOS Search URL, which is not configured", bank.ErrNotSupported)
	}
	return g.vpos.Status(ctx, p)
}

// Operate sends Cancel or Refund through the VPOS, naming the sale by its
// TransactionId (see the package comment). Sales need no capture.
func (g *Gateway) Operate(ctx context.Context, p *bank.Payment, op *bank.Operation) (*bank.OpResult, error) {
	if op.Kind == bank.OpCapture {
		return nil, fmt.Errorf("%w: Common Payment sales are captured at once; there is nothing to capture", bank.ErrNotSupported)
	}
	if g.vpos == nil {
		return nil, fmt.Errorf("%w: %s needs the VPOS URL, which is not configured", bank.ErrNotSupported, op.Kind)
	}
	return g.vpos.Operate(ctx, p, op)
}
