package est

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/posrelay/posrelay/banksim"
	"github.com/posrelay/posrelay/signer"
)

// Callback fields besides the merchant's echoed ones (§1.6). The merchant's
// fields in gateForm are: clientid storetype amount oid okUrl failUrl rnd
// lang currency taksit TranType hashAlgorithm Email firmaadi (+ the card's
// expiry for 3d and 3d_pay).
var (
	mpiFields = []string{
		"mdStatus", "mdErrorMsg", "txstatus", "eci", "cavv", "cavvAlgorithm", "xid", "md", "PAResSyntaxOK",
		"PAResVerified", "version", "sID", "dsId", "merchantID", "merchantName", "clientIp", "maskedCreditCard",
		"MaskedPan", "Ecom_Payment_Card_ExpDate_Month", "Ecom_Payment_Card_ExpDate_Year", "ACQBIN", "digest",
		"callbackCall", "TRANID", "encoding", "rnd", "HASH", "NATIONALIDNO",
	}
	payFields = []string{
		"ReturnOid", "payResults_dsId", "Response", "ProcReturnCode", "AuthCode", "TransId", "HostRefNum", "ErrMsg",
		"acqStan", "SettleId", "EXTRA.TRXDATE", "EXTRA.HOSTDATE", "EXTRA.MERCHANTID", "EXTRA.TERMINALID",
		"EXTRA.CARDBRAND", "EXTRA.CARDISSUER", "EXTRA.AVSAPPROVE", "EXTRA.AVSERRORCODEDETAIL", "EXTRA.KAZANILANPUAN",
	}
	merchantFields = []string{"clientid", "storetype", "amount", "oid", "okUrl", "failUrl", "lang", "currency", "taksit", "TranType", "hashAlgorithm", "Email", "firmaadi"}
)

