package vakif

import (
	"net/http"
	"strings"
	"testing"

	"github.com/posrelay/posrelay/banksim"
	"github.com/posrelay/posrelay/signer"
)

// registerForm is a 3D Host RegisterTransaction (§3B).
func registerForm(orderID, amount string) banksim.Form {
	return banksim.Form{
		{Name: "HostMerchantId", Value: testMerchant}, {Name: "MerchantPassword", Value: testPassword}, {Name: "HostTerminalId", Value: testTerminal},
		{Name: "TransactionType", Value: "Sale"}, {Name: "AmountCode", Value: "949"}, {Name: "Amount", Value: amount}, {Name: "OrderID", Value: orderID},
		{Name: "IsSecure", Value: "true"}, {Name: "AllowNotEnrolledCard", Value: "false"}, {Name: "SuccessUrl", Value: successURL},
		{Name: "FailUrl", Value: failureURL}, {Name: "RequestLanguage", Value: "tr-TR"},
	}
}

func (e *env) register(f banksim.Form) map[string]string {
	e.t.Helper()
	_, body := e.post(e.relay, CPRegisterPath, f)
	return leaves(e.t, body)
}

// cpPay registers, fills the bank's card page and the challenge, and
// returns where the browser is sent back to.
func (e *env) cpPay(f banksim.Form, pan, code string) (token, location string) {
	e.t.Helper()
	r := e.register(f)
	token = r["PaymentToken"]
	if token == "" || r["ErrorCode"] != "" {
		e.t.Fatalf("register %v", r)
	}
	resp, err := e.browser.Get(r["CommonPaymentUrl"] + "?Ptkn=" + token)
	if err != nil {
		e.t.Fatal(err)
	}
	page := readAll(resp)
	form, err := banksim.FindForm(page)
	if err != nil {
		e.t.Fatalf("card page: %v\n%s", err, page)
	}
	form.Fields.Set("CardNumber", pan)
	form.Fields.Set("ExpireMonth", "12")
	form.Fields.Set("ExpireYear", "2030")
	form.Fields.Set("Cvv", "000")
	form.Fields.Set("CardHoldersName", "John Doe")
	presp, body := e.post(e.browser, e.abs(form.Action), form.Fields)
	if presp.StatusCode == http.StatusSeeOther {
		return token, presp.Header.Get("Location")
	}
	ch, err := banksim.FindForm(body)
	if err != nil || !ch.Fields.Has("code") {
		e.t.Fatalf("challenge page: %v\n%s", err, body)
	}
	ch.Fields.Set("code", code)
	cresp, body := e.post(e.browser, e.abs(ch.Action), ch.Fields)
	if cresp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("challenge answered %d %s", cresp.StatusCode, body)
	}
	return token, cresp.Header.Get("Location")
}

func readAll(resp *http.Response) []byte {
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return []byte(b.String())
		}
	}
}

func (e *env) cpQuery(token, transID string) (*http.Response, map[string]string) {
	e.t.Helper()
	resp, body := e.post(e.relay, CPQueryPath, banksim.Form{{Name: "HostMerchantId", Value: testMerchant}, {Name: "Password", Value: testPassword},
		{Name: "TransactionId", Value: transID}, {Name: "PaymentToken", Value: token}})
	if !strings.Contains(resp.Header.Get("Content-Type"), "xml") {
		return resp, nil
	}
	return resp, leaves(e.t, body)
}

