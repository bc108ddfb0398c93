package est

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/posrelay/posrelay/banksim"
)

func TestProvisioningAfter3D(t *testing.T) {
	for _, st := range []string{StoreType3D, StoreType3DHost} {
		t.Run(st, func(t *testing.T) {
			e := newEnv(t, nil)
			cb := e.pay(st, "PRV-1", "1.01", withPAN("4355084355084358"))
			if o, ok := e.sim.Order("PRV-1"); ok {
				t.Fatalf("3-D alone recorded a sale: %+v", o)
			}
			a := e.provision(cb, "Auth")
			wantFields(t, a, map[string]string{
				"OrderId": "PRV-1", "GroupId": "PRV-1", "Response": "Approved", "ProcReturnCode": "00", "AuthCode": "*",
				"HostRefNum": "*", "TransId": "*", "ErrMsg": "", "Extra/TRXDATE": "20240517 10:00:00", "Extra/NUMCODE": "00",
				"Extra/CARDBRAND": "VISA", "Extra/CARDISSUER": cardIssuer, "Extra/SETTLEID": "1963", "Extra/ERRORCODE": "",
			})
			if !bytes.Contains(a.raw, []byte("<CARDISSUER>T. HALK BANKASI A.&#x15E;.</CARDISSUER>")) {
				t.Errorf("CARDISSUER not written with a character reference:\n%s", a.raw)
			}
			if len(a.v("HostRefNum")) != 12 || len(a.v("TransId")) != 14 {
				t.Errorf("HostRefNum %q TransId %q", a.v("HostRefNum"), a.v("TransId"))
			}
			o, _ := e.sim.Order("PRV-1")
			if o.State != banksim.StateApproved || o.Amount != 101 || o.TransID != a.v("TransId") || o.AuthCode != a.v("AuthCode") || o.Txns[0].MDStatus != "1" {
				t.Errorf("order %+v", o)
			}
			if again := e.provision(cb, "Auth"); again.v("ProcReturnCode") != "99" || again.v("Extra/ERRORCODE") != "CORE-2127" {
				t.Errorf("md reuse: %s %s", again.v("ProcReturnCode"), again.v("Extra/ERRORCODE"))
			}
			if n := e.sim.Calls().Provisions("PRV-1"); n != 2 {
				t.Errorf("Provisions = %d", n)
			}
			s := e.status("PRV-1")
			wantFields(t, s, map[string]string{
				"ProcReturnCode": "00", "Extra/TRANS_STAT": "A", "Extra/MDSTATUS": "1", "Extra/ECI_3D": "05",
				"Extra/CAVV_3D": cb.m()["cavv"], "Extra/XID_3D": cb.m()["xid"], "Extra/ORIG_TRANS_AMT": "101",
			})
		})
	}
}

func TestProvisioningRefusals(t *testing.T) {
	tests := []struct {
		name     string
		pan      string
		change   func(elems []string) []string
		wantCode string
	}{
		{"other order", "4355084355084358", func(x []string) []string { return set(x, "OrderId", "OTHER") }, "CORE-2121"},
		{"other amount", "4355084355084358", func(x []string) []string { return set(x, "Total", "1.02") }, "CORE-2121"},
		{"other currency", "4355084355084358", func(x []string) []string { return set(x, "Currency", "840") }, "CORE-2119"},
		{"unknown md", "4355084355084358", func(x []string) []string { return set(x, "Number", "435508:00:1:##190100000") }, "CORE-2121"},
		{"xid mismatch", "4355084355084358", func(x []string) []string { return set(x, "PayerTxnId", "AAAA") }, "CORE-2121"},
		{"cavv mismatch", "4355084355084358", func(x []string) []string { return set(x, "PayerAuthenticationCode", "") }, "CORE-2121"},
		{"taksit 1", "4355084355084358", func(x []string) []string { return set(x, "Taksit", "1") }, "CORE-2603"},
		{"failed 3-D", "4000000000003006", func(x []string) []string { return x }, "CORE-2206"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			cb := e.pay(StoreType3D, "PRF-1", "1.01", withPAN(tc.pan))
			m := cb.m()
			elems := []string{"Type", "Auth", "OrderId", m["oid"], "Total", m["amount"], "Currency", m["currency"], "Taksit", "",
				"Number", m["md"], "PayerTxnId", m["xid"], "PayerSecurityLevel", m["eci"], "PayerAuthenticationCode", m["cavv"], "Mode", "P"}
			a := e.api(tc.change(elems)...)
			wantFields(t, a, map[string]string{"ProcReturnCode": "99", "Response": "Error", "Extra/ERRORCODE": tc.wantCode, "ErrMsg": "*"})
			if _, ok := e.sim.Order("PRF-1"); ok {
				t.Error("refused provisioning recorded an order")
			}
			if tc.wantCode != "CORE-2206" {
				// The md was not consumed: the right request still works.
				if ok := e.provision(cb, "Auth"); ok.v("ProcReturnCode") != "00" {
					t.Errorf("provisioning after a refusal: %s", ok.v("Extra/ERRORCODE"))
				}
			}
		})
	}
}

