package e2e

import (
	"bytes"
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

// TestReplayAfterRestart: the Idempotency-Key header is not signed, so a
// captured refund sent again with a new key would be a second refund
// unless its nonce is refused. The relay keeps the nonces of refunds,
// voids and captures in its journal: a replay is refused before and after
// a restart, while the timestamp is fresh; a GET, which changes nothing,
// is only refused by the in-memory cache.
func TestReplayAfterRestart(t *testing.T) {
	s := newRelayStack(t, "3d_pay_hosting")
	p := s.create(t, 10000)
	cb := walkToCallback(t, p.RedirectURL, testCard("4355084355084358"))
	postCallback(t, cb.Action.String(), cb.Values)
	s.simClock.nextDay() // settled: refunds are allowed

	type signed struct {
		method, target string
		body           []byte
		ts             int64
		nonce, sig     string
	}
	sign := func(method, target string, body []byte) signed {
		ts, nonce := s.clock.Now().Unix(), signer.NewNonce()
		return signed{method, target, body, ts, nonce, signer.Sign([]byte(s.secret), s.client.KeyID, ts, nonce, method, target, body)}
	}
	send := func(t *testing.T, r signed, idemKey string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(r.method, s.client.BaseURL+r.target, bytes.NewReader(r.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(signer.HeaderKey, s.client.KeyID)
		req.Header.Set(signer.HeaderTimestamp, strconv.FormatInt(r.ts, 10))
		req.Header.Set(signer.HeaderNonce, r.nonce)
		req.Header.Set(signer.HeaderSignature, r.sig)
		req.Header.Set("Content-Type", "application/json")
		if idemKey != "" {
			req.Header.Set("Idempotency-Key", idemKey)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	refund := sign(http.MethodPost, "/v1/payments/"+p.ID+"/refunds", []byte(`{"amount":4000}`))
	read := sign(http.MethodGet, "/v1/payments/"+p.ID, nil)
	if code, body := send(t, refund, "refund-1"); code != http.StatusOK || !strings.Contains(body, `"succeeded"`) {
		t.Fatalf("refund: %d %s", code, body)
	}
	if code, body := send(t, read, ""); code != http.StatusOK {
		t.Fatalf("read: %d %s", code, body)
	}
	steps := []struct {
		name    string
		restart bool
		req     signed
		idemKey string
		want    int
	}{
		{"refund replayed with a new key", false, refund, "refund-2", http.StatusUnauthorized},
		{"refund replayed with a new key after a restart", true, refund, "refund-3", http.StatusUnauthorized},
		{"read replayed after a restart", false, read, "", http.StatusOK},
		{"read replayed again", false, read, "", http.StatusUnauthorized},
	}
	for _, st := range steps {
		if st.restart {
			s.restart()
		}
		s.clock.Advance(10 * time.Second) // still inside the ±300 s window
		code, body := send(t, st.req, st.idemKey)
		if code != st.want || code == http.StatusUnauthorized && !strings.Contains(body, "replayed_nonce") {
			t.Fatalf("%s: %d %s; want %d", st.name, code, body, st.want)
		}
	}
	if got := s.payment(t, p.ID); got.Refunded != 4000 {
		t.Fatalf("refunded %d; want 4000, one refund", got.Refunded)
	}
	if n := s.sim.Calls().APIByOrderKind[s.payment(t, p.ID).BankOrderID]["Credit"]; n != 1 {
		t.Fatalf("the bank saw %d refunds; want 1", n)
	}
}
