package leakscan

import (
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

var typed = Card{PAN: "4355084355084358", CVV: "000", Month: "12", Year: "2030"}

func kinds(hits []Hit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, h.Kind)
	}
	return out
}

func TestFinds(t *testing.T) {
	s := New("sk-0123456789abcdef", "whsec_c2VjcmV0LWJ5dGVzLWZvci13ZWJob29r", "p@ss word/+=")
	s.AddCards(typed)
	tests := []struct {
		name, text, kind string
	}{
		{"plain PAN in JSON", `{"number":"5400000000000005"}`, KindPAN},
		{"known PAN inside an identifier", `id=abc4355084355084358def`, KindKnownPAN},
		{"grouped PAN", `card 4000 0000 0000 0515 ok`, KindPAN},
		{"dashed PAN", `card=4000-0000-0000-0549`, KindPAN},
		{"19-digit PAN", `pan=6011000000000000001 `, KindPAN},
		{"13-digit PAN", `x 4222222222222 y`, KindPAN},
		{"cvv form", `number=1&cvv=123&holder=x`, KindCVV},
		{"cvv JSON", `{"cvv": "0000"}`, KindCVV},
		{"cv2 input", `<input type="hidden" name="cv2" value="000">`, KindCVV},
		{"cv2 input value first", `<input value="000" type="hidden" name="cv2">`, KindCVV},
		{"Cvv2Val XML", `<Cvv2Val>123</Cvv2Val>`, KindCVV},
		{"cvv zap field", `"msg":"x","cvv":"000"`, KindCVV},
		{"expiry XML", `<Expires>12/30</Expires>`, KindExpiry},
		{"expiry form", `exp_month=12&exp_year=2030`, KindExpiry},
		{"expiry EST field", `Ecom_Payment_Card_ExpDate_Year=30`, KindExpiry},
		{"expiry as typed", `card valid thru 12/30.`, KindExpiry},
		{"expiry as typed, long year", `(12/2030)`, KindExpiry},
		{"secret", `key sk-0123456789abcdef!`, KindSecret},
		{"whsec", `"whsec_c2VjcmV0LWJ5dGVzLWZvci13ZWJob29r"`, KindSecret},
		{"secret URL-escaped", `pw=p%40ss+word%2F%2B%3D`, KindSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits := s.Scan("test", []byte(tt.text))
			found := false
			for _, h := range hits {
				found = found || h.Kind == tt.kind
				if strings.Contains(h.String(), "4355084355084358") || strings.Contains(h.String(), "sk-0123456789abcdef") {
					t.Errorf("the report repeats what it found: %s", h)
				}
			}
			if !found {
				t.Fatalf("%q: hits %v; want a %s", tt.text, kinds(hits), tt.kind)
			}
		})
	}
}

func TestNoFalsePositives(t *testing.T) {
	s := New("sk-0123456789abcdef")
	s.AddCards(typed)
	clean := []string{
		`{"level":"info","ts":1732279512.8391,"msg":"request","duration_ms":0.4321}`,
		`unix ms 1732279512839 µs 1732279512839123 ns 1732279512839123456`,
		`trace 3a1234567890123456789bcd hash 9f1234567890123456b`,
		`TRACEID 0123456789012345abcdef and rnd 98765432109876543210987`, // 23 digits: too long
		`pay_2z3k4m5n6p7q2r3s4t5u tok abcdefghijklmnopqrstuvwxyz234567`,
		`masked 435508******4358 and 4355 08** **** 4358`,
		`HostRefNum 230300671764 AuthCode P12345 amount 14990 TRY`,
		`<input id="cvv" name="cvv" inputmode="numeric" autocomplete="cc-csc" maxlength="4" required>`,
		`<select id="exp_month" name="exp_month" autocomplete="cc-exp-month"><option>01</option><option>12</option></select>`,
		`<label for="cvv">CVV</label>`,
		`"expiresAt":"2026-12-30T10:00:00Z","createdAt":"2026-11-22T12:30:00Z"`,
		`date 2030-12-30 and 12/30/2030 and 1.12/30`,
		`Set-Cookie: a=b; expires=Wed, 21 Oct 2026 07:28:00 GMT`,
		`amount=149.90&currency=949&taksit=&oid=R1abcde`,
		`float 0.5400000000000005 is a fraction`,
		`merchant 000100000013506 request 0000000000000000000`,
	}
	for _, text := range clean {
		if hits := s.Scan("test", []byte(text)); len(hits) > 0 {
			t.Errorf("%q: unexpected hits %v", text, hits)
		}
	}
}

