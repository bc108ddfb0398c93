package payflex

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/posrelay/posrelay/bank"
)

// fixtureCallback reads an MPI callback fixture (VB-F1, VB-F2) as the
// fields the relay receives.
func fixtureCallback(t testing.TB, name string, set map[string]string) *bank.Callback {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(readTestdata(t, name), &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range set {
		if v == "-" {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	cb := &bank.Callback{Method: "POST"}
	for _, k := range []string{"MerchantId", "SubMerchantNo", "SubMerchantName", "SubMerchantNumber", "PurchAmount", "PurchCurrency",
		"VerifyEnrollmentRequestId", "SessionInfo", "SessionInfo[data]", "InstallmentCount", "Pan", "Expiry", "Xid", "Status", "Cavv",
		"Eci", "ExpSign", "ErrorCode", "ErrorMessage"} {
		if v, ok := m[k]; ok {
			cb.Fields = append(cb.Fields, bank.F(k, v))
		}
	}
	return cb
}

// vbF2Payment is the payment VB-F2 belongs to: 1.01 TRY, merchant
// 000100000013506, request id ce06048a….
func vbF2Payment() *bank.Payment {
	p := payment()
	p.ID, p.OrderID, p.Amount = "", "202303091489", 101
	p.State = map[string]string{StateRequestID: "ce06048a3e9c0cd1d437803fb38b5ad0"}
	return p
}

func TestVerify(t *testing.T) {
	vbF2 := func(set map[string]string) *bank.Callback { return fixtureCallback(t, "vb-f2.json", set) }
	tests := []struct {
		name     string
		cb       *bank.Callback
		pay      func(*bank.Payment)
		half     bool
		wantErr  error
		finish   bool   // goes on to provisioning
		code     string // else the failed outcome's code
		bankCode string
	}{
		{"VB-F2 Status Y provisions", vbF2(nil), nil, false, nil, true, "", ""},
		{"Status Y arriving as a GET too", vbF2(nil), nil, false, nil, true, "", ""},
		{"VB-F1 Status E 1105", fixtureCallback(t, "vb-f1.json", map[string]string{"MerchantId": "000100000013506"}),
			func(p *bank.Payment) {
				p.Amount, p.State[StateRequestID] = 100, "order-id-123"
			}, false, nil, false, bank.CodeMerchantConfig, "1105"},
		{"Status N", vbF2(map[string]string{"Status": "N", "Cavv": "", "Eci": ""}), nil, false, nil, false, bank.Code3DSFailed, "Status N"},
		{"Status N with the ACS's code", vbF2(map[string]string{"Status": "N", "ErrorCode": "0400"}), nil, false, nil, false, bank.Code3DSFailed, "0400"},
		{"Status U with an unknown code", vbF2(map[string]string{"Status": "U", "ErrorCode": "7001"}), nil, false, nil, false, bank.Code3DSFailed, "7001"},
		{"Status A refused", vbF2(map[string]string{"Status": "A", "Eci": "06"}), nil, false, nil, false, bank.Code3DSHalfSecure, "Status A"},
		{"Status A allowed", vbF2(map[string]string{"Status": "A", "Eci": "06"}), nil, true, nil, true, "", ""},
		{"another attempt's request id", vbF2(map[string]string{"VerifyEnrollmentRequestId": "0aebb0757acccae6fba75b2e4d78cecf"}), nil, false, bank.ErrBinding, false, "", ""},
		{"request id differs in case", vbF2(map[string]string{"VerifyEnrollmentRequestId": "CE06048A3E9C0CD1D437803FB38B5AD0"}), nil, false, bank.ErrBinding, false, "", ""},
		{"no enrollment on record", vbF2(nil), func(p *bank.Payment) { p.State = nil }, false, bank.ErrBinding, false, "", ""},
		{"no request id", vbF2(map[string]string{"VerifyEnrollmentRequestId": "-"}), nil, false, bank.ErrMalformed, false, "", ""},
		{"other amount (minor units)", vbF2(map[string]string{"PurchAmount": "1.01"}), nil, false, bank.ErrBinding, false, "", ""},
		{"other amount", vbF2(map[string]string{"PurchAmount": "10100"}), nil, false, bank.ErrBinding, false, "", ""},
		{"other currency", vbF2(map[string]string{"PurchCurrency": "840"}), nil, false, bank.ErrBinding, false, "", ""},
		{"other merchant", vbF2(map[string]string{"MerchantId": "000000000111111"}), nil, false, bank.ErrBinding, false, "", ""},
		{"other payment's session", vbF2(map[string]string{"SessionInfo": "pay_other"}), func(p *bank.Payment) { p.ID = "pay_1" }, false, bank.ErrBinding, false, "", ""},
		{"Status Y without Cavv", vbF2(map[string]string{"Cavv": ""}), nil, false, bank.ErrMalformed, false, "", ""},
		{"no Status", vbF2(map[string]string{"Status": "-", "Cavv": "", "Eci": ""}), nil, false, bank.ErrMalformed, false, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, d := newGateway(t, func(c *Config) { c.MerchantID, c.AllowHalfSecure = "000100000013506", tc.half })
			p := vbF2Payment()
			if tc.pay != nil {
				tc.pay(p)
			}
			if strings.Contains(tc.name, "GET") {
				tc.cb.Method = "GET"
			}
			v, err := g.Verify(p, tc.cb)
			if len(d.reqs) != 0 {
				t.Fatal("Verify made a bank call")
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v; want %v", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "4938460158754205") {
					t.Errorf("error quotes the card number: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.Echo != (bank.Echo{OrderID: p.OrderID}) {
				t.Errorf("echo %+v; want the order id only (amount and currency are never taken from the callback)", v.Echo)
			}
			if strings.Contains(v.Summary, "4938460158754205") || strings.Contains(v.Summary, "2411") {
				t.Errorf("summary %q holds card data", v.Summary)
			}
			if tc.finish {
				if v.Outcome != nil || v.Finish[finishECI] == "" || v.Finish[finishCAVV] != tc.cb.Fields.Value("Cavv") {
					t.Fatalf("verified %+v; want provisioning with ECI and CAVV", v)
				}
				if m := v.Finish[finishMasked]; m != "493846******4205" {
					t.Errorf("masked PAN %q", m)
				}
				for _, val := range v.Finish {
					if val == "4938460158754205" || val == "2411" {
						t.Errorf("finish data holds card data: %v", v.Finish)
					}
				}
				return
			}
			if v.Outcome == nil || v.Outcome.Status != bank.Failed || v.Outcome.Result.Code != tc.code || v.Outcome.Result.BankCode != tc.bankCode {
				t.Fatalf("outcome %+v; want failed %s (%s)", v.Outcome, tc.code, tc.bankCode)
			}
			if v.Outcome.Result.ReasonCode == 0 || v.Outcome.Result.Message.TR == "" {
				t.Errorf("result without Wix reason or message: %+v", v.Outcome.Result)
			}
		})
	}
}

func TestFinish(t *testing.T) {
	verified := &bank.Verified{Echo: bank.Echo{OrderID: "order-id-123"},
		Finish: map[string]string{finishECI: "02", finishCAVV: "ABIBCBgAAAEnAAABAQAAAAAAAAA=", finishMasked: "493846******4205"}}
	payFor := func(order string, amount int64) *bank.Payment {
		p := payment()
		p.OrderID, p.Amount = order, amount
		p.State = map[string]string{StateRequestID: "ce06048a3e9c0cd1d437803fb38b5ad0"}
		return p
	}
	tests := []struct {
		name     string
		pay      *bank.Payment
		answer   answer
		status   bank.Status
		code     string
		bankCode string
		transID  string
		wantErr  error
		unknown  bool // bank.OutcomeUnknown(err)
	}{
		{"VB-F4 approved", payFor("order-id-123", 10000), ok(readTestdata(t, "vb-f4.xml")), bank.Succeeded, bank.CodeApproved, "0000", "20230309B838", nil, false},
		{"VB-F3 declined 0312", payFor("202303091489", 101), ok(readTestdata(t, "vb-f3.xml")), bank.Failed, bank.CodeDeclined, "0312", "202303091489", nil, false},
		{"VB-F7 merchant not found", payFor("order-id-123", 10000), ok(readTestdata(t, "vb-f7.xml")), bank.Failed, bank.CodeMerchantConfig, "9039", "", nil, false},
		{"1127 card data in the provision", payFor("order-id-123", 10000),
			ok([]byte(`<VposResponse><ResultCode>1127</ResultCode><ResultDetail>3Ds İşlemlerde Kart Bilgisi Veya Tutar Provizyon Mesajında Yer Almamalıdır</ResultDetail></VposResponse>`)),
			bank.Failed, bank.CodeMerchantConfig, "1127", "", nil, false},
		{"1126 MPI mismatch", payFor("order-id-123", 10000),
			ok([]byte(`<VposResponse><ResultCode>1126</ResultCode><ResultDetail>Mpi İşlemindeki Veriler İle Uyumsuz</ResultDetail></VposResponse>`)),
			bank.Failed, bank.Code3DSFailed, "1126", "", nil, false},
		{"approved for another order", payFor("order-x", 10000), ok(readTestdata(t, "vb-f4.xml")), "", "", "", "", bank.ErrBinding, false},
		{"approved for another amount", payFor("order-id-123", 10001), ok(readTestdata(t, "vb-f4.xml")), "", "", "", "", bank.ErrBinding, false},
		{"WAF page instead of the answer", payFor("order-id-123", 10000), ok(readTestdata(t, "waf.html")), "", "", "", "", bank.ErrMalformed, true},
		{"answer lost", payFor("order-id-123", 10000), answer{err: &bank.TransportError{Op: "bank call", Sent: true, Timeout: true, Err: errors.New("timeout")}}, "", "", "", "", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, d := newGateway(t, nil, tc.answer)
			out, err := g.Finish(context.Background(), tc.pay, verified)
			fields, _ := d.xmlFields(t, 0)
			if fields.Value("MpiTransactionId") != "ce06048a3e9c0cd1d437803fb38b5ad0" || fields.Value("ECI") != "02" ||
				fields.Value("CAVV") != "ABIBCBgAAAEnAAABAQAAAAAAAAA=" || fields.Value("OrderId") != tc.pay.OrderID {
				t.Errorf("provision %v", fields)
			}
			switch {
			case tc.unknown || tc.wantErr != nil:
				if err == nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) || tc.unknown != bank.OutcomeUnknown(err) {
					t.Fatalf("Finish = %+v, %v; want error %v (outcome unknown %v)", out, err, tc.wantErr, tc.unknown)
				}
			case err != nil:
				t.Fatal(err)
			default:
				if out.Status != tc.status || out.Result.Code != tc.code || out.Result.BankCode != tc.bankCode || out.Ref.TransID != tc.transID {
					t.Fatalf("outcome %+v; want %s %s %s %s", out, tc.status, tc.code, tc.bankCode, tc.transID)
				}
				if out.Ref.MaskedPAN != "493846******4205" || out.Echo != verified.Echo {
					t.Errorf("ref %+v echo %+v", out.Ref, out.Echo)
				}
			}
		})
	}
}

func TestFinishPreAuthAndInstallments(t *testing.T) {
	g, d := newGateway(t, nil, ok(readTestdata(t, "vb-f7.xml")))
	p := payment()
	p.Type, p.Installments = bank.PreAuth, 3
	p.State = map[string]string{StateRequestID: "id"}
	_, _ = g.Finish(context.Background(), p, &bank.Verified{Finish: map[string]string{finishECI: "05", finishCAVV: "c"}})
	f, _ := d.xmlFields(t, 0)
	if f.Value("TransactionType") != "Auth" || f.Value("NumberOfInstallments") != "3" {
		t.Errorf("pre-auth with installments sent %v; want TransactionType Auth, NumberOfInstallments 3", f)
	}
}

func TestFinishWithoutCallback(t *testing.T) {
	g, d := newGateway(t, nil)
	if _, err := g.Finish(context.Background(), payment(), &bank.Verified{}); err == nil || len(d.reqs) != 0 {
		t.Fatalf("Finish without an authenticated callback = %v", err)
	}
}

func TestTokenAndScrub(t *testing.T) {
	tokens := []struct{ in, want string }{
		{"Y", "Y"}, {"05", "05"}, {"1105", "1105"}, {"", ""}, {"Y<script>", "?"}, {"123456789", "?"}, {"4938460158754205", "?"},
	}
	for _, tc := range tokens {
		t.Run(fmt.Sprintf("Token %q", tc.in), func(t *testing.T) {
			if got := Token(tc.in); got != tc.want {
				t.Errorf("Token(%q) = %q; want %q", tc.in, got, tc.want)
			}
		})
	}
	scrubs := []struct{ name, in, want string }{
		{"plain text", "Üye isyeri IP si sistemde tanimli degil", "Üye isyeri IP si sistemde tanimli degil"},
		{"card number inside", "kart 4938460158754205 red", "kart 493846******4205 red"},
		{"card number at the end", "pan:4938460158754205", "pan:493846******4205"},
		{"short numbers stay", "kod 1105, tutar 101", "kod 1105, tutar 101"},
		{"long text is cut", strings.Repeat("ş", 150), strings.Repeat("ş", 100)},
	}
	for _, tc := range scrubs {
		t.Run(tc.name, func(t *testing.T) {
			if got := Scrub(tc.in); got != tc.want {
				t.Errorf("Scrub(%q) = %q; want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestVerifyKeepsNoCardFromTheCallback(t *testing.T) {
	g, _ := newGateway(t, func(c *Config) { c.MerchantID = "000100000013506" })
	cb := fixtureCallback(t, "vb-f2.json", map[string]string{"Status": "N<x>", "ErrorMessage": "red 4938460158754205", "Eci": "05 or 1=1"})
	v, err := g.Verify(vbF2Payment(), cb)
	if err != nil {
		t.Fatal(err)
	}
	if v.Summary != "Status=? Eci=?" || v.Outcome.Result.BankMessage != "red 493846******4205" || v.Outcome.Ref.MaskedPAN != "493846******4205" {
		t.Errorf("summary %q, result %+v, ref %+v", v.Summary, v.Outcome.Result, v.Outcome.Ref)
	}
}
