package payfor

import (
	"errors"
	"strings"
	"testing"

	"github.com/posrelay/posrelay/bank"
)

// TestEncodeGolden reproduces the serializer sample of §2.7 byte for byte
// with the account block and the encoder.
func TestEncodeGolden(t *testing.T) {
	g := newTestGateway(t, Model3DHost, &fakeDoer{})
	got := encodeRequest(g.account(
		bank.F("MOTO", "0"), bank.F("OrderId", "order222"), bank.F("SecureType", "NonSecure"), bank.F("TxnType", "Auth"),
		bank.F("PurchAmount", "100.25"), bank.F("Currency", "949"), bank.F("InstallmentCount", "0"), bank.F("Lang", "tr"),
		bank.F("CardHolderName", "ahmet"), bank.F("Pan", "5555444433332222"), bank.F("Expiry", "1221"), bank.F("Cvv2", "122"),
	))
	if want := readTestdata(t, "nonsecure_request.xml"); string(got) != string(want) {
		t.Errorf("encoder output\n%s\nwant\n%s", got, want)
	}
	esc := encodeRequest(bank.Fields{bank.F("CardHolderName", `Ayşe <&> "Yılmaz"`)})
	if !strings.Contains(string(esc), "<CardHolderName>Ayşe &lt;&amp;&gt; &#34;Yılmaz&#34;</CardHolderName>") {
		t.Errorf("escaping: %s", esc)
	}
}

// TestParseFixtures parses every XMLGate answer of Appendix A F.2 and the
// serializer samples.
func TestParseFixtures(t *testing.T) {
	tests := []struct {
		file    string
		root    string
		want    map[string]string
		entries int
	}{
		{"pf_f1_auth_approved.xml", "PayforResponse", map[string]string{"AuthCode": "S77788", "HostRefNum": "230422096719", "ProcReturnCode": "00", "TransId": "202210313C0D", "ErrMsg": "Onaylandı", "CardHolderName": "John Doe"}, 0},
		{"pf_f2_auth_m041.xml", "PayforResponse", map[string]string{"AuthCode": "", "ProcReturnCode": "M041", "ErrMsg": "Geçersiz kart numarası"}, 0},
		{"pf_f3_postauth_v013.xml", "PayforResponse", map[string]string{"AuthCode": "", "ProcReturnCode": "V013", "TransId": "20221031F9FA2", "CardHolderName": ""}, 0},
		{"pf_f5_3dmodelpayment_approved.xml", "PayforResponse", map[string]string{"AuthCode": "S37397", "ProcReturnCode": "00", "TransId": "20221031CFD0"}, 0},
		{"pf_f11_orderinquiry.xml", "PayforResponse", map[string]string{"OrderId": "202210312A24", "TxnType": "Auth", "PurchAmount": "1.01", "IsVoided": "false", "IsRefunded": "false", "RefundedAmount": "0", "ProcReturnCode": "00", "InsertDatetime": "31.10.2022 23:13:21"}, 0},
		{"pf_f12_orderinquiry_notfound.xml", "PayforResponse", map[string]string{"ProcReturnCode": "V013", "IrcCode": "99961", "TxnType": "OrderInquiry"}, 0},
		{"pf_f13_void_approved.xml", "PayforResponse", map[string]string{"AuthCode": "S05229", "ProcReturnCode": "00"}, 0},
		{"pf_f14_void_v013.xml", "PayforResponse", map[string]string{"AuthCode": "", "ProcReturnCode": "V013", "CardHolderName": ""}, 0},
		{"pf_f15_refund_v014.xml", "PayforResponse", map[string]string{"ProcReturnCode": "V014", "AuthCode": "S37109"}, 0},
		{"payforresponse_sample.xml", "PayforResponse", map[string]string{"AuthCode": "S31432", "BankInternalResponseMessage": "", "SESSION_SYSTEM_USER": "0"}, 0},
		{"payforresponse_crlf.xml", "PayforResponse", map[string]string{"AuthCode": "S31432", "MD": "", "ProcReturnCode": "00", "BankInternalResponseMessage": ""}, 0},
		{"payforresponse_latin5.xml", "PayforResponse", map[string]string{"ProcReturnCode": "V013", "ErrMsg": "Seçili İşlem Bulunamadı!"}, 0},
		{"txnhistory_preauth_postauth.xml", "TxnHistoryReport", nil, 2},
		{"txnhistory_one_entry.xml", "TxnHistoryReport", nil, 1},
		{"txnhistory_empty.xml", "TxnHistoryReport", nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			r, err := parseResponse(readTestdata(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if r.root != tc.root || len(r.history) != tc.entries {
				t.Fatalf("root %s entries %d", r.root, len(r.history))
			}
			for k, v := range tc.want {
				if got, ok := r.fields[k]; !ok || got != v {
					t.Errorf("%s = %q (present %v), want %q", k, got, ok, v)
				}
			}
		})
	}
	r, _ := parseResponse(readTestdata(t, "txnhistory_preauth_postauth.xml"))
	first, second := r.history[0], r.history[1]
	if first.fields["TxnType"] != "PreAuth" || first.fields["RequestGuid"] != "1000000093565640" || first.fields["OkUrl"] != "" ||
		first.extra["IsBatchClosed"] != "True" || first.extra["SettlementDate"] != "" ||
		second.fields["TxnType"] != "PostAuth" || second.fields["OrgOrderId"] != "20231228C01D" {
		t.Errorf("history entries %+v", r.history)
	}
}

func TestParseMalformed(t *testing.T) {
	tests := []struct{ name, body string }{
		{"WAF page", string(readTestdata(t, "waf.html"))},
		{"truncated", string(readTestdata(t, "truncated.xml"))},
		{"empty", " \r\n"},
		{"foreign root", `<?xml version="1.0"?><CC5Response><ProcReturnCode>00</ProcReturnCode></CC5Response>`},
		{"two roots", `<PayforResponse/><PayforResponse/>`},
		{"unknown charset", `<?xml version="1.0" encoding="EBCDIC"?><PayforResponse/>`},
		{"too deep", `<TxnHistoryReport><a><b><c><d><e><f><g><h>x</h></g></f></e></d></c></b></a></TxnHistoryReport>`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if r, err := parseResponse([]byte(tc.body)); !errors.Is(err, bank.ErrMalformed) {
				t.Fatalf("parse = %+v, %v; want ErrMalformed", r, err)
			}
		})
	}
	if r, err := parseResponse(append([]byte("\xef\xbb\xbf"), readTestdata(t, "pf_f1_auth_approved.xml")...)); err != nil || r.fields["AuthCode"] != "S77788" {
		t.Errorf("BOM: %+v, %v", r, err)
	}
}

