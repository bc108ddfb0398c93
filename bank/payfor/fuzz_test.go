package payfor

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/posrelay/posrelay/bank"
	"github.com/posrelay/posrelay/signer"
)

// FuzzParseResponse: the XMLGate parser never panics; what it accepts has a
// known root and trimmed values, and what it refuses is ErrMalformed.
func FuzzParseResponse(f *testing.F) {
	for _, pattern := range []string{"testdata/*.xml", "testdata/*.html"} {
		files, _ := filepath.Glob(pattern)
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte(`<PayforResponse><A>` + "\r\n  " + `</A></PayforResponse>`))
	f.Add([]byte(`<TxnHistoryReport><PaymentRequestExtended><ExtraParameters><ArrayOfString><string/></ArrayOfString></ExtraParameters></PaymentRequestExtended></TxnHistoryReport>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := parseResponse(body)
		if err != nil {
			return
		}
		if r.root != "PayforResponse" && r.root != "TxnHistoryReport" {
			t.Fatalf("root %q accepted", r.root)
		}
		check := func(m map[string]string) {
			for k, v := range m {
				if strings.TrimSpace(v) != v || !utf8.ValidString(v) {
					t.Fatalf("value %q=%q", k, v)
				}
			}
		}
		check(r.fields)
		for _, e := range r.history {
			check(e.fields)
			check(e.extra)
		}
	})
}

// FuzzVerify: a callback body never panics Verify, and an accepted one
// carries a valid ResponseHash; one that says "approved" is really
// approved by the bank's signed fields.
func FuzzVerify(f *testing.F) {
	for _, name := range []string{"pf_f4_3dmodel_callback_ok", "pf_f8_3dpay_callback_ok", "pf_f9_3dpay_callback_mr15"} {
		b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
		if err != nil {
			f.Fatal(err)
		}
		fields, err := orderedFields(b)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(fields.Encode(), Model3DPay)
		f.Add(fields.Encode(), Model3DModel)
	}
	f.Add("OrderId=1&3DStatus=1&ProcReturnCode=00&ResponseHash=x", Model3DHost)
	f.Fuzz(func(t *testing.T, body, model string) {
		vals, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		var fields bank.Fields
		for k, vs := range vals {
			fields = append(fields, bank.F(k, vs[0]))
		}
		g, err := New(Config{MerchantID: testMerchantID, UserCode: testUserCode, UserPass: testUserPass, MerchantPass: testMerchantPass,
			Model: model, GateURL: testGateURL, HostURL: testHostURL, APIURL: testAPIURL}, &fakeDoer{})
		if err != nil {
			return
		}
		v, err := g.Verify(testPayment("O", 1), &bank.Callback{Method: "POST", Fields: fields})
		if err != nil {
			return
		}
		m := fields.Map()
		if signer.VerifyPayForResponse(m, testMerchantID, testMerchantPass, testUserCode) != nil {
			t.Fatal("accepted a callback whose hash does not verify")
		}
		if v.Outcome != nil && v.Outcome.Status == bank.Succeeded && (m["ProcReturnCode"] != "00" || m["3DStatus"] != "1") {
			t.Fatalf("approved on %v", m)
		}
		if v.Outcome == nil && (model != Model3DModel || m["RequestGuid"] == "") {
			t.Fatalf("nothing decided for %v", m)
		}
	})
}

// FuzzGateAnswer: whatever the gate answers to the relay's form post,
// gateAnswer never panics, ends a payment only as failed, and serves only
// the bank's own bytes.
func FuzzGateAnswer(f *testing.F) {
	files, _ := filepath.Glob("testdata/gate_*.html")
	for _, name := range append(files, "testdata/waf.html") {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, 200)
	}
	f.Add([]byte(`<form action="`+testCallback+`"><input name="OrderId" value="ORD-1001"><input name="ProcReturnCode" value="00"><input name="3DStatus" value="1">`), 200)
	f.Fuzz(func(t *testing.T, body []byte, status int) {
		g, err := New(testConfig(Model3DPay), &fakeDoer{})
		if err != nil {
			t.Fatal(err)
		}
		p := testPayment("ORD-1001", 14990)
		step, err := g.gateAnswer(p, &bank.Response{Status: status, Body: body, URL: testGateURL}, "r1")
		if err != nil {
			return
		}
		switch {
		case step.Outcome != nil:
			if step.Outcome.Status != bank.Failed || step.Outcome.Echo.OrderID != p.OrderID {
				t.Fatalf("outcome %+v from the gate's answer", step.Outcome)
			}
		case step.Kind != bank.HTML || string(step.HTML) != string(body):
			t.Fatalf("step %+v", step)
		}
	})
}