func set(elems []string, name, value string) []string {
	out := append([]string(nil), elems...)
	for i := 0; i+1 < len(out); i += 2 {
		if out[i] == name {
			out[i+1] = value
		}
	}
	return out
}

func TestProvisioningOutcomes(t *testing.T) {
	tests := []struct {
		name, pan, typ string
		want           map[string]string
		state          banksim.OrderState
	}{
		{"declined 51", "4000000000000515", "Auth", map[string]string{"Response": "Declined", "ProcReturnCode": "51", "Extra/ERRORCODE": "ISO8583-51", "Extra/NUMCODE": "51", "AuthCode": "<absent>"}, banksim.StateDeclined},
		{"declined 14", "4000000000000143", "Auth", map[string]string{"Response": "Declined", "ProcReturnCode": "14", "Extra/ERRORCODE": "ISO8583-14"}, banksim.StateDeclined},
		{"half-secure is the merchant's choice", "4000000000003204", "Auth", map[string]string{"Response": "Approved", "ProcReturnCode": "00"}, banksim.StateApproved},
		{"not enrolled", "4000000000003105", "PreAuth", map[string]string{"Response": "Approved", "ProcReturnCode": "00"}, banksim.StateApproved},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			cb := e.pay(StoreType3D, "PO-1", "20", withPAN(tc.pan))
			wantFields(t, e.provision(cb, tc.typ), tc.want)
			if o, _ := e.sim.Order("PO-1"); o.State != tc.state {
				t.Errorf("state %s, want %s", o.State, tc.state)
			}
		})
	}
}

func TestTimeoutCard(t *testing.T) {
	t.Run("client gives up", func(t *testing.T) {
		e := newEnv(t, nil) // HangFor one minute: the client's deadline ends it
		cb := e.pay(StoreType3D, "TO-1", "7.50", withPAN("4000000000009904"))
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		m := cb.m()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.URL+APIPath, strings.NewReader(cc5(
			"Type", "Auth", "OrderId", "TO-1", "Total", "7.50", "Currency", "949", "Number", m["md"],
			"PayerTxnId", m["xid"], "PayerSecurityLevel", m["eci"], "PayerAuthenticationCode", m["cavv"])))
		_, err := e.http.Do(req)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("want the client's deadline, got %v", err)
		}
		s := e.status("TO-1")
		wantFields(t, s, map[string]string{"ProcReturnCode": "00", "Extra/TRANS_STAT": "A", "Extra/PROC_RET_CD": "00", "Extra/ORIG_TRANS_AMT": "750", "Extra/CAPTURE_AMT": "750"})
		if o, _ := e.sim.Order("TO-1"); o.State != banksim.StateApproved || o.Outcome != banksim.Timeout {
			t.Errorf("order %+v", o)
		}
	})
	t.Run("bank drops the connection", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.HangFor = 20 * time.Millisecond })
		body := cc5("Type", "Auth", "OrderId", "TO-2", "Total", "1", "Currency", "949", "Number", "4000000000009904", "Expires", "12/30", "Cvv2Val", "000")
		resp, err := e.http.Post(e.srv.URL+APIPath, "", strings.NewReader(body))
		if err == nil {
			resp.Body.Close()
			t.Fatalf("want a transport error, got status %d", resp.StatusCode)
		}
		if o, _ := e.sim.Order("TO-2"); o.State != banksim.StateApproved {
			t.Errorf("order %+v", o)
		}
	})
	t.Run("Close releases", func(t *testing.T) {
		hung := make(chan struct{}, 1)
		e := newEnv(t, func(c *Config) {
			logf := c.Logf
			c.Logf = func(format string, args ...any) {
				logf(format, args...)
				if strings.Contains(format, "withheld") {
					hung <- struct{}{}
				}
			}
		})
		done := make(chan error, 1)
		go func() {
			resp, err := e.http.Post(e.srv.URL+APIPath, "", strings.NewReader(cc5("Type", "Auth", "OrderId", "TO-3", "Total", "1",
				"Currency", "949", "Number", "4000000000009904", "Expires", "12/30", "Cvv2Val", "000")))
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
		<-hung
		if o, ok := e.sim.Order("TO-3"); !ok || o.State != banksim.StateApproved {
			t.Errorf("order %+v", o)
		}
		e.sim.Close()
		if err := <-done; err == nil {
			t.Error("want a transport error")
		}
	})
}

