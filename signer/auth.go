package signer

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The four request headers of scheme v1.
const (
	HeaderKey       = "X-PosRelay-Key"
	HeaderTimestamp = "X-PosRelay-Timestamp"
	HeaderNonce     = "X-PosRelay-Nonce"
	HeaderSignature = "X-PosRelay-Signature"
)

// Codes of an [AuthError]. The HTTP layer answers 401 for all of them except
// CodeReplayCacheFull, which is 503.
const (
	CodeUnknownKey      = "unknown_key"
	CodeMissingHeader   = "missing_header"
	CodeStaleTimestamp  = "stale_timestamp"
	CodeReplayedNonce   = "replayed_nonce"
	CodeBadSignature    = "bad_signature"
	CodeMalformedHeader = "malformed_header"
	CodeReplayCacheFull = "replay_cache_full"
)

// Defaults of [VerifierOptions].
const (
	DefaultWindow        = 300 * time.Second
	DefaultNonceCapacity = 100000
)

// Limits of the nonce header.
const (
	MinNonceLen = 22
	MaxNonceLen = 64
)

// signaturePrefix starts every scheme v1 signature header value.
const signaturePrefix = "v1="

// StringToSign returns what scheme v1 signs: seven lines joined by "\n" with
// no trailing newline — "v1", the key id, the timestamp and the nonce exactly
// as sent, the method in upper case, the request target (path and query)
// exactly as sent, and the lower-case hex SHA-256 of the raw body (of the
// empty string when there is no body).
func StringToSign(keyID, timestamp, nonce, method, target string, body []byte) string {
	sum := sha256.Sum256(body)
	var b strings.Builder
	b.Grow(len("v1") + len(keyID) + len(timestamp) + len(nonce) + len(method) + len(target) + 2*sha256.Size + 6)
	b.WriteString("v1\n")
	b.WriteString(keyID)
	b.WriteByte('\n')
	b.WriteString(timestamp)
	b.WriteByte('\n')
	b.WriteString(nonce)
	b.WriteByte('\n')
	b.WriteString(asciiUpper(method))
	b.WriteByte('\n')
	b.WriteString(target)
	b.WriteByte('\n')
	b.WriteString(hex.EncodeToString(sum[:]))
	return b.String()
}

// Sign returns the value of the X-PosRelay-Signature header for a request:
// "v1=" and the padded standard base64 of HMAC-SHA256(secret, StringToSign).
// The timestamp is Unix seconds; method is upper-cased.
func Sign(secret []byte, keyID string, timestamp int64, nonce, method, target string, body []byte) string {
	mac := requestMAC(secret, StringToSign(keyID, strconv.FormatInt(timestamp, 10), nonce, method, target, body))
	return signaturePrefix + base64.StdEncoding.EncodeToString(mac)
}

func requestMAC(secret []byte, stringToSign string) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(stringToSign))
	return h.Sum(nil)
}

// NewNonce returns a fresh nonce for the X-PosRelay-Nonce header: 22
// characters of unpadded base64url from 16 random bytes.
func NewNonce() string {
	return base64.RawURLEncoding.EncodeToString(randomBytes(16))
}

// NewKeySecret returns a new request-signing key: an id "key_" followed by 16
// lower-case hex characters, and a secret of 43 characters, the unpadded
// base64url of 32 random bytes. The secret is used as configured: its UTF-8
// bytes are the HMAC key.
func NewKeySecret() (keyID, secret string) {
	return "key_" + hex.EncodeToString(randomBytes(8)), base64.RawURLEncoding.EncodeToString(randomBytes(32))
}

// randomBytes returns n bytes from crypto/rand, which never fails on the
// platforms Go supports (it crashes the program instead).
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// Key is one request-signing key of a site. A site may have several at once
// (rotation).
type Key struct {
	ID     string // sent in X-PosRelay-Key
	SiteID string // the site the key belongs to
	Secret []byte // HMAC key: the UTF-8 bytes of the secret exactly as configured
}

// VerifierOptions tune a [Verifier]. The zero value gives the defaults.
type VerifierOptions struct {
	// Window is how far a request's timestamp may be from the verifier's
	// clock, either way; a timestamp exactly Window away is still accepted.
	// Zero or negative means DefaultWindow (300 s).
	Window time.Duration
	// NonceCapacity is how many unexpired nonces the replay cache holds for
	// each key. When a key's cache is full, its requests with new nonces are
	// refused with CodeReplayCacheFull (other keys are not affected); nonces
	// are never evicted before they expire. Zero or negative means
	// DefaultNonceCapacity.
	NonceCapacity int
	// Now is the verifier's clock. Nil means time.Now.
	Now func() time.Time
}