func TestLuhnAndMask(t *testing.T) {
	for _, pan := range []string{"4355084355084358", "5400000000000005", "9792000000000003", "4000000000000515"} {
		if !Luhn(pan) {
			t.Errorf("Luhn(%s) = false", pan)
		}
	}
	if Luhn("4355084355084359") || Luhn("") || Luhn("43550843a5084358") {
		t.Error("Luhn accepts a bad number")
	}
	if m := Mask("4355084355084358"); m != "435508******4358" {
		t.Errorf("Mask = %s", m)
	}
}

func TestStripFormInputs(t *testing.T) {
	page := `<form id="bankform" method="post" action="https://bank.example/fim/est3Dgate" target="_top">` +
		`<input type="hidden" name="pan" value="4355084355084358"><input type="hidden" name="cv2" value="000"></form>` +
		`<form action="/pay/x/cancel"><input name="cvv" value="123"></form>`
	out := string(StripFormInputs([]byte(page), []string{"https://bank.example"}, nil))
	if strings.Contains(out, "4355084355084358") || !strings.Contains(out, `value="123"`) {
		t.Fatalf("stripped page: %s", out)
	}
	cb := `<form action="http://relay/callback/t"><input type="hidden" name="Ecom_Payment_Card_ExpDate_Year" value="30">` +
		`<input type="hidden" name="pan" value="4355084355084358"></form>`
	out = string(StripFormInputs([]byte(cb), []string{""}, ExpiryField))
	if strings.Contains(out, "ExpDate") || !strings.Contains(out, "4355084355084358") {
		t.Fatalf("stripped callback: %s", out)
	}
}

func TestTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"echo":"4355 0843 5508 4358"}`)
	}))
	defer srv.Close()
	c := NewCollector()
	hc := &http.Client{Transport: c.Transport(http.DefaultTransport)}
	resp, err := hc.Get(srv.URL + "/pay/abcdefghijklmnopqrstuvwxyz234567")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "4355") {
		t.Fatalf("body not handed on: %q", body)
	}
	hits := c.Hits()
	if len(hits) != 1 || hits[0].Kind != KindPAN || strings.Contains(hits[0].Source, "abcdefghijklmnop") {
		t.Fatalf("hits %v; want one card number with the token redacted", hits)
	}
}

// TestRandomDataIsClean: ids, hashes and binary pages (what logs and
// journal files are full of) give no hits.
func TestRandomDataIsClean(t *testing.T) {
	s := New("sk-0123456789abcdef")
	s.AddCards(typed)
	r := rand.New(rand.NewPCG(1, 2))
	bin := make([]byte, 256<<10)
	for i := range bin {
		bin[i] = byte(r.Uint32())
	}
	for name, text := range map[string][]byte{
		"binary":     bin,
		"base64":     []byte(base64.StdEncoding.EncodeToString(bin)),
		"hex":        []byte(hex.EncodeToString(bin[:64<<10])),
		"base32 ids": []byte(strings.ToLower(base32.StdEncoding.EncodeToString(bin[:64<<10]))),
	} {
		if hits := s.Scan(name, text); len(hits) > 0 {
			t.Errorf("%s: %d hits, first %s", name, len(hits), hits[0])
		}
	}
}

func TestGroupedTypedCard(t *testing.T) {
	s := New()
	s.AddCards(Card{PAN: "4355084355084358", CVV: "4826", Month: "11", Year: "2037"})
	for _, text := range []string{`"number":"4355 0843 5508 4358"`, `cvv=4826&x=1`, `valid 11/37 only`, `<Expires>11/37</Expires>`} {
		if hits := s.Scan("t", []byte(text)); len(hits) == 0 {
			t.Errorf("%q: no hit", text)
		}
	}
}

// TestCheckResponseNamesForms: card fields in a form to a registered bank
// pass; the same form to an unregistered origin is a hit whose report
// says where the form posts.
func TestCheckResponseNamesForms(t *testing.T) {
	page := `<form id="bankform" method="post" action="https://bank.example/fim/est3Dgate" target="_top">` +
		`<input type="hidden" name="pan" value="4355084355084358"><input type="hidden" name="cv2" value="000"></form>`
	for _, tt := range []struct {
		name    string
		origins []string
		want    string // in each hit's description; "" = no hits
	}{
		{"to a registered bank", []string{"https://bank.example"}, ""},
		{"to an unregistered origin", []string{"https://other.example"}, `"https://bank.example/fim/est3Dgate" (registered bank: false)`},
		{"nothing registered", nil, "0 bank origins registered"},
		{"a registered origin that is only a prefix of the form's", []string{"https://bank.exampl"}, `(registered bank: false)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCollector()
			c.AddCards(typed)
			c.AddBankOrigins(tt.origins...)
			hits := c.CheckResponse("POST http://relay/pay/{token}", "http://relay", []byte(page))
			if tt.want == "" {
				if len(hits) > 0 {
					t.Fatalf("hits %v; want none", hits)
				}
				return
			}
			if len(hits) == 0 {
				t.Fatal("no hits")
			}
			for _, h := range hits {
				if !strings.Contains(h.What, tt.want) || strings.Contains(h.What, "4355084355084358") {
					t.Errorf("hit %q; want it to mention %s and not the card", h, tt.want)
				}
			}
		})
	}
}