func TestMalformedCard(t *testing.T) {
	t.Run("WAF page", func(t *testing.T) {
		e := newEnv(t, nil)
		cb := e.pay(StoreType3D, "MF-1", "2", withPAN("4000000000009805"))
		m := cb.m()
		raw := e.apiRaw("", []byte(cc5("Type", "Auth", "OrderId", "MF-1", "Total", "2", "Currency", "949", "Number", m["md"],
			"PayerTxnId", m["xid"], "PayerSecurityLevel", m["eci"], "PayerAuthenticationCode", m["cavv"])))
		if !bytes.Contains(raw, []byte("The requested URL was rejected")) {
			t.Errorf("want the WAF page, got %s", raw)
		}
		wantFields(t, e.status("MF-1"), map[string]string{"ProcReturnCode": "00", "Extra/TRANS_STAT": "A"})
	})
	t.Run("truncated XML", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.MalformedXML = true })
		raw := e.apiRaw("", []byte(cc5("Type", "PreAuth", "OrderId", "MF-2", "Total", "2", "Currency", "949", "Number", "4000000000009805", "Expires", "12/30", "Cvv2Val", "000")))
		if _, err := tryDecodeCC5(raw); err == nil {
			t.Errorf("truncated answer decoded:\n%s", raw)
		}
		if !bytes.HasPrefix(raw, []byte(`<?xml version="1.0" encoding="ISO-8859-9"?>`)) {
			t.Errorf("want a cut CC5Response, got %s", raw)
		}
		if o, _ := e.sim.Order("MF-2"); o.State != banksim.StateApproved || o.Kind != banksim.KindPreAuth {
			t.Errorf("order %+v", o)
		}
	})
}

func TestNonSecure(t *testing.T) {
	e := newEnv(t, nil)
	a := e.nonSecure("Auth", "NS-1", "100.25", "4355084355084358")
	wantFields(t, a, map[string]string{"Response": "Approved", "ProcReturnCode": "00", "OrderId": "NS-1"})
	// EST-F2.
	a = e.nonSecure("Auth", "NS-2", "1", "4355084355084359")
	wantFields(t, a, map[string]string{"Response": "Error", "ProcReturnCode": "99", "AuthCode": "", "HostRefNum": "",
		"ErrMsg": "Kredi karti numarasi gecerli formatta degil.", "Extra/ERRORCODE": "CORE-2012", "Extra/NUMCODE": "992012", "Extra/SETTLEID": ""})
	if got := strings.Join(a.order, ","); got != "OrderId,GroupId,Response,AuthCode,HostRefNum,ProcReturnCode,TransId,ErrMsg,Extra" {
		t.Errorf("element order %s", got)
	}
	a = e.nonSecure("Auth", "NS-1", "1", "4355084355084358")
	wantFields(t, a, map[string]string{"ProcReturnCode": "99", "Extra/ERRORCODE": "CORE-2507"})
	a = e.api("Type", "Auth", "OrderId", "", "Total", "3", "Currency", "949", "Number", "5400000000000005", "Expires", "12/30", "Cvv2Val", "000")
	if !strings.HasPrefix(a.v("OrderId"), "SIM") || a.v("ProcReturnCode") != "00" {
		t.Errorf("gateway-named order: %q %q", a.v("OrderId"), a.v("ProcReturnCode"))
	}
	a = e.api("Type", "Auth", "OrderId", "NS-3", "Total", "3", "Currency", "949", "Number", "5400000000000005", "Expires", "13/30", "Cvv2Val", "000")
	wantFields(t, a, map[string]string{"Extra/ERRORCODE": "CORE-2011"})
	a = e.api("Type", "Sale", "OrderId", "NS-3")
	wantFields(t, a, map[string]string{"Extra/ERRORCODE": "CORE-2001"})
	a = e.api("OrderId", "NS-3")
	wantFields(t, a, map[string]string{"Extra/ERRORCODE": "CORE-2003"})
}

