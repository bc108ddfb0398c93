package proxy

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

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
		if !strings.HasPrefix(p.returns.Success, "https://shop.example") || !strings.HasPrefix(p.returns.Error, "https://shop.example") {
			t.Fatalf("accepted a return URL off the site: %+v", p.returns)
		}
	})
}
