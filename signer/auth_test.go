package signer

import (
	"encoding/base64"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// fakeClock is an injectable clock for Verifier; tests move it by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(unix int64) *fakeClock { return &fakeClock{t: time.Unix(unix, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

const t0 = 1700000000 // the fake clock's start, Unix seconds

var testKeys = []Key{
	{ID: "key_site1_a", SiteID: "site1", Secret: []byte("secret-site1-a-0123456789abcdef0123")},
	{ID: "key_site1_b", SiteID: "site1", Secret: []byte("secret-site1-b-0123456789abcdef0123")},
	{ID: "key_site2", SiteID: "site2", Secret: []byte("secret-site2-0123456789abcdef012345")},
}

func newTestVerifier(t testing.TB, clock *fakeClock, opts VerifierOptions) *Verifier {
	t.Helper()
	opts.Now = clock.Now
	v, err := NewVerifier(testKeys, opts)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// signed builds a correctly signed request with key k at Unix time ts.
func signed(k Key, ts int64, nonce, method, target, body string) Request {
	return Request{
		Method:    method,
		Target:    target,
		Body:      []byte(body),
		KeyID:     k.ID,
		Timestamp: itoa(ts),
		Nonce:     nonce,
		Signature: Sign(k.Secret, k.ID, ts, nonce, method, target, []byte(body)),
	}
}

const testNonce = "AAECAwQFBgcICQoLDA0ODw" // 22 chars

func TestVerify(t *testing.T) {
	ka, kb, k2 := testKeys[0], testKeys[1], testKeys[2]
	base := func() Request {
		return signed(ka, t0, testNonce, "POST", "/v1/payments?dryRun=1", `{"amount":100}`)
	}
	resign := func(r Request, k Key, ts int64) Request {
		r.Timestamp = itoa(ts)
		r.Signature = Sign(k.Secret, r.KeyID, ts, r.Nonce, r.Method, r.Target, r.Body)
		return r
	}
	tests := []struct {
		name     string
		window   time.Duration
		req      func() Request
		wantCode string // "" = accepted
		wantKey  string
		wantMsg  string // substring of the message
	}{
		{name: "valid request accepted", req: base, wantKey: ka.ID},
		{name: "second key of a site accepted (rotation)", wantKey: kb.ID, req: func() Request {
			return signed(kb, t0, testNonce, "POST", "/v1/payments", `{}`)
		}},
		{name: "key of another site accepted", wantKey: k2.ID, req: func() Request {
			return signed(k2, t0, testNonce, "GET", "/v1/whoami", "")
		}},
		{name: "lower-case method signs and verifies as upper case", wantKey: ka.ID, req: func() Request {
			r := signed(ka, t0, testNonce, "post", "/v1/payments", `{}`)
			r.Method = "POST"
			return r
		}},
		{name: "empty body signs the hash of the empty string", wantKey: ka.ID, req: func() Request {
			r := signed(ka, t0, testNonce, "GET", "/v1/payments/p1", "")
			r.Body = nil
			return r
		}},

		{name: "missing key header", wantCode: CodeMissingHeader, wantMsg: "the X-PosRelay-Key header is missing", req: func() Request {
			r := base()
			r.KeyID = ""
			return r
		}},
		{name: "missing timestamp header", wantCode: CodeMissingHeader, wantMsg: "the X-PosRelay-Timestamp header is missing", req: func() Request {
			r := base()
			r.Timestamp = ""
			return r
		}},
		{name: "missing nonce header", wantCode: CodeMissingHeader, wantMsg: "the X-PosRelay-Nonce header is missing", req: func() Request {
			r := base()
			r.Nonce = ""
			return r
		}},
		{name: "missing signature header", wantCode: CodeMissingHeader, wantMsg: "the X-PosRelay-Signature header is missing", req: func() Request {
			r := base()
			r.Signature = ""
			return r
		}},
		{name: "all headers missing are all named", wantCode: CodeMissingHeader,
			wantMsg: "the X-PosRelay-Key, X-PosRelay-Timestamp, X-PosRelay-Nonce, X-PosRelay-Signature headers are missing",
			req:     func() Request { return Request{Method: "GET", Target: "/v1/whoami"} }},

		{name: "unknown key", wantCode: CodeUnknownKey, wantMsg: "X-PosRelay-Key", req: func() Request {
			r := base()
			r.KeyID = "key_unknown"
			return r
		}},
		{name: "key id is case-sensitive", wantCode: CodeUnknownKey, req: func() Request {
			r := base()
			r.KeyID = strings.ToUpper(r.KeyID)
			return r
		}},
		{name: "unknown key checked before timestamp", wantCode: CodeUnknownKey, req: func() Request {
			r := base()
			r.KeyID = "nope"
			r.Timestamp = "yesterday"
			return r
		}},

		{name: "timestamp exactly 300 s old accepted", wantKey: ka.ID, req: func() Request { return resign(base(), ka, t0-300) }},
		{name: "timestamp exactly 300 s ahead accepted", wantKey: ka.ID, req: func() Request { return resign(base(), ka, t0+300) }},
		{name: "timestamp 301 s old rejected", wantCode: CodeStaleTimestamp, wantMsg: "relay time 1700000000", req: func() Request { return resign(base(), ka, t0-301) }},
		{name: "timestamp 301 s ahead rejected", wantCode: CodeStaleTimestamp, req: func() Request { return resign(base(), ka, t0+301) }},
		{name: "custom window 60 s: 60 accepted", window: time.Minute, wantKey: ka.ID, req: func() Request { return resign(base(), ka, t0-60) }},
		{name: "custom window 60 s: 61 rejected", window: time.Minute, wantCode: CodeStaleTimestamp, req: func() Request { return resign(base(), ka, t0+61) }},
		{name: "timestamp in milliseconds rejected", wantCode: CodeStaleTimestamp, req: func() Request { return resign(base(), ka, t0*1000) }},
		{name: "timestamp zero rejected", wantCode: CodeStaleTimestamp, req: func() Request { return resign(base(), ka, 0) }},
		{name: "timestamp not an integer", wantCode: CodeStaleTimestamp, wantMsg: "integer number of Unix seconds", req: func() Request {
			r := base()
			r.Timestamp = "1700000000.5"
			return r
		}},
		{name: "timestamp with plus sign", wantCode: CodeStaleTimestamp, req: func() Request {
			r := base()
			r.Timestamp = "+1700000000"
			return r
		}},
		{name: "timestamp with space", wantCode: CodeStaleTimestamp, req: func() Request {
			r := base()
			r.Timestamp = " 1700000000"
			return r
		}},
		{name: "negative timestamp", wantCode: CodeStaleTimestamp, req: func() Request {
			r := base()
			r.Timestamp = "-1700000000"
			return r
		}},
		{name: "timestamp overflowing int64", wantCode: CodeStaleTimestamp, req: func() Request {
			r := base()
			r.Timestamp = "99999999999999999999999"
			return r
		}},
		{name: "leading zeros in timestamp accepted when signed as sent", wantKey: ka.ID, req: func() Request {
			r := base()
			r.Timestamp = "0" + itoa(t0)
			r.Signature = signString(ka.Secret, StringToSign(r.KeyID, r.Timestamp, r.Nonce, r.Method, r.Target, r.Body))
			return r
		}},
		{name: "stale timestamp checked before nonce format", wantCode: CodeStaleTimestamp, req: func() Request {
			r := resign(base(), ka, t0-1000)
			r.Nonce = "short"
			return r
		}},

		{name: "nonce of 22 chars accepted", wantKey: ka.ID, req: func() Request {
			return signed(ka, t0, strings.Repeat("a", 22), "GET", "/", "")
		}},
		{name: "nonce of 64 chars accepted", wantKey: ka.ID, req: func() Request {
			return signed(ka, t0, strings.Repeat("-_9Z", 16), "GET", "/", "")
		}},
		{name: "nonce of 21 chars", wantCode: CodeMalformedHeader, wantMsg: "X-PosRelay-Nonce", req: func() Request {
			return signed(ka, t0, strings.Repeat("a", 21), "GET", "/", "")
		}},
		{name: "nonce of 65 chars", wantCode: CodeMalformedHeader, req: func() Request {
			return signed(ka, t0, strings.Repeat("a", 65), "GET", "/", "")
		}},
		{name: "nonce with padding", wantCode: CodeMalformedHeader, req: func() Request {
			return signed(ka, t0, testNonce+"==", "GET", "/", "")
		}},
		{name: "nonce in standard base64 alphabet", wantCode: CodeMalformedHeader, req: func() Request {
			return signed(ka, t0, "AAECAwQFBgcICQoLDA0O+/", "GET", "/", "")
		}},
		{name: "nonce with a space", wantCode: CodeMalformedHeader, req: func() Request {
			return signed(ka, t0, "AAECAwQFBgcICQoLDA0O w", "GET", "/", "")
		}},
		{name: "malformed nonce checked before signature", wantCode: CodeMalformedHeader, req: func() Request {
			r := base()
			r.Nonce = "x"
			r.Signature = "garbage"
			return r
		}},

		{name: "signed with another key's secret", wantCode: CodeBadSignature, wantMsg: "does not match the request", req: func() Request {
			r := base()
			r.Signature = Sign(kb.Secret, ka.ID, t0, r.Nonce, r.Method, r.Target, r.Body)
			return r
		}},
		{name: "signed for another key id", wantCode: CodeBadSignature, req: func() Request {
			r := signed(kb, t0, testNonce, "POST", "/v1/payments", "{}")
			r.KeyID = ka.ID
			return r
		}},
		{name: "method changed", wantCode: CodeBadSignature, req: func() Request {
			r := base()
			r.Method = "PUT"
			return r
		}},
		{name: "target changed", wantCode: CodeBadSignature, req: func() Request {
			r := base()
			r.Target = "/v1/payments?dryRun=0"
			return r
		}},
		{name: "query order matters", wantCode: CodeBadSignature, req: func() Request {
			r := signed(ka, t0, testNonce, "GET", "/v1/reports/daily?date=2026-01-01&check=1", "")
			r.Target = "/v1/reports/daily?check=1&date=2026-01-01"
			return r
		}},
		{name: "body changed", wantCode: CodeBadSignature, req: func() Request {
			r := base()
			r.Body = []byte(`{"amount":1000}`)
			return r
		}},
		{name: "timestamp changed inside the window", wantCode: CodeBadSignature, req: func() Request {
			r := base()
			r.Timestamp = itoa(t0 + 1)
			return r
		}},
		{name: "nonce changed", wantCode: CodeBadSignature, req: func() Request {
			r := base()
			r.Nonce = "BAECAwQFBgcICQoLDA0ODw"
			return r
		}},
		{name: "signature without v1= prefix", wantCode: CodeBadSignature, wantMsg: `"v1="`, req: func() Request {
			r := base()
			r.Signature = strings.TrimPrefix(r.Signature, "v1=")
			return r
		}},
		{name: "signature with another version", wantCode: CodeBadSignature, req: func() Request {
			r := base()
			r.Signature = "v2=" + strings.TrimPrefix(r.Signature, "v1=")
			return r
		}},
		{name: "signature without padding", wantCode: CodeBadSignature, req: func() Request {
			r := base()
			r.Signature = strings.TrimRight(r.Signature, "=")
			return r
		}},
		{name: "signature in base64url", wantCode: CodeBadSignature, req: func() Request {
			r := base()
			r.Signature = "v1=" + strings.Repeat("-_", 21) + "A="
			return r
		}},
		{name: "signature in hex", wantCode: CodeBadSignature, req: func() Request {
			r := base()
			r.Signature = "v1=" + strings.Repeat("ab", 32)
			return r
		}},
		{name: "signature of 16 bytes", wantCode: CodeBadSignature, req: func() Request {
			r := base()
			r.Signature = "v1=AAAAAAAAAAAAAAAAAAAAAA=="
			return r
		}},
		{name: "two signatures are not a list", wantCode: CodeBadSignature, req: func() Request {
			r := base()
			r.Signature = r.Signature + " " + r.Signature
			return r
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock(t0)
			v := newTestVerifier(t, clock, VerifierOptions{Window: tc.window})
			key, err := v.Verify(tc.req())
			if tc.wantCode == "" {
				if err != nil {
					t.Fatalf("Verify: %v; want accepted", err)
				}
				if key.ID != tc.wantKey {
					t.Errorf("Verify returned key %q; want %q", key.ID, tc.wantKey)
				}
				return
			}
			var ae *AuthError
			if !errors.As(err, &ae) {
				t.Fatalf("Verify error = %v; want *AuthError with code %s", err, tc.wantCode)
			}
			if ae.Code != tc.wantCode {
				t.Errorf("code = %s (%s); want %s", ae.Code, ae.Message, tc.wantCode)
			}
			if !strings.Contains(ae.Message, tc.wantMsg) {
				t.Errorf("message = %q; want it to contain %q", ae.Message, tc.wantMsg)
			}
			if key.ID != "" {
				t.Errorf("Verify returned key %q with an error", key.ID)
			}
			for _, k := range testKeys {
				if strings.Contains(err.Error(), string(k.Secret)) {
					t.Errorf("error %q contains a secret", err)
				}
			}
		})
	}
}

// signString signs a string to sign built by hand.
func signString(secret []byte, s string) string {
	return "v1=" + base64.StdEncoding.EncodeToString(requestMAC(secret, s))
}

func TestVerifyReplay(t *testing.T) {
	ka, kb := testKeys[0], testKeys[1]
	tests := []struct {
		name  string
		steps []replayStep
	}{
		{name: "same request twice is a replay", steps: []replayStep{
			{key: ka, ts: t0, nonce: testNonce},
			{key: ka, ts: t0, nonce: testNonce, want: CodeReplayedNonce},
		}},
		{name: "same nonce with a new timestamp and body is a replay", steps: []replayStep{
			{key: ka, ts: t0, nonce: testNonce},
			{key: ka, ts: t0 + 5, nonce: testNonce, body: "other", want: CodeReplayedNonce},
		}},
		{name: "nonces are scoped per key", steps: []replayStep{
			{key: ka, ts: t0, nonce: testNonce},
			{key: kb, ts: t0, nonce: testNonce},
			{key: kb, ts: t0, nonce: testNonce, want: CodeReplayedNonce},
		}},
		{name: "a bad signature does not record the nonce", steps: []replayStep{
			{key: ka, ts: t0, nonce: testNonce, corrupt: true, want: CodeBadSignature},
			{key: ka, ts: t0, nonce: testNonce},
		}},
		{name: "a stale request does not record the nonce", steps: []replayStep{
			{key: ka, ts: t0 - 301, nonce: testNonce, want: CodeStaleTimestamp},
			{key: ka, ts: t0, nonce: testNonce},
		}},
		{name: "replay with a bad signature is reported as bad signature", steps: []replayStep{
			{key: ka, ts: t0, nonce: testNonce},
			{key: ka, ts: t0, nonce: testNonce, corrupt: true, want: CodeBadSignature},
		}},
		{name: "replay at the window's last second is refused", steps: []replayStep{
			{key: ka, ts: t0, nonce: testNonce},
			{advance: 300 * time.Second, key: ka, ts: t0, nonce: testNonce, want: CodeReplayedNonce},
		}},
		{name: "replay after the window is stale", steps: []replayStep{
			{key: ka, ts: t0, nonce: testNonce},
			{advance: 301 * time.Second, key: ka, ts: t0, nonce: testNonce, want: CodeStaleTimestamp},
		}},
		{name: "expired nonce is accepted again with a fresh timestamp", steps: []replayStep{
			{key: ka, ts: t0, nonce: testNonce},
			{advance: 300 * time.Second, key: ka, ts: t0 + 300, nonce: testNonce, want: CodeReplayedNonce},
			{advance: time.Second, key: ka, ts: t0 + 301, nonce: testNonce},
			{key: ka, ts: t0 + 301, nonce: testNonce, want: CodeReplayedNonce},
		}},
		{name: "nonce of a future timestamp is kept until that timestamp goes stale", steps: []replayStep{
			{key: ka, ts: t0 + 300, nonce: testNonce},
			{advance: 600 * time.Second, key: ka, ts: t0 + 600, nonce: testNonce, want: CodeReplayedNonce},
			{advance: time.Nanosecond, key: ka, ts: t0 + 600, nonce: testNonce},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock(t0)
			v := newTestVerifier(t, clock, VerifierOptions{})
			runReplaySteps(t, clock, v, tc.steps)
		})
	}
}

type replayStep struct {
	advance time.Duration
	key     Key
	ts      int64
	nonce   string
	body    string
	corrupt bool
	want    string
}

func runReplaySteps(t *testing.T, clock *fakeClock, v *Verifier, steps []replayStep) {
	t.Helper()
	for i, s := range steps {
		clock.Advance(s.advance)
		r := signed(s.key, s.ts, s.nonce, "POST", "/v1/payments", s.body)
		if s.corrupt {
			r.Body = append(r.Body, 'x')
		}
		_, err := v.Verify(r)
		if got := codeOf(err); got != s.want {
			t.Fatalf("step %d: Verify = %v; want code %q", i, err, s.want)
		}
	}
}

func codeOf(err error) string {
	var ae *AuthError
	if errors.As(err, &ae) {
		return ae.Code
	}
	if err != nil {
		return "not an AuthError: " + err.Error()
	}
	return ""
}

func TestReplayCacheFull(t *testing.T) {
	ka, kb := testKeys[0], testKeys[1]
	nonce := func(i int) string { return "nonce-nonce-nonce-nonce-" + strconv.Itoa(i) }
	tests := []struct {
		name  string
		steps []replayStep
	}{
		{name: "fourth nonce refused when three fit, replays still reported", steps: []replayStep{
			{key: ka, ts: t0, nonce: nonce(1)},
			{key: ka, ts: t0, nonce: nonce(2)},
			{key: ka, ts: t0, nonce: nonce(3)},
			{key: ka, ts: t0, nonce: nonce(4), want: CodeReplayCacheFull},
			{key: ka, ts: t0, nonce: nonce(1), want: CodeReplayedNonce},
			{advance: 300 * time.Second, key: ka, ts: t0 + 300, nonce: nonce(4), want: CodeReplayCacheFull},
		}},
		{name: "one key's full cache does not lock out another key", steps: []replayStep{
			{key: ka, ts: t0, nonce: nonce(1)},
			{key: ka, ts: t0, nonce: nonce(2)},
			{key: ka, ts: t0, nonce: nonce(3)},
			{key: ka, ts: t0, nonce: nonce(4), want: CodeReplayCacheFull},
			{key: kb, ts: t0, nonce: nonce(4)},
			{key: kb, ts: t0, nonce: nonce(1)}, // the same nonce under another key is another nonce
			{key: kb, ts: t0, nonce: nonce(5)},
			{key: kb, ts: t0, nonce: nonce(6), want: CodeReplayCacheFull},
			{key: kb, ts: t0, nonce: nonce(4), want: CodeReplayedNonce},
		}},
		{name: "room comes back once nonces expire by the injected clock", steps: []replayStep{
			{key: ka, ts: t0, nonce: nonce(1)},
			{key: ka, ts: t0, nonce: nonce(2)},
			{key: ka, ts: t0, nonce: nonce(3)},
			{advance: 301 * time.Second, key: ka, ts: t0 + 301, nonce: nonce(4)},
			{key: ka, ts: t0 + 301, nonce: nonce(5)},
			{key: ka, ts: t0 + 301, nonce: nonce(6)},
			{key: ka, ts: t0 + 301, nonce: nonce(7), want: CodeReplayCacheFull},
		}},
		{name: "only expired nonces make room", steps: []replayStep{
			{key: ka, ts: t0 - 300, nonce: nonce(1)}, // fresh until t0+1
			{key: ka, ts: t0, nonce: nonce(2)},       // fresh until t0+301
			{key: ka, ts: t0 + 300, nonce: nonce(3)}, // fresh until t0+601
			{advance: time.Second, key: ka, ts: t0 + 1, nonce: nonce(4)},
			{key: ka, ts: t0 + 1, nonce: nonce(5), want: CodeReplayCacheFull},
			{key: ka, ts: t0 + 1, nonce: nonce(2), want: CodeReplayedNonce},
			{key: ka, ts: t0 + 1, nonce: nonce(1), want: CodeReplayCacheFull}, // 1 expired and was purged, but there is no room
			{advance: 300 * time.Second, key: ka, ts: t0 + 301, nonce: nonce(1)},
			{key: ka, ts: t0 + 301, nonce: nonce(6), want: CodeReplayCacheFull},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock(t0)
			v := newTestVerifier(t, clock, VerifierOptions{NonceCapacity: 3})
			runReplaySteps(t, clock, v, tc.steps)
			for id, c := range v.replay {
				if n := c.entries(); n > 3 {
					t.Errorf("key %s's replay cache holds %d entries; capacity is 3 per key", id, n)
				}
			}
		})
	}
}

// TestVerifyConcurrentReplay sends the same signed request from many
// goroutines: exactly one may pass.
func TestVerifyConcurrentReplay(t *testing.T) {
	clock := newFakeClock(t0)
	v := newTestVerifier(t, clock, VerifierOptions{})
	r := signed(testKeys[0], t0, testNonce, "POST", "/v1/payments", "{}")
	const n = 64
	var wg sync.WaitGroup
	codes := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := v.Verify(r)
			codes[i] = codeOf(err)
		}()
	}
	wg.Wait()
	ok := 0
	for _, c := range codes {
		switch c {
		case "":
			ok++
		case CodeReplayedNonce:
		default:
			t.Errorf("unexpected outcome %q", c)
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d identical requests accepted; want exactly 1", ok, n)
	}
}

func TestNewVerifier(t *testing.T) {
	tests := []struct {
		name    string
		keys    []Key
		wantErr string
	}{
		{name: "no keys is allowed", keys: nil},
		{name: "several keys", keys: testKeys},
		{name: "duplicate id", wantErr: `keys[1]: id "k1" is used by an earlier key`,
			keys: []Key{{ID: "k1", Secret: []byte("topsecret-one")}, {ID: "k1", Secret: []byte("topsecret-two")}}},
		{name: "empty secret", wantErr: `keys[0] (id "k1"): secret is empty`,
			keys: []Key{{ID: "k1"}}},
		{name: "empty id", wantErr: "keys[0].id is empty",
			keys: []Key{{Secret: []byte("topsecret-one")}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := NewVerifier(tc.keys, VerifierOptions{})
			if tc.wantErr == "" {
				if err != nil || v == nil {
					t.Fatalf("NewVerifier = %v, %v; want a verifier", v, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("NewVerifier error = %v; want it to contain %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "topsecret") {
				t.Errorf("error %q contains a secret", err)
			}
		})
	}
}

func TestNewVerifierCopiesSecrets(t *testing.T) {
	secret := []byte("secret-that-the-caller-reuses-0123456")
	clock := newFakeClock(t0)
	v, err := NewVerifier([]Key{{ID: "k", Secret: secret}}, VerifierOptions{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	r := signed(Key{ID: "k", Secret: secret}, t0, testNonce, "GET", "/", "")
	for i := range secret {
		secret[i] = 0
	}
	if _, err := v.Verify(r); err != nil {
		t.Fatalf("Verify after the caller zeroed its secret: %v", err)
	}
}

func TestAuthError(t *testing.T) {
	e := &AuthError{Code: CodeStaleTimestamp, Message: "the X-PosRelay-Timestamp header is stale"}
	if got, want := e.Error(), "auth: stale_timestamp: the X-PosRelay-Timestamp header is stale"; got != want {
		t.Errorf("Error() = %q; want %q", got, want)
	}
	if !errors.Is(e, &AuthError{Code: CodeStaleTimestamp}) {
		t.Error("errors.Is with the same code = false")
	}
	if errors.Is(e, &AuthError{Code: CodeBadSignature}) {
		t.Error("errors.Is with another code = true")
	}
}

var (
	nonceRE  = regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`)
	keyIDRE  = regexp.MustCompile(`^key_[0-9a-f]{16}$`)
	keySecRE = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
)

func TestRandomValues(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		n := NewNonce()
		if !nonceRE.MatchString(n) || !validNonce(n) {
			t.Fatalf("NewNonce() = %q; want 22 base64url chars", n)
		}
		id, secret := NewKeySecret()
		if !keyIDRE.MatchString(id) {
			t.Fatalf("NewKeySecret id = %q; want key_ + 16 hex", id)
		}
		if !keySecRE.MatchString(secret) {
			t.Fatalf("NewKeySecret secret has the wrong form (len %d)", len(secret))
		}
		for _, s := range []string{n, id, secret} {
			if seen[s] {
				t.Fatalf("random value repeated: %q", s)
			}
			seen[s] = true
		}
	}
}
