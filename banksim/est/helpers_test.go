package est

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posrelay/posrelay/banksim"
	"github.com/posrelay/posrelay/signer"
)

const (
	testClientID = "190100000"
	testStoreKey = "123456"
	testUser     = "POSRELAYAPI"
	testPassword = "Secret|Pass\\1"
	okURL        = "https://shop.example/pay/ok?x=1"
	failURL      = "https://shop.example/pay/fail"
)

// start is a Friday morning, Türkiye time.
var start = time.Date(2024, 5, 17, 10, 0, 0, 0, banksim.Turkey)

type env struct {
	t     *testing.T
	sim   *Sim
	srv   *httptest.Server
	clock *banksim.ManualClock
	http  *http.Client
}

func newEnv(t *testing.T, mod func(*Config)) *env {
	t.Helper()
	clock := banksim.NewManualClock(start)
	cfg := Config{
		ClientID: testClientID, StoreKey: testStoreKey, APIUser: testUser, APIPassword: testPassword,
		Now: clock.Now, HangFor: time.Minute, Logf: t.Logf,
	}
	if mod != nil {
		mod(&cfg)
	}
	s := New(cfg)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() { s.Close(); srv.Close() })
	return &env{t: t, sim: s, srv: srv, clock: clock, http: srv.Client()}
}

// card is what the shopper types or the merchant posts.
type card struct{ pan, month, year, cvv string }

var goodExpiry = card{month: "12", year: "30", cvv: "000"}

func withPAN(pan string) card { c := goodExpiry; c.pan = pan; return c }

// gateForm builds a merchant's ver3 form as §1.4 lists it, signed with the
// store key. Card fields are added for 3d and 3d_pay.
func gateForm(storeType, oid, amount string, c card) banksim.Form {
	f := banksim.Form{
		{Name: "clientid", Value: testClientID},
		{Name: "storetype", Value: storeType},
		{Name: "amount", Value: amount},
		{Name: "oid", Value: oid},
		{Name: "okUrl", Value: okURL},
		{Name: "failUrl", Value: failURL},
		{Name: "rnd", Value: "0123456789ABCDEF01234567"},
		{Name: "lang", Value: "tr"},
		{Name: "currency", Value: "949"},
		{Name: "taksit", Value: ""},
		{Name: "TranType", Value: "Auth"},
		{Name: "hashAlgorithm", Value: "ver3"},
		{Name: "Email", Value: "müşteri@shop.example"},
		{Name: "firmaadi", Value: "Jöhn | Doe \\ Ltd"},
	}
	if storeType == StoreType3D || storeType == StoreType3DPay {
		f = append(f,
			banksim.Field{Name: "pan", Value: c.pan},
			banksim.Field{Name: "Ecom_Payment_Card_ExpDate_Month", Value: c.month},
			banksim.Field{Name: "Ecom_Payment_Card_ExpDate_Year", Value: c.year},
			banksim.Field{Name: "cv2", Value: c.cvv})
	}
	return f
}

func signForm(f banksim.Form, key string) banksim.Form {
	f.Del("hash")
	return append(f, banksim.Field{Name: "hash", Value: signer.ESTv3Hash(f.Map(), key)})
}

// resigned returns a form edit: edit (if not nil), then sign with the
// store key.
func resigned(edit func(f *banksim.Form)) func(banksim.Form) banksim.Form {
	return func(f banksim.Form) banksim.Form {
		if edit != nil {
			edit(&f)
		}
		return signForm(f, testStoreKey)
	}
}

// setField and dropField change one field, then sign.
func setField(name, value string) func(banksim.Form) banksim.Form {
	return resigned(setTo(name, value))
}

func dropField(name string) func(banksim.Form) banksim.Form {
	return resigned(del(name))
}

// page is one HTML answer and its first form.
type page = banksim.Page

func (e *env) post(u string, f banksim.Form) page {
	e.t.Helper()
	p, err := banksim.PostForm(e.http, u, f)
	if err != nil {
		e.t.Fatalf("POST %s: %v", u, err)
	}
	return p
}

