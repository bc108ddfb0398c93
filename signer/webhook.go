package signer

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks v1 header names.
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// WebhookSecretPrefix starts a Standard Webhooks symmetric secret.
const WebhookSecretPrefix = "whsec_"

// DefaultWebhookTolerance is how far a webhook timestamp may be from the
// receiver's clock, either way, when VerifyWebhook is given no tolerance.
const DefaultWebhookTolerance = 5 * time.Minute

// Limits of a decoded webhook secret, from the Standard Webhooks spec.
const (
	MinWebhookSecretBytes = 24
	MaxWebhookSecretBytes = 64
)

// Errors of VerifyWebhook; the returned error wraps one of them.
var (
	ErrWebhookMissingHeader    = errors.New("webhook header missing")
	ErrWebhookBadTimestamp     = errors.New("webhook timestamp is not an integer number of Unix seconds")
	ErrWebhookTooOld           = errors.New("webhook timestamp too old")
	ErrWebhookTooNew           = errors.New("webhook timestamp too new")
	ErrWebhookNoMatchSignature = errors.New("no matching webhook signature")
)

// NewWebhookSecret returns a new webhook secret: "whsec_" and the padded
// standard base64 of 32 random bytes.
func NewWebhookSecret() string {
	return WebhookSecretPrefix + base64.StdEncoding.EncodeToString(randomBytes(32))
}

// ParseWebhookSecret returns the HMAC key of a Standard Webhooks secret: the
// text after an optional "whsec_" prefix, decoded as padded standard base64,
// which must give 24 to 64 bytes.
func ParseWebhookSecret(s string) ([]byte, error) {
	enc := strings.TrimPrefix(s, WebhookSecretPrefix)
	if enc == "" {
		return nil, errors.New("webhook secret is empty; set it to \"whsec_\" followed by the base64 of 32 random bytes")
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		// The decoder's error gives only an offset, never the secret.
		return nil, fmt.Errorf("webhook secret is not valid base64 after %q (%v); use the value exactly as generated, with its = padding", WebhookSecretPrefix, err)
	}
	if len(key) < MinWebhookSecretBytes || len(key) > MaxWebhookSecretBytes {
		return nil, fmt.Errorf("webhook secret decodes to %d bytes; use %d to %d random bytes (posrelay keygen prints a new secret)", len(key), MinWebhookSecretBytes, MaxWebhookSecretBytes)
	}
	return key, nil
}

// SignWebhook returns the webhook-signature header value for a message:
// "v1," and the padded standard base64 of HMAC-SHA256(key, id.timestamp.body).
func SignWebhook(key []byte, id string, timestamp int64, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(webhookMAC(key, id, timestamp, body))
}

func webhookMAC(key []byte, id string, timestamp int64, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write(strconv.AppendInt(nil, timestamp, 10))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// VerifyWebhook checks a Standard Webhooks v1 message: the three header values
// must be present, the timestamp at most tolerance away from now (either way;
// tolerance ≤ 0 means DefaultWebhookTolerance), and some "v1,<base64>" entry
// of the space-separated signature list must match in constant time. Entries
// of other versions are ignored. The error wraps one of the ErrWebhook*
// values.
func VerifyWebhook(key []byte, id, timestamp, signatureHeader string, body []byte, now time.Time, tolerance time.Duration) error {
	for _, h := range [...]struct{ name, value string }{
		{HeaderWebhookID, id},
		{HeaderWebhookTimestamp, timestamp},
		{HeaderWebhookSignature, signatureHeader},
	} {
		if h.value == "" {
			return fmt.Errorf("%w: %s is empty; send it with every delivery", ErrWebhookMissingHeader, h.name)
		}
	}
	ts, ok := parseUnixSeconds(timestamp)
	if !ok {
		return fmt.Errorf("%w: %s must be decimal digits only", ErrWebhookBadTimestamp, HeaderWebhookTimestamp)
	}
	if tolerance <= 0 {
		tolerance = DefaultWebhookTolerance
	}
	sent := time.Unix(ts, 0)
	if now.Sub(sent) > tolerance {
		return fmt.Errorf("%w: %s is more than %v before the receiver's clock; sign each delivery attempt with the current time", ErrWebhookTooOld, HeaderWebhookTimestamp, tolerance)
	}
	if sent.Sub(now) > tolerance {
		return fmt.Errorf("%w: %s is more than %v after the receiver's clock; check the sender's clock", ErrWebhookTooNew, HeaderWebhookTimestamp, tolerance)
	}
	want := webhookMAC(key, id, ts, body)
	for _, entry := range strings.Split(signatureHeader, " ") {
		version, enc, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.Strict().DecodeString(enc)
		if err != nil {
			continue
		}
		if hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("%w: no v1 entry of %s matches the body; sign id.timestamp.body with the site's webhook secret, base64-decoded after %q", ErrWebhookNoMatchSignature, HeaderWebhookSignature, WebhookSecretPrefix)
}
