package payflex

import (
	"errors"
	"net/url"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/posrelay/posrelay/bank"
)

func addTestdata(f *testing.F, pattern string) {
	files, _ := filepath.Glob(filepath.Join("testdata", pattern))
	for _, name := range files {
		f.Add(readTestdata(f, filepath.Base(name)))
	}
}

// FuzzDecodeXML: every answer parser of this package (MPI, VPOS, Search)
// never panics, and what it refuses is ErrMalformed.
func FuzzDecodeXML(f *testing.F) {
	addTestdata(f, "*.xml")
	f.Add(readTestdata(f, "waf.html"))
	f.Add([]byte(`{"error":"gateway"}`))
	f.Add([]byte(`<?xml version="1.0" encoding="windows-1254"?><VposResponse><ResultCode>0000</ResultCode></VposResponse>`))
	f.Add([]byte(`<!DOCTYPE html><html></html>`))
	f.Add([]byte(`<VposResponse><ResultCode>0000`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if e, err := parseEnrollment(body); err == nil {
			if !utf8.ValidString(string(e.Status)) {
				t.Fatalf("status %q", e.Status)
			}
		} else if !errors.Is(err, bank.ErrMalformed) {
			t.Fatalf("enrollment: %v", err)
		}
		if r, err := parseVposResponse(body); err == nil {
			if r.ResultCode == "" {
				t.Fatal("accepted without ResultCode")
			}
			_ = Result(string(r.ResultCode), string(r.ResultDetail))
		} else if !errors.Is(err, bank.ErrMalformed) {
			t.Fatalf("vpos: %v", err)
		}
		if r, err := parseSearchResponse(body); err == nil {
			_ = pickItem(r.Items)
		} else if !errors.Is(err, bank.ErrMalformed) {
			t.Fatalf("search: %v", err)
		}
	})
}

// FuzzVerify: the MPI callback — outside input from the shopper's browser —
// never panics; whatever is accepted names this attempt and never carries
// an amount.
func FuzzVerify(f *testing.F) {
	f.Add("VerifyEnrollmentRequestId=ce06048a3e9c0cd1d437803fb38b5ad0&Status=Y&Eci=05&Cavv=AAAB&PurchAmount=101&PurchCurrency=949&Pan=4938460158754205")
	f.Add("VerifyEnrollmentRequestId=ce06048a3e9c0cd1d437803fb38b5ad0&Status=E&ErrorCode=1105&ErrorMessage=Default")
	f.Add("VerifyEnrollmentRequestId=ce06048a3e9c0cd1d437803fb38b5ad0&Status=A&Eci=06&Cavv=x&Pan=4938****4205")
	f.Add("Status=Y")
	g, err := New(testConfig(), &fakeDoer{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, form string) {
		vals, err := url.ParseQuery(form)
		if err != nil {
			return
		}
		cb := &bank.Callback{Method: "POST"}
		for k, vs := range vals {
			cb.Fields = append(cb.Fields, bank.F(k, vs[0]))
		}
		p := payment()
		p.Amount = 101
		p.State = map[string]string{StateRequestID: "ce06048a3e9c0cd1d437803fb38b5ad0"}
		v, err := g.Verify(p, cb)
		if err != nil {
			return
		}
		if cb.Fields.Value("VerifyEnrollmentRequestId") != p.State[StateRequestID] {
			t.Fatal("accepted another attempt's callback")
		}
		if v.Echo.HasAmount || v.Echo.OrderID != p.OrderID || (v.Outcome == nil) == (v.Finish == nil) {
			t.Fatalf("verified %+v", v)
		}
		if v.Outcome != nil && v.Outcome.Status != bank.Failed {
			t.Fatal("a callback alone made a payment succeed")
		}
	})
}