func sorted(xs ...[]string) []string {
	var out []string
	for _, x := range xs {
		for _, n := range x {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	sort.Strings(out)
	return out
}

func keys(f banksim.Form) []string {
	k := f.Names()
	sort.Strings(k)
	return k
}

// TestCallbackFieldSets pins the exact field list of an approved callback
// per store type.
func TestCallbackFieldSets(t *testing.T) {
	tests := []struct {
		storeType string
		want      []string
	}{
		{StoreType3D, sorted(merchantFields, mpiFields)},
		{StoreType3DHost, sorted(merchantFields, mpiFields)},
		{StoreType3DPay, sorted(merchantFields, mpiFields, payFields)},
		{StoreType3DPayHosting, sorted(merchantFields, mpiFields, payFields)},
	}
	for _, tc := range tests {
		t.Run(tc.storeType, func(t *testing.T) {
			e := newEnv(t, nil)
			cb := e.pay(tc.storeType, "FS-"+tc.storeType, "1.01", withPAN("4355084355084358"))
			if got := keys(cb.fields); !slices.Equal(got, tc.want) {
				t.Errorf("callback fields\n got %q\nwant %q", got, tc.want)
			}
			if d := cb.fields.Duplicate(); d != "" {
				t.Errorf("field %s twice", d)
			}
		})
	}
}

type expect struct {
	mdStatus string
	proc     string // "" = no ProcReturnCode field
	response string
	ok       bool               // callback to okUrl
	state    banksim.OrderState // "" = nothing recorded
}

// expected gives, per outcome, what a 3-D-only model (3d, 3d_host) and a
// paying model (3d_pay, 3d_pay_hosting) answer.
func expected(o banksim.Outcome, pays bool) expect {
	switch o {
	case banksim.ThreeDSFail:
		return expect{mdStatus: "0"}
	case banksim.NotEnrolled:
		return expect{mdStatus: "2"}
	case banksim.HalfSecure:
		return expect{mdStatus: "4"}
	}
	if !pays {
		return expect{mdStatus: "1", ok: true}
	}
	switch o {
	case banksim.Approve:
		return expect{"1", "00", "Approved", true, banksim.StateApproved}
	case banksim.InsufficientFunds:
		return expect{"1", "51", "Declined", false, banksim.StateDeclined}
	case banksim.ExpiredCard:
		return expect{"1", "54", "Declined", false, banksim.StateDeclined}
	case banksim.InvalidCard:
		return expect{"1", "14", "Declined", false, banksim.StateDeclined}
	case banksim.Timeout:
		return expect{"1", "99", "Error", false, ""}
	case banksim.Malformed:
		return expect{"1", "", "", true, banksim.StateApproved}
	}
	panic(o)
}

// TestOutcomes runs every store type with every test card.
func TestOutcomes(t *testing.T) {
	for _, st := range allStoreTypes {
		for i, tc := range banksim.TestCards {
			t.Run(st+"/"+string(tc.Outcome)+"/"+tc.Brand, func(t *testing.T) {
				e := newEnv(t, nil)
				oid := fmt.Sprintf("OUT-%s-%d", st, i)
				cb := e.pay(st, oid, "100.25", withPAN(tc.PAN))
				m := cb.m()
				pays := st == StoreType3DPay || st == StoreType3DPayHosting
				want := expected(tc.Outcome, pays)

				if err := signer.VerifyESTv3(m, testStoreKey); err != nil {
					t.Fatalf("callback HASH: %v", err)
				}
				if got := m["mdStatus"]; got != want.mdStatus {
					t.Errorf("mdStatus = %q, want %q (mdErrorMsg %q)", got, want.mdStatus, m["mdErrorMsg"])
				}
				proc, hasProc := m["ProcReturnCode"]
				if want.proc == "" && hasProc || want.proc != "" && proc != want.proc {
					t.Errorf("ProcReturnCode = %q (present %v), want %q", proc, hasProc, want.proc)
				}
				if m["Response"] != want.response {
					t.Errorf("Response = %q, want %q", m["Response"], want.response)
				}
				if wantTo := map[bool]string{true: okURL, false: failURL}[want.ok]; cb.to != wantTo {
					t.Errorf("callback to %s, want %s", cb.to, wantTo)
				}
				checkCallbackBasics(t, cb, tc.PAN)
				if hasProc {
					for _, k := range []string{"EXTRA.TRXDATE", "EXTRA.HOSTDATE", "EXTRA.MERCHANTID", "EXTRA.TERMINALID"} {
						if _, ok := m[k]; !ok {
							t.Errorf("dotted %s missing", k)
						}
					}
					if strings.Contains(strings.Join(cb.fields.Names(), " "), "EXTRA_") {
						t.Error("EXTRA fields must keep their dots")
					}
				}
				if want.proc != "" && want.proc != "00" {
					if m["ErrCode"] == "" || m["EXTRA.ERRORCODE"] != m["ErrCode"] || m["ErrMsg"] == "" {
						t.Errorf("decline without ErrCode/EXTRA.ERRORCODE/ErrMsg: %q %q %q", m["ErrCode"], m["EXTRA.ERRORCODE"], m["ErrMsg"])
					}
					if want.proc != "99" && m["ErrCode"] != "ISO8583-"+want.proc {
						t.Errorf("ErrCode = %q, want ISO8583-%s", m["ErrCode"], want.proc)
					}
				}
				if want.mdStatus == "1" || want.mdStatus == "4" {
					if m["cavv"] == "" || m["eci"] == "" {
						t.Errorf("authenticated callback without cavv/eci")
					}
				}
				if want.mdStatus == "0" {
					if _, ok := m["cavv"]; ok {
						t.Errorf("failed authentication with cavv")
					}
				}
				o, recorded := e.sim.Order(oid)
				if want.state == "" {
					if recorded {
						t.Errorf("order recorded (%s), want nothing", o.State)
					}
					return
				}
				if !recorded || o.State != want.state || o.Outcome != tc.Outcome || o.Amount != 10025 || o.Currency != "949" {
					t.Errorf("order = %+v, want state %s", o, want.state)
				}
				if want.proc == "00" && (o.TransID != m["TransId"] || o.AuthCode != m["AuthCode"] || o.Captured != 10025) {
					t.Errorf("ledger %s/%s/%d, callback %s/%s", o.TransID, o.AuthCode, o.Captured, m["TransId"], m["AuthCode"])
				}
			})
		}
	}
}

// checkCallbackBasics: no card data, bank rnd, encoding, masking, echo.
func checkCallbackBasics(t *testing.T, cb callback, pan string) {
	t.Helper()
	m := cb.m()
	for _, k := range []string{"pan", "cv2", "hash"} {
		if _, ok := m[k]; ok {
			t.Errorf("callback carries %s", k)
		}
	}
	if strings.Contains(string(cb.page.Body), pan) {
		t.Error("callback page contains the card number")
	}
	if strings.Contains(string(cb.page.Body), `"000"`) {
		t.Error("callback page contains the CVV")
	}
	if r := m["rnd"]; len(r) != 20 || r == "0123456789ABCDEF01234567" {
		t.Errorf("rnd = %q, want a bank-generated 20-character value", r)
	}
	if m["encoding"] != "ISO-8859-9" {
		t.Errorf("encoding = %q", m["encoding"])
	}
	if v, ok := m["NATIONALIDNO"]; !ok || v != "" {
		t.Errorf("NATIONALIDNO = %q, %v; want present and empty", v, ok)
	}
	if want := pan[:6] + "***" + pan[12:]; m["MaskedPan"] != want {
		t.Errorf("MaskedPan = %q, want %q", m["MaskedPan"], want)
	}
	if want := pan[:4] + " " + pan[4:6] + "** **** " + pan[12:]; m["maskedCreditCard"] != want {
		t.Errorf("maskedCreditCard = %q, want %q", m["maskedCreditCard"], want)
	}
	if m["firmaadi"] != "Jöhn | Doe \\ Ltd" || m["Email"] != "müşteri@shop.example" {
		t.Errorf("echoed fields changed: %q %q", m["firmaadi"], m["Email"])
	}
	if m["merchantName"] != latin5("Posrelay Test Mağazası") {
		t.Errorf("merchantName = %q, want ISO-8859-9 bytes", m["merchantName"])
	}
	if m["clientIp"] != "127.0.0.1" {
		t.Errorf("clientIp = %q", m["clientIp"])
	}
}

func TestChallenge(t *testing.T) {
	tests := []struct {
		name, code, wantMD, wantMsg string
	}{
		{"right code", banksim.ChallengeCode, "1", "Y-status"},
		{"wrong code", "654321", "0", "N-status"},
		{"empty code", "", "0", "N-status"},
		{"cancel", "cancel", "0", "Cancelled"},
	}
	for _, st := range allStoreTypes {
		for _, tc := range tests {
			t.Run(st+"/"+tc.name, func(t *testing.T) {
				e := newEnv(t, nil)
				c := withPAN("5400000000000005")
				cb := e.drive(GatePathAlt, signForm(gateForm(st, "CH-1", "5", c), testStoreKey), c, tc.code)
				m := cb.m()
				if m["mdStatus"] != tc.wantMD || !strings.Contains(m["mdErrorMsg"], tc.wantMsg) {
					t.Errorf("mdStatus %q mdErrorMsg %q", m["mdStatus"], m["mdErrorMsg"])
				}
				if err := signer.VerifyESTv3(m, testStoreKey); err != nil {
					t.Error(err)
				}
				if tc.wantMD == "1" && (m["eci"] != "02" || m["sID"] != "2") {
					t.Errorf("MasterCard eci %q sID %q", m["eci"], m["sID"])
				}
				if tc.wantMD == "0" {
					if _, ok := m["ProcReturnCode"]; ok {
						t.Error("3-D failure with a payment result")
					}
					if cb.to != failURL {
						t.Errorf("to %s", cb.to)
					}
				}
			})
		}
	}
}

func TestChallengeIsSingleUse(t *testing.T) {
	e := newEnv(t, nil)
	c := withPAN("4355084355084358")
	p := e.post(e.srv.URL+GatePath, signForm(gateForm(StoreType3DPay, "SU-1", "5", c), testStoreKey))
	f := p.Form.Fields
	f.Set("code", banksim.ChallengeCode)
	if first := e.post(p.Form.Action, f); first.Form.Action != okURL {
		t.Fatalf("first submit: %s", first.Body)
	}
	if again := e.post(p.Form.Action, f); again.Status != http.StatusBadRequest {
		t.Errorf("second submit: status %d", again.Status)
	}
	if calls := e.sim.Calls(); calls.Callbacks != 1 || calls.GatePosts != 1 {
		t.Errorf("calls %+v", calls)
	}
	if o, _ := e.sim.Order("SU-1"); len(o.Txns) != 1 {
		t.Errorf("%d transactions, want 1", len(o.Txns))
	}
}

// TestGateRefusals: what the gate does with forms the bank would refuse.
func TestGateRefusals(t *testing.T) {
	good := withPAN("4355084355084358")
	tests := []struct {
		name      string
		storeType string
		form      func(f banksim.Form) banksim.Form // returns the form to post (already signed unless noted)
		cfg       func(*Config)
		wantCode  string // ErrorCode, or ErrCode with mdStatus 7
		wantMD7   bool
	}{
		{name: "wrong hash", storeType: StoreType3DPayHosting, form: func(f banksim.Form) banksim.Form {
			return signForm(f, "wrong-key")
		}, wantCode: "3D-1003"},
		{name: "field changed after signing", storeType: StoreType3DPayHosting, form: func(f banksim.Form) banksim.Form {
			f = signForm(f, testStoreKey)
			f.Set("amount", "0.01")
			return f
		}, wantCode: "3D-1003"},
		{name: "field added after signing", storeType: StoreType3DPayHosting, form: func(f banksim.Form) banksim.Form {
			return append(signForm(f, testStoreKey), banksim.Field{Name: "description", Value: "x"})
		}, wantCode: "3D-1003"},
		{name: "card fields not hashed", storeType: StoreType3D, form: func(f banksim.Form) banksim.Form {
			card := banksim.Form{}
			for _, n := range cardFields {
				card = append(card, banksim.Field{Name: n, Value: f.Value(n)})
				f.Del(n)
			}
			return append(signForm(f, testStoreKey), card...)
		}, wantCode: "3D-1003"},
		{name: "missing hash", storeType: StoreType3DPay, form: func(f banksim.Form) banksim.Form { return f }, wantCode: "3D-1001"},
		{name: "missing rnd", storeType: StoreType3DPayHosting, form: dropField("rnd"), wantCode: "3D-1001"},
		{name: "missing lang", storeType: StoreType3DHost, form: dropField("lang"), wantCode: "3D-1001"},
		{name: "missing TranType", storeType: StoreType3DHost, form: dropField("TranType"), wantCode: "3D-1001"},
		{name: "missing pan for 3d", storeType: StoreType3D, form: dropField("pan"), wantCode: "3D-1001"},
		{name: "missing cv2 for 3d_pay", storeType: StoreType3DPay, form: dropField("cv2"), wantCode: "3D-1001"},
		{name: "duplicate field", storeType: StoreType3DPayHosting, form: func(f banksim.Form) banksim.Form {
			return append(signForm(f, testStoreKey), banksim.Field{Name: "oid", Value: "other"})
		}, wantCode: "3D-1001"},
		{name: "unknown clientid", storeType: StoreType3DPayHosting, form: setField("clientid", "700655000200"), wantCode: "3D-1002"},
		{name: "hash ver1", storeType: StoreType3DPayHosting, form: setField("hashAlgorithm", "ver1"), wantCode: "3D-1004"},
		{name: "unknown storetype", storeType: StoreType3DPayHosting, form: setField("storetype", "3d_full"), wantCode: "3D-1005"},
		{name: "storetype not registered", storeType: StoreType3DPay, cfg: func(c *Config) { c.StoreTypes = []string{StoreType3D} },
			form: resigned(nil), wantCode: "3D-1007", wantMD7: true},
		{name: "TranType Sale", storeType: StoreType3DPayHosting, form: setField("TranType", "Sale"), wantCode: "CORE-2001"},
		{name: "amount with three decimals", storeType: StoreType3DPayHosting, form: setField("amount", "1.005"), wantCode: "CORE-2007"},
		{name: "zero amount", storeType: StoreType3DPayHosting, form: setField("amount", "0.00"), wantCode: "CORE-2009"},
		{name: "currency TL", storeType: StoreType3DPayHosting, form: setField("currency", "TL"), wantCode: "CORE-2106"},
		{name: "taksit 1", storeType: StoreType3DPayHosting, form: setField("taksit", "1"), wantCode: "CORE-2603"},
		{name: "oid too long", storeType: StoreType3DPayHosting, form: setField("oid", strings.Repeat("9", 65)), wantCode: "CORE-1015"},
		{name: "card number format", storeType: StoreType3D, form: setField("pan", "4355084355084359"), wantCode: "HPP-1001"},
		{name: "expiry format", storeType: StoreType3DPay, form: setField("Ecom_Payment_Card_ExpDate_Month", "13"), wantCode: "CORE-2011"},
		{name: "cvv format", storeType: StoreType3DPay, form: setField("cv2", "12"), wantCode: "CORE-2515"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.cfg)
			p := e.post(e.srv.URL+GatePath, tc.form(gateForm(tc.storeType, "REF-1", "10.50", good)))
			if p.Status != http.StatusOK || p.Form.Action != failURL {
				t.Fatalf("status %d, action %q: %s", p.Status, p.Form.Action, p.Body)
			}
			m := p.Form.Fields.Map()
			if err := signer.VerifyESTv3(m, testStoreKey); err != nil {
				t.Errorf("error callback HASH: %v", err)
			}
			if m["Response"] != "Error" || m["ErrMsg"] == "" {
				t.Errorf("Response %q ErrMsg %q", m["Response"], m["ErrMsg"])
			}
			if tc.wantMD7 {
				if m["mdStatus"] != "7" || m["ErrCode"] != tc.wantCode || m["ProcReturnCode"] != "99" || m["mdErrorMsg"] != "Isyeri kullanim tipi desteklenmiyor." {
					t.Errorf("storetype refusal: %q", m)
				}
			} else {
				if _, ok := m["mdStatus"]; ok {
					t.Error("gateway error with mdStatus")
				}
				if m["ErrorCode"] != tc.wantCode {
					t.Errorf("ErrorCode = %q (%s), want %s", m["ErrorCode"], m["ErrMsg"], tc.wantCode)
				}
			}
			for _, k := range []string{"pan", "cv2", "hash"} {
				if _, ok := m[k]; ok {
					t.Errorf("error callback carries %s", k)
				}
			}
			if _, ok := e.sim.Order("REF-1"); ok {
				t.Error("refused post recorded an order")
			}
		})
	}
}

