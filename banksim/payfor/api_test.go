package payfor

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/posrelay/posrelay/banksim"
)

// TestXMLGateScenario walks the after-sale operations of §2.7 across the
// end of day: void only before, refund only after and never above the
// captured amount, and what OrderInquiry and TxnHistory say at each step.
func TestXMLGateScenario(t *testing.T) {
	e := newEnv(t, nil)
	type step struct {
		name  string
		do    func() xmlAnswer
		code  string
		check func(t *testing.T)
	}
	inq := func(oid string, want map[string]string) func(t *testing.T) {
		return func(t *testing.T) {
			a := e.inquiry(oid)
			for k, v := range want {
				if a[k] != v {
					t.Errorf("OrderInquiry %s = %q, want %q (%v)", k, a[k], v, a)
				}
			}
		}
	}
	steps := []step{
		{"sale", func() xmlAnswer { return e.nonSecure("Auth", "S-1", "10.00", approveCard) }, "00",
			inq("S-1", map[string]string{"ProcReturnCode": "00", "TxnType": "Auth", "PurchAmount": "10.00", "IsVoided": "false", "IsRefunded": "false", "RefundedAmount": "0", "CardMask": "435508******4358", "TxnResult": "Success"})},
		{"same order again", func() xmlAnswer { return e.nonSecure("Auth", "S-1", "10.00", approveCard) }, "101310", nil},
		{"refund before end of day (PF-F15)", func() xmlAnswer { return e.op("Refund", "S-1", "1.00") }, "V014", nil},
		{"sale to void", func() xmlAnswer { return e.nonSecure("Auth", "S-2", "20.00", approveCard) }, "00", nil},
		{"void before end of day (PF-F13)", func() xmlAnswer { return e.op("Void", "S-2", "") }, "00",
			inq("S-2", map[string]string{"IsVoided": "true", "VoidDate": "20240517"})},
		{"void again", func() xmlAnswer { return e.op("Void", "S-2", "") }, "V017", nil},
		{"void of an unknown order (PF-F14)", func() xmlAnswer { return e.op("Void", "NOPE", "") }, "V013", nil},
		{"pre-auth", func() xmlAnswer { return e.nonSecure("PreAuth", "P-1", "50.00", approveCard) }, "00", nil},
		{"capture above +15 %", func() xmlAnswer { return e.op("PostAuth", "P-1", "57.51") }, "V027", nil},
		{"capture below -15 %", func() xmlAnswer { return e.op("PostAuth", "P-1", "42.49") }, "V027", nil},
		{"capture of a sale", func() xmlAnswer { return e.op("PostAuth", "S-1", "10.00") }, "V016", nil},
		{"capture of an unknown order (PF-F3)", func() xmlAnswer { return e.op("PostAuth", "NOPE", "1.00") }, "V013", nil},
		{"capture", func() xmlAnswer { return e.op("PostAuth", "P-1", "45.00") }, "00", nil},
		{"capture twice", func() xmlAnswer { return e.op("PostAuth", "P-1", "45.00") }, "V025", nil},
		{"midnight, Türkiye time", func() xmlAnswer { e.clock.Set(time.Date(2024, 5, 18, 0, 0, 1, 0, banksim.Turkey)); return nil }, "", nil},
		{"void after settlement", func() xmlAnswer { return e.op("Void", "S-1", "") }, "V018", nil},
		{"refund above the sale", func() xmlAnswer { return e.op("Refund", "S-1", "10.01") }, "V015", nil},
		{"partial refund", func() xmlAnswer { return e.op("Refund", "S-1", "4.00") }, "00",
			inq("S-1", map[string]string{"IsRefunded": "true", "RefundedAmount": "4.00", "IsVoided": "false"})},
		{"refund above the rest", func() xmlAnswer { return e.op("Refund", "S-1", "6.01") }, "V015", nil},
		{"refund of the rest", func() xmlAnswer { return e.op("Refund", "S-1", "6.00") }, "00", nil},
		{"refund of a fully refunded sale", func() xmlAnswer { return e.op("Refund", "S-1", "0.01") }, "V037", nil},
		{"refund of a voided sale", func() xmlAnswer { return e.op("Refund", "S-2", "1.00") }, "V017", nil},
		{"refund of the captured pre-auth, not above the capture", func() xmlAnswer { return e.op("Refund", "P-1", "45.01") }, "V015", nil},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			a := s.do()
			if s.code != "" && (a["ProcReturnCode"] != s.code || a[""] != "PayforResponse") {
				t.Fatalf("answer %v; want %s", a, s.code)
			}
			if s.check != nil {
				s.check(t)
			}
		})
	}
	o, _ := e.sim.Order("S-1")
	if o.State != banksim.StateRefunded || o.Refunded != 1000 || !o.Settled {
		t.Errorf("S-1 in the ledger: %+v", o)
	}
	p, _ := e.sim.Order("P-1")
	if p.Kind != banksim.KindPreAuth || p.Captured != 4500 {
		t.Errorf("P-1 in the ledger: %+v", p)
	}
	c := e.sim.Calls()
	if c.Count("S-1", "Refund") != 6 || c.Count("S-2", "Void") != 2 || c.XML["OrderInquiry"] != 3 {
		t.Errorf("counters %+v", c)
	}
}

