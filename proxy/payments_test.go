package proxy

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"

	"golang.org/x/net/idna"

	"github.com/posrelay/posrelay/config"
)

// TestCheckPayment runs testdata/payment_requests.json: each request body
// and the error code it must get ("" = accepted).
func TestCheckPayment(t *testing.T) {
	raw, err := os.ReadFile("testdata/payment_requests.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Name   string          `json:"name"`
		Body   json.RawMessage `json:"body"`
		Raw    *string         `json:"raw"`
		RawHex string          `json:"rawhex"`
		Code   string          `json:"code"`
	}
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	site := &config.Site{ID: "shop", ReturnOrigins: []string{"https://shop.example"}, MaxInstallments: 12,
		Accounts: []*config.Account{{Name: "halkbank", Bank: "halkbank", Model: "3d_pay_hosting"}}}
	r := &Relay{}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			body := []byte(tc.Body)
			if tc.Raw != nil {
				body = []byte(*tc.Raw)
			}
			if tc.RawHex != "" {
				body, _ = hex.DecodeString(tc.RawHex)
			}
			var in createRequest
			err := decodeJSON(body, &in)
			if err == nil {
				_, err = r.checkPayment(site, &in)
			}
			if tc.Code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ae *apiError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v; want an API error with code %s", err, tc.Code)
			}
			if ae.Code != tc.Code || ae.Status < 400 || ae.Status > 499 || ae.Message == "" {
				t.Fatalf("got %d %s (%s); want 4xx %s", ae.Status, ae.Code, ae.Message, tc.Code)
			}
			if strings.HasPrefix(tc.Code, "invalid_") && tc.Code != "invalid_json" && ae.Field == "" {
				t.Errorf("error %s names no field", ae.Code)
			}
		})
	}
}

// FuzzCreateRequest: no body makes decoding and checking panic, and an
// accepted request always satisfies the invariants the banks rely on.
func FuzzCreateRequest(f *testing.F) {
	raw, _ := os.ReadFile("testdata/payment_requests.json")
	var cases []struct {
		Body json.RawMessage `json:"body"`
	}
	_ = json.Unmarshal(raw, &cases)
	for _, c := range cases {
		f.Add([]byte(c.Body))
	}
	site := &config.Site{ID: "shop", ReturnOrigins: []string{"https://shop.example"}, MaxInstallments: 12,
		Accounts: []*config.Account{{Name: "halkbank", Bank: "halkbank", Model: "3d_pay_hosting"}}}
	r := &Relay{}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in createRequest
		if decodeJSON(body, &in) != nil {
			return
		}
		p, err := r.checkPayment(site, &in)
		if err != nil {
			return
		}
		if p.amount <= 0 || p.amount > maxAmount || p.installments < 0 || p.installments > 12 || checkOrderID(p.orderID) != nil {
			t.Fatalf("accepted an impossible request: %+v", p)
		}
		// Success and error are required; cancel and pending may be absent.
		for i, u := range []string{p.returns.Success, p.returns.Error, p.returns.Cancel, p.returns.Pending} {
			if (i < 2 || u != "") && !onOrigin(u, "https://shop.example") {
				t.Fatalf("accepted a return URL off the site: %q (%+v)", u, p.returns)
			}
		}
	})
}

// onOrigin reports whether raw is an absolute URL whose origin is exactly
// origin (scheme://host, default port left out), after only what a browser
// does to a host: IDNA mapping (case, compatibility forms) and dropping a
// trailing dot and the default port. "https://shop.example.evil" and
// "https://shop.example@evil" are not on https://shop.example.
func onOrigin(raw, origin string) bool {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Opaque != "" || u.User != nil || u.Host == "" {
		return false
	}
	host, err := idna.Lookup.ToASCII(u.Hostname())
	if err != nil {
		return false
	}
	host = strings.TrimSuffix(host, ".")
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port := u.Port(); port != "" && !(u.Scheme == "https" && port == "443") {
		host += ":" + port
	}
	return u.Scheme+"://"+host == origin
}

func TestOnOrigin(t *testing.T) {
	for _, tc := range []struct {
		name, url string
		want      bool
	}{
		{"same origin", "https://shop.example/thanks?o=1", true},
		{"no path", "https://shop.example", true},
		{"upper case", "https://SHOP.Example/x", true},
		{"default port", "https://shop.example:443/x", true},
		{"trailing dot", "https://shop.example./x", true},
		{"longer host", "https://shop.example.evil/x", false},
		{"user info", "https://shop.example@evil.example/x", false},
		{"subdomain", "https://a.shop.example/x", false},
		{"other port", "https://shop.example:8443/x", false},
		{"http", "http://shop.example/x", false},
		{"relative", "//shop.example/x", false},
		{"opaque", "https:shop.example", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := onOrigin(tc.url, "https://shop.example"); got != tc.want {
				t.Errorf("onOrigin(%q) = %v, want %v", tc.url, got, tc.want)
			}
		})
	}
}
