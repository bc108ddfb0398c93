package vakif

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/posrelay/posrelay/banksim"
)

const (
	testMerchant = "000100000013506"
	testTerminal = "VP000579"
	testPassword = "Sec|ret&1"
	successURL   = "https://relay.example/callback/ok?x=1"
	failureURL   = "https://relay.example/callback/fail"
)

// start is a Friday morning, Türkiye time.
var start = time.Date(2024, 5, 17, 10, 0, 0, 0, banksim.Turkey)

var relayAddr = netip.MustParseAddr("127.0.0.2")

type env struct {
	t       *testing.T
	sim     *Sim
	srv     *httptest.Server
	clock   *banksim.ManualClock
	relay   *http.Client // server calls, from relayAddr when it can be bound
	browser *http.Client // the shopper, from 127.0.0.1; does not follow redirects
	seq     int
}

// canBind127 reports whether this system lets a socket bind 127.0.0.2.
func canBind127() bool {
	ln, err := net.Listen("tcp", relayAddr.String()+":0")
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

func newEnv(t *testing.T, mod func(*Config)) *env {
	t.Helper()
	clock := banksim.NewManualClock(start)
	cfg := Config{MerchantID: testMerchant, TerminalNo: testTerminal, Password: testPassword, Now: clock.Now, HangFor: time.Minute, Logf: t.Logf}
	relay := &http.Client{}
	if canBind127() {
		cfg.RelayIPs = []netip.Prefix{netip.PrefixFrom(relayAddr, 32)}
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: relayAddr.AsSlice()}}
		relay.Transport = &http.Transport{DialContext: d.DialContext}
	}
	if mod != nil {
		mod(&cfg)
	}
	s := New(cfg)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() { s.Close(); srv.Close() })
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &env{t: t, sim: s, srv: srv, clock: clock, relay: relay, browser: browser}
}

func (e *env) post(c *http.Client, path string, f banksim.Form) (*http.Response, []byte) {
	e.t.Helper()
	target := path
	if !strings.HasPrefix(path, "http") {
		target = e.srv.URL + path
	}
	resp, err := c.Post(target, "application/x-www-form-urlencoded", strings.NewReader(f.Encode()))
	if err != nil {
		e.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// leaves reads an XML answer as its leaf elements by path below the root.
func leaves(t testing.TB, body []byte) map[string]string {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(string(body)))
	m := map[string]string{}
	var path []string
	var text strings.Builder
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return m
		}
		if err != nil {
			t.Fatalf("answer is not XML: %v\n%s", err, body)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			path = append(path, x.Name.Local)
			text.Reset()
		case xml.CharData:
			text.Write(x)
		case xml.EndElement:
			if len(path) > 1 {
				m[strings.Join(path[1:], "/")] = text.String()
			}
			if len(path) == 1 {
				m["#root"] = path[0]
			}
			path = path[:len(path)-1]
			text.Reset()
		}
	}
}

// enrollForm is a VerifyEnrollmentRequest as §3A.4 lists it.
func (e *env) enrollForm(pan, amount, id string) banksim.Form {
	return banksim.Form{
		{Name: "MerchantId", Value: testMerchant}, {Name: "MerchantPassword", Value: testPassword}, {Name: "MerchantType", Value: "0"},
		{Name: "PurchaseAmount", Value: amount}, {Name: "VerifyEnrollmentRequestId", Value: id}, {Name: "Currency", Value: "949"},
		{Name: "SuccessUrl", Value: successURL}, {Name: "FailureUrl", Value: failureURL}, {Name: "Pan", Value: pan},
		{Name: "ExpiryDate", Value: "3012"}, {Name: "BrandName", Value: brandNames[banksim.Brand(pan)]}, {Name: "IsRecurring", Value: "false"},
		{Name: "SessionInfo", Value: "pay_" + id},
	}
}

func (e *env) nextID() string {
	e.seq++
	return "req" + strings.Repeat("0", 3) + string(rune('a'+e.seq%26)) + banksim.RandHex(8)
}

// enroll sends an enrollment and returns the IPaySecure answer's leaves.
func (e *env) enroll(f banksim.Form) map[string]string {
	e.t.Helper()
	_, body := e.post(e.relay, MPIPath, f)
	return leaves(e.t, body)
}

// callback is the MPI's callback as the browser would post it.
type callback struct {
	action string
	fields banksim.Form
}

// authenticate walks the browser through the ACS with code (or cancels
// with "cancel") and returns the callback the MPI posts back.
func (e *env) authenticate(v map[string]string, code string) callback {
	e.t.Helper()
	resp, body := e.post(e.browser, v["Message/VERes/ACSUrl"], banksim.Form{
		{Name: "PaReq", Value: v["Message/VERes/PaReq"]}, {Name: "TermUrl", Value: v["Message/VERes/TermUrl"]}, {Name: "MD", Value: v["Message/VERes/MD"]}})
	if resp.StatusCode != 200 {
		e.t.Fatalf("ACS: %d %s", resp.StatusCode, body)
	}
	form, err := banksim.FindForm(body)
	if err != nil {
		e.t.Fatal(err)
	}
	if form.Fields.Has("code") {
		form.Fields.Set("code", code)
		if code == "cancel" {
			form.Fields.Set("action", "cancel")
		}
		resp, body = e.post(e.browser, e.abs(form.Action), form.Fields)
		if resp.StatusCode != 200 {
			e.t.Fatalf("challenge: %d %s", resp.StatusCode, body)
		}
		if form, err = banksim.FindForm(body); err != nil {
			e.t.Fatal(err)
		}
	}
	if !strings.HasSuffix(form.Action, TermPath) {
		e.t.Fatalf("ACS posts to %s; want the MPI's TermUrl", form.Action)
	}
	resp, body = e.post(e.browser, form.Action, form.Fields)
	if resp.StatusCode != 200 {
		e.t.Fatalf("TermUrl: %d %s", resp.StatusCode, body)
	}
	cb, err := banksim.FindForm(body)
	if err != nil {
		e.t.Fatal(err)
	}
	return callback{action: cb.Action, fields: cb.Fields}
}