func TestOrderInquiryNotFound(t *testing.T) {
	e := newEnv(t, nil)
	a := e.inquiry("202210312A242")
	for k, v := range map[string]string{"ProcReturnCode": "V013", "IrcCode": "99961", "TxnType": "OrderInquiry", "OrgOrderId": "202210312A242", "RequestGuid": "0"} {
		if a[k] != v {
			t.Errorf("%s = %q, want %q", k, a[k], v)
		}
	}
	// A declined sale is found, with its code.
	e.nonSecure("Auth", "D-1", "1.00", "4000000000000515")
	if a := e.inquiry("D-1"); a["ProcReturnCode"] != "51" || a["TxnType"] != "Auth" || a["TxnResult"] != "Failed" {
		t.Errorf("declined sale: %v", a)
	}
}

func TestTxnHistory(t *testing.T) {
	e := newEnv(t, nil)
	e.nonSecure("PreAuth", "H-1", "1.01", approveCard)
	e.op("PostAuth", "H-1", "")
	e.nonSecure("Auth", "H-2", "2.00", approveCard)
	e.clock.Advance(24 * time.Hour)
	e.op("Refund", "H-2", "0.50")
	get := func(fields ...string) []byte {
		t.Helper()
		_, p := e.api(account(append([]string{"SecureType", "Report"}, fields...)...)...)
		return p.Body
	}
	body := get("OrderId", "H-1", "TxnType", "TxnHistory", "Lang", "TR")
	for _, want := range []string{"<TxnHistoryReport", "<TxnType>PreAuth</TxnType>", "<TxnType>PostAuth</TxnType>", "<OrgOrderId>H-1</OrgOrderId>",
		"<string>IsBatchClosed</string>\r\n        <string>True</string>", `<PaymentRequest xmlns="http://ocean.smartway.com/">`} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("history lacks %q:\n%s", want, body)
		}
	}
	if n := bytes.Count(body, []byte("<PaymentRequestExtended>")); n != 2 {
		t.Errorf("%d entries for H-1", n)
	}
	day := get("ReqDate", "20240517", "TxnType", "TxnHistory", "Lang", "TR")
	if n := bytes.Count(day, []byte("<PaymentRequestExtended>")); n != 3 {
		t.Errorf("%d entries on 20240517; want the pre-auth, its capture and the sale", n)
	}
	if !bytes.Contains(get("OrderId", "NOPE", "TxnType", "TxnHistory", "Lang", "TR"), []byte("</TxnHistoryReport>")) {
		t.Error("an unknown order has no empty report")
	}
}

