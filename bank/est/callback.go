package est

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/posrelay/posrelay/bank"
	"github.com/posrelay/posrelay/signer"
)

// ver1Layouts are the HASHPARAMS lists (§1.10, EST-F3/F9) a legacy ver1
// callback may carry, per model. A ver1 HASH signs only HASHPARAMSVAL, the
// concatenation of the listed values; HASHPARAMS itself is not signed. Any
// other list would let a callback cut the signed text into fields of its
// choosing (empty oid and clientid, their text under another name), so
// only the bank's own layouts are accepted: every field the decision reads
// is then at a fixed place. The 3d model's layout does not cover
// ProcReturnCode and Response, so the authorising models refuse it.
var ver1Layouts = map[string][]string{
	Model3D: {
		"clientid:oid:mdStatus:cavv:eci:md:rnd",
		"clientid:oid:AuthCode:ProcReturnCode:Response:mdStatus:cavv:eci:md:rnd",
	},
	Model3DPay:        {"clientid:oid:AuthCode:ProcReturnCode:Response:mdStatus:cavv:eci:md:rnd"},
	Model3DPayHosting: {"clientid:oid:AuthCode:ProcReturnCode:Response:mdStatus:cavv:eci:md:rnd"},
}

// Verify checks the callback's hash over all received fields and reads
// the bank's decision (§1.6). It does no I/O.
func (g *Gateway) Verify(p *bank.Payment, cb *bank.Callback) (*bank.Verified, error) {
	f := cb.Fields.Map()
	legacy, err := g.verifyHash(f)
	if err != nil {
		return nil, err
	}
	if cid := f["clientid"]; (cid != "" || legacy) && cid != g.cfg.ClientID {
		return nil, fmt.Errorf("%w: clientid %q is not this account's", bank.ErrBinding, cid)
	}
	oid := f["oid"]
	if oid == "" && !legacy { // ver1 does not sign ReturnOid
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

	if md == "" && f["ProcReturnCode"] == "00" && g.cfg.Model != Model3D {
		// No 3-D status, yet the bank says it authorised: the money may
		// have moved, so neither approve nor fail; the status query decides.
		v.Summary = "ProcReturnCode 00 without mdStatus"
		v.Outcome = &bank.Outcome{Status: bank.Unknown, Result: bank.NewResult(bank.CodeMalformed, "00", "approval without mdStatus"), Ref: ref, Echo: v.Echo}
		return v, nil
	}
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
		case md != "1" && prc == "00":
			// Half-secure (or otherwise not fully authenticated) but the bank
			// says it authorised: the money may have moved. Never a false
			// "failed": the status query decides.
			v.Outcome = &bank.Outcome{Status: bank.Unknown, Result: bank.NewResult(bank.CodeUnknown, prc, "mdStatus "+md+" with ProcReturnCode 00"), Ref: ref, Echo: v.Echo}
		case md != "1":
			res := mdStatusResult(md, f)
			if prc != "" && prc != "00" {
				res = procResult(prc, f["ErrMsg"], extraErrorCode(f))
			}
			v.Outcome = &bank.Outcome{Status: bank.Failed, Result: res, Ref: ref, Echo: v.Echo}
		case prc == "00" && (resp == "" || resp == "Approved") && legacy:
			// A legacy ver1 hash leaves most fields unsigned; the relay's own
			// forms ask for ver3, so an approval signed with ver1 is only
			// believed once the bank's status API confirms it.
			v.Outcome = &bank.Outcome{Status: bank.Unknown, Result: bank.NewResult(bank.CodeUnknown, prc, "ver1-signed approval; confirming by status query"), Ref: ref, Echo: v.Echo}
		case prc == "00" && (resp == "" || resp == "Approved"):
			v.Outcome = &bank.Outcome{Status: bank.Succeeded, Result: bank.NewResult(bank.CodeApproved, prc, f["ErrMsg"]), Ref: ref, Echo: v.Echo}
		case prc == "" && resp == "":
			// Authenticated, but the answer says nothing about the
			// authorisation: only the status API can tell.
			v.Outcome = &bank.Outcome{Status: bank.Unknown, Result: bank.NewResult(bank.CodeMalformed, "", "callback without ProcReturnCode"), Ref: ref, Echo: v.Echo}
		case prc == "00":
			// ProcReturnCode says approved, Response says otherwise.
			v.Outcome = &bank.Outcome{Status: bank.Unknown, Result: bank.NewResult(bank.CodeMalformed, prc, "ProcReturnCode 00 with Response "+resp), Ref: ref, Echo: v.Echo}
		default:
			v.Outcome = &bank.Outcome{Status: bank.Failed, Result: procResult(prc, f["ErrMsg"], extraErrorCode(f)), Ref: ref, Echo: v.Echo}
		}
		return v, nil
	}
}

// verifyHash recognises ver3 and legacy ver1 callbacks; legacy reports a
// ver1 callback, whose fields outside HASHPARAMS are not signed.
func (g *Gateway) verifyHash(f map[string]string) (legacy bool, err error) {
	if strings.EqualFold(f["hashAlgorithm"], "ver3") || f["HASHPARAMS"] == "" {
		if err := signer.VerifyESTv3(f, g.cfg.StoreKey); err != nil {
			return false, fmt.Errorf("%w: ver3: %v", bank.ErrHashMismatch, err)
		}
		return false, nil
	}
	if err := signer.VerifyESTv1(f, g.cfg.StoreKey); err != nil {
		return true, fmt.Errorf("%w: ver1: %v", bank.ErrHashMismatch, err)
	}
	layout := strings.TrimSuffix(f["HASHPARAMS"], ":")
	if !slices.Contains(ver1Layouts[g.cfg.Model], layout) {
		return true, fmt.Errorf("%w: ver1 HASHPARAMS %q is not a layout the relay accepts for model %s", bank.ErrHashMismatch, f["HASHPARAMS"], g.cfg.Model)
	}
	return true, nil
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
		Type: p.Type.AuthName(), IPAddress: p.CustomerIP, OrderID: p.OrderID,
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
