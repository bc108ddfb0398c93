package vakif

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/posrelay/posrelay/banksim"
	"github.com/posrelay/posrelay/internal/requireall"
)

func TestProvisionRefusals(t *testing.T) {
	tests := []struct {
		name  string
		extra [][2]string
		code  string
	}{
		{"card number in a 3-D provision", [][2]string{{"Pan", "4355084355084358"}}, "1127"},
		{"expiry in a 3-D provision", [][2]string{{"Expiry", "203012"}}, "1127"},
		{"CVV in a 3-D provision", [][2]string{{"Cvv", "000"}}, "1127"},
		{"amount in a 3-D provision", [][2]string{{"CurrencyAmount", "10.00"}, {"CurrencyCode", "949"}}, "1127"},
		{"non-secure sale", [][2]string{{"MpiTransactionId", ""}, {"Pan", "4355084355084358"}, {"Expiry", "203012"}, {"Cvv", "000"}}, "1111"},
		{"no MPI transaction", [][2]string{{"MpiTransactionId", ""}}, "1114"},
		{"unknown MPI transaction", [][2]string{{"MpiTransactionId", "nope"}}, "1115"},
		{"other ECI", [][2]string{{"ECI", "07"}}, "1116"},
		{"other CAVV", [][2]string{{"CAVV", "AAAA"}}, "1117"},
		{"no ECI", [][2]string{{"ECI", ""}}, "1098"},
		{"no CAVV", [][2]string{{"CAVV", ""}}, "1097"},
		{"no ClientIp", [][2]string{{"ClientIp", ""}}, "1096"},
		{"no TransactionDeviceSource", [][2]string{{"TransactionDeviceSource", ""}}, "1121"},
		{"no OrderId", [][2]string{{"OrderId", ""}}, "1078"},
		{"installments the MPI did not see", [][2]string{{"NumberOfInstallments", "3"}}, "1126"},
		{"wrong password", [][2]string{{"Password", "x"}}, "9039"},
		{"wrong terminal", [][2]string{{"TerminalNo", "VP000001"}}, "1125"},
		{"unknown transaction type", [][2]string{{"TransactionType", "Credit"}}, "1082"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			cb := e.authenticate(e.enroll(e.enrollForm("4355084355084358", "10.00", e.nextID())), banksim.ChallengeCode)
			a := e.vpos(with(provisionEls("Sale", "ORD", cb), tc.extra...)...)
			if a["ResultCode"] != tc.code || a["ResultDetail"] == "" {
				t.Fatalf("answer %v; want %s", a, tc.code)
			}
			if _, ok := e.sim.Order("ORD"); ok {
				t.Error("a refused provision was recorded")
			}
			// The MPI transaction is still good for a correct provision.
			if tc.code != "1115" && tc.code != "1114" {
				if a := e.vpos(provisionEls("Sale", "ORD", cb)...); a["ResultCode"] != "0000" {
					t.Errorf("correct provision afterwards: %v", a)
				}
			}
		})
	}
}

func TestVPOSTransport(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name string
		form banksim.Form
		want string
	}{
		{"no prmstr", banksim.Form{{Name: "xml", Value: "<VposRequest/>"}}, poxMessage},
		{"empty prmstr", banksim.Form{{Name: "prmstr", Value: " "}}, poxMessage},
		{"not XML", banksim.Form{{Name: "prmstr", Value: "MerchantId=1"}}, "<ResultCode>9025</ResultCode>"},
		{"other root", banksim.Form{{Name: "prmstr", Value: "<SearchRequest/>"}}, "<ResultCode>9025</ResultCode>"},
		{"element twice", banksim.Form{{Name: "prmstr", Value: "<VposRequest><OrderId>1</OrderId><OrderId>2</OrderId></VposRequest>"}}, "<ResultCode>9025</ResultCode>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.post(e.relay, VPOSPath, tc.form)
			if resp.StatusCode != 200 || !strings.Contains(string(body), tc.want) {
				t.Fatalf("%d %s; want %q", resp.StatusCode, body, tc.want)
			}
		})
	}
	if c := e.sim.Calls(); c.VPOS[""] != len(tests) {
		t.Errorf("unreadable calls counted %d", c.VPOS[""])
	}
}

