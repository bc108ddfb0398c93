package reliability

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
)

// The hostile-input corpus in testdata/badinput is written by this file:
//
//	go test ./reliability -run TestCorpusIsGenerated -update
//
// Without -update the test checks the files match what it would write.
var update = flag.Bool("update", false, "rewrite testdata/badinput from corpus_gen_test.go")

func TestCorpusIsGenerated(t *testing.T) {
	files := map[string][]badCase{
		"api_create": apiCreateCases(),
		"api_routes": apiRouteCases(),
		"auth":       authCases(),
		"http":       httpCases(),
		"pages":      pageCases(),
		"callbacks":  callbackCases(),
	}
	dir := filepath.Join("testdata", "badinput")
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		checkGenerated(t, filepath.Join(dir, name+".json"), files[name], "corpus_gen_test.go", "TestCorpusIsGenerated")
	}
}

// checkGenerated writes v as indented JSON to path with -update, and
// otherwise checks that path holds exactly that; gen and test name the
// generator file and the test to rerun.
func checkGenerated(t *testing.T, path string, v any, gen, test string) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, buf.Bytes()) {
		t.Errorf("%s is not what %s writes; run: go test ./reliability -run %s -update", path, gen, test)
	}
}

func str(s string) *string { return &s }

func raw(s string) map[string]any { return map[string]any{"$raw": s} }

var del = map[string]any{"$delete": true}

// invalid is the 422 the relay answers for a field it refuses.
func invalid(field string) want {
	return want{Status: 422, Code: "invalid_" + field, Field: field}
}

var badJSON = want{Status: 400, Code: "invalid_json"}