func TestGateUnusableURLs(t *testing.T) {
	tests := []struct {
		name string
		mod  func(f *banksim.Form)
	}{
		{"no failUrl", del("failUrl")},
		{"relative okUrl", setTo("okUrl", "/ok")},
		{"javascript failUrl", setTo("failUrl", "javascript:alert(1)")},
		{"two failUrls", func(f *banksim.Form) { *f = append(*f, banksim.Field{Name: "failUrl", Value: "https://evil.example/"}) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			f := gateForm(StoreType3DPayHosting, "URL-1", "1", card{})
			tc.mod(&f)
			p := e.post(e.srv.URL+GatePath, signForm(f, testStoreKey))
			if p.Status != http.StatusBadRequest || p.Form.Action != "" {
				t.Errorf("status %d, form action %q", p.Status, p.Form.Action)
			}
		})
	}
	e := newEnv(t, nil)
	resp, err := e.http.Post(e.srv.URL+GatePath, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("JSON post: %d", resp.StatusCode)
	}
	resp, err = e.http.Get(e.srv.URL + GatePath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET gate: %d", resp.StatusCode)
	}
}

func TestDuplicateOrder(t *testing.T) {
	e := newEnv(t, nil)
	c := withPAN("4000000000000515") // declined: the order id stays usable
	if cb := e.pay(StoreType3DPay, "DUP-1", "10", c); cb.m()["ProcReturnCode"] != "51" {
		t.Fatalf("first attempt: %q", cb.m()["ProcReturnCode"])
	}
	if cb := e.pay(StoreType3DPayHosting, "DUP-1", "10", withPAN("4355084355084358")); cb.m()["ProcReturnCode"] != "00" {
		t.Fatalf("second attempt: %q", cb.m())
	}
	p := e.post(e.srv.URL+GatePath, signForm(gateForm(StoreType3DPay, "DUP-1", "10", withPAN("4355084355084358")), testStoreKey))
	if m := p.Form.Fields.Map(); p.Form.Action != failURL || m["ErrorCode"] != "CORE-2507" {
		t.Errorf("third attempt: %q", m)
	}
	o, _ := e.sim.Order("DUP-1")
	if o.State != banksim.StateApproved || len(o.Txns) != 2 {
		t.Errorf("order %+v", o)
	}
	// Two gate posts for one order, both authenticated, only one may pay.
	c = withPAN("4355084355084358")
	p1 := e.post(e.srv.URL+GatePath, signForm(gateForm(StoreType3DPay, "DUP-2", "10", c), testStoreKey))
	p2 := e.post(e.srv.URL+GatePath, signForm(gateForm(StoreType3DPay, "DUP-2", "10", c), testStoreKey))
	var results []string
	for _, p := range []page{p1, p2} {
		f := p.Form.Fields
		f.Set("code", banksim.ChallengeCode)
		cb := e.post(p.Form.Action, f)
		m := cb.Form.Fields.Map()
		results = append(results, m["ProcReturnCode"]+"/"+m["ErrCode"])
	}
	if results[0] != "00/" || results[1] != "99/CORE-2507" {
		t.Errorf("results %q", results)
	}
}