// TestRemoveBankOrigins: a relay that got the port of a closed bank
// simulator is read as a bank while that simulator's origin stays
// registered — its auto-post form's card fields to its own (registered)
// simulator are hits — and as a relay once the origin is taken back. An
// origin registered twice stays until both registrations are taken back.
func TestRemoveBankOrigins(t *testing.T) {
	page := `<form id="bankform" method="post" action="http://127.0.0.1:2/fim/est3Dgate" target="_top">` +
		`<input type="hidden" name="pan" value="4355084355084358"><input type="hidden" name="Ecom_Payment_Card_ExpDate_Month" value="12">` +
		`<input type="hidden" name="cv2" value="000"></form>`
	// The relay listens where a closed simulator did: stale is its origin.
	const relay, sim = "http://127.0.0.1:1", "http://127.0.0.1:2"
	const stale = relay
	c := NewCollector()
	c.AddCards(typed)
	c.AddBankOrigins(sim, stale)
	hits := c.CheckResponse("POST "+relay+"/pay/{token}", relay, []byte(page))
	if got := kinds(hits); len(got) != 2 || got[0] != KindKnownPAN || got[1] != KindCVV ||
		!strings.Contains(hits[0].What, "the answer's origin is a registered bank: true") {
		t.Fatalf("relay on a stale bank origin: %v; want the card number and cv2, the answer said to come from a bank", hits)
	}
	c.AddBankOrigins(stale)
	c.RemoveBankOrigins(stale)
	if hits := c.CheckResponse("POST "+relay+"/pay/{token}", relay, []byte(page)); len(hits) == 0 {
		t.Fatal("an origin registered twice went with its first removal")
	}
	c.RemoveBankOrigins(stale, "http://never.registered")
	if hits := c.CheckResponse("POST "+relay+"/pay/{token}", relay, []byte(page)); len(hits) > 0 {
		t.Fatalf("after the stale origin was removed: %v; want none", hits)
	}
	c.RemoveBankOrigins(sim)
	if got := kinds(c.CheckResponse("POST "+relay+"/pay/{token}", relay, []byte(page))); len(got) != 3 || got[1] != KindExpiry {
		t.Fatalf("form to a removed bank: %v; want its card number, expiry and cv2", got)
	}
}