// xmlRouter answers XMLGate requests by their TxnType.
func xmlRouter(t *testing.T, files map[string]string) func(*bank.Request, string) (*bank.Response, error) {
	return func(r *bank.Request, body string) (*bank.Response, error) {
		for kind, file := range files {
			if strings.Contains(body, "<TxnType>"+kind+"</TxnType>") {
				if file == "" {
					return nil, &bank.TransportError{Op: "bank call", Sent: true, Timeout: true, Err: errors.New("deadline")}
				}
				return &bank.Response{Status: 200, ContentType: "text/xml", Body: readTestdata(t, file), URL: r.URL}, nil
			}
		}
		t.Errorf("unexpected request %s", body)
		return nil, errors.New("unexpected")
	}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		name      string
		files     map[string]string
		oid       string
		wantState bank.TxnState
		wantAmt   int64
		wantCapt  int64
		settled   bool
		wantErr   bool
	}{
		{"PF-F11 approved Auth, history unsettled", map[string]string{"OrderInquiry": "pf_f11_orderinquiry.xml", "TxnHistory": "txnhistory_one_entry.xml"},
			"202210312A24", bank.TxnApproved, 101, 101, false, false},
		{"PF-F11 approved, history unavailable", map[string]string{"OrderInquiry": "pf_f11_orderinquiry.xml", "TxnHistory": ""},
			"202210312A24", bank.TxnApproved, 101, 101, false, false},
		{"PF-F12 not found", map[string]string{"OrderInquiry": "pf_f12_orderinquiry_notfound.xml"}, "202210312A242", bank.TxnNotFound, 0, 0, false, false},
		{"inquiry refused (PF-F2 shape, no record)", map[string]string{"OrderInquiry": "pf_f2_auth_m041.xml"}, "X", "", 0, 0, false, true},
		{"WAF page", map[string]string{"OrderInquiry": "waf.html"}, "X", "", 0, 0, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &fakeDoer{answer: xmlRouter(t, tc.files)}
			g := newTestGateway(t, Model3DHost, d)
			st, err := g.Status(t.Context(), testPayment(tc.oid, 101))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("want an error, got %+v", st)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if st.State != tc.wantState || st.Amount != tc.wantAmt || st.Captured != tc.wantCapt || st.Settled != tc.settled || st.Raw == "" {
				t.Fatalf("status %+v", st)
			}
			body := string(d.requests()[0].Body)
			for _, want := range []string{"<MerchantId>" + testMerchantID, "<OrgOrderId>" + tc.oid + "</OrgOrderId><SecureType>Inquiry</SecureType><Lang>TR</Lang><TxnType>OrderInquiry</TxnType>"} {
				if !strings.Contains(body, want) {
					t.Errorf("inquiry %s lacks %s", body, want)
				}
			}
		})
	}
}