// callback is the bank's post back to the merchant.
type callback struct {
	to     string
	fields banksim.Form
	page   page
}

func (c callback) m() map[string]string { return c.fields.Map() }

// drive posts the merchant's form to the gate and walks the bank's pages the
// way a browser without JavaScript would: fills the card page with c, the
// challenge with code (or presses cancel when code is "cancel"), until a page
// posts to okUrl or failUrl.
func (e *env) drive(gatePath string, form banksim.Form, c card, code string) callback {
	e.t.Helper()
	p := e.post(e.srv.URL+gatePath, form)
	for range 4 {
		if p.Status != http.StatusOK {
			e.t.Fatalf("%s: status %d: %s", p.URL, p.Status, p.Body)
		}
		act := p.Form.Action
		switch {
		case act == okURL || act == failURL:
			if !strings.Contains(p.ContentType, "ISO-8859-9") {
				e.t.Errorf("callback page Content-Type %q, want ISO-8859-9", p.ContentType)
			}
			return callback{to: act, fields: p.Form.Fields, page: p}
		case strings.Contains(act, CardPagePrefix):
			f := p.Form.Fields
			f.Set("pan", c.pan)
			f.Set("Ecom_Payment_Card_ExpDate_Month", c.month)
			f.Set("Ecom_Payment_Card_ExpDate_Year", c.year)
			f.Set("cv2", c.cvv)
			f.Set("cardHolderName", "Ayşe Yılmaz")
			p = e.post(act, f)
		case strings.Contains(act, ChallengePagePrefix):
			f := p.Form.Fields
			if code == "cancel" {
				f.Set("action", "cancel")
			} else {
				f.Set("code", code)
				f.Set("action", "submit")
			}
			p = e.post(act, f)
		default:
			e.t.Fatalf("unexpected page (action %q): %s", act, p.Body)
		}
	}
	e.t.Fatalf("no callback after four pages")
	return callback{}
}

// pay runs a whole 3-D payment with the right challenge code.
func (e *env) pay(storeType, oid, amount string, c card) callback {
	e.t.Helper()
	return e.drive(GatePath, signForm(gateForm(storeType, oid, amount, c), testStoreKey), c, banksim.ChallengeCode)
}

// answer is a decoded CC5Response: top-level elements (in order) and Extra.
type answer struct {
	raw   []byte
	order []string
	top   map[string]string
	extra map[string]string
}

func (a answer) get(path string) (string, bool) {
	if k, ok := strings.CutPrefix(path, "Extra/"); ok {
		v, ok := a.extra[k]
		return v, ok
	}
	v, ok := a.top[path]
	return v, ok
}

func (a answer) v(path string) string { v, _ := a.get(path); return v }

// decodeCC5 decodes a CC5Response with a charset-aware decoder, as a client
// must (§1.7).
func decodeCC5(t *testing.T, body []byte) answer {
	t.Helper()
	a, err := tryDecodeCC5(body)
	if err != nil {
		t.Fatalf("decode CC5Response: %v\n%s", err, body)
	}
	return a
}

func tryDecodeCC5(body []byte) (answer, error) {
	a := answer{raw: body, top: map[string]string{}, extra: map[string]string{}}
	d := xml.NewDecoder(bytes.NewReader(body))
	d.CharsetReader = charsetReader
	var stack []string
	var text strings.Builder
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return a, err
		}
		switch x := tok.(type) {
		case xml.StartElement:
			stack = append(stack, x.Name.Local)
			if len(stack) == 2 {
				a.order = append(a.order, x.Name.Local)
			}
			text.Reset()
		case xml.CharData:
			text.Write(x)
		case xml.EndElement:
			switch {
			case len(stack) == 2 && stack[1] != "Extra":
				a.top[stack[1]] = text.String()
			case len(stack) == 3 && stack[1] == "Extra":
				a.extra[stack[2]] = text.String()
			}
			stack = stack[:len(stack)-1]
			text.Reset()
		}
	}
	if len(a.order) == 0 {
		return a, io.ErrUnexpectedEOF
	}
	return a, nil
}

