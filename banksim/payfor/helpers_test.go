package payfor

import (
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posrelay/posrelay/banksim"
	"github.com/posrelay/posrelay/signer"
)

const (
	testMbrID        = "5"
	testMerchantID   = "085300000001907"
	testUserCode     = "POSRELAY_API"
	testUserPass     = "Api|Pass\\1"
	testMerchantPass = "k3y&Pass"
	okURL            = "https://relay.example/callback/tok?x=1"
	failURL          = "https://relay.example/callback/tok?x=2"
	approveCard      = "4355084355084358"
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

// newEnv starts a simulator whose registered address is the test client's
// (127.0.0.1), unless mod changes RelayIPs.
func newEnv(t *testing.T, mod func(*Config)) *env {
	t.Helper()
	clock := banksim.NewManualClock(start)
	cfg := Config{
		MbrID: testMbrID, MerchantID: testMerchantID, UserCode: testUserCode, UserPass: testUserPass, MerchantPass: testMerchantPass,
		RelayIPs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		Now:      clock.Now, HangFor: time.Minute, Logf: t.Logf,
	}
	if mod != nil {
		mod(&cfg)
	}
	s := New(cfg)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() { s.Close(); srv.Close() })
	return &env{t: t, sim: s, srv: srv, clock: clock, http: srv.Client()}
}

// card is what the shopper types or the relay posts.
type card struct{ pan, expiry, cvv string }

func withPAN(pan string) card { return card{pan: pan, expiry: "1230", cvv: "000"} }

// gateForm builds the merchant's 3-D form as §2.4 lists it, with the §2.5
// hash. Card fields are added for 3DModel and 3DPay.
func gateForm(model, oid, amount string, c card) banksim.Form {
	f := banksim.Form{
		{Name: "MbrId", Value: testMbrID},
		{Name: "MerchantID", Value: testMerchantID},
		{Name: "UserCode", Value: testUserCode},
		{Name: "OrderId", Value: oid},
		{Name: "Lang", Value: "TR"},
		{Name: "SecureType", Value: model},
		{Name: "TxnType", Value: "Auth"},
		{Name: "PurchAmount", Value: amount},
		{Name: "InstallmentCount", Value: "0"},
		{Name: "Currency", Value: "949"},
		{Name: "OkUrl", Value: okURL},
		{Name: "FailUrl", Value: failURL},
		{Name: "Rnd", Value: "0123456789abcdef01234567"},
		{Name: "MOTO", Value: "0"},
	}
	if model != model3DHost {
		f = append(f, banksim.Field{Name: "CardHolderName", Value: "Ayşe Yılmaz"},
			banksim.Field{Name: "Pan", Value: c.pan}, banksim.Field{Name: "Expiry", Value: c.expiry}, banksim.Field{Name: "Cvv2", Value: c.cvv})
	}
	return sign(f)
}

// sign (re)computes the form's Hash.
func sign(f banksim.Form) banksim.Form {
	v := f.Value
	f.Set("Hash", signer.PayForRequestHash(v("MbrId"), v("OrderId"), v("PurchAmount"), v("OkUrl"), v("FailUrl"), v("TxnType"), v("InstallmentCount"), v("Rnd"), testMerchantPass))
	return f
}

func gatePath(model string) string {
	if model == model3DHost {
		return HostPath
	}
	return GatePath
}

// page is one HTML answer and its first form.
type page = banksim.Page