// TestStatusStates builds inquiry answers for the states PF-F11 does not
// show: voided, refunded, declined, a captured pre-authorisation.
func TestStatusStates(t *testing.T) {
	inquiry := func(extra string) string {
		return `<?xml version="1.0" encoding="utf-8"?><PayforResponse><OrderId>O1</OrderId><TxnType>` + extra + `</PayforResponse>`
	}
	preAuthHistory := `<TxnHistoryReport><PaymentRequestExtended><PaymentRequest xmlns="http://ocean.smartway.com/"><TxnType>PreAuth</TxnType><PurchAmount>10.00</PurchAmount><ProcReturnCode>00</ProcReturnCode><TxnStatus>Y</TxnStatus></PaymentRequest>` +
		`<ExtraParameters><ArrayOfString><string>IsBatchClosed</string><string>True</string></ArrayOfString></ExtraParameters></PaymentRequestExtended>` +
		`<PaymentRequestExtended><PaymentRequest><TxnType>PostAuth</TxnType><PurchAmount>9.50</PurchAmount><ProcReturnCode>00</ProcReturnCode><TxnStatus>Y</TxnStatus></PaymentRequest></PaymentRequestExtended></TxnHistoryReport>`
	settledSale := `<TxnHistoryReport><PaymentRequestExtended><PaymentRequest><TxnType>Auth</TxnType><PurchAmount>10.00</PurchAmount><ProcReturnCode>00</ProcReturnCode><TxnStatus>Y</TxnStatus></PaymentRequest>` +
		`<ExtraParameters><ArrayOfString><string>IsBatchClosed</string><string>True</string></ArrayOfString><ArrayOfString><string>SettlementDate</string><string /></ArrayOfString></ExtraParameters></PaymentRequestExtended></TxnHistoryReport>`
	tests := []struct {
		name     string
		inquiry  string
		history  string
		want     bank.StatusResult
		wantCode string
	}{
		{"voided", inquiry(`Auth</TxnType><PurchAmount>10.00</PurchAmount><ProcReturnCode>00</ProcReturnCode><IsVoided>true</IsVoided>`), "",
			bank.StatusResult{State: bank.TxnVoided, Amount: 1000, Captured: 1000}, bank.CodeApproved},
		{"partly refunded", inquiry(`Auth</TxnType><PurchAmount>10.00</PurchAmount><ProcReturnCode>00</ProcReturnCode><IsVoided>false</IsVoided><IsRefunded>true</IsRefunded><RefundedAmount>2.5</RefundedAmount>`), settledSale,
			bank.StatusResult{State: bank.TxnRefunded, Amount: 1000, Captured: 1000, Refunded: 250, Settled: true}, bank.CodeApproved},
		{"refunded, amount not said", inquiry(`Auth</TxnType><PurchAmount>10.00</PurchAmount><ProcReturnCode>00</ProcReturnCode><IsVoided>false</IsVoided><IsRefunded>true</IsRefunded>`), settledSale,
			bank.StatusResult{State: bank.TxnRefunded, Amount: 1000, Captured: 1000, RefundedUnknown: true, Settled: true}, bank.CodeApproved},
		{"declined 51", inquiry(`Auth</TxnType><PurchAmount>10.00</PurchAmount><ProcReturnCode>51</ProcReturnCode><TxnResult>Failed</TxnResult>`), "",
			bank.StatusResult{State: bank.TxnDeclined, Amount: 1000}, bank.CodeInsufficientFunds},
		{"captured pre-authorisation", inquiry(`PreAuth</TxnType><PurchAmount>10.00</PurchAmount><ProcReturnCode>00</ProcReturnCode>`), preAuthHistory,
			bank.StatusResult{State: bank.TxnApproved, Amount: 1000, Captured: 950, Settled: true}, bank.CodeApproved},
		{"3DModel authenticated, never provisioned", inquiry(`Auth</TxnType><PurchAmount>10.00</PurchAmount><ProcReturnCode>V033</ProcReturnCode><TxnResult>Failed</TxnResult>`), "",
			bank.StatusResult{State: bank.TxnNotFound, Amount: 1000}, bank.CodeNotFound},
		{"authorisation still open (V000)", inquiry(`Auth</TxnType><PurchAmount>10.00</PurchAmount><ProcReturnCode>V000</ProcReturnCode>`), "",
			bank.StatusResult{State: bank.TxnPending, Amount: 1000}, bank.CodeUnknown},
		{"record of another order", `<PayforResponse><OrderId>O2</OrderId><TxnType>Auth</TxnType><ProcReturnCode>00</ProcReturnCode></PayforResponse>`, "",
			bank.StatusResult{}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &fakeDoer{answer: func(r *bank.Request, body string) (*bank.Response, error) {
				b := tc.inquiry
				if strings.Contains(body, "TxnHistory") {
					b = tc.history
					if b == "" {
						b = "<TxnHistoryReport/>"
					}
				}
				return &bank.Response{Status: 200, Body: []byte(b), URL: r.URL}, nil
			}}
			g := newTestGateway(t, Model3DPay, d)
			st, err := g.Status(t.Context(), testPayment("O1", 1000))
			if tc.wantCode == "" {
				if err == nil {
					t.Fatalf("want an error, got %+v", st)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := bank.StatusResult{State: st.State, Amount: st.Amount, Captured: st.Captured, Refunded: st.Refunded, RefundedUnknown: st.RefundedUnknown, Settled: st.Settled}
			if got != tc.want || st.Result.Code != tc.wantCode {
				t.Fatalf("status %+v (%s), want %+v (%s)", got, st.Result.Code, tc.want, tc.wantCode)
			}
		})
	}
}

func TestOperate(t *testing.T) {
	tests := []struct {
		name       string
		op         bank.Operation
		file       string
		wantBody   string
		wantStatus bank.Status
		wantCode   string
		wantErr    bool
	}{
		{"void approved (PF-F13)", bank.Operation{Kind: bank.OpVoid}, "pf_f13_void_approved.xml",
			"<OrgOrderId>O1</OrgOrderId><SecureType>NonSecure</SecureType><TxnType>Void</TxnType><Currency>949</Currency><Lang>TR</Lang>",
			bank.Succeeded, bank.CodeApproved, false},
		{"void of an unknown order (PF-F14)", bank.Operation{Kind: bank.OpVoid}, "pf_f14_void_v013.xml", "", bank.Failed, bank.CodeNotFound, false},
		{"refund before end of day (PF-F15)", bank.Operation{Kind: bank.OpRefund, Amount: 101}, "pf_f15_refund_v014.xml",
			"<SecureType>NonSecure</SecureType><Lang>TR</Lang><OrgOrderId>O1</OrgOrderId><TxnType>Refund</TxnType><PurchAmount>1.01</PurchAmount><Currency>949</Currency>",
			bank.Failed, bank.CodeVoidInstead, false},
		{"refund approved", bank.Operation{Kind: bank.OpRefund, Amount: 50}, "pf_f13_void_approved.xml", "<PurchAmount>0.50</PurchAmount>", bank.Succeeded, bank.CodeApproved, false},
		{"capture (PostAuth) of the full amount", bank.Operation{Kind: bank.OpCapture}, "pf_f1_auth_approved.xml",
			"<OrgOrderId>O1</OrgOrderId><SecureType>NonSecure</SecureType><TxnType>PostAuth</TxnType><PurchAmount>1.01</PurchAmount><Currency>949</Currency><Lang>TR</Lang><MOTO>0</MOTO>",
			bank.Succeeded, bank.CodeApproved, false},
		{"capture of an unknown order (PF-F3)", bank.Operation{Kind: bank.OpCapture, Amount: 90}, "pf_f3_postauth_v013.xml", "<PurchAmount>0.90</PurchAmount>", bank.Failed, bank.CodeNotFound, false},
		{"WAF page: outcome open", bank.Operation{Kind: bank.OpRefund, Amount: 10}, "waf.html", "", "", "", true},
		{"refund of nothing", bank.Operation{Kind: bank.OpRefund}, "", "", "", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &fakeDoer{}
			if tc.file != "" {
				d.answer = answerFile(t, tc.file, 200, "")
			}
			g := newTestGateway(t, Model3DHost, d)
			res, err := g.Operate(t.Context(), testPayment("O1", 101), &tc.op)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("want an error, got %+v", res)
				}
				if tc.file != "" && !bank.OutcomeUnknown(err) {
					t.Errorf("err %v should leave the outcome open", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.wantStatus || res.Result.Code != tc.wantCode {
				t.Fatalf("result %+v", res)
			}
			body := string(d.requests()[0].Body)
			if !strings.HasPrefix(body, `<?xml version="1.0" encoding="UTF-8"?>`+"\n<PayforRequest><MerchantId>"+testMerchantID+"</MerchantId><UserCode>"+testUserCode+"</UserCode><UserPass>"+testUserPass+"</UserPass><MbrId>5</MbrId>") ||
				!strings.Contains(body, tc.wantBody) {
				t.Errorf("request %s\nlacks %s", body, tc.wantBody)
			}
		})
	}
	g := newTestGateway(t, Model3DHost, &fakeDoer{})
	if _, err := g.Operate(t.Context(), testPayment("O1", 1), &bank.Operation{Kind: "chargeback"}); !errors.Is(err, bank.ErrNotSupported) {
		t.Errorf("unknown operation: %v", err)
	}
}
