package signer

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/url"
	"testing"
	"time"
)

// FuzzVerify: a request signed with Sign verifies once (and is a replay the
// second time), and changing any one byte of the method (other than its
// case), target, body or any of the four headers makes it fail.
func FuzzVerify(f *testing.F) {
	clock := newFakeClock(t0)
	v, err := NewVerifier(testKeys, VerifierOptions{Now: clock.Now, NonceCapacity: 1024})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("POST", "/v1/payments?dryRun=1", []byte(`{"amount":100}`), uint8(0), int16(0), uint8(0), uint16(0), uint8(1))
	f.Add("GET", "/v1/whoami", []byte(nil), uint8(1), int16(300), uint8(6), uint16(10), uint8(0x20))
	f.Add("post", "/v1/payments/p1/refunds", []byte("{}"), uint8(2), int16(-300), uint8(3), uint16(10), uint8(3))
	f.Add("DELETE", "/", []byte("\x00\xff|\\\n"), uint8(0), int16(-7), uint8(4), uint16(3), uint8(0xff))
	f.Add("", "", []byte(nil), uint8(0), int16(1), uint8(5), uint16(21), uint8(0x40))
	f.Fuzz(func(t *testing.T, method, target string, body []byte, keyIdx uint8, offset int16, field uint8, pos uint16, flip uint8) {
		now := clock.Advance(time.Hour) // earlier nonces expire; the cache is purged when full
		k := testKeys[int(keyIdx)%len(testKeys)]
		ts := now.Unix() + int64(offset)%301
		nonce := NewNonce()
		good := Request{
			Method: method, Target: target, Body: body,
			KeyID: k.ID, Timestamp: itoa(ts), Nonce: nonce,
			Signature: Sign(k.Secret, k.ID, ts, nonce, method, target, body),
		}
		if bad, ok := mutate(good, field, pos, flip); ok {
			if _, err := v.Verify(bad); err == nil {
				t.Fatalf("Verify accepted a request with field %d changed: %+v", field%7, bad)
			}
		}
		got, err := v.Verify(good)
		if err != nil {
			t.Fatalf("Verify of a freshly signed request: %v", err)
		}
		if got.ID != k.ID {
			t.Fatalf("Verify returned key %q; want %q", got.ID, k.ID)
		}
		if _, err := v.Verify(good); codeOf(err) != CodeReplayedNonce {
			t.Fatalf("second Verify = %v; want %s", err, CodeReplayedNonce)
		}
	})
}

// mutate returns r with one byte of one field changed (XOR with flip, or 1),
// or false when that field is empty or the change only alters the method's
// case, which the scheme ignores.
func mutate(r Request, field uint8, pos uint16, flip uint8) (Request, bool) {
	if flip == 0 {
		flip = 1
	}
	change := func(s string) (string, bool) {
		if s == "" {
			return s, false
		}
		b := []byte(s)
		b[int(pos)%len(b)] ^= flip
		return string(b), true
	}
	ok := false
	switch field % 7 {
	case 0:
		var m string
		m, ok = change(r.Method)
		ok = ok && asciiUpper(m) != asciiUpper(r.Method)
		r.Method = m
	case 1:
		r.Target, ok = change(r.Target)
	case 2:
		var b string
		b, ok = change(string(r.Body))
		r.Body = []byte(b)
	case 3:
		r.KeyID, ok = change(r.KeyID)
	case 4:
		r.Timestamp, ok = change(r.Timestamp)
	case 5:
		r.Nonce, ok = change(r.Nonce)
	case 6:
		r.Signature, ok = change(r.Signature)
	}
	return r, ok
}

// FuzzStrNatCaseCmp: the comparison is antisymmetric, reflexive and returns
// only -1, 0 or +1.
func FuzzStrNatCaseCmp(f *testing.F) {
	var doc struct {
		Source string `json:"source"`
		Cases  []struct {
			A    string `json:"a"`
			B    string `json:"b"`
			Want int    `json:"want"`
			Why  string `json:"why"`
		} `json:"cases"`
	}
	loadJSON(f, "strnatcasecmp.json", &doc)
	for _, c := range doc.Cases {
		f.Add(c.A, c.B)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ab, ba := StrNatCaseCmp(a, b), StrNatCaseCmp(b, a)
		if ab < -1 || ab > 1 {
			t.Fatalf("StrNatCaseCmp(%q, %q) = %d; want -1, 0 or 1", a, b, ab)
		}
		if ab != -ba {
			t.Fatalf("StrNatCaseCmp(%q, %q) = %d but StrNatCaseCmp(%q, %q) = %d", a, b, ab, b, a, ba)
		}
		if c := StrNatCaseCmp(a, a); c != 0 {
			t.Fatalf("StrNatCaseCmp(%q, itself) = %d", a, c)
		}
	})
}

// formFields parses a form body the way a callback arrives; for repeated
// names the last value wins, as in PHP.
func formFields(form string) map[string]string {
	q, _ := url.ParseQuery(form)
	fields := make(map[string]string, len(q))
	for k, vs := range q {
		fields[k] = vs[len(vs)-1]
	}
	return fields
}

func encodeForm(fields map[string]string) string {
	q := url.Values{}
	for k, v := range fields {
		q.Set(k, v)
	}
	return q.Encode()
}

