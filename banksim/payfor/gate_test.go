package payfor

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/posrelay/posrelay/banksim"
	"github.com/posrelay/posrelay/signer"
)

// pf4Keys is PF-F4's complete callback field list, in order.
func pf4Keys(t *testing.T) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(readTestdata(t, "pf_f4_3dmodel_callback_ok.json")))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		var v string
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
	}
	return keys
}

// TestCallbackFields pins the callback of every model to PF-F4's field
// list and checks its ResponseHash, SHA-1 and SHA-256.
func TestCallbackFields(t *testing.T) {
	want := pf4Keys(t)
	for _, sha256 := range []bool{false, true} {
		for _, model := range []string{model3DModel, model3DPay, model3DHost} {
			name := model
			if sha256 {
				name += " SHA-256"
			}
			t.Run(name, func(t *testing.T) {
				e := newEnv(t, func(c *Config) { c.ResponseHashSHA256 = sha256 })
				form := gateForm(model, "CF-"+model, "149.90", withPAN(approveCard))
				cb := e.pay(model, "CF-"+model, "149.90", withPAN(approveCard))
				wantKeys := want
				if sha256 {
					wantKeys = slices.DeleteFunc(slices.Clone(want), func(k string) bool { return k == "HashType" })
				}
				if got := cb.fields.Names(); !slices.Equal(got, wantKeys) {
					t.Errorf("callback fields\n got %q\nwant %q", got, wantKeys)
				}
				if err := signer.VerifyPayForResponse(cb.fields.Map(), testMerchantID, testMerchantPass, testUserCode); err != nil {
					t.Errorf("ResponseHash: %v", err)
				}
				wantAlg, wantLen := "Sha1", 28
				if sha256 {
					wantAlg, wantLen = "", 44
				}
				if cb.v("HashType") != wantAlg || len(cb.v("ResponseHash")) != wantLen || !strings.HasPrefix(cb.v("ResponseRnd"), "PF") {
					t.Errorf("HashType %q ResponseHash %q ResponseRnd %q", cb.v("HashType"), cb.v("ResponseHash"), cb.v("ResponseRnd"))
				}
				for _, k := range []string{"MbrId", "MerchantID", "OrderId", "SecureType", "PurchAmount", "Currency", "OkUrl", "FailUrl", "Hash", "TxnType", "Lang", "InstallmentCount", "Rnd"} {
					if cb.v(k) != form.Value(k) {
						t.Errorf("%s = %q, the form posted %q", k, cb.v(k), form.Value(k))
					}
				}
				if cb.v("CardMask") != "435508******4358" || cb.v("CardHolderName") != "Ayşe Yılmaz" || cb.v("CardType") != "V" {
					t.Errorf("card fields %q %q %q", cb.v("CardMask"), cb.v("CardHolderName"), cb.v("CardType"))
				}
				if bytes.Contains(cb.page.Body, []byte(approveCard)) || !strings.Contains(cb.page.ContentType, "utf-8") {
					t.Error("the callback page shows the card number or is not UTF-8")
				}
			})
		}
	}
}

type outcomeWant struct {
	ok       bool   // callback to OkUrl
	status3D string // 3DStatus
	prc      string // the callback's ProcReturnCode
	ledger   banksim.OrderState
	xmlCode  string // 3DModel: the 3DModelPayment answer ("" when not sent)
}