func (e *env) abs(action string) string {
	if strings.HasPrefix(action, "/") {
		return e.srv.URL + action
	}
	return action
}

// vpos sends a VposRequest built from the elements and returns the
// answer's leaves.
func (e *env) vpos(els ...[2]string) map[string]string {
	e.t.Helper()
	resp, body := e.post(e.relay, VPOSPath, banksim.Form{{Name: "prmstr", Value: vposXML(els...)}})
	if resp.StatusCode != 200 {
		e.t.Fatalf("vpos: %d %s", resp.StatusCode, body)
	}
	return leaves(e.t, body)
}

func vposXML(els ...[2]string) string {
	var b strings.Builder
	b.WriteString("<VposRequest>")
	for _, x := range els {
		b.WriteString("<" + x[0] + ">")
		_ = xml.EscapeText(&b, []byte(x[1]))
		b.WriteString("</" + x[0] + ">")
	}
	b.WriteString("</VposRequest>")
	return b.String()
}

// provisionEls is the card-less provisioning for a callback.
func provisionEls(typ, orderID string, cb callback) [][2]string {
	return [][2]string{
		{"TransactionType", typ}, {"MerchantId", testMerchant}, {"Password", testPassword}, {"TerminalNo", testTerminal},
		{"ECI", cb.fields.Value("Eci")}, {"CAVV", cb.fields.Value("Cavv")}, {"MpiTransactionId", cb.fields.Value("VerifyEnrollmentRequestId")},
		{"OrderId", orderID}, {"ClientIp", "203.0.113.7"}, {"TransactionDeviceSource", "0"},
	}
}

func with(els [][2]string, extra ...[2]string) [][2]string {
	out := append([][2]string(nil), els...)
	for _, x := range extra {
		replaced := false
		for i := range out {
			if out[i][0] == x[0] {
				out[i][1], replaced = x[1], true
			}
		}
		if !replaced {
			out = append(out, x)
		}
	}
	return out
}

// pay runs enrollment, 3-D and provisioning for a card and returns the
// provisioning answer.
func (e *env) pay(pan, orderID, amount string) map[string]string {
	e.t.Helper()
	v := e.enroll(e.enrollForm(pan, amount, e.nextID()))
	if v["Message/VERes/Status"] != "Y" {
		e.t.Fatalf("enrollment %v", v)
	}
	cb := e.authenticate(v, banksim.ChallengeCode)
	return e.vpos(provisionEls("Sale", orderID, cb)...)
}

func (e *env) op(typ, ref, amount string) map[string]string {
	els := [][2]string{{"MerchantId", testMerchant}, {"Password", testPassword}, {"TransactionType", typ}, {"ReferenceTransactionId", ref}, {"ClientIp", "203.0.113.7"}}
	switch typ {
	case "Refund":
		els = append(els, [2]string{"CurrencyAmount", amount})
	case "Capture":
		els = append(els, [2]string{"TerminalNo", testTerminal}, [2]string{"CurrencyAmount", amount}, [2]string{"CurrencyCode", "949"})
	}
	return e.vpos(els...)
}

func (e *env) search(transID, orderID string) map[string]string {
	e.t.Helper()
	x := `<?xml version="1.0" encoding="UTF-8"?>` + "\n<SearchRequest><MerchantCriteria><HostMerchantId>" + testMerchant +
		"</HostMerchantId><MerchantPassword>" + xmlEscape(testPassword) + "</MerchantPassword></MerchantCriteria><TransactionCriteria><TransactionId>" +
		transID + "</TransactionId><OrderId>" + orderID + "</OrderId><AuthCode></AuthCode></TransactionCriteria></SearchRequest>"
	_, body := e.post(e.relay, SearchPath, banksim.Form{{Name: "prmstr", Value: x}})
	return leaves(e.t, body)
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// wantLeaves checks answer fields; "*" means present and not empty.
func wantLeaves(t testing.TB, got map[string]string, want map[string]string) {
	t.Helper()
	for k, v := range want {
		g, ok := got[k]
		switch {
		case v == "*" && (!ok || g == ""):
			t.Errorf("%s missing", k)
		case v != "*" && g != v:
			t.Errorf("%s = %q; want %q", k, g, v)
		}
	}
}

// waitFor polls cond for async work in the simulator (a hanging answer).
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatal("condition not met in 5 s")
		case <-tick.C:
		}
	}
}

func query(u string) url.Values {
	p, err := url.Parse(u)
	if err != nil {
		return nil
	}
	return p.Query()
}
