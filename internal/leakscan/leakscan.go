// Package leakscan finds card data and secrets in text the relay produced:
// logs, HTTP answers, webhook bodies, journal files. Tests feed it what
// they saw and fail on any hit.
//
// It looks for
//
//   - card numbers: any Luhn-valid run of 13–19 digits (also written in
//     groups with single spaces or dashes) that stands alone, i.e. is not
//     part of a longer run of letters and digits (hex ids, base64, base32),
//     does not start with 0 (no card scheme issues those: a zero-padded
//     merchant or request id does), and is not a Unix time in
//     milliseconds, microseconds or nanoseconds between 2000 and 2100; and
//     every registered test card number anywhere, even inside other text;
//   - security codes and expiry dates: a value of 3–4 digits (CVV) or 1–4
//     digits (expiry) in a field whose name says what it is (cvv, cv2,
//     Cvv2Val, exp_month, Ecom_Payment_Card_ExpDate_Year, Expires…), in
//     the shapes form posts, JSON, XML, HTML inputs and logs use; and a
//     registered card's expiry as typed written MM/YY or MM/YYYY;
//   - every registered secret, as is and in its URL- and JSON-escaped
//     forms.
//
// A hit never carries the secret or the card number itself, only enough to
// find it (kind, source, offset and a masked form), so a failing test does
// not leak what it found into its own output.
package leakscan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Kinds of hits.
const (
	KindPAN      = "card_number"
	KindKnownPAN = "test_card_number"
	KindCVV      = "cvv"
	KindExpiry   = "expiry"
	KindSecret   = "secret"
)

// MinSecretLen is the shortest secret the scanner looks for; shorter ones
// would match ordinary text.
const MinSecretLen = 6

// Card is a card as the shopper typed it.
type Card struct {
	PAN   string // digits only
	CVV   string
	Month string // as typed, e.g. "12"
	Year  string // as typed, e.g. "2030" or "30"
}

// Hit is one finding.
type Hit struct {
	Kind   string
	Source string // what was scanned, e.g. "relay log" or "GET /pay/{token}"
	Offset int    // byte offset in the scanned text
	What   string // masked description, safe to print
}

func (h Hit) String() string {
	return fmt.Sprintf("%s in %s at byte %d: %s", h.Kind, h.Source, h.Offset, h.What)
}

// Scanner holds what to look for. It is safe for concurrent use; secrets
// and cards may be added while it scans.
type Scanner struct {
	mu       sync.RWMutex
	secrets  []secret
	cards    []Card
	expiries [][2]string // month and two-digit year of the cards, as typed
}

type secret struct {
	n        int      // its number, for the report
	variants [][]byte // as is, URL-escaped, JSON-escaped
}

// New returns a scanner that looks for card numbers, CVV and expiry
// fields, and the given secrets.
func New(secrets ...string) *Scanner {
	s := &Scanner{}
	s.AddSecrets(secrets...)
	return s
}

// AddSecrets adds secrets to look for. Empty and short ones (below
// MinSecretLen) are ignored.
func (s *Scanner) AddSecrets(secrets ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sec := range secrets {
		if len(sec) < MinSecretLen || s.hasSecret(sec) {
			continue
		}
		vs := [][]byte{[]byte(sec)}
		add := func(v string) {
			if !slices.ContainsFunc(vs, func(b []byte) bool { return string(b) == v }) {
				vs = append(vs, []byte(v))
			}
		}
		add(url.QueryEscape(sec))
		add(url.PathEscape(sec))
		if j, err := json.Marshal(sec); err == nil {
			add(string(j[1 : len(j)-1]))
		}
		s.secrets = append(s.secrets, secret{n: len(s.secrets) + 1, variants: vs})
	}
}

func (s *Scanner) hasSecret(sec string) bool {
	for _, x := range s.secrets {
		if string(x.variants[0]) == sec {
			return true
		}
	}
	return false
}

// AddCards adds the cards a test types, so their numbers are found
// anywhere and their expiry as typed is recognised.
func (s *Scanner) AddCards(cards ...Card) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range cards {
		if !slices.Contains(s.cards, c) {
			s.cards = append(s.cards, c)
		}
		if c.Month != "" && len(c.Year) >= 2 {
			e := [2]string{c.Month, c.Year[len(c.Year)-2:]}
			if !slices.Contains(s.expiries, e) {
				s.expiries = append(s.expiries, e)
			}
		}
	}
}

