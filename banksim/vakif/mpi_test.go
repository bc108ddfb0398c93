package vakif

import (
	"net/http"
	"strings"
	"testing"

	"github.com/posrelay/posrelay/banksim"
)

func TestMPIFlowAndCardlessProvision(t *testing.T) {
	e := newEnv(t, nil)
	id := e.nextID()
	v := e.enroll(e.enrollForm("4355084355084358", "1.01", id))
	wantLeaves(t, v, map[string]string{"#root": "IPaySecure", "Message/VERes/Status": "Y", "Message/VERes/PaReq": "*", "Message/VERes/ACSUrl": "*",
		"Message/VERes/TermUrl": "*", "Message/VERes/MD": "*", "VerifyEnrollmentRequestId": id, "MessageErrorCode": ""})
	if strings.Contains(v["Message/VERes/PaReq"], "4355084355084358") {
		t.Error("PaReq carries the card number")
	}
	cb := e.authenticate(v, banksim.ChallengeCode)
	if cb.action != successURL {
		t.Fatalf("callback goes to %s; want SuccessUrl", cb.action)
	}
	wantCallback := map[string]string{
		"MerchantId": testMerchant, "PurchAmount": "101", "PurchCurrency": "949", "VerifyEnrollmentRequestId": id,
		"SessionInfo": "pay_" + id, "Pan": "435508***4358", "Expiry": "3012", "Status": "Y", "Eci": "05", "InstallmentCount": "",
		"ErrorCode": "", "ErrorMessage": "",
	}
	for k, want := range wantCallback {
		if got := cb.fields.Value(k); got != want {
			t.Errorf("callback %s = %q; want %q", k, got, want)
		}
	}
	if cb.fields.Value("Cavv") == "" || cb.fields.Value("Xid") == "" {
		t.Errorf("callback without Cavv or Xid: %v", cb.fields)
	}
	for _, f := range cb.fields {
		if strings.Contains(f.Value, "4355084355084358") {
			t.Errorf("callback field %s carries the full card number", f.Name)
		}
	}
	if e.sim.Calls().Callbacks != 1 {
		t.Errorf("Callbacks = %d", e.sim.Calls().Callbacks)
	}
	if _, ok := e.sim.Order("ORD-1"); ok {
		t.Fatal("3-D alone recorded a sale")
	}

	a := e.vpos(provisionEls("Sale", "ORD-1", cb)...)
	wantLeaves(t, a, map[string]string{"#root": "VposResponse", "ResultCode": "0000", "ResultDetail": "İŞLEM BAŞARILI", "TransactionId": "*",
		"AuthCode": "*", "Rrn": "*", "OrderId": "ORD-1", "CurrencyAmount": "1.01", "CurrencyCode": "949", "ECI": "05", "ThreeDSecureType": "2",
		"HostDate": "20240517100000", "MerchantId": testMerchant, "TerminalNo": testTerminal, "TransactionType": "Sale"})
	if len(a["TransactionId"]) != 32 {
		t.Errorf("TransactionId %q; want 32 hex digits like VB-F5", a["TransactionId"])
	}
	o, ok := e.sim.Order("ORD-1")
	if !ok || o.State != banksim.StateApproved || o.Amount != 101 || o.Captured != 101 || o.TransID != a["TransactionId"] || o.MaskedPAN != "435508***4358" {
		t.Fatalf("order %+v", o)
	}
	names := map[string]bool{}
	for _, f := range e.sim.LastProvision() {
		names[f.Name] = true
	}
	for _, n := range []string{"Pan", "Expiry", "Cvv", "CurrencyAmount"} {
		if names[n] {
			t.Errorf("LastProvision shows %s", n)
		}
	}
	if !names["MpiTransactionId"] || !names["CAVV"] {
		t.Errorf("LastProvision = %v", e.sim.LastProvision())
	}
	// The MPI transaction is spent.
	if again := e.vpos(provisionEls("Sale", "ORD-2", cb)...); again["ResultCode"] != "1128" {
		t.Errorf("second provision with the same MPI transaction: %v", again)
	}
	c := e.sim.Calls()
	if c.Provisions("ORD-1") != 1 || c.Provisions("ORD-2") != 1 || c.VPOS["Sale"] != 2 || c.Enrollments != 1 || c.ByOrder["ORD-1"] != 1 {
		t.Errorf("calls %+v", c)
	}
	// Replays of the browser's steps find nothing.
	if resp, _ := e.post(e.browser, v["Message/VERes/ACSUrl"], banksim.Form{{Name: "PaReq", Value: v["Message/VERes/PaReq"]},
		{Name: "TermUrl", Value: v["Message/VERes/TermUrl"]}, {Name: "MD", Value: v["Message/VERes/MD"]}}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("replayed ACS post: %d", resp.StatusCode)
	}
}