func TestCredentials(t *testing.T) {
	tests := []struct{ name, user, pass, client string }{
		{"wrong user", "OTHER", testPassword, testClientID},
		{"wrong password", testUser, "secret", testClientID},
		{"wrong client", testUser, testPassword, "700655000200"},
		{"empty", "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			body := `<?xml version="1.0" encoding="ISO-8859-9"?><CC5Request><Name>` + tc.user + `</Name><Password>` + xmlEsc(tc.pass) +
				`</Password><ClientId>` + tc.client + `</ClientId><Type>Auth</Type><OrderId>CR-1</OrderId><Total>1</Total><Currency>949</Currency>` +
				`<Number>4355084355084358</Number><Expires>12/30</Expires><Cvv2Val>000</Cvv2Val></CC5Request>`
			a := decodeCC5(t, e.apiRaw("", []byte(body)))
			wantFields(t, a, map[string]string{"ProcReturnCode": "99", "Response": "Error", "ErrMsg": apiAuth.Msg})
			if _, ok := e.sim.Order("CR-1"); ok {
				t.Error("recorded")
			}
			if c := e.sim.Calls(); c.API["Auth"] != 1 || c.Provisions("CR-1") != 1 {
				t.Errorf("calls %+v", c)
			}
		})
	}
}

func TestRequestEncodings(t *testing.T) {
	tests := []struct {
		name, ctype string
		body        func() []byte
	}{
		{"ISO-8859-9 raw, no Content-Type", "", func() []byte {
			return []byte(latin5(cc5("Type", "Auth", "OrderId", "ENC-ş", "Total", "1", "Currency", "949", "Number", "4355084355084358", "Expires", "12/30", "Cvv2Val", "000")))
		}},
		{"UTF-8 text/xml", "text/xml; charset=utf-8", func() []byte {
			return []byte(strings.Replace(cc5("Type", "Auth", "OrderId", "ENC-ş", "Total", "1", "Currency", "949", "Number", "4355084355084358", "Expires", "12/30", "Cvv2Val", "000"), "ISO-8859-9", "UTF-8", 1))
		}},
		{"DATA= form", "application/x-www-form-urlencoded", func() []byte {
			return []byte(banksim.Form{{Name: "DATA", Value: latin5(cc5("Type", "Auth", "OrderId", "ENC-ş", "Total", "1", "Currency", "949", "Number", "4355084355084358", "Expires", "12/30", "Cvv2Val", "000"))}}.Encode())
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			raw := e.apiRaw(tc.ctype, tc.body())
			if !bytes.HasPrefix(raw, []byte(`<?xml version="1.0" encoding="ISO-8859-9"?>`)) {
				t.Fatalf("answer: %s", raw)
			}
			if !bytes.Contains(raw, []byte("<OrderId>ENC-\xfe</OrderId>")) {
				t.Errorf("OrderId not ISO-8859-9 encoded: %q", raw)
			}
			a := decodeCC5(t, raw)
			wantFields(t, a, map[string]string{"OrderId": "ENC-ş", "ProcReturnCode": "00"})
			if _, ok := e.sim.Order("ENC-ş"); !ok {
				t.Error("order not recorded under its decoded id")
			}
		})
	}
	e := newEnv(t, nil)
	for _, bad := range []string{"", "not xml", "<CC5Response/>", `<?xml version="1.0" encoding="KOI8-R"?><CC5Request/>`, "<CC5Request><Name><x/></Name></CC5Request>"} {
		a := decodeCC5(t, e.apiRaw("", []byte(bad)))
		wantFields(t, a, map[string]string{"ProcReturnCode": "99", "Extra/ERRORCODE": "CORE-1001"})
	}
}