func apiCreateCases() []badCase {
	var out []badCase
	add := func(name string, p patch, w want) {
		out = append(out, badCase{Name: name, Method: "POST", Target: "/v1/payments", Patch: p, Want: w})
	}
	body := func(name, b string, w want) {
		out = append(out, badCase{Name: name, Method: "POST", Target: "/v1/payments", Body: str(b), Want: w})
	}
	body64 := func(name string, b []byte, w want) {
		out = append(out, badCase{Name: name, Method: "POST", Target: "/v1/payments", BodyBase64: base64.StdEncoding.EncodeToString(b), Want: w})
	}

	// Not a JSON object.
	for _, c := range []struct{ name, body string }{
		{"empty body", ""}, {"whitespace only", " \n\t "}, {"null", "null"}, {"array", "[]"}, {"string", `"a string"`},
		{"number", "123"}, {"boolean", "true"}, {"open brace only", "{"}, {"truncated object", `{"amount": 100`},
		{"trailing garbage", `{}x`}, {"two objects", `{}{}`}, {"trailing comma", `{"amount":1,}`},
		{"single quotes", `{'amount': 1}`}, {"NaN", `{"amount": NaN}`}, {"Infinity", `{"amount": Infinity}`},
		{"hex number", `{"amount": 0x10}`}, {"leading zeros", `{"amount": 00100}`}, {"plus sign", `{"amount": +100}`},
		{"bare fraction", `{"amount": .5}`}, {"comment", "// comment\n{}"}, {"block comment", `{/* c */}`},
		{"unquoted key", `{amount: 1}`}, {"byte order mark", "\ufeff{}"}, {"form encoded", "amount=100&currency=TRY"},
		{"xml", `<?xml version="1.0"?><payment><amount>100</amount></payment>`},
		{"deep nesting", `{"customer":` + strings.Repeat("[", 30000)},
		{"unterminated string", `{"orderId": "abc`}, {"control character in string", "{\"orderId\": \"a\x01b\"}"},
		{"invalid escape", `{"orderId": "a\qb"}`},
	} {
		body("json: "+c.name, c.body, badJSON)
	}
	body64("json: invalid UTF-8", []byte("{\"orderId\": \"a\xffb\"}"), badJSON)
	body64("json: overlong UTF-8", []byte("{\"orderId\": \"\xc0\xaf\"}"), badJSON)
	body64("json: UTF-16LE body", utf16le(`{"amount": 100}`), badJSON)
	body64("json: NUL bytes", []byte("{\x00}"), badJSON)
	add("json: lone surrogate in orderId", patch{"orderId": raw(`"\ud800"`)}, invalid("orderId"))
	add("json: duplicate key, last invalid", patch{"amount": raw(`100, "amount": -1`)}, invalid("amount"))
	add("json: body above max_body_bytes", patch{}, want{Status: 413, Code: "body_too_large"})
	out[len(out)-1].Pad = 70000
	add("json: body one byte above max_body_bytes", patch{}, want{Status: 413, Code: "body_too_large"})
	out[len(out)-1].Pad = 65537
	add("json: 60 KB customer name", patch{"customer.name": strings.Repeat("n", 60000)}, invalid("customer.name"))

	// Unknown fields.
	for _, f := range []string{"foo", "cardNumber", "__proto__", "constructor", "status", "id", "redirectUrl"} {
		add("unknown field "+f, patch{f: "x"}, want{Status: 400, Code: "unknown_field", Field: f})
	}
	add("unknown field in returnUrls", patch{"returnUrls.evil": "https://evil.example"}, want{Status: 400, Code: "unknown_field", Field: "evil"})
	add("unknown field in customer", patch{"customer.cvv": "000"}, want{Status: 400, Code: "unknown_field", Field: "cvv"})

	// Wrong types.
	for _, c := range []struct {
		name string
		p    patch
		w    want
	}{
		{"amount as string", patch{"amount": "14990"}, invalid("amount")},
		{"amount as boolean", patch{"amount": true}, invalid("amount")},
		{"amount as array", patch{"amount": []int{1}}, invalid("amount")},
		{"amount as object", patch{"amount": map[string]int{"value": 1}}, invalid("amount")},
		{"amount null", patch{"amount": raw("null")}, invalid("amount")},
		{"amount missing", patch{"amount": del}, invalid("amount")},
		{"bank as number", patch{"bank": 5}, invalid("bank")},
		{"orderId as number", patch{"orderId": 12345}, invalid("orderId")},
		{"currency as number", patch{"currency": 949}, invalid("currency")},
		{"installments as string", patch{"installments": "2"}, invalid("installments")},
		{"installments as boolean", patch{"installments": true}, invalid("installments")},
		{"type as number", patch{"type": 1}, invalid("type")},
		{"returnUrls as string", patch{"returnUrls": "https://shop.example/ok"}, invalid("returnUrls")},
		{"returnUrls as array", patch{"returnUrls": []string{"https://shop.example/ok"}}, invalid("returnUrls")},
		{"returnUrls.success as number", patch{"returnUrls.success": 5}, invalid("returnUrls.success")},
		{"customer as string", patch{"customer": "x"}, invalid("customer")},
		{"customer.ip as number", patch{"customer.ip": 5}, invalid("customer.ip")},
		{"language as number", patch{"language": 1}, invalid("language")},
		{"wixTransactionId as object", patch{"wixTransactionId": map[string]int{}}, invalid("wixTransactionId")},
	} {
		add("type: "+c.name, c.p, c.w)
	}

	// Amounts.
	for _, a := range []string{"0", "-1", "-14990", "1.5", "149.90", "100.0", "1e3", "1E2", "-0", "0.0",
		"9223372036854775807", "9223372036854775808", "-9223372036854775809", "1e400", "10000000001",
		"99999999999999999999999999999", "1.0e-10", "-1e3", "0.01"} {
		add("amount "+a, patch{"amount": raw(a)}, invalid("amount"))
	}

	// Currencies.
	for _, c := range []string{"", "try", "TRL", "XXX", "949", "TRY ", " TRY", "TRY\x00", "ＴＲＹ", "TR", "TRYY", "<TRY>", "TRY\r\nX: y", "Try"} {
		add("currency "+strconv.Quote(c), patch{"currency": c}, invalid("currency"))
	}
	add("currency missing", patch{"currency": del}, invalid("currency"))

	// Installments.
	for _, n := range []string{"0", "-1", "13", "99", "7", "1.5", "9223372036854775807", "1e1", "2.0"} {
		add("installments "+n, patch{"installments": raw(n)}, invalid("installments"))
	}
	add("installments 2 in USD", patch{"installments": 2, "currency": "USD"}, invalid("installments"))
	add("installments 3 in EUR", patch{"installments": 3, "currency": "EUR"}, invalid("installments"))

	// Types.
	for _, ty := range []string{"SALE", "refund", "preauth ", "auth", "sale\x00", "capture", "void"} {
		add("type "+strconv.Quote(ty), patch{"type": ty}, invalid("type"))
	}

	// Order ids: what the banks accept, nothing else (XML and header
	// injection, encodings, look-alikes).
	for _, o := range []string{"", strings.Repeat("a", 41), "<OrderId>x</OrderId>", "a&amp;b", "a'b", `a"b`,
		"a\r\nX-Injected: 1", "a\nb", "a b", "a/b", "../etc", "a;b", "sipariş", "a\x00b", "a%00b", "a\tb",
		"a\u200bb", "a\u202eb", "]]><x>", "a=b&c=d", "{{7*7}}", "${jndi:ldap://x}", "' OR 1=1 --", "a.b", "a+b",
		"ORDER\u0130D", "a\\b", "a|b", "a#b", "a?b"} {
		add("orderId "+strconv.Quote(o), patch{"orderId": o}, invalid("orderId"))
	}
	add("orderId missing", patch{"orderId": del}, invalid("orderId"))

	// Return URLs: only https on the site's own origins.
	for _, u := range []string{
		"http://shop.example/ok", "https://evil.example/ok", "https://shop.example@evil.example/ok",
		"https://user:pw@shop.example/ok", "javascript:alert(1)", "JaVaScRiPt:alert(1)", "//evil.example/ok", "/ok",
		`https:/\evil.example`, `https:\\evil.example\ok`, `https://shop.example\@evil.example`,
		" https://shop.example/ok", "https://shop.example/ok ", "https://shop.example\t/ok",
		"https://shop.example/ok\r\nSet-Cookie: a=b", "https://shоp.example/ok", "https://xn--80ak6aa92e.com/ok",
		"https://shop.example.evil.example/ok", "https://evil.example#@shop.example", "https://evil.example?@shop.example",
		"https://shop.example:8443/ok", "https://shop.example%2eevil.example/", "https://%73hop.example/ok",
		"https://[::1]/ok", "https://127.0.0.1/ok", "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)",
		"file:///etc/passwd", "https://shop.example\u00a0.evil.example/", "https://shop.example\u2028/ok",
		"https://shop.example/" + strings.Repeat("a", 3000), "ftp://shop.example/ok", "https://shop.example:99999/ok",
		"https:shop.example/ok", "https://shop.example/ok#\x00", "HTTPS://EVIL.EXAMPLE/", "https://SHOP.EXAMPLE.evil.example",
		"https://shop.example%00.evil.example", `\\evil.example\ok`, "https://ѕһор.example/ok", "https://shop.example/<script>",
		"https://shop.example/\"onmouseover=alert(1)", "wss://shop.example/ok", "https://shop.example\u3000/ok", "https://shop.example/ok\u2029",
	} {
		add("returnUrls.success "+strconv.Quote(u), patch{"returnUrls.success": u}, invalid("returnUrls.success"))
	}
	add("returnUrls.success missing", patch{"returnUrls.success": del}, invalid("returnUrls.success"))
	add("returnUrls.error missing", patch{"returnUrls.error": del}, invalid("returnUrls.error"))
	add("returnUrls.error on another origin", patch{"returnUrls.error": "https://evil.example/fail"}, invalid("returnUrls.error"))
	add("returnUrls.cancel on another origin", patch{"returnUrls.cancel": "https://evil.example/c"}, invalid("returnUrls.cancel"))
	add("returnUrls.pending javascript", patch{"returnUrls.pending": "javascript:x"}, invalid("returnUrls.pending"))
	add("returnUrls on another site's origin", patch{"returnUrls.success": "https://other.example/ok"}, invalid("returnUrls.success"))

	// Customer.
	for _, ip := range []string{"999.1.1.1", "localhost", "1.2.3.4\r\n", "1.2.3.4; rm -rf /", "1.2.3", "::g", "1.2.3.4/24"} {
		add("customer.ip "+strconv.Quote(ip), patch{"customer.ip": ip}, invalid("customer.ip"))
	}
	for _, e := range []string{"a", "<a@b.example>", "a@b\x00c", strings.Repeat("e", 250) + "@b.example", "a b@c.example", "a@b.example\r\nBcc: x@y.example", `"a"@b.example`} {
		add("customer.email "+strconv.Quote(e), patch{"customer.email": e}, invalid("customer.email"))
	}
	for _, n := range []string{"<script>alert(1)</script>", "a\x01b", strings.Repeat("n", 101), "a|b", `a\b`, "a\r\nb"} {
		add("customer.name "+strconv.Quote(n), patch{"customer.name": n}, invalid("customer.name"))
	}

	// Language, Wix id, bank.
	for _, l := range []string{"de", "TR", "tr-TR\n", "../../etc/passwd", "en-XX", "tr\x00"} {
		add("language "+strconv.Quote(l), patch{"language": l}, invalid("language"))
	}
	for _, x := range []string{strings.Repeat("w", 129), "a\x00b", "a\nb"} {
		add("wixTransactionId "+strconv.Quote(x), patch{"wixTransactionId": x}, invalid("wixTransactionId"))
	}
	for _, b := range []string{"qnb", "vakifbank", "unknown", "", "HALKBANK", "h3d\x00", "hosted "} {
		add("bank "+strconv.Quote(b), patch{"bank": b}, invalid("bank"))
	}

	// Idempotency keys.
	out = append(out,
		badCase{Name: "Idempotency-Key of 201 characters", Method: "POST", Target: "/v1/payments", Patch: patch{},
			Headers: [][2]string{{"Idempotency-Key", strings.Repeat("k", 201)}}, Want: want{Status: 400, Code: "invalid_idempotency_key", Field: "Idempotency-Key"}},
		badCase{Name: "Idempotency-Key with a tab", Method: "POST", Target: "/v1/payments", Patch: patch{},
			Headers: [][2]string{{"Idempotency-Key", "a\tb"}}, Want: want{Status: 400, Code: "invalid_idempotency_key", Field: "Idempotency-Key"}},
		badCase{Name: "Idempotency-Key reused for another payment", Method: "POST", Target: "/v1/payments", Patch: patch{},
			Headers: [][2]string{{"Idempotency-Key", "idem-in-use"}}, Want: want{Status: 422, Code: "idempotency_key_reused", Field: "Idempotency-Key"}},
	)
	return out
}

