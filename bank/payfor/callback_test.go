package payfor

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/posrelay/posrelay/bank"
)

type expectation struct {
	Err      string `json:"err"` // "hash", "binding", "malformed"
	Status   string `json:"status"`
	Code     string `json:"code"`
	BankCode string `json:"bankCode"`
	Finish   string `json:"finish"` // RequestGuid handed to Finish
}

func (e expectation) check(t *testing.T, v *bank.Verified, err error) {
	t.Helper()
	if e.Err != "" {
		want := map[string]error{"hash": bank.ErrHashMismatch, "binding": bank.ErrBinding, "malformed": bank.ErrMalformed}[e.Err]
		if !errors.Is(err, want) {
			t.Fatalf("err = %v, want %v", err, want)
		}
		if e.Err != "hash" && errors.Is(err, bank.ErrHashMismatch) {
			t.Fatalf("err = %v: the hash should have verified", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if e.Finish != "" {
		if v.Outcome != nil || v.Finish["RequestGuid"] != e.Finish {
			t.Fatalf("outcome %+v finish %v; want Finish with RequestGuid %s", v.Outcome, v.Finish, e.Finish)
		}
		return
	}
	o := v.Outcome
	if o == nil || string(o.Status) != e.Status || o.Result.Code != e.Code {
		t.Fatalf("outcome = %+v; want %s %s", o, e.Status, e.Code)
	}
	if e.BankCode != "" && o.Result.BankCode != e.BankCode {
		t.Errorf("bank code %q, want %q", o.Result.BankCode, e.BankCode)
	}
	if o.Result.Message.TR == "" || o.Result.Message.EN == "" || (o.Status != bank.Succeeded) != (o.Result.ReasonCode != 0) {
		t.Errorf("result %+v lacks messages or a fitting Wix reason code", o.Result)
	}
}

// TestVerifyVectors runs §4.3's PF-2 (and its negative case), PF-V1 and
// PF-V3, and own SHA-256 vectors, through Verify.
func TestVerifyVectors(t *testing.T) {
	var file struct {
		Vectors []struct {
			Name   string          `json:"name"`
			Model  string          `json:"model"`
			Fields json.RawMessage `json:"fields"`
			Expect expectation     `json:"expect"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(readTestdata(t, "callback_vectors.json"), &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Vectors) < 10 {
		t.Fatalf("only %d vectors", len(file.Vectors))
	}
	for _, vec := range file.Vectors {
		t.Run(vec.Name, func(t *testing.T) {
			fields, err := orderedFields(vec.Fields)
			if err != nil {
				t.Fatal(err)
			}
			g := newTestGateway(t, vec.Model, &fakeDoer{})
			p := testPayment(fields.Value("OrderId"), 101)
			v, err := g.Verify(p, &bank.Callback{Method: "POST", Fields: fields})
			vec.Expect.check(t, v, err)
		})
	}
}

// TestVerifyFixtures verifies every callback of Appendix A F.2 and reads
// its decision. Withheld hashes are derived (withheld_hashes.json).
func TestVerifyFixtures(t *testing.T) {
	tests := []struct {
		file   string
		model  string
		expect expectation
		ref    bank.Ref
		amount int64
	}{
		{"pf_f4_3dmodel_callback_ok", Model3DModel, expectation{Finish: "1000000081255931"}, bank.Ref{}, 101},
		{"pf_f6_3dmodel_callback_v034", Model3DModel, expectation{Status: "failed", Code: bank.Code3DSFailed, BankCode: "V034/MR15"}, bank.Ref{MaskedPAN: "415565******6111"}, 101},
		{"pf_f7_3dmodel_callback_101310", Model3DModel, expectation{Status: "failed", Code: bank.CodeDuplicateOrder, BankCode: "101310"}, bank.Ref{}, 101},
		{"pf_f8_3dpay_callback_ok", Model3DPay, expectation{Status: "succeeded", Code: bank.CodeApproved}, bank.Ref{AuthCode: "S86797", HostRef: "230422100150", MaskedPAN: "415565******6111"}, 101},
		{"pf_f9_3dpay_callback_mr15", Model3DPay, expectation{Status: "failed", Code: bank.Code3DSFailed, BankCode: "MR15"}, bank.Ref{MaskedPAN: "415565******6111"}, 101},
		{"pf_f10_3dhost_callback_ok", Model3DHost, expectation{Status: "succeeded", Code: bank.CodeApproved}, bank.Ref{AuthCode: "S28031", HostRef: "230423100695", MaskedPAN: "415565******6111"}, 101},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			fields := loadCallback(t, tc.file)
			g := newTestGateway(t, tc.model, &fakeDoer{})
			p := testPayment(fields.Value("OrderId"), tc.amount)
			p.State = map[string]string{stateRnd: fields.Value("Rnd")}
			v, err := g.Verify(p, &bank.Callback{Method: "POST", Fields: fields})
			tc.expect.check(t, v, err)
			if v.Echo.OrderID != fields.Value("OrderId") || !v.Echo.HasAmount || v.Echo.Amount != 101 || v.Echo.Currency != "949" {
				t.Errorf("echo = %+v", v.Echo)
			}
			if v.Outcome != nil && v.Outcome.Ref != tc.ref {
				t.Errorf("ref = %+v, want %+v", v.Outcome.Ref, tc.ref)
			}
			if v.Summary == "" || strings.Contains(v.Summary, testMerchantPass) {
				t.Errorf("summary %q", v.Summary)
			}
		})
	}
}

// TestVerifyRejects: a callback that was forged, tampered with or is not
// this attempt's changes nothing.
func TestVerifyRejects(t *testing.T) {
	ok := loadCallback(t, "pf_f8_3dpay_callback_ok")
	tests := []struct {
		name   string
		fields bank.Fields
		state  map[string]string
		want   error
	}{
		{"forged ResponseHash", set(ok, "ResponseHash", "AAAAAAAAAAAAAAAAAAAAAAAAAAA="), nil, bank.ErrHashMismatch},
		{"no ResponseHash", set(ok, "ResponseHash", ""), nil, bank.ErrHashMismatch},
		{"ProcReturnCode changed", set(set(loadCallback(t, "pf_f9_3dpay_callback_mr15"), "ProcReturnCode", "00"), "3DStatus", "1"), nil, bank.ErrHashMismatch},
		{"OrderId changed", set(ok, "OrderId", "2022103114B4"), nil, bank.ErrHashMismatch},
		{"AuthCode changed", set(ok, "AuthCode", "S00000"), nil, bank.ErrHashMismatch},
		{"another merchant", set(ok, "MerchantID", "085300000000001"), nil, bank.ErrBinding},
		{"another model", set(ok, "SecureType", "3DHost"), nil, bank.ErrBinding},
		{"another attempt's Rnd", ok, map[string]string{stateRnd: "0123"}, bank.ErrBinding},
		{"unreadable PurchAmount", set(ok, "PurchAmount", "1,0,1"), nil, bank.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newTestGateway(t, Model3DPay, &fakeDoer{})
			p := testPayment("2022103114B3", 101)
			p.State = tc.state
			v, err := g.Verify(p, &bank.Callback{Method: "POST", Fields: tc.fields})
			if !errors.Is(err, tc.want) || v != nil {
				t.Fatalf("Verify = %+v, %v; want %v", v, err, tc.want)
			}
			if strings.Contains(err.Error(), testMerchantPass) {
				t.Error("the error shows the merchant password")
			}
		})
	}
	// The amount is not signed: a changed amount verifies, and the echo
	// lets the relay refuse it against its record.
	g := newTestGateway(t, Model3DPay, &fakeDoer{})
	v, err := g.Verify(testPayment("2022103114B3", 101), &bank.Callback{Fields: set(ok, "PurchAmount", "0.01")})
	if err != nil || v.Echo.Amount != 1 || !v.Echo.HasAmount {
		t.Fatalf("tampered amount: %+v, %v; want the echo to carry 1", v, err)
	}
}

// TestDecide pins the decision of §2.6 for each model.
func TestDecide(t *testing.T) {
	tests := []struct {
		name, model, status3D, prc string
		want                       expectation
	}{
		{"3DModel authenticated", Model3DModel, "1", "V033", expectation{Finish: "1000000000000001"}},
		{"3DModel authenticated, no code", Model3DModel, "1", "", expectation{Finish: "1000000000000001"}},
		{"3DModel authentication failed", Model3DModel, "-1", "V034", expectation{Status: "failed", Code: bank.Code3DSFailed}},
		{"3DModel failed without a code", Model3DModel, "-1", "", expectation{Status: "failed", Code: bank.Code3DSFailed}},
		{"3DModel failed, unknown code", Model3DModel, "-1", "X999", expectation{Status: "failed", Code: bank.Code3DSFailed}},
		{"3DModel refused: IP", Model3DModel, "-1", "M047", expectation{Status: "failed", Code: bank.CodeMerchantConfig}},
		{"3DModel refused: hash", Model3DModel, "-1", "M030", expectation{Status: "failed", Code: bank.CodeMerchantConfig}},
		{"3DModel authenticated but another code", Model3DModel, "1", "V036", expectation{Status: "failed", Code: bank.CodeBankError}},
		{"3DModel says paid: only the status query can tell", Model3DModel, "1", "00", expectation{Status: "unknown", Code: bank.CodeUnknown}},
		{"3DPay approved", Model3DPay, "1", "00", expectation{Status: "succeeded", Code: bank.CodeApproved}},
		{"3DPay authenticated, no ProcReturnCode", Model3DPay, "1", "", expectation{Status: "unknown", Code: bank.CodeUnknown}},
		{"3DPay 00 without 3-D", Model3DPay, "-1", "00", expectation{Status: "unknown", Code: bank.CodeUnknown}},
		{"3DPay in progress (V000)", Model3DPay, "1", "V000", expectation{Status: "unknown", Code: bank.CodeUnknown}},
		{"3DPay bank connection error", Model3DPay, "1", "V9199", expectation{Status: "unknown", Code: bank.CodeUnknown}},
		{"3DPay insufficient funds", Model3DPay, "1", "51", expectation{Status: "failed", Code: bank.CodeInsufficientFunds}},
		{"3DPay expired card", Model3DPay, "1", "54", expectation{Status: "failed", Code: bank.CodeExpiredCard}},
		{"3DPay invalid card", Model3DPay, "1", "14", expectation{Status: "failed", Code: bank.CodeInvalidCard}},
		{"3DPay unknown code", Model3DPay, "1", "X999", expectation{Status: "failed", Code: bank.CodeDeclined}},
		{"3DPay 3-D failed (MR15)", Model3DPay, "-1", "MR15", expectation{Status: "failed", Code: bank.Code3DSFailed}},
		{"3DPay answered like 3DModel: model mismatch", Model3DPay, "1", "V033", expectation{Status: "failed", Code: bank.CodeMerchantConfig}},
		{"3DHost approved", Model3DHost, "1", "00", expectation{Status: "succeeded", Code: bank.CodeApproved}},
		{"3DHost duplicate order", Model3DHost, "-1", "101310", expectation{Status: "failed", Code: bank.CodeDuplicateOrder}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newTestGateway(t, tc.model, &fakeDoer{})
			f := map[string]string{"OrderId": "ORD-1", "3DStatus": tc.status3D, "ProcReturnCode": tc.prc, "RequestGuid": "1000000000000001", "SecureType": tc.model}
			v, err := g.decide(f, "")
			tc.want.check(t, v, err)
		})
	}
}

func TestFinish(t *testing.T) {
	tests := []struct {
		name       string
		file       string
		status     int
		doerErr    error
		wantStatus bank.Status
		wantCode   string
		wantErr    bool // an error: the relay records the outcome unknown
	}{
		{"PF-F5 approved", "pf_f5_3dmodelpayment_approved.xml", 200, nil, bank.Succeeded, bank.CodeApproved, false},
		{"M041 invalid card", "pf_f2_auth_m041.xml", 200, nil, bank.Failed, bank.CodeInvalidCard, false},
		{"V013 not found", "pf_f3_postauth_v013.xml", 200, nil, bank.Failed, bank.CodeNotFound, false},
		{"WAF page", "waf.html", 200, nil, "", "", true},
		{"truncated XML", "truncated.xml", 200, nil, "", "", true},
		{"HTTP 502", "pf_f5_3dmodelpayment_approved.xml", 502, nil, "", "", true},
		{"timeout", "", 0, &bank.TransportError{Op: "bank call", Sent: true, Timeout: true, Err: errors.New("deadline")}, "", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &fakeDoer{}
			if tc.doerErr != nil {
				d.answer = func(*bank.Request, string) (*bank.Response, error) { return nil, tc.doerErr }
			} else {
				d.answer = answerFile(t, tc.file, tc.status, "")
			}
			g := newTestGateway(t, Model3DModel, d)
			p := testPayment("20221031CFD0", 101)
			v := &bank.Verified{Echo: bank.Echo{OrderID: "20221031CFD0"}, Finish: map[string]string{"RequestGuid": "1000000081255931", "CardMask": "415565******6111"}}
			out, err := g.Finish(t.Context(), p, v)
			reqs := d.requests()
			if len(reqs) != 1 || string(reqs[0].Body) != string(readTestdata(t, "3dmodelpayment_request.xml")) ||
				reqs[0].ContentType != "text/xml; charset=UTF-8" || reqs[0].URL != testAPIURL {
				t.Fatalf("request %+v\nbody %s", reqs, reqs[0].Body)
			}
			if tc.wantErr {
				if err == nil || !bank.OutcomeUnknown(err) {
					t.Fatalf("err = %v; want an error that leaves the outcome open", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out.Status != tc.wantStatus || out.Result.Code != tc.wantCode || out.Echo.OrderID != "20221031CFD0" || out.Ref.MaskedPAN != "415565******6111" {
				t.Fatalf("outcome %+v", out)
			}
			if tc.wantStatus == bank.Succeeded && (out.Ref.AuthCode != "S37397" || out.Ref.HostRef != "230422098249" || out.Ref.TransID != "20221031CFD0") {
				t.Errorf("ref %+v", out.Ref)
			}
		})
	}
	g := newTestGateway(t, Model3DModel, &fakeDoer{})
	if _, err := g.Finish(t.Context(), testPayment("X", 1), &bank.Verified{}); err == nil {
		t.Error("Finish without a RequestGuid must fail without a bank call")
	}
}
