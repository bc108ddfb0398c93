package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/posrelay/posrelay/allowlist"
	"github.com/posrelay/posrelay/bank"
	"github.com/posrelay/posrelay/config"
	"github.com/posrelay/posrelay/store"
)

// Fuzz targets for the parsers of outside input that reach the relay
// through a shopper's browser (the bank's callback form, the card form,
// X-Forwarded-For) or from a bank (a redirect's Location). Each target
// checks what the code promises, against an oracle written from the
// promise rather than from the code.

// --- form decoding oracle -----------------------------------------------------

// formPairs splits an application/x-www-form-urlencoded string the way the
// relay's HTTP server does: pairs separated by '&', the first '=' splits
// name and value, "%XX" with two hex digits is a byte, '+' is a space, a '%'
// not followed by two hex digits stays as it is (and a '%' with fewer than
// two bytes after it keeps the rest verbatim), and a pair with an empty name
// and an empty value is dropped.
func formPairs(raw string) []bank.Field {
	var out []bank.Field
	for raw != "" {
		pair := raw
		if i := strings.IndexByte(raw, '&'); i >= 0 {
			pair, raw = raw[:i], raw[i+1:]
		} else {
			raw = ""
		}
		name, value, _ := strings.Cut(pair, "=")
		name, value = formDecode(name), formDecode(value)
		if name == "" && value == "" {
			continue
		}
		out = append(out, bank.F(name, value))
	}
	return out
}

func formDecode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '%':
			if i+3 > len(s) {
				b.WriteString(s[i:])
				return b.String()
			}
			hi, okHi := unhexDigit(s[i+1])
			lo, okLo := unhexDigit(s[i+2])
			if !okHi || !okLo {
				b.WriteByte('%')
				continue
			}
			b.WriteByte(hi<<4 | lo)
			i += 2
		case '+':
			b.WriteByte(' ')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func unhexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func TestFormPairsOracle(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		want      []bank.Field
	}{
		{"empty", "", nil},
		{"plain", "a=1&b=2", []bank.Field{bank.F("a", "1"), bank.F("b", "2")}},
		{"no value", "a&b=", []bank.Field{bank.F("a", ""), bank.F("b", "")}},
		{"empty pairs dropped", "&&=&a=1&", []bank.Field{bank.F("a", "1")}},
		{"empty name kept", "=v", []bank.Field{bank.F("", "v")}},
		{"second = in value", "a=b=c", []bank.Field{bank.F("a", "b=c")}},
		{"escapes", "a%20b=c%2Bd+e", []bank.Field{bank.F("a b", "c+d e")}},
		{"bad escape", "a=%zz%4", []bank.Field{bank.F("a", "%zz%4")}},
		{"short escape keeps plus", "a=x%+", []bank.Field{bank.F("a", "x%+")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := formPairs(tc.raw); !slices.Equal(got, tc.want) {
				t.Errorf("formPairs(%q) = %q, want %q", tc.raw, got, tc.want)
			}
			// The oracle agrees with the server's own parser.
			var a fasthttp.Args
			a.Parse(tc.raw)
			var got []bank.Field
			for k, v := range a.All() {
				got = append(got, bank.F(string(k), string(v)))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("fasthttp parses %q as %q, want %q", tc.raw, got, tc.want)
			}
		})
	}
}

// --- readCallback -------------------------------------------------------------

const formType = "application/x-www-form-urlencoded"

// callbackRequest builds the request a browser sends to /callback/{token}:
// for GET the fields are the query string, for POST the body.
func callbackRequest(method, contentType string, fields []byte) *fasthttp.RequestCtx {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(method)
	if method == fasthttp.MethodGet {
		ctx.Request.SetRequestURI("/callback/cb_tok?" + string(fields))
		return &ctx
	}
	ctx.Request.SetRequestURI("/callback/cb_tok")
	if contentType != "" {
		ctx.Request.Header.SetContentType(contentType)
	}
	ctx.Request.SetBody(fields)
	return &ctx
}

func manyFields(n int, dupAt int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte('&')
		}
		name := "f" + strconv.Itoa(i)
		if i == dupAt {
			name = "f0"
		}
		b.WriteString(name + "=" + strconv.Itoa(i))
	}
	return b.String()
}

const halkbankCallback = "clientid=190100000&oid=2022103076E7&AuthCode=P66803&Response=Approved&ProcReturnCode=00" +
	"&mdStatus=1&maskedCreditCard=4355+08**+****+4358&amount=1.01&currency=949&islemtipi=Auth" +
	"&mdErrorMsg=N-status%2FChallenge+authentication+via+ACS%3A+https%3A%2F%2F3ds-acs.test.modirum.com%2Fmdpayacs%2Fcreq%3Ftoken%3D214704671" +
	"&HASHPARAMSVAL=190100000%7C2022103076E7&hashAlgorithm=ver3&HASH=Qo8nJjJbQ1C%2BXz1d%2F3a9lYQ2x0o%3D"

const vakifbankCallback = "Status=Y&MerchantId=000100000013506&VerifyEnrollmentRequestId=ce06048a3e9c0cd1d437803fb38b5ad0" +
	"&PurchAmount=10100&PurchCurrency=949&SessionInfo=pay_1&Eci=05&Cavv=AAABBBCCCDDDEEEFFF000111222%3D&ExpiryDate=2612" +
	"&Pan=435508******4358&InstallmentCount=&Xid=QkVTc0NQNEpJclBXQ2ZLU0dUQ3k%3D"