func TestMPIOutcomes(t *testing.T) {
	tests := []struct {
		name     string
		pan      string
		code     string // challenge code; "" = none expected
		veres    string
		status   string // callback Status
		to       string
		eci      string
		result   string // provisioning ResultCode; "" = not provisioned
		ledgered banksim.OrderState
	}{
		{"approved mastercard", "5400000000000005", banksim.ChallengeCode, "Y", "Y", successURL, "02", "0000", banksim.StateApproved},
		{"approved troy", "9792000000000003", banksim.ChallengeCode, "Y", "Y", successURL, "05", "0000", banksim.StateApproved},
		{"insufficient funds", "4000000000000515", banksim.ChallengeCode, "Y", "Y", successURL, "05", "0051", banksim.StateDeclined},
		{"expired card", "4000000000000549", banksim.ChallengeCode, "Y", "Y", successURL, "05", "0054", banksim.StateDeclined},
		{"invalid card", "4000000000000143", banksim.ChallengeCode, "Y", "Y", successURL, "05", "0014", banksim.StateDeclined},
		{"3-D failure card", "4000000000003006", banksim.ChallengeCode, "Y", "N", failureURL, "", "1126", ""},
		{"wrong code", "4355084355084358", "000000", "Y", "N", failureURL, "", "1126", ""},
		{"cancelled at the ACS", "4355084355084358", "cancel", "Y", "N", failureURL, "", "1126", ""},
		{"half-secure", "4000000000003204", "", "Y", "A", successURL, "06", "0000", banksim.StateApproved},
		{"not enrolled", "4000000000003105", "", "N", "", "", "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			v := e.enroll(e.enrollForm(tc.pan, "10.00", e.nextID()))
			if v["Message/VERes/Status"] != tc.veres {
				t.Fatalf("VERes %v; want %s", v, tc.veres)
			}
			if tc.veres != "Y" {
				return
			}
			cb := e.authenticate(v, tc.code)
			if cb.action != tc.to || cb.fields.Value("Status") != tc.status || cb.fields.Value("Eci") != tc.eci {
				t.Fatalf("callback to %s: %v", cb.action, cb.fields)
			}
			if tc.status == "N" && cb.fields.Value("ErrorCode") != "0400" {
				t.Errorf("failed callback ErrorCode %q", cb.fields.Value("ErrorCode"))
			}
			els := provisionEls("Sale", "ORD", cb)
			if tc.status == "N" { // a relay that provisions anyway, with made-up 3-D values
				els = with(els, [2]string{"ECI", "05"}, [2]string{"CAVV", "AAAA"})
			}
			a := e.vpos(els...)
			if a["ResultCode"] != tc.result {
				t.Fatalf("provision %v; want %s", a, tc.result)
			}
			o, ok := e.sim.Order("ORD")
			if tc.ledgered == "" {
				if ok {
					t.Fatalf("refused provision recorded %+v", o)
				}
				return
			}
			if o.State != tc.ledgered {
				t.Errorf("order %+v; want %s", o, tc.ledgered)
			}
		})
	}
}