// TestOutcomes runs every test card through every model, and the
// 3DModelPayment after an authenticated 3DModel callback.
func TestOutcomes(t *testing.T) {
	const none = banksim.OrderState("")
	tests := []struct {
		card  string
		model string
		want  outcomeWant
	}{
		{approveCard, model3DHost, outcomeWant{true, "1", "00", banksim.StateApproved, ""}},
		{approveCard, model3DPay, outcomeWant{true, "1", "00", banksim.StateApproved, ""}},
		{approveCard, model3DModel, outcomeWant{true, "1", "V033", banksim.StateApproved, "00"}},
		{"4000000000000515", model3DHost, outcomeWant{false, "1", "51", banksim.StateDeclined, ""}},
		{"4000000000000515", model3DPay, outcomeWant{false, "1", "51", banksim.StateDeclined, ""}},
		{"4000000000000515", model3DModel, outcomeWant{true, "1", "V033", banksim.StateDeclined, "51"}},
		{"4000000000000549", model3DPay, outcomeWant{false, "1", "54", banksim.StateDeclined, ""}},
		{"4000000000000143", model3DModel, outcomeWant{true, "1", "V033", banksim.StateDeclined, "14"}},
		{"4000000000003006", model3DHost, outcomeWant{false, "-1", "MR15", none, ""}},
		{"4000000000003006", model3DPay, outcomeWant{false, "-1", "MR15", none, ""}},
		{"4000000000003006", model3DModel, outcomeWant{false, "-1", "V034", none, ""}},
		{"4000000000003105", model3DPay, outcomeWant{false, "-1", "MR15", none, ""}},
		{"4000000000003105", model3DModel, outcomeWant{false, "-1", "V034", none, ""}},
		{"4000000000003204", model3DHost, outcomeWant{true, "1", "00", banksim.StateApproved, ""}},
		{"4000000000003204", model3DModel, outcomeWant{true, "1", "V033", banksim.StateApproved, "00"}},
		{"4000000000009904", model3DPay, outcomeWant{false, "1", "V000", banksim.StateApproved, ""}},
		{"4000000000009904", model3DHost, outcomeWant{false, "1", "V000", banksim.StateApproved, ""}},
		{"4000000000009805", model3DPay, outcomeWant{true, "1", "", banksim.StateApproved, ""}},
		{"4000000000009805", model3DModel, outcomeWant{true, "1", "V033", banksim.StateApproved, "malformed"}},
	}
	for _, tc := range tests {
		name := tc.model + " " + string(banksim.CardOutcome(tc.card))
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, nil)
			oid := "OC-" + tc.card[12:] + "-" + tc.model
			cb := e.pay(tc.model, oid, "10.00", withPAN(tc.card))
			if (cb.to == okURL) != tc.want.ok || cb.v("3DStatus") != tc.want.status3D || cb.v("ProcReturnCode") != tc.want.prc {
				t.Fatalf("callback to %s 3DStatus %q ProcReturnCode %q; want ok=%v %q %q", cb.to, cb.v("3DStatus"), cb.v("ProcReturnCode"),
					tc.want.ok, tc.want.status3D, tc.want.prc)
			}
			if banksim.CardOutcome(tc.card) == banksim.NotEnrolled && cb.v("IrcDet") != notEnrolledDet {
				t.Errorf("IrcDet %q", cb.v("IrcDet"))
			}
			if tc.want.xmlCode != "" {
				if cb.v("RequestGuid") == "" || cb.v("RequestGuid") == "0" {
					t.Fatalf("RequestGuid %q", cb.v("RequestGuid"))
				}
				a, p := e.api("RequestGuid", cb.v("RequestGuid"), "UserCode", testUserCode, "UserPass", testUserPass, "OrderId", oid, "SecureType", "3DModelPayment")
				switch tc.want.xmlCode {
				case "malformed":
					if a != nil || !strings.Contains(p.ContentType, "html") {
						t.Fatalf("answer %v (%s); want a WAF page", a, p.ContentType)
					}
				default:
					if a["ProcReturnCode"] != tc.want.xmlCode || a["TransId"] != oid {
						t.Fatalf("3DModelPayment answer %v; want %s", a, tc.want.xmlCode)
					}
					if tc.want.xmlCode == "00" && (a["AuthCode"] == "" || a["ErrMsg"] != "Onaylandı") {
						t.Errorf("answer %v", a)
					}
				}
				if n := e.sim.Calls().Count(oid, "3DModelPayment"); n != 1 {
					t.Errorf("%d 3DModelPayment calls counted", n)
				}
			}
			o, ok := e.sim.Order(oid)
			if got := o.State; !ok && tc.want.ledger != none || ok && got != tc.want.ledger {
				t.Errorf("ledger %v %s; want %s", ok, got, tc.want.ledger)
			}
			if ok && (o.Amount != 1000 || o.MaskedPAN != tc.card[:6]+"******"+tc.card[12:]) {
				t.Errorf("ledger %+v", o)
			}
		})
	}
}

