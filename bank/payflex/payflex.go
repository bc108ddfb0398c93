// Package payflex speaks VakıfBank's GET 7/24 MPI and VPOS 7/24 (the
// "PayFlex MPI ISD v4" platform, protocol document §3A): the enrollment
// request the relay sends from its fixed address with the card its own page
// collected, the shopper's hop to the issuer's ACS, the unsigned MPI
// callback, the card-less provisioning that follows it, and the VPOS
// after-sale calls (Search, Cancel, Refund, Capture). It also holds what
// VakıfBank's Common Payment product (package vakifcp) shares with it: the
// VPOS client ([VPOS]), the code table ([Result]) and the XML reading
// ([DecodeXML]).
//
// Nothing in this protocol is signed: the MPI callback carries no hash. The
// callback is bound to the payment by the VerifyEnrollmentRequestId the
// relay generated for this attempt (kept in the payment's state, never
// taken from the callback), amount and currency are never read from it,
// and a Status "Y" is never taken as paid: only the VPOS provisioning's
// ResultCode 0000 is (mewebstudio/pos issue #193).
//
// Card data. The card number and expiry go to the MPI in the one
// enrollment request and nowhere else. The provisioning after 3-D uses the
// card-less field set of CP.VPOS (2026): MpiTransactionId, ECI and CAVV
// stand for the card and the amount, which the MPI transaction fixes; the
// bank refuses card data or an amount there with 1127 (§3A.8). So the card
// is not kept across the redirect, and the CVV the relay's page asks for is
// never sent anywhere.
//
// Hosts. Every URL comes from Config (the configuration's endpoint table,
// classic :4443 or 2026 API-gateway hosts); nothing here names a host. The
// ACS URL the MPI returns is the issuer's and is used as given (https only,
// unless the MPI itself is reached over plain http, i.e. a simulator).
package payflex

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"

	"github.com/posrelay/posrelay/bank"
)

// Config is one VakıfBank GET 7/24 merchant account.
type Config struct {
	MerchantID    string // HostMerchantId, e.g. 000100000013506
	TerminalNo    string // e.g. VP000579
	Password      string // merchant password (MerchantPassword in MPI and Search requests)
	MerchantType  int    // 0 standard, 1 main dealer, 2 sub dealer
	SubMerchantID string // only for MerchantType 2

	MPIURL    string // MPI_Enrollment.aspx (or the API gateway's Enrollment)
	VPOSURL   string // Vposreq.aspx (or the API gateway's Vposreq)
	SearchURL string // UIService/Search.aspx

	// AllowHalfSecure provisions after an attempt authentication (callback
	// Status "A"); otherwise such a payment fails with 3ds_half_secure.
	AllowHalfSecure bool
	// NewRequestID makes a VerifyEnrollmentRequestId, fresh for every
	// enrollment; nil = 32 random hex digits (the length the bank's test
	// system uses, VB-F2).
	NewRequestID func() string
}

// Gateway is a GET 7/24 merchant account.
type Gateway struct {
	cfg  Config
	vpos *VPOS
	doer bank.Doer
}

// StateRequestID is the payment state key under which the attempt's
// VerifyEnrollmentRequestId is kept between enrollment and callback.
const StateRequestID = "verify_enrollment_request_id"

// New checks the configuration and returns a gateway that sends its calls
// through doer.
func New(cfg Config, doer bank.Doer) (*Gateway, error) {
	vpos, err := NewVPOS(cfg.MerchantID, cfg.TerminalNo, cfg.Password, cfg.VPOSURL, cfg.SearchURL, doer)
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.MerchantType < 0 || cfg.MerchantType > 2:
		return nil, fmt.Errorf("payflex: MerchantType %d: use 0 (standard), 1 (main dealer) or 2 (sub dealer)", cfg.MerchantType)
	case cfg.MerchantType == 2 && cfg.SubMerchantID == "":
		return nil, errors.New("payflex: SubMerchantID is empty: a sub dealer (MerchantType 2) needs the sub merchant id VakıfBank gave")
	}
	if err := checkURL("MPIURL", cfg.MPIURL); err != nil {
		return nil, err
	}
	if cfg.NewRequestID == nil {
		cfg.NewRequestID = randomID
	}
	return &Gateway{cfg: cfg, vpos: vpos, doer: doer}, nil
}