// TestVoidRefundCapture walks the after-sale rules with the injected clock.
func TestVoidRefundCapture(t *testing.T) {
	e := newEnv(t, nil)

	// Same day: refund refused (EST-F20), void allowed.
	e.nonSecure("Auth", "VR-1", "1.00", "4355084355084358")
	a := e.credit("VR-1", "1.00")
	wantFields(t, a, map[string]string{
		"OrderId": "VR-1", "GroupId": "VR-1", "Response": "Error", "AuthCode": "", "HostRefNum": "", "ProcReturnCode": "99",
		"TransId": "*", "ErrMsg": "Iade yapilamaz, siparis gunsonuna girmemis.", "Extra/SETTLEID": "",
		"Extra/TRXDATE": "20240517 10:00:00", "Extra/ERRORCODE": "CORE-2508", "Extra/NUMCODE": "992508",
	})
	e.clock.Advance(time.Minute)
	a = e.void("VR-1")
	wantFields(t, a, map[string]string{"Response": "Approved", "ProcReturnCode": "00", "OrderId": "VR-1", "AuthCode": "*"})
	s := e.status("VR-1")
	wantFields(t, s, map[string]string{"Extra/TRANS_STAT": "V", "Extra/VOID_DTTM": "2024-05-17 10:01:00.000", "Extra/CAPTURE_AMT": "100", "Extra/CHARGE_TYPE_CD": "S"})
	// Nothing left to cancel (EST-F17, OrderId empty).
	a = e.void("VR-1")
	wantFields(t, a, map[string]string{"OrderId": "", "GroupId": "", "Response": "Error", "ProcReturnCode": "99",
		"ErrMsg": "İptal edilmeye uygun satış işlemi bulunamadı.", "Extra/ERRORCODE": "CORE-2008", "Extra/NUMCODE": "992008"})
	if !bytes.Contains(a.raw, []byte("\xddptal edilmeye uygun sat\xfd\xfe i\xfelemi bulunamad\xfd.")) {
		t.Errorf("ErrMsg not in ISO-8859-9 bytes: %q", a.raw)
	}
	wantFields(t, e.void("NOPE"), map[string]string{"Extra/ERRORCODE": "CORE-2008"})
	// A refund of a voided sale is refused; refused refunds stay in the
	// history (EST-F22).
	wantFields(t, e.credit("VR-1", "1.00"), map[string]string{"ProcReturnCode": "99", "Extra/ERRORCODE": "CORE-2508"})
	h := e.history("VR-1")
	wantFields(t, h, map[string]string{"Extra/TRXCOUNT": "3", "ProcReturnCode": "00"})
	for _, n := range []string{"TRX1", "TRX2"} {
		if trx := strings.Split(h.v("Extra/"+n), "\t"); len(trx) != 11 || trx[0] != "C" || trx[1] != "D" || trx[2] != "100" || trx[9] != "99" {
			t.Errorf("%s %q", n, trx)
		}
	}
	if trx := strings.Split(h.v("Extra/TRX3"), "\t"); len(trx) != 11 || trx[0] != "S" || trx[1] != "V" || trx[6] != "2024-05-17 10:01:00.000" || trx[9] != "00" {
		t.Errorf("TRX3 %q", trx)
	}

	// Across midnight: void refused, refunds capped, partial refunds add up.
	e.clock.Set(time.Date(2024, 5, 17, 23, 59, 0, 0, banksim.Turkey))
	e.nonSecure("Auth", "VR-2", "100", "5400000000000005")
	e.clock.Advance(59 * time.Second)
	if o, _ := e.sim.Order("VR-2"); o.Settled {
		t.Fatal("settled before midnight")
	}
	e.clock.Advance(time.Second) // 00:00:00 the next day
	if o, _ := e.sim.Order("VR-2"); !o.Settled {
		t.Fatal("not settled at midnight")
	}
	wantFields(t, e.status("VR-2"), map[string]string{"Extra/TRANS_STAT": "C", "Extra/SETTLEID": "1963"})
	a = e.void("VR-2")
	wantFields(t, a, map[string]string{"ProcReturnCode": "99", "Extra/ERRORCODE": "CORE-2008", "OrderId": "VR-2"})
	if !strings.Contains(a.v("ErrMsg"), "gün sonuna girmiş") {
		t.Errorf("ErrMsg %q does not say the order is settled", a.v("ErrMsg"))
	}
	wantFields(t, e.credit("VR-2", "40"), map[string]string{"Response": "Approved", "ProcReturnCode": "00", "ERRORCODE": ""})
	wantFields(t, e.credit("VR-2", "50,00"), map[string]string{"Response": "Approved", "ProcReturnCode": "00"})
	wantFields(t, e.credit("VR-2", "20"), map[string]string{"ProcReturnCode": "99", "Extra/ERRORCODE": "CORE-2503"})
	wantFields(t, e.credit("VR-2", "10"), map[string]string{"ProcReturnCode": "00"})
	// EST-F21: nothing left.
	a = e.credit("VR-2", "0.01")
	wantFields(t, a, map[string]string{"Response": "Declined", "ProcReturnCode": "<absent>", "ErrMsg": "Net Tutar 0.", "Extra/ERRORCODE": "215021"})
	o, _ := e.sim.Order("VR-2")
	if o.State != banksim.StateRefunded || o.Refunded != 10000 || o.Captured != 10000 {
		t.Errorf("order %+v", o)
	}
	s = e.status("VR-2")
	wantFields(t, s, map[string]string{"Extra/CHARGE_TYPE_CD": "C", "Extra/ORIG_TRANS_AMT": "1000", "Extra/TRANS_STAT": "C"})
	// A same-day refund can itself be voided.
	wantFields(t, e.void("VR-2"), map[string]string{"ProcReturnCode": "00"})
	if o, _ := e.sim.Order("VR-2"); o.Refunded != 9000 || o.State != banksim.StateApproved {
		t.Errorf("after voiding the last refund: %+v", o)
	}
	h = e.history("VR-2")
	if h.v("Extra/TRXCOUNT") != "6" || !strings.HasPrefix(h.v("Extra/TRX1"), "C\tD\t1\t") || !strings.HasPrefix(h.v("Extra/TRX2"), "C\tV\t1000\t") || !strings.HasPrefix(h.v("Extra/TRX6"), "S\tC\t10000\t10000\t") {
		t.Errorf("history %q", h.extra)
	}
	if got := strings.Join(h.order, ","); got != "ErrMsg,ProcReturnCode,Response,OrderId,Extra" {
		t.Errorf("history element order %s", got)
	}
}