func (e *env) do(req *http.Request) page {
	e.t.Helper()
	p, err := banksim.Browse(e.http, req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return p
}

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

func (c callback) v(name string) string { return c.fields.Value(name) }

// drive posts the form and walks the bank's pages the way a browser
// without JavaScript would: it fills the card page with c and the
// challenge with code, until a page posts to OkUrl or FailUrl.
func (e *env) drive(path string, form banksim.Form, c card, code string) callback {
	e.t.Helper()
	p := e.post(e.srv.URL+path, form)
	for range 4 {
		if p.Status != http.StatusOK {
			e.t.Fatalf("%s: status %d: %s", p.URL, p.Status, p.Body)
		}
		act := p.Form.Action
		switch {
		case act == okURL || act == failURL:
			return callback{to: act, fields: p.Form.Fields, page: p}
		case strings.Contains(act, CardPagePrefix):
			if !strings.HasPrefix(act, e.srv.URL) {
				e.t.Fatalf("card page action %q is not absolute", act)
			}
			f := p.Form.Fields
			f.Set("Pan", c.pan)
			f.Set("Expiry", c.expiry)
			f.Set("Cvv2", c.cvv)
			f.Set("CardHolderName", "Ayşe Yılmaz")
			p = e.post(act, f)
		case strings.Contains(act, ChallengePagePrefix):
			if !strings.HasPrefix(act, e.srv.URL) {
				e.t.Fatalf("challenge action %q is not absolute", act)
			}
			f := p.Form.Fields
			f.Set("code", code)
			if code == "cancel" {
				f.Set("action", "cancel")
			}
			p = e.post(act, f)
		default:
			e.t.Fatalf("page %s has no known form: %s", p.URL, p.Body)
		}
	}
	e.t.Fatal("no callback after 4 pages")
	return callback{}
}

// pay runs a 3-D payment through the gate of its model.
func (e *env) pay(model, oid, amount string, c card) callback {
	e.t.Helper()
	return e.drive(gatePath(model), gateForm(model, oid, amount, c), c, banksim.ChallengeCode)
}

// xmlAnswer is a decoded PayforResponse.
type xmlAnswer map[string]string

// api posts a PayforRequest built from the fields, in order.
func (e *env) api(fields ...string) (xmlAnswer, page) {
	e.t.Helper()
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<PayforRequest>")
	for i := 0; i+1 < len(fields); i += 2 {
		b.WriteString("<" + fields[i] + ">")
		_ = xml.EscapeText(&b, []byte(fields[i+1]))
		b.WriteString("</" + fields[i] + ">")
	}
	b.WriteString("</PayforRequest>\n")
	return e.apiRaw(b.String())
}

func (e *env) apiRaw(body string) (xmlAnswer, page) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+APIPath, strings.NewReader(body))
	req.Header.Set("Content-Type", "text/xml; charset=UTF-8")
	p := e.do(req)
	return decodeAnswer(e.t, p.Body), p
}

// decodeAnswer reads a PayforResponse's elements, trimmed.
func decodeAnswer(t *testing.T, body []byte) xmlAnswer {
	t.Helper()
	var doc struct {
		XMLName xml.Name
		Elems   []struct {
			XMLName xml.Name
			Value   string `xml:",chardata"`
		} `xml:",any"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil {
		return nil
	}
	a := xmlAnswer{"": doc.XMLName.Local}
	for _, el := range doc.Elems {
		a[el.XMLName.Local] = strings.TrimSpace(el.Value)
	}
	return a
}

// account is the block every XMLGate request but 3DModelPayment starts with.
func account(fields ...string) []string {
	return append([]string{"MerchantId", testMerchantID, "UserCode", testUserCode, "UserPass", testUserPass, "MbrId", testMbrID}, fields...)
}

func (e *env) nonSecure(kind, oid, amount, pan string) xmlAnswer {
	e.t.Helper()
	a, _ := e.api(account("MOTO", "0", "OrderId", oid, "SecureType", "NonSecure", "TxnType", kind, "PurchAmount", amount,
		"Currency", "949", "InstallmentCount", "0", "Lang", "TR", "CardHolderName", "Ayşe", "Pan", pan, "Expiry", "1230", "Cvv2", "000")...)
	return a
}

func (e *env) op(kind, oid, amount string) xmlAnswer {
	e.t.Helper()
	f := []string{"OrgOrderId", oid, "SecureType", "NonSecure", "TxnType", kind, "Currency", "949", "Lang", "TR"}
	if amount != "" {
		f = append(f, "PurchAmount", amount)
	}
	a, _ := e.api(account(f...)...)
	return a
}

func (e *env) inquiry(oid string) xmlAnswer {
	e.t.Helper()
	a, _ := e.api(account("OrgOrderId", oid, "SecureType", "Inquiry", "Lang", "TR", "TxnType", "OrderInquiry")...)
	return a
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
