// Package payfor speaks QNB Finansbank's PayFor platform (protocol document
// §2): the signed 3-D form for the 3DHost, 3DPay and 3DModel models,
// verification of the bank's callbacks (ResponseHash, SHA-1 or SHA-256),
// the PayforRequest XML API (XMLGate) for 3-D provisioning, void, refund,
// post-auth, order inquiry and history, and the mapping of PayFor and ISO
// codes to the relay's normalised results. Ziraat Katılım and Enpara run
// the same platform with another MbrId and their own endpoints.
//
// Since 2026 QNB accepts the 3-D form of 3DPay and 3DModel only from the
// merchant's registered server address (M047 otherwise, §2.4), so for those
// models the relay posts the form itself and serves the bank's answer (the
// ACS page) to the shopper. 3DHost, the default, keeps card data away from
// the relay: the shopper's browser posts the signed form to the bank's page.
package payfor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/posrelay/posrelay/bank"
	"github.com/posrelay/posrelay/signer"
)

// Payment models (the form's SecureType, §2.3).
const (
	Model3DHost  = "3DHost"  // the bank's page takes the card; 3-D and authorisation at the bank
	Model3DPay   = "3DPay"   // the relay's page takes the card; 3-D and authorisation at the bank
	Model3DModel = "3DModel" // the relay's page takes the card; 3-D at the bank, then 3DModelPayment
)

// MbrIDQNB is QNB Finansbank's member id on the PayFor platform (§2.2);
// Ziraat Katılım is 12.
const MbrIDQNB = "5"

// maxRedirects bounds the redirects the relay follows after posting the
// 3-D form (the gate answers with the ACS page, possibly via redirects).
const maxRedirects = 5

// stateRnd is the Payment.State key of the form's Rnd, which the bank
// echoes in the callback: it names the attempt.
const stateRnd = "rnd"

// Config is one PayFor merchant account.
type Config struct {
	MbrID        string // member (bank) id; "" = MbrIDQNB
	MerchantID   string // "MerchantID" in the form, "MerchantId" in XML
	UserCode     string // API user
	UserPass     string // API password; XMLGate only
	MerchantPass string // the 3-D key; only inside hashes
	Model        string // Model3DHost (default), Model3DPay or Model3DModel
	GateURL      string // Default.aspx: the 3-D form of 3DPay and 3DModel, posted by the relay
	HostURL      string // 3DHost.aspx: the hosted page, posted by the shopper's browser
	APIURL       string // XMLGate.aspx
	// NewRnd makes the form's random value; nil = 24 random hex digits.
	NewRnd func() string
}

// Gateway is a PayFor merchant account.
type Gateway struct {
	cfg  Config
	doer bank.Doer
}

// New checks the configuration and returns a gateway that sends its bank
// calls through doer.
func New(cfg Config, doer bank.Doer) (*Gateway, error) {
	if cfg.Model == "" {
		cfg.Model = Model3DHost
	}
	if cfg.MbrID == "" {
		cfg.MbrID = MbrIDQNB
	}
	var problems []string
	switch cfg.Model {
	case Model3DHost, Model3DPay, Model3DModel:
	default:
		problems = append(problems, fmt.Sprintf("model %q is not a PayFor model; use 3DHost, 3DPay or 3DModel", cfg.Model))
	}
	for _, c := range []struct{ name, val string }{
		{"merchant id", cfg.MerchantID}, {"user code", cfg.UserCode},
		{"user password", cfg.UserPass}, {"merchant password", cfg.MerchantPass},
	} {
		if c.val == "" {
			problems = append(problems, c.name+" is empty; set the value the bank gave for the account")
		}
	}
	urls := []struct{ name, val string }{{"XMLGate URL (API)", cfg.APIURL}}
	if cfg.Model == Model3DHost {
		urls = append(urls, struct{ name, val string }{"3DHost.aspx URL", cfg.HostURL})
	} else {
		urls = append(urls, struct{ name, val string }{"Default.aspx URL (3-D gate)", cfg.GateURL})
	}
	for _, u := range urls {
		if p, err := url.Parse(u.val); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			problems = append(problems, fmt.Sprintf("%s %q is not an absolute http(s) URL; configure the account's endpoints", u.name, u.val))
		}
	}
	if len(problems) > 0 {
		return nil, errors.New("payfor: " + strings.Join(problems, "; "))
	}
	if cfg.NewRnd == nil {
		cfg.NewRnd = randomHex
	}
	return &Gateway{cfg: cfg, doer: doer}, nil
}