func TestHostedCardPage(t *testing.T) {
	t.Run("unreadable card number", func(t *testing.T) {
		e := newEnv(t, nil)
		c := withPAN("1234 5678")
		cb := e.drive(GatePath, signForm(gateForm(StoreType3DPayHosting, "HPP-1", "3", c), testStoreKey), c, banksim.ChallengeCode)
		m := cb.m()
		if cb.to != failURL || m["ErrorCode"] != "HPP-1001" || m["Response"] != "Error" || m["MaskedPan"] != "**" {
			t.Errorf("callback %q", m)
		}
		if _, ok := m["mdStatus"]; ok {
			t.Error("mdStatus in a gateway error")
		}
		if err := signer.VerifyESTv3(m, testStoreKey); err != nil {
			t.Error(err)
		}
		if want := latin5("Girilen kart numarası doğru formatta değildir. Kart numarasını kontrol ederek tekrar işlem deneyiniz."); m["ErrMsg"] != want {
			t.Errorf("ErrMsg %q", m["ErrMsg"])
		}
	})
	t.Run("bad expiry shows the page again", func(t *testing.T) {
		e := newEnv(t, nil)
		p := e.post(e.srv.URL+GatePath, signForm(gateForm(StoreType3DHost, "HPP-2", "3", card{}), testStoreKey))
		if !strings.Contains(string(p.Body), "Posrelay Test Mağazası") || !strings.Contains(string(p.Body), "3,00 TL") || !strings.Contains(string(p.Body), "Kart numarası") {
			t.Errorf("card page lacks merchant, amount or Turkish labels:\n%s", p.Body)
		}
		f := p.Form.Fields
		f.Set("pan", "4355084355084358")
		f.Set("Ecom_Payment_Card_ExpDate_Month", "00")
		f.Set("Ecom_Payment_Card_ExpDate_Year", "30")
		f.Set("cv2", "000")
		again := e.post(p.Form.Action, f)
		if again.Form.Action != p.Form.Action || !strings.Contains(string(again.Body), "Son kullanma tarihi geçersiz") {
			t.Fatalf("want the card page again with an error:\n%s", again.Body)
		}
		f.Set("Ecom_Payment_Card_ExpDate_Month", "12")
		ch := e.post(p.Form.Action, f)
		if !strings.Contains(ch.Form.Action, ChallengePagePrefix) || !strings.Contains(string(ch.Body), "4355 08** **** 4358") {
			t.Fatalf("want the challenge:\n%s", ch.Body)
		}
		if r, _ := e.http.Get(ch.Form.Action); r == nil || r.StatusCode != http.StatusOK {
			t.Errorf("GET challenge page")
		}
		if r, _ := e.http.Get(p.Form.Action); r == nil || r.StatusCode != http.StatusBadRequest {
			t.Errorf("GET card page after submission should be gone")
		}
	})
	t.Run("english page and expired card", func(t *testing.T) {
		e := newEnv(t, nil)
		f := gateForm(StoreType3DPayHosting, "HPP-3", "1234.5", card{})
		f.Set("lang", "en")
		f.Set("currency", "978")
		p := e.post(e.srv.URL+GatePath, signForm(f, testStoreKey))
		if !strings.Contains(string(p.Body), "Card number") || !strings.Contains(string(p.Body), "1234.50 EUR") {
			t.Errorf("English card page:\n%s", p.Body)
		}
		c := card{pan: "4355084355084358", month: "04", year: "24", cvv: "000"} // expired in May 2024
		cb := e.drive(GatePath, signForm(f, testStoreKey), c, banksim.ChallengeCode)
		if m := cb.m(); m["ProcReturnCode"] != "54" || m["Ecom_Payment_Card_ExpDate_Month"] != "04" {
			t.Errorf("expired card: %q", m)
		}
	})
}

