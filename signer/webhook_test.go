package signer

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestWebhookRoundTrip(t *testing.T) {
	secret := NewWebhookSecret()
	if !strings.HasPrefix(secret, WebhookSecretPrefix) || len(secret) != len(WebhookSecretPrefix)+44 {
		t.Fatalf("NewWebhookSecret has the wrong form (len %d)", len(secret))
	}
	key, err := ParseWebhookSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != 32 {
		t.Fatalf("key is %d bytes; want 32", len(key))
	}
	otherKey, err := ParseWebhookSecret(NewWebhookSecret())
	if err != nil {
		t.Fatal(err)
	}

	const id, ts = "evt_01HZX5", int64(1754000000)
	body := []byte(`{"type":"payment.succeeded","data":{"wixTransactionId":"w-1","pluginTransactionId":"pay_1"}}`)
	sig := SignWebhook(key, id, ts, body)
	now := time.Unix(ts, 0)
	tol := 5 * time.Minute

	// Zero fields take the valid message's values; "-" stands for an empty
	// header and a negative tolerance for passing 0.
	tests := []struct {
		name      string
		key       []byte
		id, ts    string
		sig       string
		body      []byte
		now       time.Time
		tolerance time.Duration
		want      error
	}{
		{name: "fresh message verifies"},
		{name: "exactly tolerance old verifies", now: now.Add(tol)},
		{name: "one second past tolerance is too old", now: now.Add(tol + time.Second), want: ErrWebhookTooOld},
		{name: "exactly tolerance ahead verifies", now: now.Add(-tol)},
		{name: "one second ahead of tolerance is too new", now: now.Add(-tol - time.Second), want: ErrWebhookTooNew},
		{name: "zero tolerance means five minutes", tolerance: -1, now: now.Add(tol)},
		{name: "zero tolerance means five minutes, past it", tolerance: -1, now: now.Add(tol + time.Second), want: ErrWebhookTooOld},
		{name: "custom tolerance", tolerance: time.Minute, now: now.Add(61 * time.Second), want: ErrWebhookTooOld},
		{name: "rotation: one of several signatures matches", sig: "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v1a,xyz " + sig + " v2," + sig[3:]},
		{name: "only other versions present", sig: "v2," + sig[3:] + " v1a," + sig[3:], want: ErrWebhookNoMatchSignature},
		{name: "partial signature", sig: "v1,", want: ErrWebhookNoMatchSignature},
		{name: "signature without version", sig: sig[3:], want: ErrWebhookNoMatchSignature},
		{name: "signature not base64", sig: "v1,!!!!", want: ErrWebhookNoMatchSignature},
		{name: "body changed", body: append([]byte(nil), append(body, ' ')...), want: ErrWebhookNoMatchSignature},
		{name: "id changed", id: "evt_01HZX6", want: ErrWebhookNoMatchSignature},
		{name: "timestamp changed", ts: "1754000001", want: ErrWebhookNoMatchSignature},
		{name: "another site's key", key: otherKey, want: ErrWebhookNoMatchSignature},
		{name: "missing id", id: "-", want: ErrWebhookMissingHeader},
		{name: "missing timestamp", ts: "-", want: ErrWebhookMissingHeader},
		{name: "missing signature", sig: "-", want: ErrWebhookMissingHeader},
		{name: "timestamp not an integer", ts: "1754000000.0", want: ErrWebhookBadTimestamp},
		{name: "timestamp in RFC 3339", ts: "2025-08-01T00:00:00Z", want: ErrWebhookBadTimestamp},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, i, s, b, n, tt := key, id, sig, body, now, tol
			tsStr := itoa(ts)
			if tc.key != nil {
				k = tc.key
			}
			if tc.id != "" {
				i = strings.TrimPrefix(tc.id, "-")
			}
			if tc.ts != "" {
				tsStr = strings.TrimPrefix(tc.ts, "-")
			}
			if tc.sig != "" {
				s = strings.TrimPrefix(tc.sig, "-")
			}
			if tc.body != nil {
				b = tc.body
			}
			if !tc.now.IsZero() {
				n = tc.now
			}
			if tc.tolerance != 0 {
				tt = max(tc.tolerance, 0)
			}
			err := VerifyWebhook(k, i, tsStr, s, b, n, tt)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("VerifyWebhook: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("VerifyWebhook = %v; want %v", err, tc.want)
			}
		})
	}
}

func TestParseWebhookSecret(t *testing.T) {
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }
	tests := []struct {
		name    string
		in      string
		wantLen int
		wantErr string
	}{
		{name: "with prefix", in: "whsec_" + b64(32), wantLen: 32},
		{name: "without prefix", in: b64(32), wantLen: 32},
		{name: "reference secret of 24 bytes", in: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", wantLen: 24},
		{name: "64 bytes", in: "whsec_" + b64(64), wantLen: 64},
		{name: "trailing newline from a file is ignored by base64", in: "whsec_" + b64(32) + "\n", wantLen: 32},
		{name: "empty", in: "", wantErr: "webhook secret is empty"},
		{name: "prefix only", in: "whsec_", wantErr: "webhook secret is empty"},
		{name: "23 bytes", in: "whsec_" + b64(23), wantErr: "decodes to 23 bytes; use 24 to 64"},
		{name: "65 bytes", in: "whsec_" + b64(65), wantErr: "decodes to 65 bytes"},
		{name: "not base64", in: "whsec_this-is-not*base64-at-all-really", wantErr: "not valid base64"},
		{name: "missing padding", in: "whsec_" + strings.TrimRight(b64(32), "="), wantErr: "not valid base64"},
		{name: "base64url alphabet", in: "whsec_" + base64.URLEncoding.EncodeToString([]byte(strings.Repeat("\xff\xfe", 16))), wantErr: "not valid base64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, err := ParseWebhookSecret(tc.in)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseWebhookSecret: %v", err)
				}
				if len(key) != tc.wantLen {
					t.Errorf("key is %d bytes; want %d", len(key), tc.wantLen)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ParseWebhookSecret error = %v; want it to contain %q", err, tc.wantErr)
			}
			if body := strings.TrimPrefix(tc.in, WebhookSecretPrefix); len(body) > 8 && strings.Contains(err.Error(), body) {
				t.Errorf("error %q contains the secret", err)
			}
		})
	}
}
