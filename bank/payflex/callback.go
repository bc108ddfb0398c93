package payflex

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/posrelay/posrelay/bank"
)

// Finish keys (bank.Verified.Finish).
const (
	finishECI    = "eci"
	finishCAVV   = "cavv"
	finishMasked = "masked_pan"
)

// Verify reads the MPI callback (§3A.6). It carries no hash, so it is bound
// to the payment by the VerifyEnrollmentRequestId this attempt's enrollment
// used (kept in the payment's state): another value — another payment's,
// an earlier attempt's — is bank.ErrBinding. Amount and currency are never
// taken from it; PurchAmount (minor units) and PurchCurrency, when present,
// must match the payment. Only Status Y (and A, when half-secure payments
// are allowed) goes on to provisioning; the callback itself is never the
// word that a payment is paid.
func (g *Gateway) Verify(p *bank.Payment, cb *bank.Callback) (*bank.Verified, error) {
	f := cb.Fields
	want := p.State[StateRequestID]
	if want == "" {
		return nil, fmt.Errorf("%w: no enrollment on record for this payment", bank.ErrBinding)
	}
	got, ok := f.Get("VerifyEnrollmentRequestId")
	if !ok || got == "" {
		return nil, fmt.Errorf("%w: callback has no VerifyEnrollmentRequestId", bank.ErrMalformed)
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return nil, fmt.Errorf("%w: VerifyEnrollmentRequestId is not this attempt's", bank.ErrBinding)
	}
	if m := f.Value("MerchantId"); m != "" && m != g.cfg.MerchantID {
		return nil, fmt.Errorf("%w: MerchantId %q is not this account's", bank.ErrBinding, Token(m))
	}
	if s := f.Value("SessionInfo"); s != "" && p.ID != "" && s != p.ID {
		return nil, fmt.Errorf("%w: SessionInfo names another payment", bank.ErrBinding)
	}
	if a := f.Value("PurchAmount"); a != "" {
		n, err := strconv.ParseInt(a, 10, 64)
		if err != nil || n != p.Amount {
			return nil, fmt.Errorf("%w: PurchAmount %q (minor units), payment is for %d", bank.ErrBinding, Token(a), p.Amount)
		}
	}
	if c := f.Value("PurchCurrency"); c != "" && c != p.Currency.Numeric {
		return nil, fmt.Errorf("%w: PurchCurrency %q, payment is in %s", bank.ErrBinding, Token(c), p.Currency.Numeric)
	}

	inst, ok := bank.ParseInstallments(f.Value("InstallmentCount"))
	if !ok {
		return nil, fmt.Errorf("%w: InstallmentCount %q is not a count", bank.ErrMalformed, Token(f.Value("InstallmentCount")))
	}

	status := f.Value("Status")
	eci, cavv := f.Value("Eci"), f.Value("Cavv")
	v := &bank.Verified{Echo: bank.Echo{OrderID: p.OrderID, Installments: inst}, Summary: "Status=" + Token(status)}
	if eci != "" {
		v.Summary += " Eci=" + Token(eci)
	}
	masked := bank.CleanMaskedPAN(f.Value("Pan")) // the MPI may send the full number (VB-F2)
	proceed := status == "Y" || status == "A" && g.cfg.AllowHalfSecure
	switch {
	case proceed && (eci == "" || cavv == ""):
		return nil, fmt.Errorf("%w: Status %s without Eci or Cavv", bank.ErrMalformed, Token(status))
	case proceed:
		v.Finish = map[string]string{finishECI: eci, finishCAVV: cavv, finishMasked: masked}
		return v, nil
	}
	var res bank.Result
	code, msg := Token(f.Value("ErrorCode")), Scrub(f.Value("ErrorMessage"))
	switch {
	case status == "A":
		res = bank.NewResult(bank.Code3DSHalfSecure, "Status A", msg)
	case code != "":
		res = Result(code, msg) // e.g. 1105: the relay's address is not registered
		if res.Code == bank.CodeDeclined {
			res = bank.NewResult(bank.Code3DSFailed, res.BankCode, res.BankMessage)
		}
	case status == "":
		return nil, fmt.Errorf("%w: callback has no Status", bank.ErrMalformed)
	default:
		res = bank.NewResult(bank.Code3DSFailed, "Status "+Token(status), msg)
	}
	v.Outcome = &bank.Outcome{Status: bank.Failed, Result: res, Ref: bank.Ref{MaskedPAN: masked}, Echo: v.Echo}
	return v, nil
}

// Token keeps a short code from outside input (a status, an ECI, an error
// code) for the record and the logs: letters and digits, at most 8 (a
// merchant id is 15: it reads "?" when it is wrong); anything else reads
// "?". What the shopper's browser brings is never stored or logged as sent.
func Token(s string) string {
	if len(s) > 8 || strings.Trim(s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != "" {
		return "?"
	}
	return s
}

// Scrub prepares a bank text from outside input for the record: runs of 12
// or more digits (a card number, whoever put it there) are masked, and the
// text is cut to 200 bytes.
func Scrub(s string) string {
	var b strings.Builder
	run := 0
	flush := func(end int) {
		if run >= 12 {
			b.WriteString(bank.MaskPAN(s[end-run : end]))
		} else {
			b.WriteString(s[end-run : end])
		}
		run = 0
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			run++
			continue
		}
		flush(i)
		b.WriteByte(s[i])
	}
	flush(len(s))
	out := b.String()
	if len(out) > 200 {
		out = strings.ToValidUTF8(out[:200], "")
	}
	return out
}

// Finish provisions the payment after an authenticated callback (§3A.8):
// the card-less VposRequest with the MPI's ECI and CAVV and this attempt's
// VerifyEnrollmentRequestId as MpiTransactionId. ResultCode 0000 is the
// only approval. An error leaves the outcome to the status query.
func (g *Gateway) Finish(ctx context.Context, p *bank.Payment, v *bank.Verified) (*bank.Outcome, error) {
	id := p.State[StateRequestID]
	if v.Finish == nil || id == "" {
		return nil, errors.New("payflex: nothing to finish: no authenticated callback")
	}
	out, err := g.vpos.provision(ctx, p, id, v.Finish[finishECI], v.Finish[finishCAVV])
	if err != nil {
		return nil, err
	}
	out.Echo = v.Echo
	if out.Ref.MaskedPAN == "" {
		out.Ref.MaskedPAN = v.Finish[finishMasked]
	}
	return out, nil
}

// Status asks Search (§3A.8).
func (g *Gateway) Status(ctx context.Context, p *bank.Payment) (*bank.StatusResult, error) {
	return g.vpos.Status(ctx, p)
}

// Operate sends Refund, Cancel or Capture (§3A.8).
func (g *Gateway) Operate(ctx context.Context, p *bank.Payment, op *bank.Operation) (*bank.OpResult, error) {
	return g.vpos.Operate(ctx, p, op)
}