// TestChallengeCancelAndWrongCode: the shopper cancels or mistypes the code.
func TestChallengeCancelAndWrongCode(t *testing.T) {
	for _, code := range []string{"cancel", "000000"} {
		t.Run(code, func(t *testing.T) {
			e := newEnv(t, nil)
			cb := e.drive(GatePath, gateForm(model3DPay, "CH-"+code, "1.01", withPAN(approveCard)), withPAN(approveCard), code)
			if cb.to != failURL || cb.v("3DStatus") != "-1" || cb.v("ProcReturnCode") != "MR15" {
				t.Fatalf("callback %s %s %s", cb.to, cb.v("3DStatus"), cb.v("ProcReturnCode"))
			}
		})
	}
}

// TestGateRefusals: the gate refuses what QNB refuses, through FailUrl
// with the code (PF-F7 shape), or on a page without a usable FailUrl.
func TestGateRefusals(t *testing.T) {
	tests := []struct {
		name    string
		model   string
		mod     func(f *banksim.Form)
		foreign bool // posted from an address the merchant did not register
		code    string
		page    bool
	}{
		{"browser post to Default.aspx", model3DPay, nil, true, "M047", false},
		{"wrong hash", model3DPay, setTo("Hash", "zmSUxYPhmCj7QOzqpk/28LuE1Oc="), false, "M030", false},
		{"amount changed after signing", model3DModel, setTo("PurchAmount", "1.00"), false, "M030", false},
		{"MOTO missing", model3DPay, del("MOTO"), false, "M025", false},
		{"MOTO 1", model3DHost, setTo("MOTO", "1"), false, "M048", false},
		{"Lang lower case", model3DPay, setTo("Lang", "tr"), false, "M048", false},
		{"MbrId missing", model3DPay, del("MbrId"), false, "M013", false},
		{"MerchantID missing", model3DPay, del("MerchantID"), false, "M024", false},
		{"another merchant", model3DPay, setTo("MerchantID", "085300000009704"), false, "V001", false},
		{"another user", model3DPay, setTo("UserCode", "X"), false, "V004", false},
		{"unknown SecureType", model3DPay, setTo("SecureType", "3D"), false, "M014", false},
		{"3DHost on Default.aspx", model3DPay, setTo("SecureType", "3DHost"), false, "M026", false},
		{"3DPay on 3DHost.aspx", model3DHost, setTo("SecureType", "3DPay"), false, "M026", false},
		{"TxnType Sale", model3DPay, setTo("TxnType", "Sale"), false, "M015", false},
		{"OrderId missing", model3DPay, setTo("OrderId", ""), false, "M028", false},
		{"Rnd missing", model3DPay, setTo("Rnd", ""), false, "M025", false},
		{"amount with three decimals", model3DPay, setTo("PurchAmount", "1.001"), false, "M012", false},
		{"zero amount", model3DPay, setTo("PurchAmount", "0"), false, "M004", false},
		{"above 200,000", model3DPay, setTo("PurchAmount", "200000.01"), false, "M019", false},
		{"currency missing", model3DPay, setTo("Currency", ""), false, "M003", false},
		{"currency TL", model3DPay, setTo("Currency", "TL"), false, "M002", false},
		{"installments missing", model3DPay, del("InstallmentCount"), false, "V023", false},
		{"installments 1", model3DPay, setTo("InstallmentCount", "1"), false, "M048", false},
		{"pre-auth with installments", model3DPay, func(f *banksim.Form) { f.Set("TxnType", "PreAuth"); f.Set("InstallmentCount", "3") }, false, "V024", false},
		{"short card number", model3DPay, setTo("Pan", "411111"), false, "M008", false},
		{"card number fails Luhn", model3DPay, setTo("Pan", "4355084355084359"), false, "M041", false},
		{"expiry YYMM", model3DPay, setTo("Expiry", "3013"), false, "M006", false},
		{"CVV missing", model3DPay, setTo("Cvv2", ""), false, "M005", false},
		{"CVV letters", model3DPay, setTo("Cvv2", "12a"), false, "M018", false},
		{"OkUrl unusable", model3DPay, setTo("OkUrl", "javascript:alert(1)"), false, "M010", false},
		{"FailUrl missing", model3DPay, del("FailUrl"), false, "M007", true},
		{"field twice", model3DPay, func(f *banksim.Form) { *f = append(*f, banksim.Field{Name: "Lang", Value: "EN"}) }, false, "M048", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) {
				if tc.foreign {
					c.RelayIPs = []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}
				}
			})
			f := gateForm(tc.model, "RF-1", "10.00", withPAN(approveCard))
			if tc.mod != nil {
				tc.mod(&f)
				if tc.name != "wrong hash" && tc.name != "amount changed after signing" && f.Has("Hash") {
					f = sign(f)
				}
			}
			p := e.post(e.srv.URL+gatePath(tc.model), f)
			if p.Status != http.StatusOK {
				t.Fatalf("status %d", p.Status)
			}
			if tc.page {
				if p.Form.Action != "" || !bytes.Contains(p.Body, []byte(tc.code)) {
					t.Fatalf("page %s; want an error page naming %s", p.Body, tc.code)
				}
			} else {
				cb := callback{to: p.Form.Action, fields: p.Form.Fields}
				if cb.to != f.Value("FailUrl") || cb.v("ProcReturnCode") != tc.code || cb.v("3DStatus") != "-1" || cb.v("RequestGuid") != "0" || cb.v("ErrMsg") == "" {
					t.Fatalf("refusal to %q: ProcReturnCode %q 3DStatus %q ErrMsg %q; want %s", cb.to, cb.v("ProcReturnCode"), cb.v("3DStatus"), cb.v("ErrMsg"), tc.code)
				}
				if err := signer.VerifyPayForResponse(cb.fields.Map(), testMerchantID, testMerchantPass, testUserCode); err != nil {
					t.Errorf("refusal ResponseHash: %v", err)
				}
				if cb.fields.Has("Pan") || cb.fields.Has("Cvv2") || cb.fields.Has("Expiry") || bytes.Contains(p.Body, []byte(approveCard)) {
					t.Error("the refusal echoes card data")
				}
			}
			c := e.sim.Calls()
			if c.Refusals[tc.code] != 1 || c.FormPosts[f.Value("SecureType")] != 1 {
				t.Errorf("counters %+v", c)
			}
			if _, ok := e.sim.Order("RF-1"); ok {
				t.Error("a refused form reached the ledger")
			}
		})
	}
}