// TestSettlementRules: cancel only before end of day (Türkiye midnight),
// refund only after, never above what is left of the captured amount.
func TestSettlementRules(t *testing.T) {
	e := newEnv(t, nil)
	a := e.pay("4355084355084358", "ORD-A", "100.00")
	b := e.pay("5400000000000005", "ORD-B", "100.00")
	saleA, saleB := a["TransactionId"], b["TransactionId"]

	if r := e.op("Refund", saleA, "10.00"); r["ResultCode"] != "1074" {
		t.Errorf("same-day refund: %v; want 1074", r)
	}
	c := e.op("Cancel", saleA, "")
	wantLeaves(t, c, map[string]string{"ResultCode": "0000", "TransactionType": "Cancel", "ReferenceTransactionId": saleA, "TransactionId": "*", "CurrencyAmount": "100.00"})
	if r := e.op("Cancel", saleA, ""); r["ResultCode"] != "1083" {
		t.Errorf("second cancel: %v; want 1083 (VB-F11)", r)
	}
	if r := e.op("Refund", saleA, "10.00"); r["ResultCode"] != "0982" {
		t.Errorf("refund of a cancelled sale: %v; want 0982", r)
	}
	if o, _ := e.sim.Order("ORD-A"); o.State != banksim.StateVoided {
		t.Errorf("order A %+v", o)
	}
	if s := e.search(saleA, ""); s["TransactionSearchResultInfo/TransactionSearchResultInfo/IsCanceled"] != "true" {
		t.Errorf("search after cancel %v", s)
	}

	// 23:59:59 is still the same day; midnight closes the batch.
	e.clock.Set(time.Date(2024, 5, 17, 23, 59, 59, 0, banksim.Turkey))
	if r := e.op("Refund", saleB, "10.00"); r["ResultCode"] != "1074" {
		t.Errorf("refund before midnight: %v", r)
	}
	e.clock.Advance(time.Second)
	if r := e.op("Cancel", saleB, ""); r["ResultCode"] != "2202" {
		t.Errorf("cancel after end of day: %v; want 2202", r)
	}
	r1 := e.op("Refund", saleB, "30.00")
	wantLeaves(t, r1, map[string]string{"ResultCode": "0000", "TransactionType": "Refund", "ReferenceTransactionId": saleB, "CurrencyAmount": "30.00"})
	if r := e.op("Refund", saleB, "70.01"); r["ResultCode"] != "1046" {
		t.Errorf("refund above the rest: %v; want 1046", r)
	}
	if r := e.op("Refund", saleB, "70.00"); r["ResultCode"] != "0000" {
		t.Errorf("refund of the rest: %v", r)
	}
	if r := e.op("Refund", saleB, "0.01"); r["ResultCode"] != "1059" {
		t.Errorf("refund of a fully refunded sale: %v; want 1059 (VB-F9)", r)
	}
	s := e.search("", "ORD-B")
	wantLeaves(t, s, map[string]string{"ResponseInfo/ResponseCode": "0000", "TotalItemCount": "1",
		"TransactionSearchResultInfo/TransactionSearchResultInfo/TransactionId":     saleB,
		"TransactionSearchResultInfo/TransactionSearchResultInfo/Amount":            "100.00",
		"TransactionSearchResultInfo/TransactionSearchResultInfo/IsRefunded":        "true",
		"TransactionSearchResultInfo/TransactionSearchResultInfo/TotalRefundAmount": "100.00",
		"TransactionSearchResultInfo/TransactionSearchResultInfo/IsBatchClosed":     "true",
		"TransactionSearchResultInfo/TransactionSearchResultInfo/IsCanceled":        "false"})
	if _, ok := s["TransactionSearchResultInfo/TransactionSearchResultInfo/CurrencyAmount"]; ok {
		t.Error("Search answers CurrencyAmount; real answers carry Amount (issue #229)")
	}
	// A refund can be cancelled the day it is made.
	if r := e.op("Cancel", r1["TransactionId"], ""); r["ResultCode"] != "0000" {
		t.Errorf("cancel of today's refund: %v", r)
	}
	if o, _ := e.sim.Order("ORD-B"); o.Refunded != 7000 || o.State != banksim.StateApproved {
		t.Errorf("order B %+v", o)
	}
	if r := e.op("Cancel", "unknown", ""); r["ResultCode"] != "1007" {
		t.Errorf("cancel of an unknown transaction: %v", r)
	}
	if c := e.sim.Calls(); c.Count("ORD-B", "Refund") != 5 || c.Count("ORD-A", "Cancel") != 2 {
		t.Errorf("calls by order %+v", c.VPOSByOrder)
	}
}