func utf16le(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return b
}

func apiRouteCases() []badCase {
	var out []badCase
	add := func(name, method, target string, b *string, w want) {
		out = append(out, badCase{Name: name, Method: method, Target: target, Body: b, Want: w})
	}
	notFound := want{Status: 404, Code: "payment_not_found"}
	for _, id := range []string{"x", "pay_", "pay_" + strings.Repeat("a", 19), "pay_" + strings.Repeat("a", 21), "PAY_AAAAAAAAAAAAAAAAAAAA",
		"pay_AAAAAAAAAAAAAAAAAAAA", "pay_%2e%2e%2f%2e%2e", "pay_aaaaaaaaaaaaaaaaaaa%00", "pay_aaaaaaaaaaaaaaaaaaa1", "{unknownId}",
		"{otherSiteId}", "op_aaaaaaaaaaaaaaaaaaaa", "pay_aaaaaaaaaaaaaaaaaaaa'--", "%70ay_aaaaaaaaaaaaaaaaaaaa"} {
		add("GET payment "+strconv.Quote(id), "GET", "/v1/payments/"+id, nil, notFound)
	}
	add("refresh another site's payment", "GET", "/v1/payments/{otherSiteId}?refresh=true", nil, notFound)
	add("refund another site's payment", "POST", "/v1/payments/{otherSiteId}/refunds", str(`{"wixRefundId":"wr-x"}`), notFound)
	add("void an unknown payment", "POST", "/v1/payments/{unknownId}/void", str(`{}`), notFound)

	method := want{Status: 405, Code: "method_not_allowed"}
	for _, m := range []string{"GET", "PUT", "DELETE", "PATCH", "OPTIONS"} {
		add(m+" /v1/payments", m, "/v1/payments", nil, method)
	}
	add("HEAD /v1/payments", "HEAD", "/v1/payments", nil, want{Status: 405})
	add("POST /v1/whoami", "POST", "/v1/whoami", str(`{}`), method)
	add("DELETE a payment", "DELETE", "/v1/payments/{pendingId}", nil, method)
	add("PUT a payment", "PUT", "/v1/payments/{pendingId}", str(`{"status":"succeeded"}`), method)
	add("GET refunds", "GET", "/v1/payments/{doneId}/refunds", nil, method)
	add("GET the daily report with POST", "POST", "/v1/reports/daily", str(`{}`), method)
	for _, p := range []string{"/v1/", "/v1/unknown", "/v1/payments/{pendingId}/explode", "/v1/payments/{pendingId}/refunds/x", "/v1/payments/a/b/c/d",
		"/v1/reports/weekly", "/v1/whoami/x", "/v1/payments/{pendingId}/REFUNDS"} {
		add("route "+p, "GET", p, nil, want{Status: 404, Code: "not_found"})
	}

	// After-sale operations refused before the bank.
	refund := func(name, target, b string, w want, headers ...[2]string) {
		out = append(out, badCase{Name: name, Method: "POST", Target: target, Body: str(b), Headers: headers, Want: w})
	}
	refund("refund a pending payment", "/v1/payments/{pendingId}/refunds", `{"wixRefundId":"wr-1"}`, want{Status: 409, Code: "payment_not_succeeded"})
	refund("void a pending payment", "/v1/payments/{pendingId}/void", `{}`, want{Status: 409, Code: "payment_not_succeeded"})
	refund("capture a sale", "/v1/payments/{doneId}/capture", `{}`, want{Status: 409, Code: "not_preauth"})
	refund("refund without a key", "/v1/payments/{doneId}/refunds", `{"amount":100}`, want{Status: 400, Code: "idempotency_key_required", Field: "Idempotency-Key"})
	refund("refund more than captured", "/v1/payments/{doneId}/refunds", `{"amount":20001,"wixRefundId":"wr-over"}`, want{Status: 422, Code: "refund_exceeds_captured", Field: "amount"})
	for _, a := range []string{"-1", "0", "-20000"} {
		refund("refund amount "+a, "/v1/payments/{doneId}/refunds", `{"amount":`+a+`,"wixRefundId":"wr-a"}`, invalid("amount"))
	}
	for _, a := range []string{"1.5", `"100"`, "1e3", "true", "9223372036854775808"} {
		refund("refund amount "+a, "/v1/payments/{doneId}/refunds", `{"amount":`+a+`,"wixRefundId":"wr-a"}`, invalid("amount"))
	}
	refund("refund with an unknown field", "/v1/payments/{doneId}/refunds", `{"amount":1,"wixRefundId":"wr-u","card":"x"}`, want{Status: 400, Code: "unknown_field", Field: "card"})
	refund("refund body an array", "/v1/payments/{doneId}/refunds", `[]`, badJSON)
	refund("refund body null", "/v1/payments/{doneId}/refunds", `null`, badJSON)
	refund("refund body truncated", "/v1/payments/{doneId}/refunds", `{"amount":1`, badJSON)
	refund("refund wixRefundId too long", "/v1/payments/{doneId}/refunds", `{"wixRefundId":"`+strings.Repeat("r", 129)+`"}`, invalid("wixRefundId"))
	refund("refund wixRefundId with a newline", "/v1/payments/{doneId}/refunds", `{"wixRefundId":"a\nb"}`, invalid("wixRefundId"))
	refund("refund Idempotency-Key too long", "/v1/payments/{doneId}/refunds", `{"amount":1}`, want{Status: 400, Code: "invalid_idempotency_key", Field: "Idempotency-Key"},
		[2]string{"Idempotency-Key", strings.Repeat("k", 201)})
	refund("void with an amount", "/v1/payments/{doneId}/void", `{"amount":1}`, want{Status: 400, Code: "unknown_field", Field: "amount"})
	refund("void body garbage", "/v1/payments/{doneId}/void", `void`, badJSON)
	refund("capture amount negative", "/v1/payments/{doneId}/capture", `{"amount":-5}`, invalid("amount"))
	refund("capture amount string", "/v1/payments/{doneId}/capture", `{"amount":"5"}`, invalid("amount"))

	// Reports.
	for _, d := range []string{"2026-13-45", "../../etc/passwd", "yesterday", "2026-1-1", "20261122", "2026-02-30", "{today}'--"} {
		add("daily report date "+strconv.Quote(d), "GET", "/v1/reports/daily?date="+urlQuery(d), nil, invalid("date"))
	}
	add("daily report bad format", "GET", "/v1/reports/daily?date={today}&format=xml", nil, invalid("format"))
	add("daily report bad format, bank check asked", "GET", "/v1/reports/daily?date={today}&format=pdf&checkBank=true", nil, invalid("format"))
	add("daily report bad date, bank check asked", "GET", "/v1/reports/daily?date=2026-99-99&checkBank=true", nil, invalid("date"))
	return out
}

