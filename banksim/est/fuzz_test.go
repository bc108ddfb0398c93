package est

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/posrelay/posrelay/banksim"
)

// FuzzParseCC5Request: the XML API parser never panics, and what it accepts
// has sane maps.
func FuzzParseCC5Request(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.xml")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "")
		f.Add(b, "text/xml; charset=utf-8")
	}
	form, _ := os.ReadFile("testdata/auth_utf8_data.form")
	f.Add(form, "application/x-www-form-urlencoded")
	f.Add([]byte(`<CC5Request><Extra><ORDERSTATUS>QUERY</ORDERSTATUS></Extra></CC5Request>`), "")
	f.Add([]byte(`<?xml version="1.0" encoding="ISO-8859-9"?><CC5Request><Name>\xfe</Name></CC5Request>`), "")
	f.Add([]byte(`DATA=%3CCC5Request%2F%3E`), "")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		req, err := parseCC5Request(body, contentType)
		if err != nil {
			return
		}
		for _, m := range []map[string]string{req.Fields, req.Extra, req.PbOrder} {
			for k, v := range m {
				if k == "" || !utf8.ValidString(v) || strings.TrimSpace(v) != v {
					t.Fatalf("bad entry %q=%q", k, v)
				}
			}
		}
		_ = apiKind(req)
	})
}

// FuzzGateForm: the gate's form parsing and checks never panic; an accepted
// post has what §1.4 requires, and a refusal answered by callback has a
// usable failUrl.
func FuzzGateForm(f *testing.F) {
	for _, name := range []string{"gate_3d.form", "gate_3d_pay_hosting.form"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("a=1&&b=%zz"))
	f.Add([]byte("okUrl=https://a/&failUrl=https://b/&clientid=700655000200"))
	s := New(Config{})
	f.Fuzz(func(t *testing.T, body []byte) {
		form, a, gerr := s.parseGate(body)
		switch {
		case gerr == nil:
			for _, n := range requiredGateFields {
				if form.Value(n) == "" {
					t.Fatalf("accepted without %s", n)
				}
			}
			if a.amount <= 0 || banksim.CurrencyAlpha(a.currency) == "" || !banksim.UsableURL(a.okURL) || !banksim.UsableURL(a.failURL) {
				t.Fatalf("accepted attempt %+v", a)
			}
			if !a.hosted() && !banksim.ValidPAN(a.pan) {
				t.Fatalf("accepted card %q", a.pan)
			}
		case gerr.kind != errPage:
			if !banksim.UsableURL(form.Value("failUrl")) {
				t.Fatalf("callback refusal to %q", form.Value("failUrl"))
			}
		}
	})
}