func TestXMLGateRefusals(t *testing.T) {
	tests := []struct {
		name    string
		fields  []string
		foreign bool
		code    string
	}{
		{"from an unregistered address", account("OrgOrderId", "X", "SecureType", "Inquiry", "TxnType", "OrderInquiry"), true, "M047"},
		{"wrong password", []string{"MerchantId", testMerchantID, "UserCode", testUserCode, "UserPass", "x", "MbrId", testMbrID, "OrgOrderId", "X", "SecureType", "Inquiry", "TxnType", "OrderInquiry"}, false, "V004"},
		{"no password", []string{"MerchantId", testMerchantID, "UserCode", testUserCode, "MbrId", testMbrID, "TxnType", "OrderInquiry"}, false, "M017"},
		{"another merchant", []string{"MerchantId", "1", "UserCode", testUserCode, "UserPass", testUserPass, "MbrId", testMbrID, "TxnType", "OrderInquiry"}, false, "V001"},
		{"no MbrId", []string{"MerchantId", testMerchantID, "UserCode", testUserCode, "UserPass", testUserPass, "TxnType", "Void"}, false, "M013"},
		{"unknown TxnType", account("SecureType", "NonSecure", "TxnType", "Sale"), false, "M015"},
		{"wrong SecureType", account("OrgOrderId", "X", "SecureType", "NonSecure", "TxnType", "OrderInquiry"), false, "M021"},
		{"void without an order", account("SecureType", "NonSecure", "TxnType", "Void"), false, "M028"},
		{"sale with an invalid card", account("OrderId", "X", "SecureType", "NonSecure", "TxnType", "Auth", "PurchAmount", "1", "Currency", "949",
			"InstallmentCount", "0", "Pan", "4355084355084359", "Expiry", "1230", "Cvv2", "000"), false, "M041"},
		{"sale in TL", account("OrderId", "X", "SecureType", "NonSecure", "TxnType", "Auth", "PurchAmount", "1", "Currency", "TL"), false, "M002"},
		{"3DModelPayment of an unknown RequestGuid", []string{"RequestGuid", "1000000000000000", "UserCode", testUserCode, "UserPass", testUserPass, "OrderId", "X", "SecureType", "3DModelPayment"}, false, "V013"},
		{"3DModelPayment with a wrong password", []string{"RequestGuid", "1", "UserCode", testUserCode, "UserPass", "x", "OrderId", "X", "SecureType", "3DModelPayment"}, false, "V004"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) {
				if tc.foreign {
					c.RelayIPs = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
				}
			})
			a, p := e.api(tc.fields...)
			if a["ProcReturnCode"] != tc.code || a["ErrMsg"] == "" {
				t.Fatalf("answer %v; want %s", a, tc.code)
			}
			if !bytes.Contains(p.Body, []byte("<AuthCode>\r\n  </AuthCode>")) || !strings.HasPrefix(p.ContentType, "text/xml") {
				t.Errorf("answer not shaped like the bank's: %q %s", p.ContentType, p.Body)
			}
			if e.sim.Calls().Refusals[tc.code] != 1 {
				t.Errorf("refusals %v", e.sim.Calls().Refusals)
			}
		})
	}
	e := newEnv(t, nil)
	for _, body := range []string{"", "<html>", "<PayforRequest><A><B/></A></PayforRequest>"} {
		if a, _ := e.apiRaw(body); a["ProcReturnCode"] != "M043" {
			t.Errorf("body %q: %v", body, a)
		}
	}
}

// Test3DModelPayment: the RequestGuid provisions once, and only for the
// same OrderId (V036 otherwise, issue #283).
func Test3DModelPayment(t *testing.T) {
	e := newEnv(t, nil)
	cb := e.pay(model3DModel, "M-1", "3.00", withPAN(approveCard))
	guid := cb.v("RequestGuid")
	if a := e.inquiry("M-1"); a["ProcReturnCode"] != "V033" || a["TxnType"] != "Auth" || a["RequestGuid"] != guid {
		t.Errorf("inquiry before 3DModelPayment: %v", a)
	}
	pay := func(oid string) xmlAnswer {
		a, _ := e.api("RequestGuid", guid, "UserCode", testUserCode, "UserPass", testUserPass, "OrderId", oid, "SecureType", "3DModelPayment")
		return a
	}
	if a := pay("M-2"); a["ProcReturnCode"] != "V036" {
		t.Fatalf("other OrderId: %v", a)
	}
	if a := pay("M-1"); a["ProcReturnCode"] != "00" || a["AuthCode"] == "" || a["HostRefNum"] == "" || a["CardHolderName"] != "Ayşe Yılmaz" {
		t.Fatalf("provision: %v", a)
	}
	if a := pay("M-1"); a["ProcReturnCode"] != "101310" {
		t.Fatalf("second provision: %v", a)
	}
	if n := e.sim.Calls().Count("M-1", "3DModelPayment"); n != 2 {
		t.Errorf("%d calls counted for M-1", n)
	}
	if o, _ := e.sim.Order("M-1"); o.State != banksim.StateApproved || o.Captured != 300 || o.AuthCode == "" {
		t.Errorf("ledger %+v", o)
	}
	if a := e.inquiry("M-1"); a["SecureType"] != "3DModel" || a["CardHolderName"] != "Ayşe Yılmaz" || a["D3Status"] != "1" || a["RequestGuid"] != guid {
		t.Errorf("inquiry %v", a)
	}
}

