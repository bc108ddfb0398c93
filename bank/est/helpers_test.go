package est

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/text/encoding/charmap"

	"github.com/posrelay/posrelay/bank"
	"github.com/posrelay/posrelay/signer"
)

var update = flag.Bool("update", false, "rewrite the HASH of the ver3 callback fixtures in testdata/callbacks")

// The library's test account (protocol document §1.1, §4.1).
const (
	testClientID  = "190100000"
	testAPIUser   = "ISBANKAPI"
	testAPIPass   = "ISBANK07"
	testGateURL   = "https://entegrasyon.asseco-see.com.tr/fim/est3Dgate"
	testAPIURL    = "https://entegrasyon.asseco-see.com.tr/fim/api"
	testCallback  = "https://relay.example/callback/tok123"
	testRnd       = "0123456789ABCDEF01234567"
	testStoreKey  = "posrelay|est\\test-key" // this package's own key; | and \ exercise the ver3 escaping
	otherClientID = "700655000299"
)

func testConfig(model string) Config {
	return Config{ClientID: testClientID, StoreKey: testStoreKey, APIUser: testAPIUser, APIPassword: testAPIPass,
		Model: model, GateURL: testGateURL, APIURL: testAPIURL, NewRnd: func() string { return testRnd }}
}

func newGateway(t testing.TB, cfg Config, d bank.Doer) *Gateway {
	t.Helper()
	g, err := New(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func testPayment(oid string, amount int64) *bank.Payment {
	cur, _ := bank.LookupCurrency("TRY")
	return &bank.Payment{ID: "pay_1", OrderID: oid, Amount: amount, Currency: cur, Installments: 1, Type: bank.Sale,
		Language: "tr", CustomerIP: "89.244.149.137", CallbackURL: testCallback}
}

// doerFunc is a bank.Doer made of a function: canned answers or errors.
type doerFunc func(ctx context.Context, r *bank.Request) (*bank.Response, error)

func (f doerFunc) Do(ctx context.Context, r *bank.Request) (*bank.Response, error) { return f(ctx, r) }

// recorder keeps the requests a doerFunc saw, with their bodies decoded
// from ISO-8859-9.
type recorder struct {
	mu   sync.Mutex
	reqs []bank.Request
	xml  []string
}

func (rec *recorder) wrap(answer func(body string) (*bank.Response, error)) doerFunc {
	return func(_ context.Context, r *bank.Request) (*bank.Response, error) {
		body, err := charmap.ISO8859_9.NewDecoder().Bytes(r.Body)
		if err != nil {
			return nil, err
		}
		rec.mu.Lock()
		cp := *r
		cp.Body = bytes.Clone(r.Body)
		rec.reqs = append(rec.reqs, cp)
		rec.xml = append(rec.xml, string(body))
		rec.mu.Unlock()
		return answer(string(body))
	}
}

func (rec *recorder) bodies() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]string(nil), rec.xml...)
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// answerXML is a 200 answer with a testdata file (or literal bytes).
func answerXML(body []byte) (*bank.Response, error) {
	return &bank.Response{Status: 200, ContentType: "text/xml;charset=ISO-8859-9", Body: bytes.Clone(body), URL: testAPIURL}, nil
}

func fixtureAnswer(t testing.TB, name string) func(string) (*bank.Response, error) {
	body := readTestdata(t, "responses/"+name+".xml")
	return func(string) (*bank.Response, error) { return answerXML(body) }
}

// cc5 builds an ISO-8859-9 CC5Response from alternating names and values;
// an "Extra." prefix puts an element in <Extra>.
func cc5(kv ...string) []byte {
	var top, extra strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		name, v := kv[i], kv[i+1]
		b := &top
		if n, ok := strings.CutPrefix(name, "Extra."); ok {
			name, b = n, &extra
		}
		b.WriteString("<" + name + ">")
		_ = xmlEscape(b, v)
		b.WriteString("</" + name + ">")
	}
	s := `<?xml version="1.0" encoding="ISO-8859-9"?>` + "\n<CC5Response>" + top.String()
	if extra.Len() > 0 {
		s += "<Extra>" + extra.String() + "</Extra>"
	}
	s += "</CC5Response>"
	out, err := charmap.ISO8859_9.NewEncoder().String(s)
	if err != nil {
		panic(err)
	}
	return []byte(out)
}