// TestDuplicateOrder: an order id that reached authorisation is used (PF-F7).
func TestDuplicateOrder(t *testing.T) {
	e := newEnv(t, nil)
	for i, want := range []string{"51", "101310"} {
		c := withPAN("4000000000000515")
		if i == 1 {
			c = withPAN(approveCard)
		}
		cb := e.pay(model3DPay, "DUP-1", "5.00", c)
		if cb.v("ProcReturnCode") != want {
			t.Fatalf("attempt %d: %s, want %s", i+1, cb.v("ProcReturnCode"), want)
		}
	}
	// A failed 3-D step does not use the order id up.
	e.pay(model3DPay, "DUP-2", "5.00", withPAN("4000000000003006"))
	if cb := e.pay(model3DPay, "DUP-2", "5.00", withPAN(approveCard)); cb.v("ProcReturnCode") != "00" {
		t.Fatalf("retry after a 3-D failure: %s", cb.v("ProcReturnCode"))
	}
}

// TestHostPageNotRestricted: 3DHost.aspx is posted by the shopper's
// browser, so the registered addresses do not apply; its card page checks
// the card like the gate.
func TestHostPageNotRestricted(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RelayIPs = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} })
	if cb := e.pay(model3DHost, "HOST-1", "7.50", withPAN(approveCard)); cb.v("ProcReturnCode") != "00" || cb.to != okURL {
		t.Fatalf("3DHost from the shopper's address: %s %s", cb.to, cb.v("ProcReturnCode"))
	}
	bad := withPAN(approveCard)
	bad.expiry = "13/0"
	p := e.post(e.srv.URL+HostPath, gateForm(model3DHost, "HOST-2", "7.50", bad))
	f := p.Form.Fields
	f.Set("Pan", approveCard)
	f.Set("Expiry", "13/0")
	f.Set("Cvv2", "000")
	p = e.post(p.Form.Action, f)
	if !strings.Contains(p.Form.Action, CardPagePrefix) || !bytes.Contains(p.Body, []byte("Son kullanma tarihi geçersiz")) {
		t.Fatalf("bad expiry: %s", p.Body)
	}
	f.Set("Pan", "4355084355084359")
	f.Set("Expiry", "1230")
	p = e.post(p.Form.Action, f)
	if p.Form.Action != failURL || p.Form.Fields.Value("ProcReturnCode") != "M041" {
		t.Fatalf("bad card number on the card page: %s %v", p.Form.Action, p.Form.Fields.Value("ProcReturnCode"))
	}
}