const qnbCallback = "MbrId=5&OrderId=ORD-1001&ProcReturnCode=00&3DStatus=1&AuthCode=123456&HostRefNum=312345678901" +
	"&ResponseHash=ab%2Bcd%2Fef%3D%3D&RequestGuid=1000000057437884&PurchAmount=101&Currency=949"

func TestReadCallback(t *testing.T) {
	for _, tc := range []struct {
		name, method, contentType, fields string
		fields0                           int // fields accepted; 0 = refused
	}{
		{"Halkbank form post", "POST", formType, halkbankCallback, 14},
		{"form post with charset", "POST", formType + "; charset=UTF-8", vakifbankCallback, 12},
		{"GET query", "GET", "", qnbCallback, 10},
		{"exactly the limit", "POST", formType, manyFields(maxCallbackFields, -1), maxCallbackFields},
		{"one over the limit", "POST", formType, manyFields(maxCallbackFields+1, -1), 0},
		{"duplicate field", "POST", formType, "oid=1&oid=2", 0},
		{"no fields", "POST", formType, "&&=&", 0},
		{"JSON", "POST", "application/json", `{"oid":"1"}`, 0},
		{"no content type", "POST", "", "oid=1", 0},
		{"PUT", "PUT", formType, "oid=1", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cb, err := readCallback(callbackRequest(tc.method, tc.contentType, []byte(tc.fields)))
			if tc.fields0 == 0 {
				if err == nil || !errors.Is(err, bank.ErrMalformed) {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil || len(cb.Fields) != tc.fields0 {
				t.Fatalf("readCallback = %+v, %v; want %d fields", cb, err, tc.fields0)
			}
		})
	}
}

// FuzzReadCallback: a callback is accepted exactly when it is a GET, or a
// POST of a form, with 1 to maxCallbackFields fields whose names are
// distinct; the fields come back in order, names and values decoded and
// nothing else changed. Anything else is an ErrMalformed refusal whose text
// holds none of the form's values.
func FuzzReadCallback(f *testing.F) {
	for _, s := range []struct {
		method, contentType, fields string
	}{
		{"POST", formType, halkbankCallback},
		{"POST", formType + "; charset=UTF-8", vakifbankCallback},
		{"POST", formType, qnbCallback},
		{"GET", "", qnbCallback},
		{"GET", "", "a=1&a=2"},
		{"POST", formType, "oid=1&oid=2"},
		{"POST", formType, manyFields(maxCallbackFields, -1)},
		{"POST", formType, manyFields(maxCallbackFields+1, -1)},
		{"GET", "", manyFields(maxCallbackFields+1, -1)},
		{"POST", formType, manyFields(50, 49)},
		{"POST", formType, ""},
		{"POST", formType, "&&&=&"},
		{"POST", formType, "=4355084355084358"},
		{"POST", formType, "Pan=4355084355084358&Pan=4355084355084358"},
		{"POST", formType, "a%00b=%ff%fe&c=%zz&d=%4&e=+%2B"},
		{"POST", "Application/X-WWW-Form-Urlencoded", "oid=1"},
		{"POST", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"oid\"\r\n\r\n1\r\n--x--\r\n"},
		{"POST", "application/json", `{"oid":"1"}`},
		{"POST", "", "oid=1"},
		{"PUT", formType, "oid=1"},
		{"HEAD", "", "oid=1"},
		{"GET", "", "oid=1#frag=2"},
		{"GET", "", "oid=%0d%0aSet-Cookie:+x"},
	} {
		f.Add(s.method, s.contentType, []byte(s.fields))
	}
	f.Fuzz(func(t *testing.T, method, contentType string, fields []byte) {
		ctx := callbackRequest(method, contentType, fields)
		cb, err := readCallback(ctx)

		// What was received: the query string the server parsed, or the
		// body when the server reads it as a form. fasthttp reads a body
		// as a form only under the lower-case type, which browsers always
		// send; readCallback's own check ignores case, so a mixed-case
		// form type gets no fields and is refused as such.
		var want []bank.Field
		switch string(ctx.Method()) {
		case fasthttp.MethodGet:
			want = formPairs(string(ctx.URI().QueryString()))
		case fasthttp.MethodPost:
			if strings.HasPrefix(string(ctx.Request.Header.ContentType()), formType) {
				want = formPairs(string(ctx.PostBody()))
			}
		}
		names := map[string]bool{}
		dup := false
		for _, x := range want {
			dup = dup || names[x.Name]
			names[x.Name] = true
		}
		m := string(ctx.Method())
		isForm := strings.HasPrefix(strings.ToLower(string(ctx.Request.Header.ContentType())), formType)
		accept := (m == fasthttp.MethodGet || m == fasthttp.MethodPost && isForm) &&
			len(want) >= 1 && len(want) <= maxCallbackFields && !dup

		if err != nil {
			if cb != nil {
				t.Fatal("a callback returned with an error")
			}
			if !errors.Is(err, bank.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			if accept {
				t.Fatalf("refused a well-formed callback of %d fields: %v", len(want), err)
			}
			// The refusal may name the method, the content type, a field
			// name and the field count, never a value.
			named := m + " " + fmt.Sprintf("%q", string(ctx.Request.Header.ContentType())) + " " + strconv.Itoa(len(want))
			for _, x := range want {
				named += " " + fmt.Sprintf("%q", x.Name)
			}
			for _, x := range want {
				if len(x.Value) >= 6 && strings.Contains(err.Error(), x.Value) && !strings.Contains(named, x.Value) {
					t.Fatalf("refusal %q holds the value of field %q", err, x.Name)
				}
			}
			return
		}
		if !accept {
			t.Fatalf("accepted %s %q with %d fields (duplicates %v)", m, contentType, len(want), dup)
		}
		if cb == nil || cb.Method != m {
			t.Fatalf("callback %+v for method %s", cb, m)
		}
		if n := len(cb.Fields); n < 1 || n > maxCallbackFields {
			t.Fatalf("%d fields accepted; the limit is %d", n, maxCallbackFields)
		}
		if !slices.Equal(cb.Fields, want) {
			t.Fatalf("fields\n %q\nwant (as sent, in order)\n %q", cb.Fields, want)
		}
	})
}

// --- readCard -----------------------------------------------------------------

// cardClock is the relay's clock in the card tests: mid-March 2026.
var cardClock = time.Date(2026, time.March, 15, 12, 0, 0, 0, time.UTC)

func cardRelay() *Relay {
	site := &config.Site{ID: "shop", ReturnOrigins: []string{"https://shop.example"}, MaxInstallments: 9}
	return &Relay{cfg: &config.Config{}, log: zap.NewNop(), now: func() time.Time { return cardClock },
		siteByID: map[string]*config.Site{"shop": site}}
}

// cardForm is the card form a browser posts, fields urlencoded.
func cardForm(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v.Encode()
}

func cardPost(body []byte) *fasthttp.RequestCtx {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(fasthttp.MethodPost)
	ctx.Request.SetRequestURI("/pay/pt_tok")
	ctx.Request.Header.SetContentType(formType)
	ctx.Request.SetBody(body)
	return &ctx
}

// luhnOK is the Luhn check written out again, independently of bank.Luhn.
func luhnOK(pan string) bool {
	sum := 0
	for i := range len(pan) {
		d := int(pan[len(pan)-1-i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

func allDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func firstValue(fields []bank.Field, name string) (string, bool) {
	for _, x := range fields {
		if x.Name == name {
			return x.Value, true
		}
	}
	return "", false
}

// cardFieldChecks are the card form's fields in the order readCard checks
// them, each with the message that names it and what makes it valid,
// written from the form's rules (DESIGN: 13–19 digit Luhn number,
// unexpired month within 20 years, 3-digit CVV or 4 for Amex, a printable
// holder name up to 60 bytes without <>|\", installments the site offers).
func cardFieldChecks(t *pageText, r *Relay, p *store.Payment, form []bank.Field) []struct {
	msg string
	ok  bool
} {
	val := func(name string) string { v, _ := firstValue(form, name); return v }
	num := strings.NewReplacer(" ", "", "-", "").Replace(val("number"))
	numberOK := len(num) >= 13 && len(num) <= 19 && allDigits(num) && luhnOK(num)

	m, err1 := strconv.Atoi(val("exp_month"))
	y, err2 := strconv.Atoi(val("exp_year"))
	if len(val("exp_year")) == 2 {
		y += 2000
	}
	now := r.now()
	expiryOK := err1 == nil && err2 == nil && m >= 1 && m <= 12 &&
		(y > now.Year() || y == now.Year() && m >= int(now.Month())) && y <= now.Year()+20

	cvv := val("cvv")
	cvvLen := 3
	if strings.HasPrefix(num, "34") || strings.HasPrefix(num, "37") {
		cvvLen = 4
	}
	cvvOK := len(cvv) == cvvLen && allDigits(cvv)

	holder := strings.TrimSpace(val("holder"))
	holderOK := holder != "" && len(holder) <= 60 && utf8.ValidString(holder) &&
		!strings.ContainsAny(holder, "<>|\\\"\uFFFD") && strings.IndexFunc(holder, unicode.IsControl) < 0

	instOK := true
	if v := val("installments"); v != "" && p.Installments == 0 {
		n, err := strconv.Atoi(v)
		instOK = err == nil && n >= 1 && n <= r.siteByID[p.SiteID].MaxInstallments && (n == 1 || p.Currency == "TRY")
	}
	return []struct {
		msg string
		ok  bool
	}{{t.ErrCardNumber, numberOK}, {t.ErrExpiry, expiryOK}, {t.ErrCVV, cvvOK}, {t.ErrHolder, holderOK}, {t.ErrInst, instOK}}
}

func TestReadCard(t *testing.T) {
	valid := []string{"number", "4355 0843 5508 4358", "exp_month", "12", "exp_year", "2026", "cvv", "000", "holder", " Ayşe Yılmaz "}
	tx := textFor("en")
	for _, tc := range []struct {
		name     string
		kv       []string // over the valid form
		currency string
		inst     int    // the payment's fixed installments
		want     string // message; "" = accepted
		wantInst int
	}{
		{"valid", nil, "TRY", 0, "", 1},
		{"hyphens", []string{"number", "4355-0843-5508-4358"}, "TRY", 0, "", 1},
		{"Amex with 4 digits", []string{"number", "378282246310005", "cvv", "1234"}, "TRY", 0, "", 1},
		{"Amex with 3 digits", []string{"number", "378282246310005", "cvv", "123"}, "TRY", 0, tx.ErrCVV, 0},
		{"Luhn fails", []string{"number", "4355084355084359"}, "TRY", 0, tx.ErrCardNumber, 0},
		{"20 digits", []string{"number", "43550843550843580000"}, "TRY", 0, tx.ErrCardNumber, 0},
		{"full-width digits", []string{"number", "４３５５０８４３５５０８４３５８"}, "TRY", 0, tx.ErrCardNumber, 0},
		{"this month", []string{"exp_month", "3", "exp_year", "26"}, "TRY", 0, "", 1},
		{"last month", []string{"exp_month", "2", "exp_year", "26"}, "TRY", 0, tx.ErrExpiry, 0},
		{"21 years ahead", []string{"exp_year", "2047"}, "TRY", 0, tx.ErrExpiry, 0},
		{"holder with markup", []string{"holder", "<b>A</b>"}, "TRY", 0, tx.ErrHolder, 0},
		{"holder with NUL", []string{"holder", "A\x00B"}, "TRY", 0, tx.ErrHolder, 0},
		{"installments in TRY", []string{"installments", "6"}, "TRY", 0, "", 6},
		{"installments over the site's", []string{"installments", "12"}, "TRY", 0, tx.ErrInst, 0},
		{"installments in EUR", []string{"installments", "3"}, "EUR", 0, tx.ErrInst, 0},
		{"installments fixed by the payment", []string{"installments", "2"}, "TRY", 6, "", 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cardRelay()
			p := &store.Payment{SiteID: "shop", Currency: tc.currency, Installments: tc.inst, Language: "en"}
			form := append(append([]string{}, valid...), tc.kv...)
			c, inst, msg := r.readCard(cardPost([]byte(cardForm(form...))), tx, p)
			if msg != tc.want || inst != tc.wantInst || (c == nil) != (tc.want != "") {
				t.Fatalf("readCard = %v, %d, %q; want %d, %q", c, inst, msg, tc.wantInst, tc.want)
			}
			if c != nil && tc.kv == nil && (c.Holder != "Ayşe Yılmaz" || c.ExpMonth != "12" || c.ExpYear != "2026") {
				t.Errorf("card holder %q expiry %s/%s", c.Holder, c.ExpMonth, c.ExpYear)
			}
		})
	}
}

// FuzzReadCard: readCard accepts a card exactly when every field is valid,
// and then returns the number as typed less spaces and hyphens (13–19
// digits, Luhn-valid), a normalised unexpired expiry, the CVV as typed and
// the trimmed holder; otherwise it names the first bad field with a fixed
// message. Neither the message nor the card page it is shown on holds the
// number or the CVV.
func FuzzReadCard(f *testing.F) {
	valid := []string{"number", "4355 0843 5508 4358", "exp_month", "12", "exp_year", "2026", "cvv", "000", "holder", "Ayşe Yılmaz"}
	with := func(kv ...string) []byte {
		all := append(append([]string{}, valid...), kv...)
		return []byte(cardForm(all...))
	}
	for _, s := range []struct {
		form      []byte
		fixedInst uint8
		currency  bool // TRY
	}{
		{with(), 0, true},
		{with("installments", "3"), 0, true},
		{with("installments", "3"), 0, false},
		{with("installments", "12"), 0, true},
		{with("installments", "3"), 6, true},
		{with("installments", "+3"), 0, true},
		{with("installments", "0"), 0, true},
		{with("number", "4355-0843-5508-4358"), 0, true},
		{with("number", "378282246310005", "cvv", "1234"), 0, true}, // Amex
		{with("number", "378282246310005", "cvv", "123"), 0, true},
		{with("number", "4355084355084359"), 0, true},    // Luhn fails
		{with("number", "435508435508435"), 0, true},     // a digit short
		{with("number", "00000000000000000"), 0, true},   // Luhn-valid zeros
		{with("number", "4355084355084358000"), 0, true}, // 19 digits
		{with("number", "43550843550843580000"), 0, true},
		{with("number", "４３５５０８４３５５０８４３５８"), 0, true}, // full-width digits
		{with("number", "4355\t0843\n5508\u00a04358"), 0, true},
		{with("exp_month", "2", "exp_year", "26"), 0, true}, // expired last month
		{with("exp_month", "3", "exp_year", "26"), 0, true},
		{with("exp_month", "+3", "exp_year", "+2046"), 0, true},
		{with("exp_month", "13"), 0, true},
		{with("exp_year", "2047"), 0, true},
		{with("exp_year", "-26"), 0, true},
		{with("cvv", "12a"), 0, true},
		{with("cvv", "+12"), 0, true},
		{with("holder", "  "), 0, true},
		{with("holder", "<script>alert(1)</script>"), 0, true},
		{with("holder", "Ali\x00Veli"), 0, true},
		{with("holder", "Ali \xff Veli"), 0, true},
		{with("holder", strings.Repeat("Ş", 31)), 0, true},
		{[]byte("number=4355084355084358&number=4111111111111111&exp_month=12&exp_year=2030&cvv=123&holder=A"), 0, true},
		{[]byte("number=4355084355084358&exp_month=12&exp_year=2030&cvv=123&cvv=4567&holder=A+B"), 0, true},
		{[]byte(""), 0, true},
		{[]byte("number=%34%33%35%35%30%38%34%33%35%35%30%38%34%33%35%38&exp_month=1&exp_year=30&cvv=999&holder=%20A%20"), 0, true},
	} {
		f.Add(s.form, s.fixedInst, s.currency)
	}
	r := cardRelay()
	f.Fuzz(func(t *testing.T, body []byte, fixedInst uint8, try bool) {
		p := &store.Payment{ID: "pay_1", SiteID: "shop", OrderID: "order-1", Amount: 10100, Currency: "EUR",
			Installments: int(fixedInst % 13), Language: "en", PayToken: "pt_tok"}
		if try {
			p.Currency, p.Language = "TRY", "tr"
		}
		tx := textFor(p.Language)
		ctx := cardPost(body)
		form := formPairs(string(ctx.PostBody()))
		rawNumber, _ := firstValue(form, "number")
		rawCVV, _ := firstValue(form, "cvv")
		checks := cardFieldChecks(tx, r, p, form)

		c, inst, msg := r.readCard(ctx, tx, p)

		firstBad := ""
		for _, ch := range checks {
			if !ch.ok {
				firstBad = ch.msg
				break
			}
		}
		if c == nil {
			if inst != 0 {
				t.Errorf("refused with installments %d", inst)
			}
			if firstBad == "" {
				t.Fatalf("refused a valid card form (%q)", msg)
			}
			if msg != firstBad {
				t.Fatalf("message %q; the first bad field's is %q", msg, firstBad)
			}
			digits := strings.NewReplacer(" ", "", "-", "").Replace(rawNumber)
			// Card data is digits: a typed "umber" is in "Check the card
			// number." without anything leaking (found by FuzzReadCard).
			for _, secret := range []string{rawNumber, digits, rawCVV} {
				if strings.IndexFunc(secret, unicode.IsDigit) >= 0 && len(secret) >= 3 && strings.Contains(msg, secret) {
					t.Fatalf("message %q holds card data %q", msg, secret)
				}
			}
			// The page that shows the message echoes nothing typed.
			r.cardPage(ctx, p, msg, fasthttp.StatusUnprocessableEntity)
			page := string(ctx.Response.Body())
			if !strings.Contains(page, "<form") {
				t.Fatalf("no card page rendered: %d %.200s", ctx.Response.StatusCode(), page)
			}
			for _, secret := range []string{rawNumber, digits} {
				if len(secret) >= 12 && strings.Contains(page, secret) {
					t.Fatalf("card page holds the card number %q", secret)
				}
			}
			return
		}
		if firstBad != "" {
			t.Fatalf("accepted a card form whose field is bad (%q)", firstBad)
		}
		if msg != "" {
			t.Errorf("accepted with message %q", msg)
		}
		if want := strings.NewReplacer(" ", "", "-", "").Replace(rawNumber); c.Number != want {
			t.Fatalf("number %q, typed %q", c.Number, rawNumber)
		}
		if n := len(c.Number); n < 13 || n > 19 || !allDigits(c.Number) || !luhnOK(c.Number) {
			t.Fatalf("accepted number %q", c.Number)
		}
		m, err := strconv.Atoi(c.ExpMonth)
		if len(c.ExpMonth) != 2 || err != nil || m < 1 || m > 12 {
			t.Fatalf("expiry month %q", c.ExpMonth)
		}
		y, err := strconv.Atoi(c.ExpYear)
		if len(c.ExpYear) != 4 || err != nil || y < cardClock.Year() || y > cardClock.Year()+20 ||
			y == cardClock.Year() && m < int(cardClock.Month()) {
			t.Fatalf("expiry %q/%q accepted on %s", c.ExpMonth, c.ExpYear, cardClock.Format("2006-01"))
		}
		if c.CVV != rawCVV || !allDigits(c.CVV) || len(c.CVV) != map[bool]int{true: 4, false: 3}[c.Brand() == "amex"] {
			t.Fatalf("CVV %q (typed %q) for a %s card", c.CVV, rawCVV, c.Brand())
		}
		holder, _ := firstValue(form, "holder")
		if c.Holder != strings.TrimSpace(holder) || c.Holder == "" || len(c.Holder) > 60 || hasControl(c.Holder) ||
			strings.ContainsAny(c.Holder, "<>|\\\"") {
			t.Fatalf("holder %q (typed %q)", c.Holder, holder)
		}
		site := r.siteByID[p.SiteID]
		switch v, _ := firstValue(form, "installments"); {
		case p.Installments > 0:
			if inst != p.Installments {
				t.Fatalf("installments %d; the payment fixed %d", inst, p.Installments)
			}
		case v == "":
			if inst != 1 {
				t.Fatalf("installments %d without a choice", inst)
			}
		default:
			if inst < 1 || inst > site.MaxInstallments || inst > 1 && p.Currency != "TRY" {
				t.Fatalf("installments %d (%s, site allows %d)", inst, p.Currency, site.MaxInstallments)
			}
		}
	})
}

// --- clientIP -----------------------------------------------------------------

// proxyPrefixes parses a comma-separated list of trusted proxies as the
// configuration does (an address, or a CIDR that is masked); bad entries
// are skipped.
func proxyPrefixes(s string) []netip.Prefix {
	var out []netip.Prefix
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if strings.Contains(e, "/") {
			if p, err := netip.ParsePrefix(e); err == nil {
				out = append(out, p.Masked())
			}
		} else if a, err := netip.ParseAddr(e); err == nil {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return out
}

// forwardedRequest parses a request from a peer with the given
// X-Forwarded-For header lines, as the server reads it off the wire.
func forwardedRequest(peer netip.Addr, xff ...string) (*fasthttp.RequestCtx, error) {
	raw := "GET /pay/pt_tok HTTP/1.1\r\nHost: pay.example.com\r\n"
	for _, v := range xff {
		if strings.ContainsAny(v, "\r\n") {
			return nil, errors.New("a header value cannot hold a line break")
		}
		raw += "X-Forwarded-For: " + v + "\r\n"
	}
	var ctx fasthttp.RequestCtx
	if err := ctx.Request.Read(bufio.NewReader(strings.NewReader(raw + "\r\n"))); err != nil {
		return nil, err
	}
	ctx.SetRemoteAddr(&net.TCPAddr{IP: net.IP(peer.AsSlice()), Port: 41000})
	return &ctx, nil
}

func TestClientIP(t *testing.T) {
	for _, tc := range []struct {
		name, proxies, peer string
		xff                 []string
		want                string
	}{
		{"no trusted proxies", "", "198.51.100.9", []string{"203.0.113.7"}, "198.51.100.9"},
		{"peer not trusted", "10.0.0.0/8", "198.51.100.9", []string{"203.0.113.7"}, "198.51.100.9"},
		{"trusted peer, one hop", "10.0.0.0/8", "10.0.0.2", []string{"203.0.113.7"}, "203.0.113.7"},
		{"trusted peer, no header", "10.0.0.0/8", "10.0.0.2", nil, "10.0.0.2"},
		{"forged hop left of the client", "10.0.0.0/8", "10.0.0.2", []string{"198.51.100.66, 203.0.113.7"}, "203.0.113.7"},
		{"chain of trusted proxies", "10.0.0.0/8", "10.0.0.2", []string{"203.0.113.7, 10.0.0.9, 10.1.0.1"}, "203.0.113.7"},
		{"garbage stops the walk", "10.0.0.0/8", "10.0.0.2", []string{"203.0.113.7, bogus, 10.0.0.9"}, "10.0.0.9"},
		{"mapped IPv4", "10.0.0.0/8", "::ffff:10.0.0.2", []string{"::ffff:203.0.113.7"}, "203.0.113.7"},
		{"IPv6", "2001:db8::/32", "2001:db8::1", []string{"2001:db8:ffff::2, 2a00:1450::1, 2001:db8::5"}, "2a00:1450::1"},
		// A proxy that adds its own X-Forwarded-For line (HAProxy's option
		// forwardfor) after the one the client sent: the lines are one
		// list, and the client's forged line must not win.
		{"client's own header line first", "10.0.0.0/8", "10.0.0.2", []string{"198.51.100.66", "203.0.113.7"}, "203.0.113.7"},
		{"trusted hops over two lines", "10.0.0.0/8", "10.0.0.2", []string{"198.51.100.66, 203.0.113.7", "10.0.0.7"}, "203.0.113.7"},
		// A zone is no part of a client's address: a hop with one is
		// garbage, not free text for the journal and the bank.
		{"zoned hop", "10.0.0.0/8", "10.0.0.2", []string{"fe80::1%<script>x</script>"}, "10.0.0.2"},
		// Garbage nearest: the walk ends at once, and an address left of
		// it, even the peer's own, is not read (found by FuzzClientIP).
		{"garbage nearest, peer's address left of it", "192.0.2.1", "192.0.2.1", []string{"192.0.2.1,0"}, "192.0.2.1"},
		{"garbage nearest, client left of it", "10.0.0.0/8", "10.0.0.2", []string{"203.0.113.7, 0"}, "10.0.0.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Relay{cfg: &config.Config{}}
			r.cfg.Server.TrustedProxies = proxyPrefixes(tc.proxies)
			ctx, err := forwardedRequest(netip.MustParseAddr(tc.peer), tc.xff...)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.clientIP(ctx).String(); got != tc.want {
				t.Errorf("clientIP = %s, want %s", got, tc.want)
			}
		})
	}
}

// FuzzClientIP: the client address is always a valid address without a
// zone or an IPv4-in-IPv6 form; it is the peer's unless the peer is a
// trusted proxy; otherwise it is the peer or an X-Forwarded-For hop, and
// never one left of an untrusted hop the nearest proxy appended.
func FuzzClientIP(f *testing.F) {
	for _, s := range []struct {
		peer           []byte
		proxies        string
		xff1, xff2     string
		peerFirstProxy bool
	}{
		{[]byte{198, 51, 100, 9}, "", "203.0.113.7", "", false},
		{[]byte{198, 51, 100, 9}, "10.0.0.0/8", "203.0.113.7", "", false},
		{nil, "10.0.0.0/8", "203.0.113.7", "", true},
		{nil, "10.0.0.0/8", "198.51.100.66, 203.0.113.7", "", true},
		{nil, "10.0.0.0/8", "198.51.100.66", "203.0.113.7", true},
		{nil, "10.0.0.0/8,192.0.2.1", "203.0.113.7, 192.0.2.1", "10.9.9.9", true},
		{nil, "10.0.0.0/8", "203.0.113.7, bogus, 10.0.0.9", "", true},
		{nil, "10.0.0.0/8", "", "", true},
		{nil, "10.0.0.0/8", ",,, ,", ",", true},
		{nil, "0.0.0.0/0", "203.0.113.7, 10.0.0.1", "", true},
		{nil, "::/0,0.0.0.0/0", "::ffff:203.0.113.7", "", true},
		{nil, "2001:db8::/32", "2a00:1450::1, 2001:db8::5", "", true},
		{nil, "10.0.0.0/8", "fe80::1%eth0", "", true},
		{nil, "10.0.0.0/8", "203.0.113.7", "fe80::1%<img src=x>", true},
		{nil, "::ffff:10.0.0.1", "203.0.113.7", "", true},
		{nil, "fe80::1%eth0", "203.0.113.7", "", true},
		{[]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, "2001:db8::1", "[2001:db8::2]:443, 203.0.113.7:8080", "", false},
	} {
		f.Add(s.peer, s.proxies, s.xff1, s.xff2, s.peerFirstProxy)
	}
	f.Fuzz(func(t *testing.T, peerBytes []byte, proxies, xff1, xff2 string, peerFirstProxy bool) {
		trusted := proxyPrefixes(proxies)
		var peer netip.Addr
		switch {
		case peerFirstProxy && len(trusted) > 0:
			peer = trusted[0].Addr()
		case len(peerBytes) >= 16:
			peer = netip.AddrFrom16([16]byte(peerBytes[:16]))
		case len(peerBytes) >= 4:
			peer = netip.AddrFrom4([4]byte(peerBytes[:4]))
		default:
			return
		}
		var lines []string
		for _, v := range []string{xff1, xff2} {
			if v != "" {
				lines = append(lines, v)
			}
		}
		ctx, err := forwardedRequest(peer, lines...)
		if err != nil {
			return
		}
		r := &Relay{cfg: &config.Config{}}
		r.cfg.Server.TrustedProxies = trusted
		isTrusted := func(a netip.Addr) bool {
			for _, p := range trusted {
				if p.Contains(a) {
					return true
				}
			}
			return false
		}

		got := r.clientIP(ctx)

		if !got.IsValid() || got.Zone() != "" || got.Is4In6() {
			t.Fatalf("client address %v", got)
		}
		peer = peer.Unmap()
		if !isTrusted(peer) {
			if got != peer {
				t.Fatalf("peer %v is no trusted proxy, but the client address is %v", peer, got)
			}
			return
		}
		// The hops as received, all header lines in order.
		var hops []string
		for _, v := range ctx.Request.Header.PeekAll("X-Forwarded-For") {
			hops = append(hops, strings.Split(string(v), ",")...)
		}
		parse := func(h string) (netip.Addr, bool) {
			a, err := netip.ParseAddr(strings.TrimSpace(h))
			return a.Unmap(), err == nil && a.Zone() == ""
		}
		if got != peer {
			found := false
			for _, h := range hops {
				if a, ok := parse(h); ok && a == got {
					found = true
				}
			}
			if !found {
				t.Fatalf("client address %v is neither the peer %v nor a hop of %q", got, peer, hops)
			}
		}
		// The nearest hop is the one the trusted peer wrote: when it is an
		// untrusted address, it is the client, whatever came before it.
		if len(hops) > 0 {
			if a, ok := parse(hops[len(hops)-1]); ok && !isTrusted(a) && got != a {
				t.Fatalf("client address %v; the trusted peer %v forwarded for %v (hops %q)", got, peer, a, hops)
			}
		}
		// The walk reads only the hops right of the last garbage one: left
		// of garbage, even the peer's own address is no hop it reached.
		start := 0
		for i := len(hops) - 1; i >= 0; i-- {
			if _, ok := parse(hops[i]); !ok {
				start = i + 1
				break
			}
		}
		// The client's hop is the rightmost reachable one holding its
		// address; every hop right of it is a trusted proxy, and the walk
		// went past a trusted hop only when the reachable list ended.
		pos := -1
		for i := len(hops) - 1; i >= start; i-- {
			if a, _ := parse(hops[i]); a == got {
				pos = i
				break
			}
		}
		if pos < 0 {
			if start < len(hops) {
				t.Fatalf("client address %v is no hop right of the last garbage one, though the nearest hop %q is an address (hops %q)", got, hops[len(hops)-1], hops)
			}
			if got != peer {
				t.Fatalf("client address %v; the nearest hop is garbage, so it must be the peer %v (hops %q)", got, peer, hops)
			}
			return
		}
		for _, h := range hops[pos+1:] {
			if a, _ := parse(h); !isTrusted(a) {
				t.Fatalf("client address %v lies left of hop %q (hops %q)", got, h, hops)
			}
		}
		if isTrusted(got) && pos > start {
			t.Fatalf("client address %v is a trusted proxy, but hop %q left of it is an address (hops %q)", got, hops[pos-1], hops)
		}
	})
}

// --- resolveRef -----------------------------------------------------------------

// origin is scheme://host:port of an http(s) URL with the host normalised
// as the allowlist does, read by net/url.
func netURLOrigin(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	return joinOrigin(u.Scheme, u.Host)
}

// fasthttpOrigin is the same as the HTTP client reads it: the scheme and
// host it connects to. Like Client.Do it takes what the URI parser left,
// error or not; only a scheme other than http(s) stops it.
func fasthttpOrigin(raw string) (string, error) {
	var req fasthttp.Request
	req.SetRequestURI(raw)
	uri := req.URI()
	scheme := strings.ToLower(string(uri.Scheme()))
	if scheme != "http" && scheme != "https" {
		return "", fmt.Errorf("unsupported protocol %q", scheme)
	}
	return joinOrigin(scheme, string(uri.Host()))
}

func joinOrigin(scheme, host string) (string, error) {
	hp, err := allowlist.NormalizeHost(host)
	if err != nil {
		return "", err
	}
	if _, _, err := net.SplitHostPort(hp); err != nil {
		port := map[string]string{"https": "443", "http": "80"}[scheme]
		if strings.Contains(hp, ":") && !strings.HasPrefix(hp, "[") {
			hp = "[" + hp + "]"
		}
		hp += ":" + port
	}
	return scheme + "://" + hp, nil
}

// FuzzResolveRef: from a bank URL the relay may call, a Location either
// fails to parse (an error naming it) or resolves to an absolute URL: a
// relative reference keeps the bank's scheme, host and port, an absolute
// one is taken as it is. What the allowlist then lets through is http or
// https without user info, and the HTTP client connects to the very origin
// the allowlist checked.
func FuzzResolveRef(f *testing.F) {
	bases := []string{
		"https://sanalpos.halkbank.com.tr/fim/est3Dgate",
		"https://vpostest.qnb.com.tr/Gateway/Default.aspx?x=1#f",
		"https://onlineodemetest.vakifbank.com.tr:4443/VposService/v3/Vposreq.aspx",
		"http://127.0.0.1:8081/sim/3dgate",
		"https://[2001:db8::1]/gate",
	}
	refs := []string{
		"/fim/est3Dgate?step=2", "step2.aspx", "../../acs/challenge?token=abc", "?q=1", "#frag", "", ".", "..",
		"https://vpostest.qnb.com.tr/Gateway/3DHost.aspx", "https://VPOSTEST.QNB.COM.TR:443/a", "https://vpostest.qnb.com.tr./a",
		"http://vpostest.qnb.com.tr/downgrade", "//evil.example/x", "///evil.example/x", "/\\evil.example/x",
		"https://evil.example", "https://vpostest.qnb.com.tr@evil.example/", "https://user:pass@vpostest.qnb.com.tr/",
		"https://vpostest.qnb.com.tr#@evil.example", "https://vpostest.qnb.com.tr?@evil.example", "https://vpostest.qnb.com.tr\\@evil.example",
		"https://evil.example#@vpostest.qnb.com.tr", "https:evil.example", "https:/evil.example", "javascript:alert(1)",
		"data:text/html,<script>alert(1)</script>", "ftp://vpostest.qnb.com.tr/", "HTTPS://vpostest.qnb.com.tr/", "%zz",
		" https://evil.example", "https://evil.example\t", "https://vpostest.qnb.com.tr:99999/", "https://vpostest.qnb.com.tr:0443/",
		"https://vpostest%2eqnb.com.tr/", "https://[::1]/", "https://127.0.0.1/", "https://0x7f.1/", "https://%65vil.example/",
		"https://vpostest.qnb.com.tr%23@evil.example/", "https://ｖｐｏｓｔｅｓｔ.qnb.com.tr/", "https://[2001:db8::1%25eth0]/",
	}
	for _, b := range bases {
		for _, r := range refs {
			f.Add(b, r)
		}
	}
	f.Fuzz(func(t *testing.T, base, ref string) {
		got, err := resolveRef(base, ref)
		// The relay resolves only against a URL it was allowed to call.
		list, lerr := allowlist.NewList(base, "https://other-bank.example")
		if lerr != nil || list.CheckURL(base) != nil {
			return
		}
		b, _ := url.Parse(base)
		r, rerr := url.Parse(ref)
		if err != nil {
			if rerr == nil {
				t.Fatalf("resolveRef(%q, %q): %v, though the Location parses", base, ref, err)
			}
			if got != "" {
				t.Fatalf("a URL %q with the error", got)
			}
			return
		}
		if rerr != nil {
			t.Fatalf("resolved unparseable Location %q to %q", ref, got)
		}
		u, perr := url.Parse(got)
		if perr != nil {
			// net/url does not always read back what it wrote (a host
			// "::0" from "//::0"); such a URL is never called.
			if list.CheckURL(got) == nil {
				t.Fatalf("the allowlist let %q through, which does not parse: %v", got, perr)
			}
			return
		}
		if !u.IsAbs() {
			t.Fatalf("result %q is not absolute", got)
		}
		switch {
		case r.Scheme != "":
			if u.Scheme != strings.ToLower(r.Scheme) || u.Host != r.Host {
				t.Fatalf("absolute Location %q became %q", ref, got)
			}
		case r.Host != "" || r.User != nil:
			if u.Scheme != b.Scheme || u.Host != r.Host {
				t.Fatalf("network-path Location %q from %q became %q", ref, base, got)
			}
		default:
			if u.Scheme != b.Scheme || u.Host != b.Host || u.User != nil {
				t.Fatalf("relative Location %q from %q left the bank's origin: %q", ref, base, got)
			}
		}
		if list.CheckURL(got) != nil {
			return // the next hop is refused before anything is sent
		}
		if u.Scheme != "https" && u.Scheme != "http" || u.User != nil || u.Opaque != "" {
			t.Fatalf("the allowlist let %q through", got)
		}
		want, err := netURLOrigin(got)
		if err != nil {
			t.Fatalf("allowed %q, whose origin does not normalise: %v", got, err)
		}
		if dial, err := fasthttpOrigin(got); err == nil && dial != want {
			t.Fatalf("the allowlist checked %s, the client would connect to %s (URL %q)", want, dial, got)
		}
	})
}