// Scan returns the hits in text, in offset order.
func (s *Scanner) Scan(source string, text []byte) []Hit {
	s.mu.RLock()
	secrets, cards := s.secrets, s.cards
	expiries := s.expiries
	s.mu.RUnlock()
	var hits []Hit
	add := func(kind string, off int, what string) {
		hits = append(hits, Hit{Kind: kind, Source: source, Offset: off, What: what})
	}
	for _, sec := range secrets {
		for _, v := range sec.variants {
			if i := bytes.Index(text, v); i >= 0 {
				add(KindSecret, i, fmt.Sprintf("secret #%d (%d characters)", sec.n, len(v)))
				break
			}
		}
	}
	seen := map[int]bool{}
	for _, c := range cards {
		if c.PAN == "" {
			continue
		}
		for i, from := 0, 0; ; from = i + 1 {
			j := bytes.Index(text[from:], []byte(c.PAN))
			if j < 0 {
				break
			}
			i = from + j
			if !seen[i] { // two cards typed with one number
				seen[i] = true
				add(KindKnownPAN, i, Mask(c.PAN))
			}
		}
	}
	for _, off := range findTypedExpiries(text, expiries) {
		add(KindExpiry, off, "a card's expiry as typed")
	}
	for _, p := range FindPANs(text) {
		if !seen[p.Offset] {
			add(KindPAN, p.Offset, Mask(p.Digits))
		}
	}
	for _, f := range findCardFields(text) {
		add(f.kind, f.offset, fmt.Sprintf("field %q with a %d-digit value", f.name, f.digits))
	}
	slices.SortStableFunc(hits, func(a, b Hit) int { return a.Offset - b.Offset })
	return hits
}

// findTypedExpiries finds the expiries as typed, MM/YY or MM/YYYY (a
// space allowed around the slash), that are not part of a longer number or
// date.
func findTypedExpiries(text []byte, expiries [][2]string) []int {
	var out []int
	if len(expiries) == 0 {
		return nil
	}
	sep := func(c byte) bool { return isDigit(c) || c == '/' || c == '.' || c == '-' }
	n := len(text)
	for p := bytes.IndexByte(text, '/'); p >= 0; {
		for _, e := range expiries {
			m, yy := e[0], e[1]
			j := p
			if j > 0 && text[j-1] == ' ' {
				j--
			}
			start := j - len(m)
			if start < 0 || string(text[start:j]) != m || start > 0 && sep(text[start-1]) {
				continue
			}
			k := p + 1
			if k < n && text[k] == ' ' {
				k++
			}
			end := -1
			switch {
			case k+4 <= n && string(text[k:k+4]) == "20"+yy:
				end = k + 4
			case k+2 <= n && string(text[k:k+2]) == yy:
				end = k + 2
			}
			if end < 0 {
				continue
			}
			if end == n || !sep(text[end]) || text[end] == '.' && (end+1 == n || !isDigit(text[end+1])) {
				out = append(out, start)
				break
			}
			// "12/2030" read as "12/20" + "30": also try the short year.
			if end == k+4 && string(text[k:k+2]) == yy && (k+2 == n || !sep(text[k+2])) {
				out = append(out, start)
				break
			}
		}
		q := bytes.IndexByte(text[p+1:], '/')
		if q < 0 {
			break
		}
		p += 1 + q
	}
	return out
}

// PAN is a card number found in a text.
type PAN struct {
	Offset int
	Digits string // the digits, separators removed
}