func urlQuery(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '{' || c == '}' {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(strconv.FormatInt(int64(c)|0x100, 16)[1:]))
		}
	}
	return b.String()
}

func authCases() []badCase {
	var out []badCase
	add := func(name, auth string, w want, headers ...[2]string) {
		out = append(out, badCase{Name: name, Method: "GET", Target: "/v1/whoami", Auth: auth, Headers: headers, Want: w})
	}
	create := func(name, auth string, w want, headers ...[2]string) {
		out = append(out, badCase{Name: name, Method: "POST", Target: "/v1/payments", Patch: patch{}, Auth: auth, Headers: headers, Want: w})
	}
	u := func(code string) want { return want{Status: 401, Code: code} }
	add("no auth headers", "none", u("missing_header"))
	for _, h := range []string{"X-PosRelay-Key", "X-PosRelay-Timestamp", "X-PosRelay-Nonce", "X-PosRelay-Signature"} {
		add("missing "+h, "missing:"+h, u("missing_header"))
		create("create with "+h+" missing", "missing:"+h, u("missing_header"))
	}
	add("unknown key", "unknown_key", u("unknown_key"))
	add("signed with another secret", "wrong_secret", u("bad_signature"))
	create("create signed with another secret", "wrong_secret", u("bad_signature"))
	add("timestamp 301 s old", "stale_past", u("stale_timestamp"))
	add("timestamp 301 s ahead", "stale_future", u("stale_timestamp"))
	for _, ts := range []string{"abc", "-1", "+1700000000", " 1700000000", "1e9", "1700000000.5", "0", "99999999999999999999", "0x6553f100", ""} {
		if ts == "" {
			continue
		}
		add("timestamp "+strconv.Quote(ts), "ts:"+ts, u("stale_timestamp"))
	}
	for _, n := range []string{"short", strings.Repeat("n", 65), "nonce with spaces 1234567890", "nonce/with+slash=12345678", "ñonce-ñonce-ñonce-ñonce-ñ"} {
		add("nonce "+strconv.Quote(n), "nonce:"+n, u("malformed_header"))
	}
	for _, s := range []string{"", "v1=", "V1=AAAA", "v2=" + strings.Repeat("A", 43) + "=", "v1=" + strings.Repeat("A", 43), "v1=" + strings.Repeat("A", 43) + "==",
		"v1=" + strings.Repeat("_", 43) + "=", "sha256=" + strings.Repeat("a", 64), "v1=" + strings.Repeat("A", 43) + "=", "v1= " + strings.Repeat("A", 43) + "="} {
		if s == "" {
			continue
		}
		add("signature "+strconv.Quote(s), "sig:"+s, u("bad_signature"))
	}
	create("signature over another target", "sign_target:/v1/payments?x=1", u("bad_signature"))
	create("signature over another body", "sign_body:{}", u("bad_signature"))
	create("signature over another method", "sign_method:PUT", u("bad_signature"))
	create("signature over no body", "sign_body:", u("bad_signature"))
	add("replayed nonce", "replay", u("replayed_nonce"))
	for _, h := range []string{"X-PosRelay-Key", "X-PosRelay-Signature", "X-PosRelay-Timestamp", "X-PosRelay-Nonce"} {
		add("duplicated "+h+", wrong one second", "dup:"+h, want{Status: 401, Code: "malformed_header"})
		add("duplicated "+h+", wrong one first", "dupfirst:"+h, want{Status: 401, Code: "malformed_header"})
	}
	add("auth in the query string instead", "none", u("missing_header"))
	out[len(out)-1].Target = "/v1/whoami?X-PosRelay-Key=x&X-PosRelay-Signature=y"
	add("bearer token instead", "none", u("missing_header"), [2]string{"Authorization", "Bearer abc"})
	add("basic auth instead", "none", u("missing_header"), [2]string{"Authorization", "Basic YTpi"})
	create("another site's key creating a payment on this site's account", "other_site", invalid("bank"))
	return out
}

