package payflex

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/posrelay/posrelay/bank"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// orderedJSON reads a flat JSON object keeping its key order; numbers are
// read as their literal text.
func orderedJSON(t testing.TB, b []byte) bank.Fields {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if _, err := d.Token(); err != nil {
		t.Fatal(err)
	}
	var out bank.Fields
	for d.More() {
		k, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
		s, _ := v.(string)
		if n, ok := v.(json.Number); ok {
			s = n.String()
		}
		out = append(out, bank.F(k.(string), s))
	}
	return out
}

// answer is what the fake bank returns for one call.
type answer struct {
	status int
	body   []byte
	err    error
}

func ok(body []byte) answer { return answer{status: 200, body: body} }

// fakeDoer records requests (with a copy of their bodies, as sent) and
// plays answers in order.
type fakeDoer struct {
	mu      sync.Mutex
	answers []answer
	reqs    []*bank.Request
	sent    [][]byte // bodies as they were when sent
}

func (f *fakeDoer) Do(_ context.Context, r *bank.Request) (*bank.Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, r)
	f.sent = append(f.sent, append([]byte(nil), r.Body...))
	if len(f.answers) == 0 {
		return nil, &bank.TransportError{Op: "bank call", Err: errors.New("no answer scripted")}
	}
	a := f.answers[0]
	f.answers = f.answers[1:]
	if a.err != nil {
		return nil, a.err
	}
	return &bank.Response{Status: a.status, Body: a.body, URL: r.URL}, nil
}

// form returns the i-th request's body as form fields.
func (f *fakeDoer) form(t testing.TB, i int) url.Values {
	t.Helper()
	v, err := url.ParseQuery(string(f.sent[i]))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// xmlFields returns the i-th request's prmstr XML as leaf elements in
// order (paths below the root joined with "/"), and the raw XML.
func (f *fakeDoer) xmlFields(t testing.TB, i int) (bank.Fields, string) {
	t.Helper()
	raw := f.form(t, i).Get("prmstr")
	if raw == "" {
		t.Fatalf("request %d has no prmstr: %s", i, f.sent[i])
	}
	d := xml.NewDecoder(strings.NewReader(raw))
	var out bank.Fields
	var path []string
	var text strings.Builder
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("prmstr is not XML: %v\n%s", err, raw)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			path = append(path, x.Name.Local)
			text.Reset()
		case xml.CharData:
			text.Write(x)
		case xml.EndElement:
			if len(path) > 1 && x.Name.Local == path[len(path)-1] {
				out = append(out, bank.F(strings.Join(path[1:], "/"), text.String()))
			}
			path = path[:len(path)-1]
			text.Reset()
		}
	}
	return out, raw
}

// The test account (the library's, §3A.1 and §4.5).
const (
	testMerchant = "000000000111111"
	testPassword = "3XTgER89as"
	testTerminal = "VP999999"
	mpiURL       = "https://3dsecuretest.vakifbank.com.tr:4443/MPIAPI/MPI_Enrollment.aspx"
	vposURL      = "https://onlineodemetest.vakifbank.com.tr:4443/VposService/v3/Vposreq.aspx"
	searchURL    = "https://onlineodemetest.vakifbank.com.tr:4443/UIService/Search.aspx"
	callbackURL  = "https://relay.example/callback/tok"
)

func testConfig() Config {
	return Config{MerchantID: testMerchant, TerminalNo: testTerminal, Password: testPassword,
		MPIURL: mpiURL, VPOSURL: vposURL, SearchURL: searchURL}
}

func newGateway(t testing.TB, mod func(*Config), answers ...answer) (*Gateway, *fakeDoer) {
	t.Helper()
	d := &fakeDoer{answers: answers}
	cfg := testConfig()
	if mod != nil {
		mod(&cfg)
	}
	g, err := New(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	return g, d
}

var try = bank.Currency{Alpha: "TRY", Numeric: "949"}

func payment() *bank.Payment {
	return &bank.Payment{ID: "pay_1", OrderID: "order222", Amount: 10000, Currency: try, Installments: 1,
		Type: bank.Sale, CustomerIP: "127.0.0.1", CallbackURL: callbackURL}
}

func testCard(pan string) *bank.Card {
	return &bank.Card{Number: pan, ExpMonth: "12", ExpYear: "2021", CVV: "122", Holder: "ahmet"}
}
