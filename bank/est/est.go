// Package est speaks Payten's EST v3 platform ("Nestpay") as Halkbank runs
// it (protocol document §1): the signed 3-D form for the 3d_pay_hosting,
// 3d_pay and 3d models, verification of the bank's callbacks (ver3, and
// legacy ver1), the CC5Request XML API for provisioning, void, refund,
// post-auth and status, and the mapping of the bank's codes to the relay's
// normalised results. Other EST banks (Akbank, İşbank, Ziraat…) differ only
// in their endpoints.
package est

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/posrelay/posrelay/bank"
	"github.com/posrelay/posrelay/signer"
)

// Payment models (the form's storetype).
const (
	Model3DPayHosting = "3d_pay_hosting" // the bank's page takes the card; 3-D and authorisation at the bank
	Model3DPay        = "3d_pay"         // the relay's page takes the card; 3-D and authorisation at the bank
	Model3D           = "3d"             // the relay's page takes the card; 3-D at the bank, then provisioning
)

// Config is one Halkbank merchant account.
type Config struct {
	ClientID    string
	StoreKey    string
	APIUser     string
	APIPassword string
	Model       string // default 3d_pay_hosting
	GateURL     string // est3Dgate
	APIURL      string // /fim/api
	// AllowHalfSecure lets the 3d model provision after a half-secure
	// authentication (mdStatus 2, 3 or 4).
	AllowHalfSecure bool
	// NewRnd makes the form's random value; nil = 24 random hex digits.
	NewRnd func() string
}

// Gateway is an EST v3 merchant account.
type Gateway struct {
	cfg  Config
	doer bank.Doer
}

// New checks the configuration and returns a gateway that sends its API
// calls through doer.
func New(cfg Config, doer bank.Doer) (*Gateway, error) {
	if cfg.Model == "" {
		cfg.Model = Model3DPayHosting
	}
	switch cfg.Model {
	case Model3DPayHosting, Model3DPay, Model3D:
	default:
		return nil, fmt.Errorf("est: model %q is not supported; use 3d_pay_hosting, 3d_pay or 3d", cfg.Model)
	}
	if cfg.ClientID == "" || cfg.StoreKey == "" || cfg.GateURL == "" || cfg.APIURL == "" {
		return nil, errors.New("est: client id, store key, gate URL and API URL are required")
	}
	if cfg.NewRnd == nil {
		cfg.NewRnd = randomHex
	}
	return &Gateway{cfg: cfg, doer: doer}, nil
}

func randomHex() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// FormOrigins is the gate's origin: the shopper's browser posts the form there.
func (g *Gateway) FormOrigins() []string {
	return bank.OriginOf(g.cfg.GateURL)
}

// taksit is "" for a single payment, else the count (§0.1).
func taksit(n int) string {
	if n <= 1 {
		return ""
	}
	return strconv.Itoa(n)
}

// formFields are the 3-D form's fields without the hash (§1.4).
func (g *Gateway) formFields(p *bank.Payment) bank.Fields {
	f := bank.Fields{
		bank.F("clientid", g.cfg.ClientID),
		bank.F("storetype", g.cfg.Model),
		bank.F("amount", bank.FormatAmount(p.Amount)),
		bank.F("oid", p.OrderID),
		bank.F("okUrl", p.CallbackURL),
		bank.F("failUrl", p.CallbackURL),
		bank.F("rnd", g.cfg.NewRnd()),
		bank.F("lang", p.Lang()),
		bank.F("currency", p.Currency.Numeric),
		bank.F("taksit", taksit(p.Installments)),
		bank.F("TranType", p.Type.AuthName()),
		bank.F("hashAlgorithm", "ver3"),
	}
	if p.Email != "" {
		f = append(f, bank.Field{Name: "Email", Value: p.Email})
	}
	return f
}

// sign appends the ver3 hash over every field (§1.5).
func (g *Gateway) sign(f bank.Fields) bank.Fields {
	return append(f, bank.Field{Name: "hash", Value: signer.ESTv3Hash(f.Map(), g.cfg.StoreKey)})
}

// Start posts the signed form to the bank's hosted page (3d_pay_hosting),
// or asks for the relay's card page (3d_pay, 3d).
func (g *Gateway) Start(_ context.Context, p *bank.Payment) (*bank.Step, error) {
	if g.cfg.Model != Model3DPayHosting {
		return &bank.Step{Kind: bank.CardForm}, nil
	}
	return &bank.Step{Kind: bank.AutoPost, URL: g.cfg.GateURL, Fields: g.sign(g.formFields(p))}, nil
}

// SubmitCard builds the form with the card fields for 3d_pay and 3d. The
// browser posts it to the gate; the card fields are part of the hash.
func (g *Gateway) SubmitCard(_ context.Context, p *bank.Payment, c *bank.Card) (*bank.Step, error) {
	if g.cfg.Model == Model3DPayHosting {
		return nil, bank.ErrNotSupported
	}
	yy := c.ExpYear
	if len(yy) == 4 {
		yy = yy[2:]
	}
	f := append(g.formFields(p),
		bank.Field{Name: "pan", Value: c.Number},
		bank.Field{Name: "Ecom_Payment_Card_ExpDate_Month", Value: c.ExpMonth},
		bank.Field{Name: "Ecom_Payment_Card_ExpDate_Year", Value: yy},
		bank.Field{Name: "cv2", Value: c.CVV},
	)
	return &bank.Step{Kind: bank.AutoPost, URL: g.cfg.GateURL, Fields: g.sign(f)}, nil
}