func TestPostAuth(t *testing.T) {
	tests := []struct {
		name     string
		steps    [][]string
		wantCode string // of the last step; "" = approved
		captured int64
	}{
		{"full with empty Total", [][]string{{"Type", "PostAuth", "OrderId", "PA", "Total", ""}}, "", 10000},
		{"partial", [][]string{{"Type", "PostAuth", "OrderId", "PA", "Total", "60"}}, "", 6000},
		{"more without PREAMT", [][]string{{"Type", "PostAuth", "OrderId", "PA", "Total", "110"}}, "CORE-2512", 0},
		{"more with PREAMT", [][]string{{"Type", "PostAuth", "OrderId", "PA", "Total", "110", "Extra.PREAMT", "100"}}, "", 11000},
		{"wrong PREAMT", [][]string{{"Type", "PostAuth", "OrderId", "PA", "Total", "110", "Extra.PREAMT", "90"}}, "CORE-2512", 0},
		{"beyond tolerance", [][]string{{"Type", "PostAuth", "OrderId", "PA", "Total", "116", "Extra.PREAMT", "100"}}, "CORE-2512", 0},
		{"twice", [][]string{{"Type", "PostAuth", "OrderId", "PA"}, {"Type", "PostAuth", "OrderId", "PA"}}, "CORE-2506", 10000},
		{"unknown order", [][]string{{"Type", "PostAuth", "OrderId", "NOPE"}}, "CORE-2509", 0},
		{"currency", [][]string{{"Type", "PostAuth", "OrderId", "PA", "Currency", "840"}}, "CORE-2119", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			wantFields(t, e.nonSecure("PreAuth", "PA", "100", "4355084355084358"), map[string]string{"ProcReturnCode": "00"})
			wantFields(t, e.status("PA"), map[string]string{"Extra/TRANS_STAT": "A", "Extra/CAPTURE_AMT": ""})
			var a answer
			for _, st := range tc.steps {
				a = e.api(st...)
			}
			if tc.wantCode == "" {
				wantFields(t, a, map[string]string{"ProcReturnCode": "00", "Response": "Approved"})
			} else {
				wantFields(t, a, map[string]string{"ProcReturnCode": "99", "Extra/ERRORCODE": tc.wantCode})
			}
			o, _ := e.sim.Order("PA")
			if o.Captured != tc.captured {
				t.Errorf("captured %d, want %d", o.Captured, tc.captured)
			}
		})
	}
	e := newEnv(t, nil)
	e.nonSecure("Auth", "SALE", "5", "4355084355084358")
	wantFields(t, e.api("Type", "PostAuth", "OrderId", "SALE"), map[string]string{"Extra/ERRORCODE": "CORE-2115"})
	// An uncaptured pre-auth cannot be refunded, even days later; it can be voided.
	e.nonSecure("PreAuth", "PA2", "5", "4355084355084358")
	e.clock.Advance(72 * time.Hour)
	wantFields(t, e.credit("PA2", "5"), map[string]string{"Extra/ERRORCODE": "CORE-2508"})
	wantFields(t, e.void("PA2"), map[string]string{"ProcReturnCode": "00"})
}

