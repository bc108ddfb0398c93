package payfor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/posrelay/posrelay/bank"
)

// The library's sandbox account (protocol document §2.1, §4.3).
const (
	testMerchantID   = "085300000009704"
	testMerchantPass = "12345678"
	testUserCode     = "QNB_API_KULLANICI_3DPAY"
	testUserPass     = "UcBN0"
	testCallback     = "https://relay.example/callback/tok123"
	testGateURL      = "https://bank.example/Gateway/Default.aspx"
	testHostURL      = "https://bank.example/Gateway/3DHost.aspx"
	testAPIURL       = "https://bank.example/Gateway/XMLGate.aspx"
	fixtureCallback  = "http://localhost/finansbank-payfor/3d/response.php"
)

// fakeDoer records requests and answers them with a function of the
// request.
type fakeDoer struct {
	mu     sync.Mutex
	reqs   []bank.Request // each with a copy of its body
	bodies [][]byte       // the callers' own body slices, to see them wiped
	answer func(r *bank.Request, body string) (*bank.Response, error)
}

func (d *fakeDoer) Do(_ context.Context, r *bank.Request) (*bank.Response, error) {
	d.mu.Lock()
	cp := *r
	cp.Body = bytes.Clone(r.Body)
	d.reqs = append(d.reqs, cp)
	d.bodies = append(d.bodies, r.Body)
	d.mu.Unlock()
	if d.answer == nil {
		return nil, errors.New("fakeDoer: no answer")
	}
	return d.answer(r, string(cp.Body))
}

func (d *fakeDoer) requests() []bank.Request {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]bank.Request(nil), d.reqs...)
}

// answerFile answers every request with a testdata file.
func answerFile(t *testing.T, name string, status int, finalURL string) func(*bank.Request, string) (*bank.Response, error) {
	body := readTestdata(t, name)
	return func(r *bank.Request, _ string) (*bank.Response, error) {
		u := finalURL
		if u == "" {
			u = r.URL
		}
		return &bank.Response{Status: status, ContentType: "text/html; charset=utf-8", Body: bytes.Clone(body), URL: u}, nil
	}
}

func testConfig(model string) Config {
	return Config{MerchantID: testMerchantID, UserCode: testUserCode, UserPass: testUserPass, MerchantPass: testMerchantPass,
		Model: model, GateURL: testGateURL, HostURL: testHostURL, APIURL: testAPIURL, NewRnd: func() string { return "r1" }}
}

func newTestGateway(t *testing.T, model string, d bank.Doer) *Gateway {
	t.Helper()
	g, err := New(testConfig(model), d)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func testPayment(oid string, amount int64) *bank.Payment {
	cur, _ := bank.LookupCurrency("TRY")
	return &bank.Payment{ID: "pay_1", OrderID: oid, Amount: amount, Currency: cur, Installments: 1, Type: bank.Sale,
		Language: "tr", CallbackURL: testCallback}
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// orderedFields decodes a JSON object of strings in key order.
func orderedFields(raw []byte) (bank.Fields, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("want a JSON object: %v", err)
	}
	var f bank.Fields
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v string
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%v: %w", k, err)
		}
		f = append(f, bank.F(k.(string), v))
	}
	if _, err := dec.Token(); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return f, nil
}

// loadCallback reads an Appendix A callback fixture, with a derived
// ResponseHash where the document withholds the real one.
func loadCallback(t *testing.T, name string) bank.Fields {
	t.Helper()
	f, err := orderedFields(readTestdata(t, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var withheld struct {
		Hashes map[string]struct{ ResponseHash string } `json:"hashes"`
	}
	if err := json.Unmarshal(readTestdata(t, "withheld_hashes.json"), &withheld); err != nil {
		t.Fatal(err)
	}
	for i := range f {
		if f[i].Name == "ResponseHash" && f[i].Value == "<withheld>" {
			h, ok := withheld.Hashes[name]
			if !ok {
				t.Fatalf("%s: no derived hash for the withheld ResponseHash", name)
			}
			f[i].Value = h.ResponseHash
		}
	}
	return f
}

func set(f bank.Fields, name, value string) bank.Fields {
	out := append(bank.Fields(nil), f...)
	for i := range out {
		if out[i].Name == name {
			out[i].Value = value
			return out
		}
	}
	return append(out, bank.F(name, value))
}