func TestTimeoutAndMalformedCards(t *testing.T) {
	t.Run("timeout: recorded approved, answer hangs", func(t *testing.T) {
		e := newEnv(t, nil)
		v := e.enroll(e.enrollForm("4000000000009904", "10.00", e.nextID()))
		cb := e.authenticate(v, banksim.ChallengeCode)
		done := make(chan error, 1)
		go func() {
			resp, err := e.relay.Post(e.srv.URL+VPOSPath, "application/x-www-form-urlencoded",
				strings.NewReader(banksim.Form{{Name: "prmstr", Value: vposXML(provisionEls("Sale", "ORD-T", cb)...)}}.Encode()))
			if err == nil {
				resp.Body.Close()
				err = errAnswered
			}
			done <- err
		}()
		waitFor(t, func() bool { o, ok := e.sim.Order("ORD-T"); return ok && o.State == banksim.StateApproved })
		e.sim.Close()
		if err := <-done; err == errAnswered {
			t.Fatal("the timeout card's provision was answered")
		}
		if s := e.search("", "ORD-T"); s["TransactionSearchResultInfo/TransactionSearchResultInfo/ResultCode"] != "0000" {
			t.Errorf("search %v", s)
		}
	})
	t.Run("malformed: recorded approved, WAF page", func(t *testing.T) {
		e := newEnv(t, nil)
		v := e.enroll(e.enrollForm("4000000000009805", "10.00", e.nextID()))
		cb := e.authenticate(v, banksim.ChallengeCode)
		resp, body := e.post(e.relay, VPOSPath, banksim.Form{{Name: "prmstr", Value: vposXML(provisionEls("Sale", "ORD-M", cb)...)}})
		if !strings.Contains(resp.Header.Get("Content-Type"), "html") || !strings.Contains(string(body), "The requested URL was rejected") {
			t.Fatalf("answer %s %s", resp.Header.Get("Content-Type"), body)
		}
		if o, ok := e.sim.Order("ORD-M"); !ok || o.State != banksim.StateApproved {
			t.Errorf("order %+v", o)
		}
	})
}

type sentinel string

func (s sentinel) Error() string { return string(s) }

const errAnswered = sentinel("answered")

func TestEnrollmentRefusals(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]string
		code string
	}{
		{"unknown merchant", map[string]string{"MerchantId": "000000000111111"}, "2005"},
		{"wrong password", map[string]string{"MerchantPassword": "x"}, "2005"},
		{"amount with one decimal", map[string]string{"PurchaseAmount": "1.5"}, "1049"},
		{"amount with a comma", map[string]string{"PurchaseAmount": "1,50"}, "1049"},
		{"zero amount", map[string]string{"PurchaseAmount": "0.00"}, "1049"},
		{"alphabetic currency", map[string]string{"Currency": "TRY"}, "1077"},
		{"expiry MMYY", map[string]string{"ExpiryDate": "1230"}, "1052"},
		{"expiry YYYYMM", map[string]string{"ExpiryDate": "203012"}, "1052"},
		{"wrong brand", map[string]string{"BrandName": "200"}, "1100"},
		{"installment count 1", map[string]string{"InstallmentCount": "1"}, "1060"},
		{"installment count 0", map[string]string{"InstallmentCount": "0"}, "1060"},
		{"recurring", map[string]string{"IsRecurring": "true"}, "1148"},
		{"no success URL", map[string]string{"SuccessUrl": ""}, "9026"},
		{"sub dealer without sub merchant", map[string]string{"MerchantType": "2"}, "9026"},
		{"bad card number", map[string]string{"Pan": "4355084355084359"}, "1051"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			f := e.enrollForm("4355084355084358", "10.00", e.nextID())
			for k, v := range tc.set {
				f.Set(k, v)
			}
			v := e.enroll(f)
			if v["Message/VERes/Status"] != "E" || v["MessageErrorCode"] != tc.code || v["ErrorMessage"] == "" {
				t.Fatalf("answer %v; want E %s", v, tc.code)
			}
		})
	}
	t.Run("request id used twice", func(t *testing.T) {
		e := newEnv(t, nil)
		f := e.enrollForm("4355084355084358", "10.00", "same-id")
		if v := e.enroll(f); v["Message/VERes/Status"] != "Y" {
			t.Fatal(v)
		}
		if v := e.enroll(f); v["MessageErrorCode"] != "1006" {
			t.Fatalf("reused id: %v", v)
		}
	})
	t.Run("installments reach the callback and must match the provision", func(t *testing.T) {
		e := newEnv(t, nil)
		f := e.enrollForm("4355084355084358", "10.00", e.nextID())
		f.Set("InstallmentCount", "3")
		cb := e.authenticate(e.enroll(f), banksim.ChallengeCode)
		if cb.fields.Value("InstallmentCount") != "3" {
			t.Fatalf("callback %v", cb.fields)
		}
		if a := e.vpos(provisionEls("Sale", "ORD-I", cb)...); a["ResultCode"] != "1126" {
			t.Errorf("provision without NumberOfInstallments: %v", a)
		}
		if a := e.vpos(with(provisionEls("Sale", "ORD-I", cb), [2]string{"NumberOfInstallments", "3"})...); a["ResultCode"] != "0000" {
			t.Errorf("provision with NumberOfInstallments 3: %v", a)
		}
	})
}