// TestPathsIgnoreCase: IIS matches paths without regard to case.
func TestPathsIgnoreCase(t *testing.T) {
	e := newEnv(t, nil)
	cb := e.drive(strings.ToUpper(GatePath), gateForm(model3DPay, "CASE-1", "1.00", withPAN(approveCard)), withPAN(approveCard), banksim.ChallengeCode)
	if cb.v("ProcReturnCode") != "00" {
		t.Fatalf("upper-case gate path: %s", cb.v("ProcReturnCode"))
	}
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/gateway/xmlgate.aspx", strings.NewReader(string(readTestdata(t, "orderinquiry.xml"))))
	if p := e.do(req); p.Status != 200 || !bytes.Contains(p.Body, []byte("<PayforResponse>")) {
		t.Fatalf("lower-case XMLGate path: %d %s", p.Status, p.Body)
	}
	req, _ = http.NewRequest(http.MethodGet, e.srv.URL+GatePath, nil)
	if p := e.do(req); p.Status != http.StatusMethodNotAllowed {
		t.Errorf("GET of the gate: %d", p.Status)
	}
}

// TestChallengeOnce: a challenge cannot be submitted twice.
func TestChallengeOnce(t *testing.T) {
	e := newEnv(t, nil)
	p := e.post(e.srv.URL+GatePath, gateForm(model3DPay, "ONCE-1", "1.00", withPAN(approveCard)))
	act := p.Form.Action
	f := p.Form.Fields
	f.Set("code", banksim.ChallengeCode)
	if first := e.post(act, f); first.Form.Fields.Value("ProcReturnCode") != "00" {
		t.Fatalf("first submit: %s", first.Body)
	}
	if again := e.post(act, f); again.Status != http.StatusBadRequest || again.Form.Action != "" {
		t.Fatalf("second submit: %d %s", again.Status, again.Body)
	}
	if n := e.sim.Calls().Callbacks; n != 1 {
		t.Errorf("%d callbacks", n)
	}
}
