package payfor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/posrelay/posrelay/banksim"
)

// FuzzParsePayforRequest: the XMLGate parser never panics, and what it
// accepts is a flat map of trimmed UTF-8 values.
func FuzzParsePayforRequest(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.xml")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`<?xml version="1.0" encoding="ISO-8859-9"?><PayforRequest><CardHolderName>` + "\xdd" + `</CardHolderName></PayforRequest>`))
	f.Add([]byte("\xef\xbb\xbf<PayforRequest><A>\r\n  </A></PayforRequest>"))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := parsePayforRequest(body)
		if err != nil {
			return
		}
		for k, v := range req {
			if k == "" || !utf8.ValidString(v) || strings.TrimSpace(v) != v {
				t.Fatalf("bad entry %q=%q", k, v)
			}
		}
		_ = apiKind(req)
	})
}

// FuzzGateForm: the gate's form checks never panic; an accepted form has
// what §2.4 requires, and a refusal answered by callback has a usable
// FailUrl.
func FuzzGateForm(f *testing.F) {
	for _, name := range []string{"gate_3dpay.form", "gate_3dhost.form"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, true)
		f.Add(b, false)
	}
	f.Add([]byte("OkUrl=https://a/&FailUrl=https://b/&MbrId=5"), true)
	f.Add([]byte("a=1&&b=%zz"), false)
	s := New(Config{})
	f.Fuzz(func(t *testing.T, body []byte, gate bool) {
		form, a, ref := s.parseGate(body, gate, true)
		switch {
		case ref == nil:
			for _, n := range []string{"MbrId", "MerchantID", "UserCode", "OrderId", "SecureType", "TxnType", "PurchAmount",
				"InstallmentCount", "Currency", "OkUrl", "FailUrl", "Rnd", "Hash", "MOTO", "Lang"} {
				if form.Value(n) == "" {
					t.Fatalf("accepted without %s", n)
				}
			}
			if a.amount <= 0 || banksim.CurrencyAlpha(a.currency) == "" || !banksim.UsableURL(a.okURL) || !banksim.UsableURL(a.failURL) {
				t.Fatalf("accepted attempt %+v", a)
			}
			if gate && !banksim.ValidPAN(a.pan) || !gate && a.pan != "" {
				t.Fatal("accepted card")
			}
			if form.Has("Pan") || form.Has("Cvv2") || form.Has("Expiry") {
				t.Fatal("the card stays in the form kept for the callback")
			}
		case !ref.page:
			if !banksim.UsableURL(form.Value("FailUrl")) {
				t.Fatalf("callback refusal to %q", form.Value("FailUrl"))
			}
		}
	})
}
