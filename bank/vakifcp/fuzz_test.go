package vakifcp

import (
	"errors"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/posrelay/posrelay/bank"
)

// FuzzParseAnswers: the register and result-query parsers never panic, and
// refuse only with ErrMalformed.
func FuzzParseAnswers(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*"))
	for _, name := range files {
		f.Add(readTestdata(f, filepath.Base(name)))
	}
	f.Add([]byte(`<R><Rc>0000</Rc><Amount>1,01</Amount>`))
	f.Add([]byte(`{"Rc":"0000"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if r, err := parseRegister(body); err == nil {
			if r.ErrorCode == "" && r.PaymentToken == "" {
				t.Fatal("accepted an empty register answer")
			}
		} else if !errors.Is(err, bank.ErrMalformed) {
			t.Fatalf("register: %v", err)
		}
		if r, err := parseQuery(body); err == nil {
			if r.Rc == "" && r.ErrorCode == "" {
				t.Fatal("accepted an empty query answer")
			}
			_ = rcResult(string(r.Rc), string(r.Message))
		} else if !errors.Is(err, bank.ErrMalformed) {
			t.Fatalf("query: %v", err)
		}
	})
}

// FuzzVerify: the shopper's return never panics, and is accepted only with
// this payment's token and never as a final outcome.
func FuzzVerify(f *testing.F) {
	f.Add("Rc=0000&TransactionId=3ee068d5b5a747ada65dafc0016d5887&PaymentToken=b35a56bf37334872a945afc0016d5887")
	f.Add("Rc=0057&PaymentToken=x")
	f.Add("PaymentToken=")
	g, err := New(testConfig(), &fakeDoer{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, q string) {
		vals, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		cb := &bank.Callback{Method: "GET"}
		for k, vs := range vals {
			cb.Fields = append(cb.Fields, bank.F(k, vs[0]))
		}
		p := cpF3Payment()
		v, err := g.Verify(p, cb)
		if err != nil {
			return
		}
		if cb.Fields.Value("PaymentToken") != p.State[StateToken] || v.Outcome != nil || v.Echo.HasAmount {
			t.Fatalf("accepted %v as %+v", cb.Fields, v)
		}
	})
}
