package est

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/posrelay/posrelay/bank"
	"github.com/posrelay/posrelay/signer"
)

// ver1Needed are the fields a legacy ver1 callback must cover with its
// HASHPARAMS before the relay bases a decision on them.
var ver1Needed = map[string][]string{
	Model3D:           {"clientid", "oid", "mdStatus", "md", "cavv", "eci"},
	Model3DPay:        {"clientid", "oid", "mdStatus", "ProcReturnCode", "Response"},
	Model3DPayHosting: {"clientid", "oid", "mdStatus", "ProcReturnCode", "Response"},
}

// Verify checks the callback's hash over all received fields and reads
// the bank's decision (§1.6). It does no I/O.
func (g *Gateway) Verify(p *bank.Payment, cb *bank.Callback) (*bank.Verified, error) {
	f := cb.Fields.Map()
	if err := g.verifyHash(f); err != nil {
		return nil, err
	}
	if cid := f["clientid"]; cid != "" && cid != g.cfg.ClientID {
		return nil, fmt.Errorf("%w: clientid %q is not this account's", bank.ErrBinding, cid)
	}
	oid := f["oid"]
	if oid == "" {
		oid = f["ReturnOid"]
	}
	if oid == "" {
		return nil, fmt.Errorf("%w: no oid", bank.ErrMalformed)
	}
	v := &bank.Verified{Echo: bank.Echo{OrderID: oid}}
	if a := f["amount"]; a != "" {
		if amt, err := bank.ParseAmount(a); err == nil {
			v.Echo.Amount, v.Echo.HasAmount = amt, true
		} else if !strings.Contains(a, "*") {
			return nil, fmt.Errorf("%w: amount %q", bank.ErrMalformed, a)
		}
	}
	if c := f["currency"]; c != "" && !strings.Contains(c, "*") { // masked on gateway errors
		v.Echo.Currency = c
	}
	md := f["mdStatus"]
	v.Summary = "mdStatus=" + md
	ref := bank.Ref{AuthCode: f["AuthCode"], HostRef: f["HostRefNum"], TransID: f["TransId"], MaskedPAN: maskedPAN(f)}

	if md == "" { // a gateway error before 3-D (EST-F4)
		code := f["ErrorCode"]
		if code == "" {
			code = f["ErrCode"]
		}
		v.Summary = "gateway error " + code
		v.Outcome = &bank.Outcome{Status: bank.Failed, Result: gatewayErrorResult(code, f["ErrMsg"]), Ref: ref, Echo: v.Echo}
		return v, nil
	}
	switch g.cfg.Model {
	case Model3D:
		if md == "1" || g.cfg.AllowHalfSecure && (md == "2" || md == "3" || md == "4") {
			if f["md"] == "" {
				return nil, fmt.Errorf("%w: mdStatus %s without md", bank.ErrMalformed, md)
			}
			v.Finish = map[string]string{"md": f["md"], "xid": f["xid"], "eci": f["eci"], "cavv": f["cavv"]}
			return v, nil
		}
		v.Outcome = &bank.Outcome{Status: bank.Failed, Result: mdStatusResult(md, f), Ref: ref, Echo: v.Echo}
		return v, nil
	default: // 3d_pay, 3d_pay_hosting: the bank has authorised (or not) already
		prc, resp := f["ProcReturnCode"], f["Response"]
		v.Summary += " ProcReturnCode=" + prc
		switch {
		case md != "1":
			res := mdStatusResult(md, f)
			if prc != "" && prc != "00" {
				res = procResult(prc, f["ErrMsg"], extraErrorCode(f))
			}
			v.Outcome = &bank.Outcome{Status: bank.Failed, Result: res, Ref: ref, Echo: v.Echo}
		case prc == "00" && (resp == "" || resp == "Approved"):
			v.Outcome = &bank.Outcome{Status: bank.Succeeded, Result: bank.NewResult(bank.CodeApproved, prc, f["ErrMsg"]), Ref: ref, Echo: v.Echo}
		case prc == "" && resp == "":
			// Authenticated, but the answer says nothing about the
			// authorisation: only the status API can tell.
			v.Outcome = &bank.Outcome{Status: bank.Unknown, Result: bank.NewResult(bank.CodeMalformed, "", "callback without ProcReturnCode"), Ref: ref, Echo: v.Echo}
		default:
			v.Outcome = &bank.Outcome{Status: bank.Failed, Result: procResult(prc, f["ErrMsg"], extraErrorCode(f)), Ref: ref, Echo: v.Echo}
		}
		return v, nil
	}
}

// verifyHash recognises ver3 and legacy ver1 callbacks.
func (g *Gateway) verifyHash(f map[string]string) error {
	if strings.EqualFold(f["hashAlgorithm"], "ver3") || f["HASHPARAMS"] == "" {
		if err := signer.VerifyESTv3(f, g.cfg.StoreKey); err != nil {
			return fmt.Errorf("%w: ver3: %v", bank.ErrHashMismatch, err)
		}
		return nil
	}
	if err := signer.VerifyESTv1(f, g.cfg.StoreKey); err != nil {
		return fmt.Errorf("%w: ver1: %v", bank.ErrHashMismatch, err)
	}
	covered := map[string]bool{}
	for _, k := range strings.Split(f["HASHPARAMS"], ":") {
		covered[k] = true
	}
	for _, k := range ver1Needed[g.cfg.Model] {
		if _, present := f[k]; present && !covered[k] {
			return fmt.Errorf("%w: ver1 callback does not sign %s", bank.ErrHashMismatch, k)
		}
	}
	return nil
}

func maskedPAN(f map[string]string) string {
	if m := f["MaskedPan"]; m != "" {
		return m
	}
	return strings.ReplaceAll(f["maskedCreditCard"], " ", "")
}

func extraErrorCode(f map[string]string) string {
	for _, k := range []string{"EXTRA.ERRORCODE", "EXTRA_ERRORCODE", "ErrorCode"} {
		if v := f[k]; v != "" {
			return v
		}
	}
	return ""
}

// Finish provisions a 3d payment after its callback (§1.7.1): the card is
// identified by md, nothing card-related is sent.
func (g *Gateway) Finish(ctx context.Context, p *bank.Payment, v *bank.Verified) (*bank.Outcome, error) {
	if v.Finish == nil {
		return nil, errors.New("est: nothing to finish")
	}
	req := &cc5Request{
		Name: g.cfg.APIUser, Password: g.cfg.APIPassword, ClientID: g.cfg.ClientID,
		Type: tranType(p.Type), IPAddress: p.CustomerIP, OrderID: p.OrderID,
		Total: bank.FormatAmount(p.Amount), Currency: p.Currency.Numeric, Taksit: ptr(taksit(p.Installments)),
		Number: v.Finish["md"], PayerTxnID: v.Finish["xid"], PayerSecurityLevel: v.Finish["eci"],
		PayerAuthenticationCode: v.Finish["cavv"], Mode: "P",
	}
	resp, err := g.call(ctx, "provision", req)
	if err != nil {
		return nil, err
	}
	out := &bank.Outcome{Echo: v.Echo, Ref: bank.Ref{AuthCode: resp.AuthCode, HostRef: resp.HostRefNum, TransID: resp.TransID}}
	if resp.ProcReturnCode == "00" {
		out.Status, out.Result = bank.Succeeded, bank.NewResult(bank.CodeApproved, "00", resp.ErrMsg)
	} else {
		out.Status, out.Result = bank.Failed, procResult(resp.ProcReturnCode, resp.ErrMsg, resp.Extra["ERRORCODE"])
	}
	return out, nil
}

func ptr(s string) *string { return &s }