func httpCases() []badCase {
	var out []badCase
	add := func(name, r, body string, w want) {
		out = append(out, badCase{Name: name, Raw: r, RawBody: body, Want: w})
	}
	pad := strings.Repeat("a", 9000)
	add("header above max_header_bytes", "GET /healthz HTTP/1.1\nHost: {host}\nX-Pad: "+pad+"\n\n", "", want{Status: 431, Code: "headers_too_large"})
	add("signature header above max_header_bytes", "GET /v1/whoami HTTP/1.1\nHost: {host}\nX-PosRelay-Signature: v1="+pad+"\n\n", "", want{Status: 431, Code: "headers_too_large"})
	add("a thousand small headers", "GET /v1/whoami HTTP/1.1\nHost: {host}\n"+strings.Repeat("X-A: b\n", 1500)+"\n", "", want{Status: 431, Code: "headers_too_large"})
	add("request line above max_header_bytes", "GET /pay/"+pad+" HTTP/1.1\nHost: {host}\n\n", "", want{Status: 431, Code: "headers_too_large"})
	add("absolute-form target signed for the path", "POST http://evil.example/v1/payments HTTP/1.1\nHost: {host}\n{auth POST /v1/payments}\nContent-Type: application/json\nContent-Length: {len}\n\n",
		`{"orderId":"x"}`, want{Status: 401, Code: "bad_signature"})
	add("absolute-form target to an unknown path", "GET http://evil.example/admin HTTP/1.1\nHost: {host}\n\n", "", want{Status: 404, Code: "not_found"})
	add("absolute-form target to a page with a bad token", "GET http://evil.example/pay/x HTTP/1.1\nHost: {host}\n\n", "", want{Status: 404})
	add("method FOO", "FOO /v1/whoami HTTP/1.1\nHost: {host}\n{auth FOO /v1/whoami}\n\n", "", want{Status: 405, Code: "method_not_allowed"})
	add("method in lower case", "get /v1/whoami HTTP/1.1\nHost: {host}\n{auth get /v1/whoami}\n\n", "", want{Status: 405, Code: "method_not_allowed"})
	add("method CONNECT", "CONNECT {host} HTTP/1.1\nHost: {host}\n\n", "", want{Status: 404, Code: "not_found"})
	add("method TRACE on the API", "TRACE /v1/payments HTTP/1.1\nHost: {host}\n{auth TRACE /v1/payments}\n\n", "", want{Status: 405, Code: "method_not_allowed"})
	add("method with a control byte", "G\x01T /v1/whoami HTTP/1.1\nHost: {host}\n\n", "", want{Status: 400, Code: "bad_request"})
	add("HTTP/2 preface", "PRI * HTTP/2.0\n\nSM\n\n", "", want{Status: 404, Code: "not_found"})
	add("Content-Length twice, different", "POST /v1/payments HTTP/1.1\nHost: {host}\nContent-Type: application/json\nContent-Length: 2\nContent-Length: 40\n\n", "{}", want{Status: 400, Code: "bad_request"})
	// Transfer-Encoding wins over Content-Length (RFC 9112 §6.3): read as
	// chunked, then refused as unsigned.
	add("Content-Length and Transfer-Encoding", "POST /v1/payments HTTP/1.1\nHost: {host}\nContent-Type: application/json\nContent-Length: 4\nTransfer-Encoding: chunked\n\n", "2\r\n{}\r\n0\r\n\r\n", want{Status: 400, Code: "bad_request"})
	add("two Transfer-Encoding headers", "POST /v1/payments HTTP/1.1\nHost: {host}\nTransfer-Encoding: chunked\nTransfer-Encoding: chunked\n\n", "0\r\n\r\n", want{Status: 400, Code: "bad_request"})
	add("Transfer-Encoding gzip", "POST /v1/payments HTTP/1.1\nHost: {host}\nTransfer-Encoding: gzip\n\n", "", want{Status: 400, Code: "bad_request"})
	add("two Host headers", "GET /v1/whoami HTTP/1.1\nHost: {host}\nHost: evil.example\n\n", "", want{Status: 400, Code: "bad_request"})
	add("negative Content-Length", "POST /v1/payments HTTP/1.1\nHost: {host}\nContent-Length: -5\n\n", "", want{Status: 400, Code: "bad_request"})
	add("Content-Length of 10 GB", "POST /v1/payments HTTP/1.1\nHost: {host}\nContent-Length: 10000000000\n\n", "", want{Status: 413, Code: "body_too_large"})
	add("chunked body above max_body_bytes", "POST /v1/payments HTTP/1.1\nHost: {host}\nTransfer-Encoding: chunked\n\n", "11170\r\n"+strings.Repeat("a", 70000)+"\r\n0\r\n\r\n", want{Status: 413, Code: "body_too_large"})
	add("bad chunk size", "POST /v1/payments HTTP/1.1\nHost: {host}\nTransfer-Encoding: chunked\n\n", "zz\r\nabc\r\n0\r\n\r\n", want{Status: 400, Code: "bad_request"})
	add("header name with a space", "GET /v1/whoami HTTP/1.1\nHost: {host}\nX-PosRelay-Key : key\n\n", "", want{Status: 400, Code: "bad_request"})
	add("header without a colon", "GET /v1/whoami HTTP/1.1\nHost: {host}\nX-PosRelay-Key\n\n", "", want{Status: 400, Code: "bad_request"})
	add("folded header", "GET /v1/whoami HTTP/1.1\nHost: {host}\nX-PosRelay-Key: a\n b\n\n", "", want{Status: 401, Code: "missing_header"})
	add("NUL in a header value", "GET /v1/whoami HTTP/1.1\nHost: {host}\nX-PosRelay-Key: a\x00b\n\n", "", want{Status: 400, Code: "bad_request"})
	add("NUL in the path", "GET /pay/a\x00b HTTP/1.1\nHost: {host}\n\n", "", want{Status: 400, Code: "bad_request"})
	add("space in the path", "GET /pay/a b HTTP/1.1\nHost: {host}\n\n", "", want{Status: 400, Code: "bad_request"})
	add("HTTP/9.9", "GET /v1/whoami HTTP/9.9\nHost: {host}\n\n", "", want{Status: 401, Code: "missing_header"})
	add("underscored auth headers", "GET /v1/whoami HTTP/1.1\nHost: {host}\nX_PosRelay_Key: a\nX_PosRelay_Timestamp: 1\nX_PosRelay_Nonce: n\nX_PosRelay_Signature: s\n\n", "", want{Status: 401, Code: "missing_header"})
	add("path traversal to the API", "GET /pay/../v1/whoami HTTP/1.1\nHost: {host}\n\n", "", want{Status: 401, Code: "missing_header"})
	add("encoded path traversal", "GET /pay/%2e%2e/%2e%2e/etc/passwd HTTP/1.1\nHost: {host}\n\n", "", want{Status: 404, Code: "not_found"})
	add("bare LF line endings and garbage", "GARBAGE\n\n", "", want{Status: 400, Code: "bad_request"})
	return out
}