func xmlEscape(w io.Writer, s string) error {
	_, err := io.WriteString(w, strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s))
	return err
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

// callbackFixture is one file of testdata/callbacks.
type callbackFixture struct {
	Comment   string          `json:"_comment"`
	Model     string          `json:"model"`
	StoreKey  string          `json:"storeKey"`
	Algorithm string          `json:"algorithm"`
	RawFields json.RawMessage `json:"fields"`
	Fields    bank.Fields     `json:"-"`
}

func loadCallback(t testing.TB, name string) *callbackFixture {
	t.Helper()
	var fx callbackFixture
	if err := json.Unmarshal(readTestdata(t, "callbacks/"+name+".json"), &fx); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	f, err := orderedFields(fx.RawFields)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	fx.Fields = f
	return &fx
}

// config is the merchant account the fixture was signed for.
func (fx *callbackFixture) config(model string) Config {
	cfg := testConfig(model)
	cfg.ClientID, cfg.StoreKey = fx.Fields.Value("clientid"), fx.StoreKey
	return cfg
}

// with returns a copy of f with name set to value (appended if absent).
func with(f bank.Fields, name, value string) bank.Fields {
	out := append(bank.Fields(nil), f...)
	for i := range out {
		if out[i].Name == name {
			out[i].Value = value
			return out
		}
	}
	return append(out, bank.F(name, value))
}

// without returns a copy of f without name.
func without(f bank.Fields, names ...string) bank.Fields {
	var out bank.Fields
next:
	for _, x := range f {
		for _, n := range names {
			if x.Name == n {
				continue next
			}
		}
		out = append(out, x)
	}
	return out
}

// signV3 replaces HASH with a ver3 signature over all other fields.
func signV3(f bank.Fields, key string) bank.Fields {
	f = without(f, "HASH")
	return append(f, bank.F("HASH", signer.ESTv3Hash(f.Map(), key)))
}

// signV1 recomputes HASHPARAMSVAL from HASHPARAMS and the legacy ver1
// HASH = base64(SHA-1(HASHPARAMSVAL + key)) (§1.10).
func signV1(f bank.Fields, key string) bank.Fields {
	m := f.Map()
	var val strings.Builder
	for _, n := range strings.Split(m["HASHPARAMS"], ":") {
		if n != "" {
			val.WriteString(m[n])
		}
	}
	sum := sha1.Sum([]byte(val.String() + key))
	f = with(f, "HASHPARAMSVAL", val.String())
	return with(f, "HASH", base64.StdEncoding.EncodeToString(sum[:]))
}

// writeCallback rewrites a fixture file (go test -update).
func writeCallback(t *testing.T, name string, fx *callbackFixture) {
	t.Helper()
	var b bytes.Buffer
	str := func(s string) string {
		var sb bytes.Buffer
		enc := json.NewEncoder(&sb)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		return strings.TrimSuffix(sb.String(), "\n")
	}
	fmt.Fprintf(&b, "{\n \"_comment\": %s,\n \"model\": %s,\n \"storeKey\": %s,\n \"algorithm\": %s,\n \"fields\": {\n",
		str(fx.Comment), str(fx.Model), str(fx.StoreKey), str(fx.Algorithm))
	for i, x := range fx.Fields {
		sep := ","
		if i == len(fx.Fields)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "  %s: %s%s\n", str(x.Name), str(x.Value), sep)
	}
	b.WriteString(" }\n}\n")
	if err := os.WriteFile(filepath.Join("testdata", "callbacks", name+".json"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