func checkURL(name, raw string) error {
	u, err := url.Parse(raw)
	if raw == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("payflex: %s %q: want the bank's absolute https URL from the endpoint table", name, raw)
	}
	return nil
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// FormOrigins is empty: the relay's card page posts to the relay, and the
// ACS an enrollment names is added by the relay from the step's URL.
func (g *Gateway) FormOrigins() []string { return nil }

// Start asks for the relay's own card page: the MPI needs the card.
func (g *Gateway) Start(context.Context, *bank.Payment) (*bank.Step, error) {
	return &bank.Step{Kind: bank.CardForm}, nil
}

// brandName is the MPI's BrandName for a card (§3A.4).
func brandName(pan string) string {
	switch bank.BrandOf(pan) {
	case "visa":
		return "100"
	case "mastercard":
		return "200"
	case "troy":
		return "300"
	case "amex":
		return "400"
	}
	return ""
}

// enrollmentFields is the VerifyEnrollmentRequest of §3A.4, in the order
// of the library's golden request: card number and expiry included, so the
// caller must drop the result as soon as it is sent.
func (g *Gateway) enrollmentFields(p *bank.Payment, c *bank.Card, id, successURL, failureURL string) bank.Fields {
	yymm := c.ExpYear[len(c.ExpYear)-2:] + c.ExpMonth
	f := bank.Fields{
		bank.F("MerchantId", g.cfg.MerchantID),
		bank.F("MerchantPassword", g.cfg.Password),
		bank.F("MerchantType", strconv.Itoa(g.cfg.MerchantType)),
		bank.F("PurchaseAmount", bank.FormatAmount(p.Amount)),
		bank.F("VerifyEnrollmentRequestId", id),
		bank.F("Currency", p.Currency.Numeric),
		bank.F("SuccessUrl", successURL),
		bank.F("FailureUrl", failureURL),
		bank.F("Pan", c.Number),
		bank.F("ExpiryDate", yymm),
		bank.F("BrandName", brandName(c.Number)),
		bank.F("IsRecurring", "false"),
	}
	if p.Installments > 1 {
		f = append(f, bank.F("InstallmentCount", strconv.Itoa(p.Installments)))
	}
	if g.cfg.MerchantType == 2 {
		f = append(f, bank.F("SubMerchantId", g.cfg.SubMerchantID))
	}
	if p.ID != "" {
		f = append(f, bank.F("SessionInfo", p.ID))
	}
	return f
}

// enrollment is the MPI's answer (root IPaySecure, §3A.4).
type enrollment struct {
	Status           text `xml:"Message>VERes>Status"`
	PaReq            text `xml:"Message>VERes>PaReq"`
	ACSURL           text `xml:"Message>VERes>ACSUrl"`
	TermURL          text `xml:"Message>VERes>TermUrl"`
	MD               text `xml:"Message>VERes>MD"`
	RequestID        text `xml:"VerifyEnrollmentRequestId"`
	MessageErrorCode text `xml:"MessageErrorCode"`
	ErrorMessage     text `xml:"ErrorMessage"`
}

// parseEnrollment reads the MPI's answer.
func parseEnrollment(body []byte) (*enrollment, error) {
	var e enrollment
	root, err := DecodeXML(body, &e)
	if err != nil {
		return nil, fmt.Errorf("%w; check the MPI URL (mewebstudio/pos issue #186: the wrong port answers with a web page)", err)
	}
	if root != "IPaySecure" {
		return nil, fmt.Errorf("%w: root <%s>, want <IPaySecure>", bank.ErrMalformed, root)
	}
	return &e, nil
}