// TestTimeoutAndMalformed: the sale is recorded approved while the answer
// hangs (the connection drops) or comes unreadable.
func TestTimeoutAndMalformed(t *testing.T) {
	t.Run("timeout hangs until the client gives up", func(t *testing.T) {
		e := newEnv(t, nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.URL+APIPath, strings.NewReader(
				`<PayforRequest><MerchantId>`+testMerchantID+`</MerchantId><UserCode>`+testUserCode+`</UserCode><UserPass>Api|Pass\1</UserPass><MbrId>5</MbrId>`+
					`<OrderId>T-1</OrderId><SecureType>NonSecure</SecureType><TxnType>Auth</TxnType><PurchAmount>1</PurchAmount><Currency>949</Currency>`+
					`<InstallmentCount>0</InstallmentCount><Pan>4000000000009904</Pan><Expiry>1230</Expiry><Cvv2>000</Cvv2></PayforRequest>`))
			resp, err := e.http.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
		for {
			if o, ok := e.sim.Order("T-1"); ok {
				if o.State != banksim.StateApproved {
					t.Errorf("ledger %+v", o)
				}
				break
			}
			select {
			case err := <-done:
				t.Fatalf("answered before recording: %v", err)
			case <-time.After(5 * time.Millisecond):
			}
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("client error %v; want the call cut off", err)
		}
		if a := e.inquiry("T-1"); a["ProcReturnCode"] != "00" {
			t.Errorf("inquiry %v", a)
		}
	})
	for _, truncated := range []bool{false, true} {
		name := "malformed: WAF page"
		if truncated {
			name = "malformed: truncated XML"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.MalformedXML = truncated })
			a, p := e.api(account("OrderId", "W-1", "SecureType", "NonSecure", "TxnType", "Auth", "PurchAmount", "1", "Currency", "949",
				"InstallmentCount", "0", "Pan", "4000000000009805", "Expiry", "1230", "Cvv2", "000")...)
			if a != nil || p.Status != 200 {
				t.Fatalf("answer %v (%d %s)", a, p.Status, p.Body)
			}
			if truncated != bytes.HasPrefix(p.Body, []byte("<?xml")) || !truncated && !bytes.Contains(p.Body, []byte("The requested URL was rejected")) {
				t.Errorf("body %s", p.Body)
			}
			if o, _ := e.sim.Order("W-1"); o.State != banksim.StateApproved {
				t.Errorf("ledger %+v", o)
			}
		})
	}
}

// TestInspection: the counters and the ledger are readable over HTTP.
func TestInspection(t *testing.T) {
	e := newEnv(t, nil)
	e.pay(model3DPay, "I-1", "1.00", withPAN(approveCard))
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+CallsPath, nil)
	p := e.do(req)
	if !bytes.Contains(p.Body, []byte(`"formPosts":{"3DPay":1}`)) || !bytes.Contains(p.Body, []byte(`"callbacks":1`)) {
		t.Errorf("calls %s", p.Body)
	}
	req, _ = http.NewRequest(http.MethodGet, e.srv.URL+OrderPathPrefix+"I-1", nil)
	if p := e.do(req); p.Status != 200 || !bytes.Contains(p.Body, []byte(`"State":"approved"`)) || bytes.Contains(p.Body, []byte(approveCard)) {
		t.Errorf("order %d %s", p.Status, p.Body)
	}
	req, _ = http.NewRequest(http.MethodGet, e.srv.URL+OrderPathPrefix+"nope", nil)
	if p := e.do(req); p.Status != 404 {
		t.Errorf("unknown order: %d", p.Status)
	}
}

func TestParsePayforRequest(t *testing.T) {
	tests := []struct {
		file string
		want map[string]string
	}{
		{"nonsecure_auth.xml", map[string]string{"MerchantId": "085300000009704", "Pan": "5555444433332222", "Lang": "tr"}},
		{"3dmodelpayment.xml", map[string]string{"RequestGuid": "1000000081255931", "SecureType": "3DModelPayment"}},
		{"orderinquiry.xml", map[string]string{"OrgOrderId": "202210312A24", "TxnType": "OrderInquiry"}},
		{"refund_indented.xml", map[string]string{"OrgOrderId": "20221031714F", "PurchAmount": "1.01"}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			req, err := parsePayforRequest(readTestdata(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.want {
				if req[k] != v {
					t.Errorf("%s = %q, want %q", k, req[k], v)
				}
			}
		})
	}
	for _, bad := range []string{"", "<CC5Request/>", "<PayforRequest><A>1</A><A>2</A></PayforRequest>", "<PayforRequest>x<A/></PayforRequest>",
		"<PayforRequest><A><B/></A></PayforRequest>", "<PayforRequest/><PayforRequest/>", `<p:PayforRequest xmlns:p="x"/>`} {
		if _, err := parsePayforRequest([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