// FindPANs returns the Luhn-valid 13–19 digit card numbers in text: plain
// runs, or groups of 3–6 digits joined by single spaces or dashes. A run
// that touches a letter or another digit group is part of an identifier
// and is skipped, as are Unix times (ms, µs, ns) between 2000 and 2100.
func FindPANs(text []byte) []PAN {
	var out []PAN
	n := len(text)
	for i := 0; i < n; {
		if !isDigit(text[i]) || i > 0 && isAlnum(text[i-1]) || i > 1 && text[i-1] == '.' && isDigit(text[i-2]) {
			i++ // not a digit, inside an identifier, or a fraction's digits
			continue
		}
		// A candidate starts at i: digit groups separated by one ' ' or '-'.
		start := i
		var digits []byte
		groups, end := 0, i
		j := i
		for {
			k := j
			for k < n && isDigit(text[k]) {
				k++
			}
			digits = append(digits, text[j:k]...)
			groups++
			end = k
			if k+1 < n && (text[k] == ' ' || text[k] == '-') && isDigit(text[k+1]) {
				j = k + 1
				continue
			}
			break
		}
		i = end
		if end < n && isAlpha(text[end]) {
			continue // part of an identifier
		}
		if groups == 1 {
			if digits[0] != '0' && len(digits) >= 13 && len(digits) <= 19 && Luhn(string(digits)) && !unixTime(string(digits)) {
				out = append(out, PAN{Offset: start, Digits: string(digits)})
			}
			continue
		}
		// Grouped: check every window of whole groups, so "… 2026 4355 0843 5508 4358" is found.
		out = append(out, groupedPANs(text[start:end], start)...)
	}
	return out
}

// groupedPANs checks the runs of consecutive groups of a grouped candidate.
func groupedPANs(span []byte, base int) []PAN {
	type group struct {
		off    int
		digits string
	}
	var gs []group
	for i := 0; i < len(span); {
		j := i
		for j < len(span) && isDigit(span[j]) {
			j++
		}
		gs = append(gs, group{off: i, digits: string(span[i:j])})
		i = j + 1
	}
	var out []PAN
	for a := 0; a < len(gs); a++ {
		d := ""
		for b := a; b < len(gs); b++ {
			if len(gs[b].digits) < 3 || len(gs[b].digits) > 6 {
				break
			}
			d += gs[b].digits
			if len(d) > 19 {
				break
			}
			if b > a && len(d) >= 13 && d[0] != '0' && Luhn(d) {
				out = append(out, PAN{Offset: base + gs[a].off, Digits: d})
				a = b
				break
			}
		}
	}
	return out
}

// unixTime reports whether a digit run reads as a Unix time in
// milliseconds, microseconds or nanoseconds between 2000 and 2100.
func unixTime(d string) bool {
	var unit time.Duration
	switch len(d) {
	case 13:
		unit = time.Millisecond
	case 16:
		unit = time.Microsecond
	case 19:
		unit = time.Nanosecond
	default:
		return false
	}
	v, err := strconv.ParseInt(d, 10, 64)
	if err != nil {
		return false
	}
	secs := v / int64(time.Second/unit)
	return secs >= 946684800 && secs < 4102444800
}

// Luhn reports whether d (digits only) passes the Luhn check.
func Luhn(d string) bool {
	if d == "" {
		return false
	}
	sum, dbl := 0, false
	for i := len(d) - 1; i >= 0; i-- {
		c := d[i]
		if c < '0' || c > '9' {
			return false
		}
		n := int(c - '0')
		if dbl {
			if n *= 2; n > 9 {
				n -= 9
			}
		}
		sum += n
		dbl = !dbl
	}
	return sum%10 == 0
}

// Mask shows the first six and last four digits of a card number.
func Mask(pan string) string {
	if len(pan) < 11 {
		return strings.Repeat("*", len(pan))
	}
	return pan[:6] + strings.Repeat("*", len(pan)-10) + pan[len(pan)-4:]
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }

// Field names that hold a security code or an expiry. They are matched
// whole (case-insensitive) and the value must be digits.
var (
	cvvNames    = `cvv|cvv2|cvc|cvc2|cv2|cvv2val|cvn|csc|card_?cvv|security_?code|card_?security_?code|securitycode`
	expiryNames = `exp_?month|exp_?year|exp_?date|expiry|expiry_?date|expiration|expiration_?date|expires|expire_?month|expire_?year|` +
		`ecom_payment_card_expdate_month|ecom_payment_card_expdate_year|card_?exp(?:iry)?_?(?:month|year)?|cc_?exp(?:_?month|_?year)?|son_?kullanma(?:_?tarihi)?`
)

type cardField struct {
	kind   string
	name   string
	offset int
	digits int
}

var cvvName = regexp.MustCompile(`(?i)^(` + cvvNames + `)$`)