func TestCalls(t *testing.T) {
	e := newEnv(t, nil)
	cb := e.pay(StoreType3D, "CNT-1", "1", withPAN("4355084355084358"))
	e.provision(cb, "Auth")
	e.status("CNT-1")
	e.status("CNT-1")
	e.history("CNT-1")
	e.void("CNT-1")
	e.credit("CNT-1", "1")
	e.pay(StoreType3DPayHosting, "CNT-2", "1", withPAN("4355084355084358"))
	e.apiRaw("", []byte("garbage"))
	c := e.sim.Calls()
	if c.GatePosts != 2 || c.Callbacks != 2 {
		t.Errorf("gate %d callbacks %d", c.GatePosts, c.Callbacks)
	}
	want := map[string]int{"Auth": 1, "ORDERSTATUS": 2, "ORDERHISTORY": 1, "Void": 1, "Credit": 1, "": 1}
	for k, v := range want {
		if c.API[k] != v {
			t.Errorf("API[%q] = %d, want %d", k, c.API[k], v)
		}
	}
	if c.APIByOrder["CNT-1"] != 6 || c.Provisions("CNT-1") != 1 || c.Count("CNT-1", "ORDERSTATUS") != 2 || c.Provisions("CNT-2") != 0 {
		t.Errorf("by order %+v", c.APIByOrderKind)
	}
	c.API["Auth"] = 99 // a copy
	if e.sim.Calls().API["Auth"] != 1 {
		t.Error("Calls returned shared maps")
	}
}

// apiStep is one request of testdata/api_scenario.json.
type apiStep struct {
	Name    string            `json:"name"`
	Advance string            `json:"advance"` // clock advance before the request, time.ParseDuration
	Request string            `json:"request"` // file in testdata/
	Type    string            `json:"contentType"`
	Want    map[string]string `json:"want"`  // element path → value; "*" any non-empty; "<absent>"
	Order   []string          `json:"order"` // top-level element order, if given
}

// TestAPIScenario replays the sample CC5Request bodies in testdata against
// one simulator and checks the answers recorded next to them.
func TestAPIScenario(t *testing.T) {
	var steps []apiStep
	if err := json.Unmarshal(readTestdata(t, "api_scenario.json"), &steps); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *Config) { *c = Config{Now: c.Now, Logf: c.Logf} }) // the sandbox account
	for _, st := range steps {
		if st.Advance != "" {
			d, err := time.ParseDuration(st.Advance)
			if err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(d)
		}
		raw := e.apiRaw(st.Type, readTestdata(t, st.Request))
		a, err := tryDecodeCC5(raw)
		if err != nil {
			t.Fatalf("%s: %v\n%s", st.Name, err, raw)
		}
		t.Run(st.Name, func(t *testing.T) {
			wantFields(t, a, st.Want)
			if st.Order != nil && strings.Join(a.order, ",") != strings.Join(st.Order, ",") {
				t.Errorf("element order %q, want %q", a.order, st.Order)
			}
		})
	}
}
