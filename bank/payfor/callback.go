package payfor

import (
	"context"
	"errors"
	"fmt"

	"github.com/posrelay/posrelay/bank"
	"github.com/posrelay/posrelay/signer"
)

// Verify checks the callback's ResponseHash for every model and outcome
// (SHA-1 or SHA-256, §2.6), that it belongs to this account and attempt,
// and reads the bank's decision. It does no I/O.
//
// The hash covers only OrderId, AuthCode, ProcReturnCode, 3DStatus and
// ResponseRnd; everything else the callback says (amount, currency, model,
// RequestGuid) is unsigned and is checked against what the relay knows:
// here against the account, by the relay against its record (Echo).
func (g *Gateway) Verify(p *bank.Payment, cb *bank.Callback) (*bank.Verified, error) {
	f := cb.Fields.Map()
	if err := signer.VerifyPayForResponse(f, g.cfg.MerchantID, g.cfg.MerchantPass, g.cfg.UserCode); err != nil {
		return nil, fmt.Errorf("%w: %v", bank.ErrHashMismatch, err)
	}
	return g.decide(f, p.State[stateRnd])
}

// decide reads a callback's fields (§2.6): binding to the account and
// attempt, the echo of the order, and the outcome. wantRnd is the form's
// Rnd when known; the bank echoes it.
func (g *Gateway) decide(f map[string]string, wantRnd string) (*bank.Verified, error) {
	for _, k := range []string{"MerchantID", "MerchantId"} {
		if id := f[k]; id != "" && id != g.cfg.MerchantID {
			return nil, fmt.Errorf("%w: %s is not this account's merchant id", bank.ErrBinding, k)
		}
	}
	if st := f["SecureType"]; st != "" && st != g.cfg.Model {
		return nil, fmt.Errorf("%w: SecureType is not %s, the account's model; the bank's model and the relay's model setting must agree", bank.ErrBinding, g.cfg.Model)
	}
	oid := f["OrderId"]
	if oid == "" {
		return nil, fmt.Errorf("%w: callback without OrderId", bank.ErrMalformed)
	}
	if rnd := f["Rnd"]; wantRnd != "" && rnd != "" && rnd != wantRnd {
		return nil, fmt.Errorf("%w: Rnd is not the one this attempt's form sent", bank.ErrBinding)
	}
	v := &bank.Verified{Echo: bank.Echo{OrderID: oid, Currency: f["Currency"]}}
	inst, ok := bank.ParseInstallments(f["InstallmentCount"])
	if !ok {
		return nil, fmt.Errorf("%w: InstallmentCount is not a count", bank.ErrMalformed)
	}
	v.Echo.Installments = inst
	if a := f["PurchAmount"]; a != "" {
		amt, err := bank.ParseAmount(a)
		if err != nil {
			return nil, fmt.Errorf("%w: PurchAmount is not a decimal amount", bank.ErrMalformed)
		}
		v.Echo.Amount, v.Echo.HasAmount = amt, true
	}
	status3D, prc := f["3DStatus"], f["ProcReturnCode"]
	v.Summary = "3DStatus=" + status3D + " ProcReturnCode=" + prc
	ref := bank.Ref{AuthCode: f["AuthCode"], HostRef: f["HostRefNum"], MaskedPAN: f["CardMask"]}
	out := func(st bank.Status, res bank.Result) (*bank.Verified, error) {
		v.Outcome = &bank.Outcome{Status: st, Result: res, Ref: ref, Echo: v.Echo}
		return v, nil
	}
	msg, irc := message(f), f["IrcCode"]
	if g.cfg.Model == Model3DModel {
		switch {
		case status3D == "1" && (prc == "V033" || prc == ""):
			guid := f["RequestGuid"]
			if guid == "" || guid == "0" {
				return nil, fmt.Errorf("%w: 3DStatus 1 without RequestGuid; the payment cannot be provisioned", bank.ErrMalformed)
			}
			v.Finish = map[string]string{"RequestGuid": guid, "CardMask": f["CardMask"]}
			return v, nil
		case prc == "00":
			// A 3DModel callback cannot say "paid"; if the bank charged
			// anyway (its model differs from ours) only the status query
			// can tell, and provisioning must not be attempted.
			return out(bank.Unknown, bank.NewResult(bank.CodeUnknown, prc, "3DModel callback with ProcReturnCode 00"))
		}
		return out(closing(prc, msg, irc, status3D != "1"))
	}
	switch {
	case status3D == "1" && prc == "00":
		return out(bank.Succeeded, bank.NewResult(bank.CodeApproved, prc, msg))
	case prc == "00":
		// Paid, says the code, but not authenticated, says 3DStatus: the
		// bank may have charged; only the status query can tell.
		return out(bank.Unknown, bank.NewResult(bank.CodeUnknown, prc, "ProcReturnCode 00 with 3DStatus "+status3D))
	case status3D == "1" && prc == "":
		// Authenticated, but nothing about the authorisation.
		return out(bank.Unknown, bank.NewResult(bank.CodeUnknown, "", "callback without ProcReturnCode"))
	}
	return out(closing(prc, msg, irc, status3D != "1"))
}

// message is the bank's text of a callback or answer, at most 200
// characters (it is unsigned and ends up in webhooks).
func message(f map[string]string) string {
	m := f["ErrMsg"]
	if m == "" {
		m = f["IrcDet"]
	}
	return clip(m, 200)
}

// Finish provisions a 3DModel payment after its callback with
// 3DModelPayment (§2.7): the RequestGuid and the same OrderId, no account
// block, nothing card-related.
func (g *Gateway) Finish(ctx context.Context, p *bank.Payment, v *bank.Verified) (*bank.Outcome, error) {
	guid := v.Finish["RequestGuid"]
	if guid == "" {
		return nil, errors.New("payfor: nothing to finish: the callback gave no RequestGuid")
	}
	r, err := g.call(ctx, "3DModelPayment", bank.Fields{
		bank.F("RequestGuid", guid),
		bank.F("UserCode", g.cfg.UserCode),
		bank.F("UserPass", g.cfg.UserPass),
		bank.F("OrderId", p.OrderID),
		bank.F("SecureType", "3DModelPayment"),
	})
	if err != nil {
		return nil, err
	}
	f := r.fields
	out := &bank.Outcome{Echo: v.Echo, Ref: bank.Ref{AuthCode: f["AuthCode"], HostRef: f["HostRefNum"], TransID: f["TransId"], MaskedPAN: v.Finish["CardMask"]}}
	prc := f["ProcReturnCode"]
	switch {
	case prc == "00":
		out.Status, out.Result = bank.Succeeded, bank.NewResult(bank.CodeApproved, prc, message(f))
	case prc == "":
		return nil, &bank.TransportError{Op: "payfor 3DModelPayment", Sent: true, Err: fmt.Errorf("%w: answer without ProcReturnCode", bank.ErrMalformed)}
	default:
		out.Status, out.Result = closing(prc, message(f), f["IrcCode"], false)
	}
	return out, nil
}