func pageCases() []badCase {
	var out []badCase
	get := func(name, method, target string, status int) {
		out = append(out, badCase{Name: name, Method: method, Target: target, Want: want{Status: status}})
	}
	for _, tok := range []string{"", "x", strings.Repeat("a", 31), strings.Repeat("a", 33), strings.ToUpper("{payToken}"),
		strings.Repeat("0", 32), strings.Repeat("1", 32), strings.Repeat("8", 32), strings.Repeat("9", 32), "{unknownToken}",
		"{payToken}x", "x{payToken}", "%2e%2e%2f%2e%2e%2fetc", "..%2f..%2f..%2fetc%2fpasswd", "{payToken}%00", "{payToken}%20",
		strings.Repeat("a", 5000), "{payToken};x=1", "ａａａａａａａａａａａａａａａａａａａａａａａａａａａａａａａａ",
		"{payToken}/cancel/x", "{payToken}/unknown", "{cbToken}"} {
		get("GET /pay/"+short(tok), "GET", "/pay/"+tok, 404)
	}
	for _, m := range []string{"PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"} {
		get(m+" /pay/{payToken}", m, "/pay/{payToken}", 404)
	}
	get("GET /pay/{payToken}/cancel", "GET", "/pay/{payToken}/cancel", 404)
	get("HEAD /pay/ unknown token", "HEAD", "/pay/{unknownToken}", 404)
	get("GET /PAY/{payToken}", "GET", "/PAY/{payToken}", 404)
	for _, tok := range []string{"", "x", strings.Repeat("a", 33), strings.ToUpper("{cbToken}"), "{unknownToken}", "{payToken}", "{cbToken}x", "%2e%2e"} {
		get("GET /callback/"+short(tok), "GET", "/callback/"+tok, 404)
	}
	out = append(out, badCase{Name: "POST a callback to an unknown token", Method: "POST", Target: "/callback/{unknownToken}",
		Body: str("oid=x&HASH=y"), ContentType: "application/x-www-form-urlencoded", Want: want{Status: 404}})

	// The relay's card form.
	form := func(name string, f map[string]string, del ...string) {
		out = append(out, badCase{Name: "card form: " + name, CardForm: true, Form: f, FormDel: del, Want: want{Status: 422}})
	}
	for _, n := range []string{"", "abcd", "4355084355084359", "435508435508435", "43550843550843580000", "4355 0843 5508 4358x",
		"<script>alert(1)</script>", "4355084355084358\x00", "４３５５０８４３５５０８４３５８", "123456789012", "0", "+4355084355084358",
		"4355084355084358%", "4.355084355084358e15"} {
		form("number "+strconv.Quote(short(n)), map[string]string{"number": n})
	}
	form("number missing", map[string]string{}, "number")
	for _, m := range []string{"13", "0", "00", "-1", "1a", "", "99999999999999999999", " 12", "12 "} {
		form("month "+strconv.Quote(m), map[string]string{"exp_month": m})
	}
	for _, y := range []string{"2019", "19", "2099", "abcd", "", "20300", "-2030", "0"} {
		form("year "+strconv.Quote(y), map[string]string{"exp_year": y})
	}
	for _, c := range []string{"", "12", "12345", "12a", "abc", "0x1", " 123", "١٢٣"} {
		form("cvv "+strconv.Quote(c), map[string]string{"cvv": c})
	}
	for _, h := range []string{"", "   ", strings.Repeat("h", 61), "<b>x</b>", "a|b", `a\b`, `a"b`, "a\x01b"} {
		form("holder "+strconv.Quote(short(h)), map[string]string{"holder": h})
	}
	for _, i := range []string{"7", "0", "-1", "x", "13", "2.5"} {
		form("installments "+strconv.Quote(i), map[string]string{"installments": i})
	}
	out = append(out,
		badCase{Name: "card form as JSON", CardForm: true, Body: str(`{"number":"4355084355084358","exp_month":"12","exp_year":"2030","cvv":"000","holder":"Test Shopper"}`),
			ContentType: "application/json", Want: want{Status: 422}},
		badCase{Name: "card form as text", CardForm: true, Body: str("number=4355084355084358"), ContentType: "text/plain", Want: want{Status: 422}},
		badCase{Name: "card form with invalid percent-encoding", CardForm: true, Body: str("number=%zz&exp_month=%&exp_year=%e&cvv=%C3%28&holder=%"), Want: want{Status: 422}},
		badCase{Name: "card form of junk fields", CardForm: true, Body: str(strings.Repeat("a=1&", 12000)), Want: want{Status: 422}},
		badCase{Name: "card form above max_body_bytes", CardForm: true, Body: str("number=4"), Pad: 70000, Want: want{Status: 413, Code: "body_too_large"}},
		badCase{Name: "card form posted to an unknown token", Target: "/pay/{unknownToken}", CardForm: true, Want: want{Status: 404}},
	)
	return out
}