func TestCommonPaymentFlow(t *testing.T) {
	e := newEnv(t, nil)
	token, loc := e.cpPay(registerForm("CP-1", "1.01"), "4355084355084358", banksim.ChallengeCode)
	if !strings.HasPrefix(loc, successURL+"&") {
		t.Fatalf("sent back to %s; want SuccessUrl with the query appended", loc)
	}
	q := query(loc)
	if q.Get("Rc") != "0000" || q.Get("PaymentToken") != token || q.Get("TransactionId") == "" || q.Get("MaskedPan") != "435508***4358" {
		t.Fatalf("return query %v", q)
	}
	if strings.Contains(loc, "4355084355084358") {
		t.Error("the return carries the card number")
	}
	_, a := e.cpQuery(token, q.Get("TransactionId"))
	wantLeaves(t, a, map[string]string{"#root": "VposTransactionResponseContract", "Rc": "0000", "Amount": "1,01", "AmountCode": "949",
		"OrderID": "CP-1", "TransactionId": q.Get("TransactionId"), "PaymentToken": token, "HostMerchantId": testMerchant,
		"HostTerminalId": testTerminal, "AuthCode": "*", "Rrn": "*", "Message": "İŞLEM BAŞARILI", "ExpireMonth": "12", "ExpireYear": "2030",
		"CardHoldersName": "Jo* Do*", "BrandNumber": "100", "TransactionType": "Sale"})
	if _, a := e.cpQuery(token, ""); a["Rc"] != "0000" {
		t.Errorf("query by token alone: %v", a)
	}
	if _, a := e.cpQuery(token, "other"); a["ErrorCode"] != "9067" || a["Rc"] != "" {
		t.Errorf("query with another transaction: %v", a)
	}
	// The sale is a VPOS transaction: Search and Cancel reach it.
	s := e.search("", "CP-1")
	if s["TransactionSearchResultInfo/TransactionSearchResultInfo/TransactionId"] != q.Get("TransactionId") {
		t.Errorf("search %v", s)
	}
	if r := e.op("Cancel", q.Get("TransactionId"), ""); r["ResultCode"] != "0000" {
		t.Errorf("cancel %v", r)
	}
	// The page is single-use.
	if resp, err := e.browser.Get(e.srv.URL + CPPagePath + "?Ptkn=" + token); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("page again: %v %v", resp, err)
	}
	// An order paid once cannot be registered again.
	if r := e.register(registerForm("CP-1", "1.01")); r["ErrorCode"] != "1061" {
		t.Errorf("register of a paid order: %v", r)
	}
	if c := e.sim.Calls(); c.Registers != 2 || c.Queries != 3 || c.Callbacks != 1 {
		t.Errorf("calls %+v", c)
	}
}

func TestCommonPaymentOutcomes(t *testing.T) {
	tests := []struct {
		name     string
		pan      string
		code     string
		allow    bool
		rc       string
		to       string
		msgHas   string
		ledgered banksim.OrderState
	}{
		{"insufficient funds", "4000000000000515", banksim.ChallengeCode, false, "0051", failureURL, "", banksim.StateDeclined},
		{"expired card", "4000000000000549", banksim.ChallengeCode, false, "0054", failureURL, "", banksim.StateDeclined},
		{"invalid card", "4000000000000143", banksim.ChallengeCode, false, "0014", failureURL, "", banksim.StateDeclined},
		{"3-D failure", "4000000000003006", banksim.ChallengeCode, false, "0400", failureURL, "", ""},
		{"wrong code", "4355084355084358", "1", false, "0400", failureURL, "", ""},
		{"not enrolled", "4000000000003105", "", false, "2053", failureURL, "VeRes status is N", ""},
		{"not enrolled let through", "4000000000003105", "", true, "0000", successURL, "", banksim.StateApproved},
		{"half-secure refused", "4000000000003204", "", false, "0400", failureURL, "", ""},
		{"half-secure let through", "4000000000003204", "", true, "0000", successURL, "", banksim.StateApproved},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			f := registerForm("CP-O", "10.00")
			if tc.allow {
				f.Set("AllowNotEnrolledCard", "true")
			}
			token, loc := e.cpPay(f, tc.pan, tc.code)
			q := query(loc)
			if !strings.HasPrefix(loc, tc.to) || q.Get("Rc") != tc.rc || !strings.Contains(q.Get("Message"), tc.msgHas) {
				t.Fatalf("sent back to %s; want %s with Rc %s", loc, tc.to, tc.rc)
			}
			_, a := e.cpQuery(token, q.Get("TransactionId"))
			if a["Rc"] != tc.rc {
				t.Errorf("query %v; want Rc %s", a, tc.rc)
			}
			o, ok := e.sim.Order("CP-O")
			if tc.ledgered == "" {
				if ok {
					t.Errorf("recorded %+v", o)
				}
				return
			}
			if o.State != tc.ledgered {
				t.Errorf("order %+v", o)
			}
		})
	}
}