// SubmitCard sends the enrollment request with the card (§3A.4) and turns
// the MPI's answer into the next step: the hop to the ACS when the card is
// enrolled, else a failed outcome. The card is used for this one request.
// An error means nothing reached the issuer: the shopper may try again.
func (g *Gateway) SubmitCard(ctx context.Context, p *bank.Payment, c *bank.Card) (*bank.Step, error) {
	if p.Currency.Numeric == "" {
		return nil, errors.New("payflex: payment has no numeric currency code")
	}
	if brandName(c.Number) == "" {
		return failedStep(bank.NewResult(bank.CodeCardNotSupported, "", "VakıfBank MPI takes Visa, Mastercard, Troy and Amex cards")), nil
	}
	if p.CustomerIP == "" {
		// The provisioning would be refused after 3-D with 1096; say so now.
		return failedStep(bank.NewResult(bank.CodeMerchantConfig, "1096",
			"customer.ip is missing: VakıfBank needs the shopper's IP address (ClientIp); send customer.ip when creating the payment")), nil
	}
	if len(c.ExpYear) < 2 || len(c.ExpMonth) != 2 {
		return nil, errors.New("payflex: card expiry must be MM and YYYY")
	}
	id := g.cfg.NewRequestID()
	body := []byte(g.enrollmentFields(p, c, id, p.CallbackURL, p.CallbackURL).Encode())
	resp, err := g.doer.Do(ctx, &bank.Request{URL: g.cfg.MPIURL, ContentType: "application/x-www-form-urlencoded", Body: body, Sensitive: true})
	clear(body) // the request held the card number and expiry
	if err != nil {
		return nil, err
	}
	if resp.Status != 200 {
		return nil, &bank.TransportError{Op: "enrollment", Sent: true, Err: fmt.Errorf("%w: HTTP %d from the MPI", bank.ErrMalformed, resp.Status)}
	}
	e, err := parseEnrollment(resp.Body)
	if err != nil {
		return nil, &bank.TransportError{Op: "enrollment", Sent: true, Err: err}
	}
	if got := string(e.RequestID); got != "" && got != id {
		return nil, &bank.TransportError{Op: "enrollment", Sent: true,
			Err: fmt.Errorf("%w: MPI answered for VerifyEnrollmentRequestId %q, sent %q", bank.ErrMalformed, got, id)}
	}
	status, code, msg := string(e.Status), Token(string(e.MessageErrorCode)), Scrub(string(e.ErrorMessage))
	switch {
	case status == "Y" && code == "":
		acs, err := g.acsURL(string(e.ACSURL))
		if err != nil {
			return nil, &bank.TransportError{Op: "enrollment", Sent: true, Err: err}
		}
		if e.PaReq == "" || e.MD == "" || e.TermURL == "" {
			return nil, &bank.TransportError{Op: "enrollment", Sent: true,
				Err: fmt.Errorf("%w: VERes Y without PaReq, TermUrl or MD", bank.ErrMalformed)}
		}
		return &bank.Step{
			Kind:   bank.AutoPost,
			URL:    acs,
			Fields: bank.Fields{bank.F("PaReq", string(e.PaReq)), bank.F("TermUrl", string(e.TermURL)), bank.F("MD", string(e.MD))},
			State:  map[string]string{StateRequestID: id},
		}, nil
	case code != "":
		// E (or any status) with a code: 2005 merchant unknown, 1105 IP…
		return failedStep(Result(code, msg)), nil
	case status == "N":
		return failedStep(bank.NewResult(bank.Code3DSNotEnrolled, "VERes N", or(msg, "card not enrolled in 3-D Secure"))), nil
	case status == "U":
		return failedStep(bank.NewResult(bank.Code3DSFailed, "VERes U", or(msg, "3-D Secure enrollment could not be checked"))), nil
	case status == "":
		return nil, &bank.TransportError{Op: "enrollment", Sent: true, Err: fmt.Errorf("%w: IPaySecure without VERes Status", bank.ErrMalformed)}
	}
	return failedStep(bank.NewResult(bank.CodeBankError, "VERes "+Token(status), or(msg, "MPI error without a code"))), nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func failedStep(r bank.Result) *bank.Step {
	return &bank.Step{Outcome: &bank.Outcome{Status: bank.Failed, Result: r}}
}

// acsURL checks the ACS address the MPI named: an absolute https URL (plain
// http only when the MPI itself is plain http, i.e. a local simulator).
func (g *Gateway) acsURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return "", fmt.Errorf("%w: ACSUrl %q is not an absolute URL", bank.ErrMalformed, raw)
	}
	mpi, _ := url.Parse(g.cfg.MPIURL)
	if u.Scheme != "https" && !(u.Scheme == "http" && mpi.Scheme == "http") {
		return "", fmt.Errorf("%w: ACSUrl %q is not https", bank.ErrMalformed, raw)
	}
	return u.String(), nil
}