func short(s string) string {
	if len(s) > 40 {
		return s[:20] + "…(" + strconv.Itoa(len(s)) + ")"
	}
	return s
}

func callbackCases() []badCase {
	var out []badCase
	bad := want{Status: 400}
	add := func(name string, c callbackChange, w want) {
		cc := c
		out = append(out, badCase{Name: name, Callback: &cc, Want: w})
	}
	// Forged and broken signatures.
	add("forged HASH", callbackChange{Set: map[string]string{"HASH": strings.Repeat("A", 86) + "=="}}, bad)
	add("HASH removed", callbackChange{Del: []string{"HASH"}}, bad)
	add("HASH empty", callbackChange{Set: map[string]string{"HASH": ""}}, bad)
	add("HASH of another payment's callback", callbackChange{Set: map[string]string{"HASH": "{otherHash}"}}, bad)
	add("HASH in hex", callbackChange{Set: map[string]string{"HASH": strings.Repeat("ab", 64)}}, bad)
	add("hashAlgorithm ver2", callbackChange{Set: map[string]string{"hashAlgorithm": "ver2"}}, bad)
	add("ver1 HASHPARAMS naming no fields, forged", callbackChange{Add: [][2]string{{"HASHPARAMS", "x:"}, {"HASHPARAMSVAL", ""}}, Del: []string{"hashAlgorithm"}}, bad)
	add("ver1 downgrade with a layout of the attacker's choice", callbackChange{Del: []string{"hashAlgorithm"}, Resign: "ver1:clientid:oid:"}, bad)
	add("ver1 downgrade without clientid and oid", callbackChange{Del: []string{"hashAlgorithm"}, Resign: "ver1:mdStatus:md:"}, bad)
	// Changed fields, signature kept: every one breaks the hash.
	for _, f := range []struct{ name, value string }{
		{"amount", "1.00"}, {"amount", "149.91"}, {"currency", "840"}, {"oid", "{otherOrderId}"}, {"mdStatus", "1 "},
		{"md", "x"}, {"clientid", "190100001"}, {"okUrl", "https://evil.example/ok"}, {"rnd", "x"}, {"TranType", "PreAuth"},
		{"eci", "07"}, {"cavv", "AAAA"}, {"xid", "AAAA"}, {"ProcReturnCode", "00"}, {"Response", "Approved"},
	} {
		add("changed "+f.name+" "+strconv.Quote(f.value), callbackChange{Set: map[string]string{f.name: f.value}}, bad)
	}
	// Re-signed (someone holding the store key): the relay's binding to its record refuses it.
	for _, f := range []struct{ name, value string }{
		{"amount", "1.00"}, {"amount", "149.91"}, {"amount", "14990"}, {"amount", "1490"}, {"amount", "-149.90"},
		{"amount", "1e2"}, {"currency", "840"}, {"currency", "978"}, {"currency", "USD"}, {"currency", "0949"},
		{"oid", "{otherOrderId}"}, {"oid", "{doneOrderId}"}, {"oid", "x\r\ny"}, {"clientid", "999999999"},
	} {
		add("re-signed with "+f.name+" "+strconv.Quote(f.value), callbackChange{Set: map[string]string{f.name: f.value}, Resign: "ver3"}, bad)
	}
	add("re-signed with oid removed and ReturnOid of another order", callbackChange{Del: []string{"oid"}, Set: map[string]string{"ReturnOid": "{otherOrderId}"}, Resign: "ver3"}, bad)
	add("re-signed with oid and ReturnOid removed", callbackChange{Del: []string{"oid", "ReturnOid"}, Resign: "ver3"}, bad)
	add("re-signed with mdStatus 1 and no md", callbackChange{Del: []string{"md"}, Resign: "ver3"}, bad)
	// Duplicated fields.
	for _, f := range []string{"oid", "HASH", "amount", "mdStatus", "md"} {
		add("duplicated "+f+", same value", callbackChange{Add: [][2]string{{f, "{same}"}}}, bad)
		add("duplicated "+f+", other value", callbackChange{Add: [][2]string{{f, "1"}}}, bad)
	}
	// Not a form post.
	add("as text/plain", callbackChange{ContentType: str("text/plain")}, bad)
	add("as JSON", callbackChange{As: "json"}, bad)
	add("as multipart", callbackChange{As: "multipart"}, bad)
	add("no content type", callbackChange{ContentType: str("")}, bad)
	add("content type text/html", callbackChange{ContentType: str("text/html; charset=ISO-8859-9")}, bad)
	for _, m := range []string{"PUT", "DELETE", "PATCH"} {
		add("method "+m, callbackChange{Method: m}, bad)
	}
	add("forged fields in the query of a GET", callbackChange{As: "query", Method: "GET", Set: map[string]string{"HASH": "x"}}, bad)
	// Size and encoding tricks.
	add("401 extra fields", callbackChange{Junk: 401}, bad)
	add("5000 extra fields", callbackChange{Junk: 5000}, bad)
	add("one extra field", callbackChange{Junk: 1}, bad)
	add("overlong amount", callbackChange{Set: map[string]string{"amount": strings.Repeat("1", 10000)}}, bad)
	add("overlong oid", callbackChange{Set: map[string]string{"oid": strings.Repeat("o", 5000)}}, bad)
	add("overlong HASH", callbackChange{Set: map[string]string{"HASH": strings.Repeat("H", 20000)}}, bad)
	add("a 60 KB field", callbackChange{Pad: 60000}, bad)
	add("body above max_body_bytes", callbackChange{Pad: 70000}, want{Status: 413, Code: "body_too_large"})
	add("NUL byte in oid", callbackChange{Set: map[string]string{"oid": "{same}\x00"}}, bad)
	add("NUL byte in a field name", callbackChange{Add: [][2]string{{"o\x00id", "x"}}}, bad)
	add("values re-encoded to ISO-8859-9", callbackChange{Set: map[string]string{"ErrMsg": "Mağaza"}, Encode: "latin5"}, bad)
	add("a field in UTF-8 the hash does not cover", callbackChange{Set: map[string]string{"ErrMsg": "Mağaza"}}, bad)
	for _, b := range []string{"", "=", "&&&", "%zz=1", "oid=%", "oid=%e", "HASH=%C3%28", "a=%00", strings.Repeat("&", 1000), "oid"} {
		rb := b
		add("raw body "+strconv.Quote(short(b)), callbackChange{RawBody: &rb}, bad)
	}
	// Cross-payment, unknown, early and replayed.
	add("another payment's genuine callback", callbackChange{Of: "other"}, want{Status: 400})
	out[len(out)-1].Callback.To = "{cbToken}"
	add("this payment's genuine callback to another pending payment", callbackChange{To: "{otherCbToken}"}, bad)
	add("a genuine callback to an unknown token", callbackChange{To: "{unknownToken}"}, want{Status: 404})
	add("a genuine callback to a payment that never went to the bank", callbackChange{To: "{createdCbToken}"}, bad)
	add("a pending payment's callback to a settled one", callbackChange{To: "{doneCbToken}"}, want{Status: 303, Location: "{doneReturn}"})
	add("the settled payment's callback replayed", callbackChange{Of: "done", To: "{doneCbToken}"}, want{Status: 303, Location: "{doneReturn}"})
	add("the settled payment's callback replayed, changed", callbackChange{Of: "done", To: "{doneCbToken}", Set: map[string]string{"ProcReturnCode": "51"}, Resign: "ver3"}, want{Status: 303, Location: "{doneReturn}"})
	add("forged junk to a settled payment", callbackChange{Of: "done", To: "{doneCbToken}", RawBody: str("x=1")}, want{Status: 303, Location: "{doneReturn}"})
	return out
}
