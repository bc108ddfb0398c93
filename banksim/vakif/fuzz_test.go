package vakif

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/posrelay/posrelay/banksim"
)

// FuzzParseXMLMsg: the VPOS and Search request parser never panics, and
// what it accepts has a root and valid leaves.
func FuzzParseXMLMsg(f *testing.F) {
	f.Add(vposXML(provisionEls("Sale", "ORD", callback{})...))
	f.Add(`<?xml version="1.0" encoding="UTF-8"?><SearchRequest><MerchantCriteria><HostMerchantId>1</HostMerchantId></MerchantCriteria></SearchRequest>`)
	f.Add(`<?xml version="1.0" encoding="ISO-8859-9"?><VposRequest/>`)
	f.Add(`<a><b><c><d><e>x</e></d></c></b></a>`)
	f.Add(`<VposRequest><OrderId>1</OrderId>`)
	f.Fuzz(func(t *testing.T, body string) {
		m, err := parseXMLMsg(body)
		if err != nil {
			return
		}
		if m.Root == "" {
			t.Fatal("accepted without a root")
		}
		seen := map[string]bool{}
		for _, x := range m.Fields {
			if x.Name == "" || seen[x.Name] || !utf8.ValidString(x.Value) || strings.TrimSpace(x.Value) != x.Value {
				t.Fatalf("bad leaf %q=%q", x.Name, x.Value)
			}
			seen[x.Name] = true
		}
	})
}

// FuzzServerCalls: every server endpoint answers whatever it is sent with a
// status 200 bank answer, never a panic.
func FuzzServerCalls(f *testing.F) {
	s := New(Config{MerchantID: testMerchant, TerminalNo: testTerminal, Password: testPassword, Now: banksim.NewManualClock(start).Now})
	h := s.Handler()
	paths := []string{MPIPath, VPOSPath, SearchPath, CPRegisterPath, CPQueryPath, ACSPath, TermPath, CPPagePath, CPChallengePath}
	f.Add(uint8(0), "MerchantId="+testMerchant+"&PurchaseAmount=1.00&Pan=4355084355084358&ExpiryDate=3012&BrandName=100")
	f.Add(uint8(1), "prmstr="+vposXML([2]string{"MerchantId", testMerchant}, [2]string{"Password", testPassword}, [2]string{"TransactionType", "Refund"}))
	f.Add(uint8(2), "prmstr=%3CSearchRequest%2F%3E")
	f.Add(uint8(3), "HostMerchantId="+testMerchant+"&HashedData=x")
	f.Add(uint8(4), "PaymentToken=%00")
	f.Add(uint8(5), "MD=&PaReq=")
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		path := paths[int(which)%len(paths)]
		r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%s answered %d", path, w.Code)
		}
	})
}