func TestCommonPaymentTimeoutAndMalformed(t *testing.T) {
	t.Run("malformed: first query is a WAF page", func(t *testing.T) {
		e := newEnv(t, nil)
		token, loc := e.cpPay(registerForm("CP-M", "10.00"), "4000000000009805", banksim.ChallengeCode)
		if query(loc).Get("Rc") != "0000" {
			t.Fatalf("return %s", loc)
		}
		if resp, a := e.cpQuery(token, ""); a != nil || !strings.Contains(resp.Header.Get("Content-Type"), "html") {
			t.Fatalf("first query %v", a)
		}
		if _, a := e.cpQuery(token, ""); a["Rc"] != "0000" {
			t.Errorf("second query %v", a)
		}
	})
	t.Run("timeout: first query hangs", func(t *testing.T) {
		e := newEnv(t, nil)
		token, _ := e.cpPay(registerForm("CP-T", "10.00"), "4000000000009904", banksim.ChallengeCode)
		done := make(chan error, 1)
		go func() {
			resp, err := e.relay.Post(e.srv.URL+CPQueryPath, "application/x-www-form-urlencoded", strings.NewReader(banksim.Form{
				{Name: "HostMerchantId", Value: testMerchant}, {Name: "Password", Value: testPassword}, {Name: "PaymentToken", Value: token}}.Encode()))
			if err == nil {
				resp.Body.Close()
				err = errAnswered
			}
			done <- err
		}()
		waitFor(t, func() bool { return e.sim.Calls().Queries == 1 })
		e.sim.Close()
		if err := <-done; err == errAnswered {
			t.Fatal("the timeout card's first query was answered")
		}
		if _, a := e.cpQuery(token, ""); a["Rc"] != "0000" {
			t.Errorf("second query %v", a)
		}
	})
}

func TestRegisterRefusals(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]string
		code string
	}{
		{"wrong password", map[string]string{"MerchantPassword": "x"}, "5007"},
		{"unknown merchant", map[string]string{"HostMerchantId": "000000000111111"}, "9039"},
		{"wrong terminal", map[string]string{"HostTerminalId": "VP1"}, "2013"},
		{"wrong HashedData", map[string]string{"HashedData": "/MfLewtkUjpN5e/RY2iuIoT72hk="}, "5029"},
		{"card fields on a 3D Host account", map[string]string{"PAN": "4355084355084358", "CVV": "000"}, "5029"},
		{"amount with a comma", map[string]string{"Amount": "10,00"}, "1049"},
		{"alphabetic currency", map[string]string{"AmountCode": "TRY"}, "1077"},
		{"no order id", map[string]string{"OrderID": ""}, "1078"},
		{"refund type", map[string]string{"TransactionType": "Refund"}, "1082"},
		{"installment count 1", map[string]string{"InstallmentCount": "1"}, "1060"},
		{"not secure", map[string]string{"IsSecure": "false"}, "5029"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			f := registerForm("CP-R", "10.00")
			for k, v := range tc.set {
				f.Set(k, v)
			}
			r := e.register(f)
			if r["ErrorCode"] != tc.code || r["ResponseMessage"] == "" || r["PaymentToken"] != "" {
				t.Fatalf("register %v; want %s", r, tc.code)
			}
		})
	}
	t.Run("right HashedData is accepted", func(t *testing.T) {
		e := newEnv(t, nil)
		f := registerForm("CP-H", "10.10")
		f.Set("HashedData", signer.VakifCPHash(testMerchant, "949", "10.10", testPassword))
		if r := e.register(f); r["ErrorCode"] != "" || r["PaymentToken"] == "" {
			t.Fatalf("register %v", r)
		}
	})
}

func TestCardPageChecksTheCard(t *testing.T) {
	e := newEnv(t, func(c *Config) {})
	r := e.register(registerForm("CP-C", "10.00"))
	f := banksim.Form{{Name: "Ptkn", Value: r["PaymentToken"]}, {Name: "CardNumber", Value: "4355084355084359"},
		{Name: "ExpireMonth", Value: "12"}, {Name: "ExpireYear", Value: "2030"}, {Name: "Cvv", Value: "000"}}
	resp, body := e.post(e.browser, CPPagePath, f)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "Kart numarası geçersiz") {
		t.Fatalf("bad card number: %d %s", resp.StatusCode, body)
	}
	f.Set("CardNumber", "4355084355084358")
	f.Set("ExpireMonth", "13")
	if _, body := e.post(e.browser, CPPagePath, f); !strings.Contains(string(body), "Son kullanma tarihi geçersiz") {
		t.Fatalf("bad expiry: %s", body)
	}
	if resp, _ := e.post(e.browser, CPPagePath, banksim.Form{{Name: "Ptkn", Value: "nope"}}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown token: %d", resp.StatusCode)
	}
}