func TestCapture(t *testing.T) {
	e := newEnv(t, nil)
	cb := e.authenticate(e.enroll(e.enrollForm("4355084355084358", "100.00", e.nextID())), banksim.ChallengeCode)
	auth := e.vpos(provisionEls("Auth", "ORD-P", cb)...)
	if auth["ResultCode"] != "0000" || auth["TransactionType"] != "Auth" {
		t.Fatal(auth)
	}
	if o, _ := e.sim.Order("ORD-P"); o.Kind != banksim.KindPreAuth || o.Captured != 0 {
		t.Fatalf("pre-auth %+v", o)
	}
	if r := e.op("Refund", auth["TransactionId"], "1.00"); r["ResultCode"] != "1089" {
		t.Errorf("refund of an open pre-auth: %v", r)
	}
	if r := e.op("Capture", auth["TransactionId"], "100.01"); r["ResultCode"] != "0323" {
		t.Errorf("capture above the pre-auth: %v", r)
	}
	if r := e.op("Capture", auth["TransactionId"], "90.00"); r["ResultCode"] != "0000" || r["TransactionType"] != "Capture" {
		t.Errorf("capture: %v", r)
	}
	if r := e.op("Capture", auth["TransactionId"], "10.00"); r["ResultCode"] != "1065" {
		t.Errorf("second capture: %v; want 1065", r)
	}
	if r := e.op("Cancel", auth["TransactionId"], ""); r["ResultCode"] != "0971" {
		t.Errorf("cancel of a captured pre-auth: %v; want 0971", r)
	}
	if o, _ := e.sim.Order("ORD-P"); o.Captured != 9000 {
		t.Errorf("captured %+v", o)
	}
	sale := e.pay("4355084355084358", "ORD-S", "10.00")
	if r := e.op("Capture", sale["TransactionId"], "10.00"); r["ResultCode"] != "1089" {
		t.Errorf("capture of a sale: %v; want 1089", r)
	}
}

func TestSearch(t *testing.T) {
	e := newEnv(t, nil)
	e.pay("4000000000000515", "ORD-D", "10.00")
	s := e.search("", "ORD-D")
	wantLeaves(t, s, map[string]string{"ResponseInfo/Status": "Success", "ResponseInfo/ResponseCode": "0000",
		"TransactionSearchResultInfo/TransactionSearchResultInfo/ResultCode": "0051"})
	if s := e.search("", "ORD-NONE"); s["ResponseInfo/ResponseCode"] != "0000" || s["TotalItemCount"] != "0" {
		t.Errorf("unknown order %v", s)
	}
	if s := e.search("", ""); s["ResponseInfo/ResponseCode"] != "4005" {
		t.Errorf("no criteria %v", s)
	}
	x := `<SearchRequest><MerchantCriteria><HostMerchantId>` + testMerchant + `</HostMerchantId><MerchantPassword>x</MerchantPassword></MerchantCriteria>` +
		`<TransactionCriteria><OrderId>ORD-D</OrderId></TransactionCriteria></SearchRequest>`
	_, body := e.post(e.relay, SearchPath, banksim.Form{{Name: "prmstr", Value: x}})
	if s := leaves(t, body); s["ResponseInfo/Status"] != "Error" || s["ResponseInfo/ResponseCode"] != "9065" {
		t.Errorf("wrong password %v; want VB-F12's 9065", s)
	}
}

// TestRelayIPs: server calls from an unregistered address get 1105; the
// shopper's pages are open to every address.
func TestRelayIPs(t *testing.T) {
	if !canBind127() {
		requireall.Missing(t, "127.0.0.2 cannot be bound here; on macOS add it with: sudo ifconfig lo0 alias 127.0.0.2")
	}
	e := newEnv(t, nil)
	outsider := &http.Client{}
	for _, tc := range []struct{ path, want string }{
		{MPIPath, "<MessageErrorCode>1105</MessageErrorCode>"},
		{VPOSPath, "<ResultCode>1105</ResultCode>"},
		{SearchPath, "<ResponseCode>1105</ResponseCode>"},
		{CPRegisterPath, "<ErrorCode>1105</ErrorCode>"},
		{CPQueryPath, "<ErrorCode>1105</ErrorCode>"},
	} {
		_, body := e.post(outsider, tc.path, banksim.Form{{Name: "prmstr", Value: "<VposRequest/>"}})
		if !strings.Contains(string(body), tc.want) || !strings.Contains(string(body), "IP si sistemde tanimli degil") {
			t.Errorf("%s from 127.0.0.1: %s", tc.path, body)
		}
	}
	if c := e.sim.Calls(); c.Refused != 5 {
		t.Errorf("refused %d", c.Refused)
	}
	v := e.enroll(e.enrollForm("4355084355084358", "10.00", e.nextID()))
	cb := e.authenticate(v, banksim.ChallengeCode) // the browser's steps come from 127.0.0.1
	if cb.fields.Value("Status") != "Y" {
		t.Fatalf("callback %v", cb.fields)
	}
}