// Verifier checks scheme v1 request signatures against a fixed set of keys
// and remembers the nonces it has accepted, per key, for as long as their
// timestamp stays inside the window. It is safe for concurrent use.
//
// Each key has its own replay cache, so that one site (or one leaked key)
// flooding the relay cannot fill the memory that every other site's
// requests need. Each cache's expiry goroutine (from golang-lru/v2
// expirable) never stops; create one Verifier per process, not one per
// request.
type Verifier struct {
	keys   map[string]Key
	window time.Duration
	now    func() time.Time
	replay map[string]*replayCache // by key id; fixed after NewVerifier
}

// NewVerifier returns a Verifier for keys. It fails when a key has an empty
// id or secret, or when two keys share an id.
func NewVerifier(keys []Key, opts VerifierOptions) (*Verifier, error) {
	v := &Verifier{
		keys:   make(map[string]Key, len(keys)),
		replay: make(map[string]*replayCache, len(keys)),
		window: opts.Window,
		now:    opts.Now,
	}
	if v.window <= 0 {
		v.window = DefaultWindow
	}
	if v.now == nil {
		v.now = time.Now
	}
	capacity := opts.NonceCapacity
	if capacity <= 0 {
		capacity = DefaultNonceCapacity
	}
	for i, k := range keys {
		switch {
		case k.ID == "":
			return nil, fmt.Errorf("signer: keys[%d].id is empty; give every key an id (e.g. from NewKeySecret)", i)
		case len(k.Secret) == 0:
			return nil, fmt.Errorf("signer: keys[%d] (id %q): secret is empty; set a secret of at least 32 random bytes", i, k.ID)
		}
		if _, dup := v.keys[k.ID]; dup {
			return nil, fmt.Errorf("signer: keys[%d]: id %q is used by an earlier key; give each key its own id", i, k.ID)
		}
		k.Secret = append([]byte(nil), k.Secret...)
		v.keys[k.ID] = k
		// A nonce must be remembered while its timestamp is fresh: at most
		// 2×window after it was first seen. The cache's own (real-time)
		// expiry gets a margin on top, for steps of the wall clock.
		v.replay[k.ID] = newReplayCache(capacity, 2*v.window+5*time.Minute)
	}
	return v, nil
}

// Request is what [Verifier.Verify] needs from an HTTP request: the method,
// the request target (path and query exactly as sent), the raw body, and the
// four header values as received ("" when absent).
type Request struct {
	Method, Target string
	Body           []byte

	KeyID, Timestamp, Nonce, Signature string
}

// AuthError is why a request failed authentication. Code is one of the Code*
// constants; Message is an English sentence safe to return to the caller that
// names the header at fault and what to do. Neither ever contains a secret or
// the expected signature.
type AuthError struct {
	Code, Message string
}

// Error returns "auth: <code>: <message>".
func (e *AuthError) Error() string {
	return "auth: " + e.Code + ": " + e.Message
}

// Is reports whether target is an *AuthError with the same Code, so that
// errors.Is(err, &AuthError{Code: CodeReplayedNonce}) works.
func (e *AuthError) Is(target error) bool {
	var t *AuthError
	return errors.As(target, &t) && t.Code == e.Code
}