func TestGateSampleForms(t *testing.T) {
	// testdata/gate_*.form are signed with the sandbox store key as a relay
	// would post them.
	e := newEnv(t, func(c *Config) { *c = Config{Now: c.Now, Logf: c.Logf} })
	for _, name := range []string{"gate_3d_pay_hosting.form", "gate_3d.form"} {
		t.Run(name, func(t *testing.T) {
			body := readTestdata(t, name)
			resp, err := e.http.Post(e.srv.URL+GatePath, "application/x-www-form-urlencoded", strings.NewReader(strings.TrimSpace(string(body))))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			page, _ := io.ReadAll(resp.Body)
			f, err := banksim.FindForm(page)
			if err != nil || !strings.Contains(f.Action, "/fim/") {
				t.Errorf("sample form not accepted (action %q): %s", f.Action, page)
			}
		})
	}
}

// TestConcurrentPayments: many shoppers at once (the benchmark harness's
// load) keep every order separate and counted.
func TestConcurrentPayments(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Logf = nil })
	const n = 24
	errs := make(chan error, n)
	for i := range n {
		go func() {
			oid := fmt.Sprintf("CC-%d", i)
			st := allStoreTypes[i%len(allStoreTypes)]
			c := withPAN("4355084355084358")
			f := signForm(gateForm(st, oid, "1", c), testStoreKey)
			post := func(u string, f banksim.Form) (banksim.HTMLForm, error) {
				p, err := banksim.PostForm(e.http, u, f)
				return p.Form, err
			}
			p, err := post(e.srv.URL+GatePath, f)
			if err != nil {
				errs <- err
				return
			}
			if strings.Contains(p.Action, CardPagePrefix) {
				p.Fields.Set("pan", c.pan)
				p.Fields.Set("Ecom_Payment_Card_ExpDate_Month", "12")
				p.Fields.Set("Ecom_Payment_Card_ExpDate_Year", "30")
				p.Fields.Set("cv2", "000")
				if p, err = post(p.Action, p.Fields); err != nil {
					errs <- err
					return
				}
			}
			p.Fields.Set("code", banksim.ChallengeCode)
			cb, err := post(p.Action, p.Fields)
			if err != nil {
				errs <- err
				return
			}
			if cb.Action != okURL || cb.Fields.Value("oid") != oid || signer.VerifyESTv3(cb.Fields.Map(), testStoreKey) != nil {
				errs <- fmt.Errorf("%s: callback to %q for %q", oid, cb.Action, cb.Fields.Value("oid"))
				return
			}
			errs <- nil
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if c := e.sim.Calls(); c.GatePosts != n || c.Callbacks != n {
		t.Errorf("calls %+v", c)
	}
	for i := range n {
		o, ok := e.sim.Order(fmt.Sprintf("CC-%d", i))
		if pays := i%4 == 1 || i%4 == 2; ok != pays || pays && o.State != banksim.StateApproved {
			t.Errorf("CC-%d: %v %+v", i, ok, o.State)
		}
	}
}