func randomHex() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// FormOrigins is the hosted page's origin for 3DHost, where the shopper's
// browser posts the form. In 3DPay and 3DModel the relay posts the form
// itself; the shopper's browser posts only inside the bank's own pages.
func (g *Gateway) FormOrigins() []string {
	if g.cfg.Model != Model3DHost {
		return nil
	}
	return bank.OriginOf(g.cfg.HostURL)
}

// installmentCount is "0" for a single payment, else the count (§0.1).
func installmentCount(n int) string {
	if n <= 1 {
		return "0"
	}
	return strconv.Itoa(n)
}

// lang is the form's and the API's language: upper case, as QNB demands
// since 2026 (§2.4, issue #298).
func lang(p *bank.Payment) string { return strings.ToUpper(p.Lang()) }

// formFields are the 3-D form's fields with the request hash (§2.4, §2.5).
func (g *Gateway) formFields(p *bank.Payment, rnd string) bank.Fields {
	amount, inst, txn := bank.FormatAmount(p.Amount), installmentCount(p.Installments), p.Type.AuthName()
	return bank.Fields{
		bank.F("MbrId", g.cfg.MbrID),
		bank.F("MerchantID", g.cfg.MerchantID),
		bank.F("UserCode", g.cfg.UserCode),
		bank.F("OrderId", p.OrderID),
		bank.F("Lang", lang(p)),
		bank.F("SecureType", g.cfg.Model),
		bank.F("TxnType", txn),
		bank.F("PurchAmount", amount),
		bank.F("InstallmentCount", inst),
		bank.F("Currency", p.Currency.Numeric),
		bank.F("OkUrl", p.CallbackURL),
		bank.F("FailUrl", p.CallbackURL),
		bank.F("Rnd", rnd),
		bank.F("MOTO", "0"),
		bank.F("Hash", signer.PayForRequestHash(g.cfg.MbrID, p.OrderID, amount, p.CallbackURL, p.CallbackURL, txn, inst, rnd, g.cfg.MerchantPass)),
	}
}

// Start posts the signed form to the bank's hosted page (3DHost), or asks
// for the relay's card page (3DPay, 3DModel).
func (g *Gateway) Start(_ context.Context, p *bank.Payment) (*bank.Step, error) {
	if g.cfg.Model != Model3DHost {
		return &bank.Step{Kind: bank.CardForm}, nil
	}
	rnd := g.cfg.NewRnd()
	return &bank.Step{Kind: bank.AutoPost, URL: g.cfg.HostURL, Fields: g.formFields(p, rnd), State: map[string]string{stateRnd: rnd}}, nil
}

// SubmitCard posts the 3-D form with the card (3DPay, 3DModel) to the gate
// from the relay's address and returns the bank's answer for the shopper:
// the ACS page, served by the relay. A refusal in that answer (M047, a hash
// error, a duplicate order, a card that cannot do 3-D) ends the payment
// here with its result. A transport error is returned as is: nothing was
// charged, so the shopper may try again.
func (g *Gateway) SubmitCard(ctx context.Context, p *bank.Payment, c *bank.Card) (*bank.Step, error) {
	if g.cfg.Model == Model3DHost {
		return nil, bank.ErrNotSupported
	}
	yy := c.ExpYear
	if len(yy) == 4 {
		yy = yy[2:]
	}
	rnd := g.cfg.NewRnd()
	f := append(g.formFields(p, rnd),
		bank.F("CardHolderName", c.Holder),
		bank.F("Pan", c.Number),
		bank.F("Expiry", c.ExpMonth+yy),
		bank.F("Cvv2", c.CVV),
	)
	body := []byte(f.Encode())
	resp, err := g.doer.Do(ctx, &bank.Request{URL: g.cfg.GateURL, ContentType: "application/x-www-form-urlencoded",
		Accept: "text/html", Body: body, FollowRedirects: maxRedirects, Sensitive: true})
	clear(body) // the card's bytes
	if err != nil {
		return nil, fmt.Errorf("payfor 3-D form: %w", err)
	}
	return g.gateAnswer(p, resp, rnd)
}