func authErr(code, format string, args ...any) *AuthError {
	return &AuthError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Verify authenticates r and returns the key that signed it. It checks, in
// this order: all four headers are present (CodeMissingHeader); the key id is
// known (CodeUnknownKey); the timestamp is an integer number of Unix seconds
// within the window (CodeStaleTimestamp); the nonce is 22–64 base64url
// characters (CodeMalformedHeader); the signature is "v1=<base64>" and matches
// in constant time (CodeBadSignature); the nonce has not been used with this
// key while its timestamp is fresh (CodeReplayedNonce), or the replay cache
// has no room for it (CodeReplayCacheFull). A nonce is recorded only once the
// signature has verified, so unsigned traffic cannot fill the cache.
//
// The returned Key shares its Secret with the Verifier; do not modify it.
// Any error is an *AuthError.
func (v *Verifier) Verify(r Request) (Key, error) {
	if err := checkPresent(r); err != nil {
		return Key{}, err
	}
	key, ok := v.keys[r.KeyID]
	if !ok {
		return Key{}, authErr(CodeUnknownKey,
			"the %s header names a key this relay does not know; use a key id configured for your site, and check it was not revoked", HeaderKey)
	}
	now := v.now()
	ts, ok := parseUnixSeconds(r.Timestamp)
	if !ok {
		return Key{}, authErr(CodeStaleTimestamp,
			"the %s header must be the current time as an integer number of Unix seconds, e.g. %d", HeaderTimestamp, now.Unix())
	}
	sent := time.Unix(ts, 0)
	if skew := now.Sub(sent); skew > v.window || skew < -v.window {
		return Key{}, authErr(CodeStaleTimestamp,
			"the %s header is more than %d s away from the relay's clock (relay time %d); send the current Unix time and keep your server's clock in sync",
			HeaderTimestamp, int64(v.window/time.Second), now.Unix())
	}
	if !validNonce(r.Nonce) {
		return Key{}, authErr(CodeMalformedHeader,
			"the %s header must be %d–%d characters of base64url (A–Z, a–z, 0–9, '-', '_'); generate it from at least 16 random bytes",
			HeaderNonce, MinNonceLen, MaxNonceLen)
	}
	got, ok := parseSignature(r.Signature)
	if !ok {
		return Key{}, authErr(CodeBadSignature,
			"the %s header must be \"v1=\" followed by the padded standard base64 of the 32-byte HMAC-SHA256", HeaderSignature)
	}
	want := requestMAC(key.Secret, StringToSign(r.KeyID, r.Timestamp, r.Nonce, r.Method, r.Target, r.Body))
	if !hmac.Equal(got, want) {
		return Key{}, authErr(CodeBadSignature,
			"the %s header does not match the request; sign the seven lines v1, key id, timestamp, nonce, upper-case method, request target as sent and hex SHA-256 of the raw body with this key's secret",
			HeaderSignature)
	}
	// The nonce stays dangerous until the first instant at which its
	// timestamp is stale: sent + window + 1 ns.
	switch v.replay[r.KeyID].checkAndAdd(newNonceKey(r.KeyID, r.Nonce), sent.Add(v.window+time.Nanosecond), now) {
	case replayed:
		return Key{}, authErr(CodeReplayedNonce,
			"the %s header repeats a nonce already used with this key; send a fresh random nonce with every request, retries included", HeaderNonce)
	case full:
		return Key{}, authErr(CodeReplayCacheFull,
			"the relay is receiving more signed requests with this key than it can track right now; retry with a new %s after a short delay", HeaderNonce)
	}
	return key, nil
}

// checkPresent reports the missing auth headers, if any.
func checkPresent(r Request) *AuthError {
	var missing []string
	for _, h := range [...]struct{ name, value string }{
		{HeaderKey, r.KeyID},
		{HeaderTimestamp, r.Timestamp},
		{HeaderNonce, r.Nonce},
		{HeaderSignature, r.Signature},
	} {
		if h.value == "" {
			missing = append(missing, h.name)
		}
	}
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return authErr(CodeMissingHeader,
			"the %s header is missing; send all four of %s, %s, %s and %s",
			missing[0], HeaderKey, HeaderTimestamp, HeaderNonce, HeaderSignature)
	default:
		return authErr(CodeMissingHeader,
			"the %s headers are missing; send all four of %s, %s, %s and %s",
			strings.Join(missing, ", "), HeaderKey, HeaderTimestamp, HeaderNonce, HeaderSignature)
	}
}

// parseUnixSeconds accepts only ASCII digits (no sign, no spaces), at most 18
// of them, so the value fits an int64 with room to spare.
func parseUnixSeconds(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

func validNonce(s string) bool {
	if len(s) < MinNonceLen || len(s) > MaxNonceLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || isDigit(c) || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// parseSignature decodes "v1=<padded standard base64 of 32 bytes>". Strict
// decoding makes the encoding canonical, so any changed character either
// fails to decode or changes the decoded bytes.
func parseSignature(s string) ([]byte, bool) {
	enc, ok := strings.CutPrefix(s, signaturePrefix)
	if !ok || len(enc) != base64.StdEncoding.EncodedLen(sha256.Size) {
		return nil, false
	}
	mac, err := base64.StdEncoding.Strict().DecodeString(enc)
	if err != nil || len(mac) != sha256.Size {
		return nil, false
	}
	return mac, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// asciiUpper upper-cases ASCII letters only, leaving every other byte as is.
func asciiUpper(s string) string {
	for i := 0; i < len(s); i++ {
		if 'a' <= s[i] && s[i] <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'a' <= b[j] && b[j] <= 'z' {
					b[j] -= 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