// api posts a CC5Request (built from elements in order) as the library
// does: raw ISO-8859-9 XML, no Content-Type.
func (e *env) api(elems ...string) answer {
	e.t.Helper()
	return decodeCC5(e.t, e.apiRaw("", []byte(cc5(elems...))))
}

func (e *env) apiRaw(contentType string, body []byte) []byte {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+APIPath, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := e.http.Do(req)
	if err != nil {
		e.t.Fatalf("POST /fim/api: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, "ISO-8859-9") && strings.HasPrefix(string(b), "<?xml") {
		e.t.Errorf("API Content-Type %q", ct)
	}
	return b
}

// cc5 writes a CC5Request with credentials; elems are name/value pairs, a
// name "Extra.X" goes into Extra.
func cc5(elems ...string) string {
	var b, ex strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="ISO-8859-9"?>` + "\n<CC5Request><Name>" + testUser + "</Name><Password>" + xmlEsc(testPassword) + "</Password><ClientId>" + testClientID + "</ClientId>")
	for i := 0; i+1 < len(elems); i += 2 {
		n, v := elems[i], xmlEsc(elems[i+1])
		if k, ok := strings.CutPrefix(n, "Extra."); ok {
			ex.WriteString("<" + k + ">" + v + "</" + k + ">")
			continue
		}
		b.WriteString("<" + n + ">" + v + "</" + n + ">")
	}
	if ex.Len() > 0 {
		b.WriteString("<Extra>" + ex.String() + "</Extra>")
	}
	b.WriteString("</CC5Request>")
	return b.String()
}

func xmlEsc(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// provision is §1.7.1: Auth after a 3d callback.
func (e *env) provision(cb callback, typ string) answer {
	e.t.Helper()
	m := cb.m()
	return e.api("Type", typ, "IPAddress", "89.244.149.137", "OrderId", m["oid"], "Total", m["amount"], "Currency", m["currency"],
		"Taksit", m["taksit"], "Number", m["md"], "PayerTxnId", m["xid"], "PayerSecurityLevel", m["eci"],
		"PayerAuthenticationCode", m["cavv"], "Mode", "P")
}

// nonSecure is §1.7.2.
func (e *env) nonSecure(typ, oid, total, pan string) answer {
	e.t.Helper()
	return e.api("Type", typ, "IPAddress", "", "Email", "test@test.com", "OrderId", oid, "UserId", "", "Total", total,
		"Currency", "949", "Taksit", "", "Number", pan, "Expires", "12/30", "Cvv2Val", "000", "Mode", "P")
}

func (e *env) status(oid string) answer {
	e.t.Helper()
	return e.api("OrderId", oid, "Extra.ORDERSTATUS", "QUERY")
}

func (e *env) history(oid string) answer {
	e.t.Helper()
	return e.api("OrderId", oid, "Extra.ORDERHISTORY", "QUERY")
}

func (e *env) void(oid string) answer {
	e.t.Helper()
	return e.api("OrderId", oid, "Type", "Void")
}

func (e *env) credit(oid, total string) answer {
	e.t.Helper()
	return e.api("OrderId", oid, "Currency", "949", "Type", "Credit", "Total", total)
}

func wantFields(t *testing.T, a answer, want map[string]string) {
	t.Helper()
	for k, w := range want {
		got, ok := a.get(k)
		switch {
		case w == "<absent>":
			if ok {
				t.Errorf("%s = %q, want absent", k, got)
			}
		case !ok:
			t.Errorf("%s absent, want %q", k, w)
		case w == "*":
			if got == "" {
				t.Errorf("%s empty, want a value", k)
			}
		case got != w:
			t.Errorf("%s = %q, want %q", k, got, w)
		}
	}
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// setTo and del are form edits that change one field.
func setTo(name, value string) func(*banksim.Form) {
	return func(f *banksim.Form) { f.Set(name, value) }
}

func del(name string) func(*banksim.Form) { return func(f *banksim.Form) { f.Del(name) } }