// FuzzVerifyESTv3: any callback body is handled without panic; once signed
// it verifies, and a changed value no longer does.
func FuzzVerifyESTv3(f *testing.F) {
	// Seeds are slices of eight fields of the callback fixtures: whole
	// callbacks (2–3 KB) make the fuzzer's input minimisation crawl.
	for _, cb := range loadESTCallbacks(f) {
		for i := 0; i < len(cb.SortedKeys); i += 8 {
			part := map[string]string{}
			for _, k := range cb.SortedKeys[i:min(i+8, len(cb.SortedKeys))] {
				part[k] = cb.Fields[k]
			}
			f.Add(encodeForm(part), cb.StoreKey)
		}
	}
	f.Add("a=1&b=2&HASH=x", "123456")
	f.Add("item10=a&item2=b&EXTRA.X=%7C&EXTRA_Y=%5C&encoding=x", `k|\`)
	f.Add("", "")
	f.Fuzz(func(t *testing.T, form, storeKey string) {
		fields := formFields(form)
		err := VerifyESTv3(fields, storeKey)
		if err != nil && !errors.Is(err, ErrHashMissing) && !errors.Is(err, ErrHashMismatch) {
			t.Fatalf("VerifyESTv3 = %v; want nil, ErrHashMissing or ErrHashMismatch", err)
		}
		fields["HASH"] = ESTv3Hash(fields, storeKey)
		if err := VerifyESTv3(fields, storeKey); err != nil {
			t.Fatalf("VerifyESTv3 of a signed map: %v", err)
		}
		if keys := ESTv3SortedKeys(fields); len(keys) > 0 {
			fields[keys[0]] += "x"
			if err := VerifyESTv3(fields, storeKey); !errors.Is(err, ErrHashMismatch) {
				t.Fatalf("VerifyESTv3 after changing %q = %v; want ErrHashMismatch", keys[0], err)
			}
		}
	})
}

// FuzzVerifyESTv1: any callback body is handled without panic and yields one
// of the documented errors.
func FuzzVerifyESTv1(f *testing.F) {
	f.Add("clientid=1&oid=2&HASHPARAMS=clientid%3Aoid%3A&HASHPARAMSVAL=12&HASH=abc", "k")
	f.Add("HASHPARAMS=%3A%3A%3A&HASHPARAMSVAL=&HASH=", "")
	f.Fuzz(func(t *testing.T, form, storeKey string) {
		err := VerifyESTv1(formFields(form), storeKey)
		if err != nil && !errors.Is(err, ErrHashMissing) && !errors.Is(err, ErrHashMismatch) && !errors.Is(err, ErrHashParamsMismatch) {
			t.Fatalf("VerifyESTv1 = %v; want nil or a documented error", err)
		}
	})
}

// FuzzVerifyPayForResponse: any callback body is handled without panic and
// yields one of the documented errors.
func FuzzVerifyPayForResponse(f *testing.F) {
	f.Add("OrderId=20221031FD04&AuthCode=&ProcReturnCode=V033&3DStatus=1&ResponseRnd=PF638028511007418219&ResponseHash=rVcKoOOl3jKukGLHcQaVM6ZuznU%3D")
	f.Add("ResponseHash=x&HashType=Sha256")
	f.Fuzz(func(t *testing.T, form string) {
		err := VerifyPayForResponse(formFields(form), "085300000009704", "12345678", "QNB_API_KULLANICI_3DPAY")
		if err != nil && !errors.Is(err, ErrHashMissing) && !errors.Is(err, ErrHashMismatch) {
			t.Fatalf("VerifyPayForResponse = %v; want nil or a documented error", err)
		}
	})
}

// FuzzParseWebhookSecret: any string is handled without panic; an accepted
// secret gives 24–64 bytes and survives a round trip through its canonical
// form.
func FuzzParseWebhookSecret(f *testing.F) {
	f.Add("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	f.Add(NewWebhookSecret())
	f.Add("whsec_")
	f.Add("whsec_whsec_AAAA")
	f.Add("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		key, err := ParseWebhookSecret(s)
		if err != nil {
			if key != nil {
				t.Fatalf("ParseWebhookSecret returned a key with error %v", err)
			}
			return
		}
		if len(key) < MinWebhookSecretBytes || len(key) > MaxWebhookSecretBytes {
			t.Fatalf("ParseWebhookSecret(%q) gave %d bytes", s, len(key))
		}
		again, err := ParseWebhookSecret(WebhookSecretPrefix + base64.StdEncoding.EncodeToString(key))
		if err != nil || !bytes.Equal(again, key) {
			t.Fatalf("canonical form of %q does not round-trip: %v", s, err)
		}
	})
}

// FuzzVerifyWebhook: any header values are handled without panic; a message
// signed with SignWebhook verifies, also inside a list of other signatures.
func FuzzVerifyWebhook(f *testing.F) {
	key, err := ParseWebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		f.Fatal(err)
	}
	f.Add("msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", []byte(`{"test": 2432232314}`))
	f.Add("id", "x", "v1, v1,,, ,v1", []byte(nil))
	f.Fuzz(func(t *testing.T, id, ts, sigHeader string, body []byte) {
		const sent = int64(1614265330)
		now := time.Unix(sent, 0)
		err := VerifyWebhook(key, id, ts, sigHeader, body, now, 0)
		if err != nil && !errors.Is(err, ErrWebhookMissingHeader) && !errors.Is(err, ErrWebhookBadTimestamp) &&
			!errors.Is(err, ErrWebhookTooOld) && !errors.Is(err, ErrWebhookTooNew) && !errors.Is(err, ErrWebhookNoMatchSignature) {
			t.Fatalf("VerifyWebhook = %v; want nil or a documented error", err)
		}
		if id == "" {
			return
		}
		sig := SignWebhook(key, id, sent, body)
		if err := VerifyWebhook(key, id, itoa(sent), sigHeader+" "+sig, body, now, 0); err != nil {
			t.Fatalf("VerifyWebhook of a signed message: %v", err)
		}
	})
}
