package banksim

import (
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Field is one form field with its raw name and value.
type Field struct{ Name, Value string }

// Form is an application/x-www-form-urlencoded body in the order it was
// sent. Names and values are the percent-decoded bytes exactly as received:
// nothing is transcoded, trimmed or rewritten ("EXTRA.TRXDATE" stays
// dotted), because the banks hash those bytes.
type Form []Field

// MaxFormBytes bounds the forms the simulators read.
const MaxFormBytes = 64 << 10

// ParseForm decodes an application/x-www-form-urlencoded body. '+' is a
// space, %XX an escaped byte; a malformed escape is an error. Empty
// segments ("a=1&&b=2") are skipped; a segment without '=' is a field with
// an empty value. Duplicate names are kept; see Form.Duplicate.
func ParseForm(body []byte) (Form, error) {
	if len(body) > MaxFormBytes {
		return nil, fmt.Errorf("form: body larger than %d bytes", MaxFormBytes)
	}
	var f Form
	for seg := range strings.SplitSeq(string(body), "&") {
		if seg == "" {
			continue
		}
		k, v, _ := strings.Cut(seg, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			return nil, fmt.Errorf("form: field name %q: %w", k, err)
		}
		if name == "" {
			return nil, errors.New("form: empty field name")
		}
		value, err := url.QueryUnescape(v)
		if err != nil {
			return nil, fmt.Errorf("form: field %q: %w", name, err)
		}
		f = append(f, Field{name, value})
	}
	return f, nil
}

// Get returns the first value of name and whether it is present.
func (f Form) Get(name string) (string, bool) {
	for _, x := range f {
		if x.Name == name {
			return x.Value, true
		}
	}
	return "", false
}

// Value returns the first value of name, or "".
func (f Form) Value(name string) string { v, _ := f.Get(name); return v }

// Has reports whether name is present.
func (f Form) Has(name string) bool { _, ok := f.Get(name); return ok }

// Duplicate returns the first name that occurs more than once, or "".
func (f Form) Duplicate() string {
	seen := make(map[string]bool, len(f))
	for _, x := range f {
		if seen[x.Name] {
			return x.Name
		}
		seen[x.Name] = true
	}
	return ""
}

// Map returns the fields as a map; with duplicates the first value wins.
func (f Form) Map() map[string]string {
	m := make(map[string]string, len(f))
	for _, x := range f {
		if _, ok := m[x.Name]; !ok {
			m[x.Name] = x.Value
		}
	}
	return m
}

// Set replaces the first field called name or appends it.
func (f *Form) Set(name, value string) {
	for i := range *f {
		if (*f)[i].Name == name {
			(*f)[i].Value = value
			return
		}
	}
	*f = append(*f, Field{name, value})
}

// Del removes every field called name.
func (f *Form) Del(name string) {
	out := (*f)[:0]
	for _, x := range *f {
		if x.Name != name {
			out = append(out, x)
		}
	}
	*f = out
}

// Names returns the field names in order.
func (f Form) Names() []string {
	n := make([]string, len(f))
	for i, x := range f {
		n[i] = x.Name
	}
	return n
}

// Encode writes the form as application/x-www-form-urlencoded, in order.
func (f Form) Encode() string {
	var b strings.Builder
	for i, x := range f {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(x.Name))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(x.Value))
	}
	return b.String()
}

// HTMLForm is the first <form> of a page, as a browser without JavaScript
// would submit it.
type HTMLForm struct {
	Action string // as written in the page (may be relative)
	Method string // upper case; "GET" when absent
	Fields Form   // every named <input> with its value attribute, in order
}

