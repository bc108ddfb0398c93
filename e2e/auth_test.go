package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/posrelay/posrelay/demo"
	"github.com/posrelay/posrelay/signer"
)

// TestWhoamiAuth is the acceptance check, written against the
// scheme of DESIGN.md §3: each broken request is refused with its code.
func TestWhoamiAuth(t *testing.T) {
	s := startDemo(t, demo.Options{})
	secret := []byte(s.Secret)
	type req struct {
		method, target, body string
		ts                   int64
		nonce, key, sig      string
		drop                 string // header to leave out
	}
	sign := func(r *req) {
		if r.sig == "" {
			r.sig = signer.Sign(secret, r.key, r.ts, r.nonce, r.method, r.target, []byte(r.body))
		}
	}
	do := func(r req) (int, map[string]any) {
		sign(&r)
		hr, _ := http.NewRequest(r.method, s.Relay+r.target, strings.NewReader(r.body))
		set := map[string]string{signer.HeaderKey: r.key, signer.HeaderTimestamp: strconv.FormatInt(r.ts, 10),
			signer.HeaderNonce: r.nonce, signer.HeaderSignature: r.sig}
		for k, v := range set {
			if k != r.drop {
				hr.Header.Set(k, v)
			}
		}
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		raw, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(raw, &m)
		return resp.StatusCode, m
	}
	now := time.Now().Unix()
	good := func() req {
		return req{method: "GET", target: "/v1/whoami", ts: now, nonce: signer.NewNonce(), key: s.KeyID}
	}

	status, body := do(good())
	if status != 200 || body["site"] != "demo" || body["keyId"] != s.KeyID {
		t.Fatalf("signed whoami = %d %v; want 200 naming site demo", status, body)
	}

	reused := good()
	if st, _ := do(reused); st != 200 {
		t.Fatalf("first use of a nonce = %d", st)
	}
	tests := []struct {
		name string
		req  req
		code string
	}{
		{"bad signature", func() req { r := good(); r.sig = "v1=" + strings.Repeat("A", 43) + "="; return r }(), "bad_signature"},
		{"changed body", func() req {
			r := good()
			r.sig = signer.Sign(secret, r.key, r.ts, r.nonce, r.method, r.target, []byte(`{"a":1}`))
			r.body = `{"a":2}`
			return r
		}(), "bad_signature"},
		{"changed target", func() req {
			r := good()
			r.sig = signer.Sign(secret, r.key, r.ts, r.nonce, r.method, "/v1/whoami?x=1", nil)
			return r
		}(), "bad_signature"},
		{"timestamp 400 s old", func() req { r := good(); r.ts = now - 400; return r }(), "stale_timestamp"},
		{"timestamp 400 s ahead", func() req { r := good(); r.ts = now + 400; return r }(), "stale_timestamp"},
		{"reused nonce", reused, "replayed_nonce"},
		{"unknown key", func() req { r := good(); r.key = "key_nobody"; return r }(), "unknown_key"},
		{"missing signature", func() req { r := good(); r.drop = signer.HeaderSignature; return r }(), "missing_header"},
		{"missing nonce", func() req { r := good(); r.drop = signer.HeaderNonce; return r }(), "missing_header"},
		{"missing key", func() req { r := good(); r.drop = signer.HeaderKey; return r }(), "missing_header"},
		{"missing timestamp", func() req { r := good(); r.drop = signer.HeaderTimestamp; return r }(), "missing_header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := do(tt.req)
			e, _ := body["error"].(map[string]any)
			if status != 401 || e["code"] != tt.code || e["requestId"] == "" || e["message"] == "" {
				t.Fatalf("got %d %v; want 401 with code %s", status, body, tt.code)
			}
		})
	}
	// The logs say why, and hold no signature.
	if !strings.Contains(s.logs.String(), `"code":"replayed_nonce"`) {
		t.Error("the canonical log line does not record the refusal code")
	}
}