// fieldKeywords are in every field name of cvvNames and expiryNames
// (lower case): the scan looks for them, then reads the whole name and
// the value after it.
var fieldKeywords = [][]byte{[]byte("cvv"), []byte("cvc"), []byte("cv2"), []byte("cvn"), []byte("csc"), []byte("secur"), []byte("exp"), []byte("kullanma")}

func asciiLower(text []byte) []byte {
	lower := make([]byte, len(text))
	for i, c := range text {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	return lower
}

// cardValue reports whether v is a card field's value: 1–4 digits, perhaps
// followed by a / and 2–4 digits. It returns the number of digits.
func cardValue(v string) (int, bool) {
	a, b, slash := strings.Cut(strings.ReplaceAll(v, " ", ""), "/")
	if len(a) < 1 || len(a) > 4 || strings.Trim(a, "0123456789") != "" {
		return 0, false
	}
	if !slash {
		return len(a), true
	}
	if len(b) < 2 || len(b) > 4 || strings.Trim(b, "0123456789") != "" {
		return 0, false
	}
	return len(a) + len(b), true
}

// findCardFields finds CVV and expiry fields with a value: in HTML input
// tags, and wherever else a field name is followed by a value.
func findCardFields(text []byte) []cardField {
	var out []cardField
	seen := map[int]bool{}
	add := func(name, val string, off int) {
		digits, ok := cardValue(val)
		if !ok || seen[off] {
			return
		}
		kind := KindExpiry
		if cvvName.MatchString(name) {
			kind = KindCVV
			if digits < 3 || digits > 4 || strings.Contains(val, "/") {
				return
			}
		}
		seen[off] = true
		out = append(out, cardField{kind: kind, name: name, offset: off, digits: digits})
	}
	lower := asciiLower(text)
	for _, in := range findTags(lower, "input") {
		a := tagAttrs(text[in.from:in.to])
		if name := a["name"]; cardFieldName(name) {
			add(name, a["value"], in.from)
		}
	}
	n := len(text)
	for _, k := range fieldKeywords {
		for i := 0; ; {
			j := bytes.Index(lower[i:], k)
			if j < 0 {
				break
			}
			i += j
			// The whole name around the keyword.
			from, to := i, i+len(k)
			for from > 0 && isNameChar(lower[from-1]) {
				from--
			}
			for to < n && isNameChar(lower[to]) {
				to++
			}
			i = to
			if seen[from] || from > 0 && lower[from-1] == '.' || !cardFieldName(string(text[from:to])) {
				continue
			}
			if v, ok := valueAfter(text, from, to); ok {
				add(string(text[from:to]), v, from)
			}
		}
	}
	return out
}

func isNameChar(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' }

// valueAfter reads the value that follows the name text[from:to] in a
// form post, log, JSON, query string (name=123, "name":"123", name: 12/30,
// name=>123) or XML element (<Name>123</Name>).
func valueAfter(text []byte, from, to int) (string, bool) {
	n := len(text)
	p := to
	spaces := func() {
		for p < n && (text[p] == ' ' || text[p] == '\t') {
			p++
		}
	}
	xml := from > 0 && text[from-1] == '<' && p < n && text[p] == '>'
	if xml {
		p++
		spaces()
	} else {
		if p < n && (text[p] == '"' || text[p] == '\'') {
			p++
		}
		spaces()
		switch {
		case p+1 < n && text[p] == '=' && text[p+1] == '>':
			p += 2
		case p < n && (text[p] == '=' || text[p] == ':'):
			p++
		default:
			return "", false
		}
		spaces()
		if p < n && (text[p] == '"' || text[p] == '\'') {
			p++
		}
	}
	start := p
	digits := func(lo, hi int) bool {
		q := p
		for p < n && isDigit(text[p]) && p-q < hi {
			p++
		}
		return p-q >= lo
	}
	if !digits(1, 4) {
		return "", false
	}
	end := p
	if p < n && text[p] == ' ' {
		p++
	}
	if p < n && text[p] == '/' { // an expiry: 12/30, 12 / 2030
		p++
		if p < n && text[p] == ' ' {
			p++
		}
		if digits(2, 4) {
			end = p
		}
	}
	if end < n && isDigit(text[end]) {
		return "", false // a longer number
	}
	return string(text[start:end]), true
}

var cardFieldRE = regexp.MustCompile(`(?i)^(` + cvvNames + `|` + expiryNames + `)$`)

func cardFieldName(name string) bool { return name != "" && cardFieldRE.MatchString(name) }

// span is a part of a text: [from, to).
type span struct{ from, to int }

// findTags finds the start tags <name …> in lower (the text in lower case).
func findTags(lower []byte, name string) []span {
	var out []span
	open := []byte("<" + name)
	for i := 0; ; {
		j := bytes.Index(lower[i:], open)
		if j < 0 {
			return out
		}
		i += j
		end := i + len(open)
		if end < len(lower) && (lower[end] == ' ' || lower[end] == '\t' || lower[end] == '\n' || lower[end] == '\r' || lower[end] == '/' || lower[end] == '>') {
			if k := bytes.IndexByte(lower[end:], '>'); k >= 0 {
				out = append(out, span{i, end + k + 1})
				i = end + k + 1
				continue
			}
		}
		i = end
	}
}

// tagAttrs reads a start tag's attributes: names in lower case, values
// unquoted with &amp; decoded.
func tagAttrs(tag []byte) map[string]string {
	out := map[string]string{}
	t := string(tag)
	t = strings.TrimPrefix(t, "<")
	i := strings.IndexAny(t, " \t\r\n/>")
	if i < 0 {
		return out
	}
	t = t[i:]
	for {
		t = strings.TrimLeft(t, " \t\r\n/")
		if t == "" || t[0] == '>' {
			return out
		}
		n := strings.IndexAny(t, " \t\r\n=/>")
		if n < 0 {
			n = len(t)
		}
		if n == 0 { // a stray character
			t = t[1:]
			continue
		}
		name := strings.ToLower(t[:n])
		t = strings.TrimLeft(t[n:], " \t\r\n")
		val := ""
		if strings.HasPrefix(t, "=") {
			t = strings.TrimLeft(t[1:], " \t\r\n")
			switch {
			case t != "" && (t[0] == '"' || t[0] == '\''):
				q := t[0]
				end := strings.IndexByte(t[1:], q)
				if end < 0 {
					val, t = t[1:], ""
				} else {
					val, t = t[1:1+end], t[2+end:]
				}
			default:
				end := strings.IndexAny(t, " \t\r\n>")
				if end < 0 {
					end = len(t)
				}
				val, t = t[:end], t[end:]
			}
		}
		if _, dup := out[name]; !dup {
			out[name] = strings.ReplaceAll(val, "&amp;", "&")
		}
	}
}

// onOrigin reports whether url is on origin (scheme://host:port): equal
// to it or followed by a path, query or fragment, so that :3404 does not
// cover :34047. The empty origin covers every URL.
func onOrigin(url, origin string) bool {
	if origin == "" || url == origin {
		return true
	}
	return strings.HasPrefix(url, origin) && strings.IndexByte("/?#", url[len(origin)]) >= 0
}

// StripFormInputs returns body with the input tags removed from every form
// whose action is on one of the origins in actionPrefixes ("" = any) and whose name remove
// accepts (nil = remove every input of such a form). It lets a scan skip
// the one place card data is meant to be: the form that carries it to the
// bank.
func StripFormInputs(body []byte, actionPrefixes []string, remove func(name string) bool) []byte {
	if len(actionPrefixes) == 0 {
		return body
	}
	lower := asciiLower(body)
	var cut []span
	for _, f := range findTags(lower, "form") {
		action := tagAttrs(body[f.from:f.to])["action"]
		if !slices.ContainsFunc(actionPrefixes, func(p string) bool { return onOrigin(action, p) }) {
			continue
		}
		end := bytes.Index(lower[f.to:], []byte("</form"))
		if end < 0 {
			end = len(body)
		} else {
			end += f.to
		}
		for _, in := range findTags(lower[f.to:end], "input") {
			in.from, in.to = in.from+f.to, in.to+f.to
			if remove == nil || remove(tagAttrs(body[in.from:in.to])["name"]) {
				cut = append(cut, in)
			}
		}
	}
	if len(cut) == 0 {
		return body
	}
	out := make([]byte, 0, len(body))
	last := 0
	for _, c := range cut {
		if c.from < last {
			continue
		}
		out = append(out, body[last:c.from]...)
		last = c.to
	}
	return append(out, body[last:]...)
}