// FindForm extracts the first <form> of a simulator page (or of any simple
// page) with its named <input> elements. Attribute values are HTML-unescaped
// but otherwise kept byte for byte, so a page served in ISO-8859-9 yields
// ISO-8859-9 bytes, as a browser would post them back. It is a small tag
// scanner, not an HTML parser: enough for the pages the simulators and the
// relay render. Inputs of type submit, button, checkbox and radio are left
// out; tests set what they need with Fields.Set.
func FindForm(page []byte) (HTMLForm, error) {
	s := string(page)
	var form HTMLForm
	inForm := false
	for i := 0; i < len(s); {
		j := strings.IndexByte(s[i:], '<')
		if j < 0 {
			break
		}
		i += j
		if strings.HasPrefix(s[i:], "<!--") {
			end := strings.Index(s[i+4:], "-->")
			if end < 0 {
				break
			}
			i += 4 + end + 3
			continue
		}
		name, attrs, next := scanTag(s, i)
		i = next
		switch name {
		case "form":
			if inForm {
				continue
			}
			inForm = true
			form.Action = attrs["action"]
			form.Method = strings.ToUpper(attrs["method"])
			if form.Method == "" {
				form.Method = "GET"
			}
		case "/form":
			if inForm {
				return form, nil
			}
		case "input":
			n, ok := attrs["name"]
			if !inForm || !ok || n == "" {
				continue
			}
			switch strings.ToLower(attrs["type"]) {
			case "submit", "button", "checkbox", "radio", "image", "reset":
				continue
			}
			form.Fields = append(form.Fields, Field{n, attrs["value"]})
		}
	}
	if !inForm {
		return HTMLForm{}, errors.New("page has no <form>")
	}
	return form, nil
}

// scanTag reads the tag that starts at s[i] == '<' and returns its lower-case
// name ("/form" for an end tag), its attributes and the index after '>'.
func scanTag(s string, i int) (string, map[string]string, int) {
	i++ // '<'
	start := i
	for i < len(s) && !isSpace(s[i]) && s[i] != '>' && !(s[i] == '/' && i > start) {
		i++
	}
	name := strings.ToLower(s[start:i])
	attrs := map[string]string{}
	for i < len(s) {
		for i < len(s) && (isSpace(s[i]) || s[i] == '/') {
			i++
		}
		if i >= len(s) {
			break
		}
		if s[i] == '>' {
			return name, attrs, i + 1
		}
		ks := i
		for i < len(s) && !isSpace(s[i]) && s[i] != '=' && s[i] != '>' {
			i++
		}
		key := strings.ToLower(s[ks:i])
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) || s[i] != '=' {
			if _, dup := attrs[key]; !dup && key != "" {
				attrs[key] = ""
			}
			continue
		}
		i++ // '='
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		var val string
		if i < len(s) && (s[i] == '"' || s[i] == '\'') {
			q := s[i]
			end := strings.IndexByte(s[i+1:], q)
			if end < 0 {
				val, i = s[i+1:], len(s)
			} else {
				val, i = s[i+1:i+1+end], i+1+end+1
			}
		} else {
			vs := i
			for i < len(s) && !isSpace(s[i]) && s[i] != '>' {
				i++
			}
			val = s[vs:i]
		}
		if _, dup := attrs[key]; !dup && key != "" {
			attrs[key] = html.UnescapeString(val)
		}
	}
	return name, attrs, len(s)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

// Page is an HTML answer as a browser without JavaScript sees it.
type Page struct {
	Status      int
	URL         string // where it came from, after any redirects
	Body        []byte
	ContentType string
	Form        HTMLForm // its first form, if it has one
}

// Browse sends req with c and reads the answer as a Page.
func Browse(c *http.Client, req *http.Request) (Page, error) {
	resp, err := c.Do(req)
	if err != nil {
		return Page{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return Page{}, err
	}
	p := Page{Status: resp.StatusCode, URL: resp.Request.URL.String(), Body: body, ContentType: resp.Header.Get("Content-Type")}
	p.Form, _ = FindForm(body)
	return p, nil
}

// PostForm posts f to u the way a browser submits a form.
func PostForm(c *http.Client, u string, f Form) (Page, error) {
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(f.Encode()))
	if err != nil {
		return Page{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return Browse(c, req)
}
