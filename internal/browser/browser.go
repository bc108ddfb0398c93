// Package browser is a small scripted browser for end-to-end tests and the
// benchmark harness: it keeps no cookies, follows redirects, reads HTML
// forms (including self-posting ones) and submits them, so the shopper's
// steps through the relay and the bank simulators run over real HTTP.
package browser

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/html"
)

// Page is a loaded HTML page.
type Page struct {
	URL    *url.URL
	Status int
	Header http.Header
	Body   []byte
	doc    *html.Node
}

// Browser loads pages.
type Browser struct {
	HTTP *http.Client
	// Dest is sent as Sec-Fetch-Dest ("document" by default; "iframe" to
	// behave like a framed page).
	Dest string
	// History lists every URL loaded, in order.
	History []string
}

// New returns a browser with a 15 s timeout that follows redirects.
func New() *Browser {
	return &Browser{HTTP: &http.Client{Timeout: 15 * time.Second}}
}

// Get loads a page.
func (b *Browser) Get(ctx context.Context, u string) (*Page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	return b.do(req)
}

// Post submits form fields.
func (b *Browser) Post(ctx context.Context, u string, fields url.Values) (*Page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(fields.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

func (b *Browser) do(req *http.Request) (*Page, error) {
	dest := b.Dest
	if dest == "" {
		dest = "document"
	}
	req.Header.Set("Sec-Fetch-Dest", dest)
	req.Header.Set("User-Agent", "posrelay-test-browser")
	b.History = append(b.History, req.Method+" "+req.URL.String())
	resp, err := b.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	p := &Page{URL: resp.Request.URL, Status: resp.StatusCode, Header: resp.Header, Body: body}
	if strings.Contains(resp.Header.Get("Content-Type"), "html") {
		p.doc, _ = html.Parse(bytes.NewReader(body))
	}
	return p, nil
}

// Form is an HTML form as a browser would submit it.
type Form struct {
	ID     string
	Action *url.URL
	Method string
	Target string
	Values url.Values
	Names  []string // field names in document order
}

// Forms returns the page's forms.
func (p *Page) Forms() []*Form {
	var out []*Form
	if p.doc == nil {
		return nil
	}
	var walk func(n *html.Node, cur *Form)
	walk = func(n *html.Node, cur *Form) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "form":
				f := &Form{Method: strings.ToUpper(attr(n, "method")), Target: attr(n, "target"), ID: attr(n, "id"), Values: url.Values{}}
				if f.Method == "" {
					f.Method = http.MethodGet
				}
				act := attr(n, "action")
				base := p.URL
				if b := p.baseURL(); b != nil {
					base = b
				}
				if u, err := base.Parse(act); err == nil {
					f.Action = u
				}
				out = append(out, f)
				cur = f
			case "input":
				if cur != nil && attr(n, "name") != "" {
					typ := strings.ToLower(attr(n, "type"))
					if typ != "submit" && typ != "button" && (typ != "checkbox" && typ != "radio" || hasAttr(n, "checked")) {
						cur.add(attr(n, "name"), attr(n, "value"))
					}
				}
			case "select":
				if cur != nil && attr(n, "name") != "" {
					cur.add(attr(n, "name"), firstOption(n))
				}
			case "textarea":
				if cur != nil && attr(n, "name") != "" {
					cur.add(attr(n, "name"), text(n))
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, cur)
		}
	}
	walk(p.doc, nil)
	return out
}

func (f *Form) add(name, v string) {
	if _, ok := f.Values[name]; !ok {
		f.Names = append(f.Names, name)
	}
	f.Values.Add(name, v)
}

// Form returns the form with the given id, or the first form if id is "".
func (p *Page) Form(id string) (*Form, error) {
	for _, f := range p.Forms() {
		if id == "" || f.ID == id {
			return f, nil
		}
	}
	return nil, fmt.Errorf("no form %q on %s (status %d): %s", id, p.URL, p.Status, snippet(p.Body))
}

// Submit sends the form with some values replaced.
func (b *Browser) Submit(ctx context.Context, f *Form, set map[string]string) (*Page, error) {
	if f.Action == nil {
		return nil, errors.New("form has no usable action")
	}
	v := url.Values{}
	for k, vs := range f.Values {
		v[k] = append([]string(nil), vs...)
	}
	for k, x := range set {
		v.Set(k, x)
	}
	if f.Method == http.MethodGet {
		u := *f.Action
		u.RawQuery = v.Encode()
		return b.Get(ctx, u.String())
	}
	return b.Post(ctx, f.Action.String(), v)
}

// Link returns the href of the element with the given id.
func (p *Page) Link(id string) (string, bool) {
	var href string
	var found bool
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && attr(n, "id") == id {
			href, found = attr(n, "href"), true
		}
		for c := n.FirstChild; c != nil && !found; c = c.NextSibling {
			walk(c)
		}
	}
	if p.doc != nil {
		walk(p.doc)
	}
	if found {
		if u, err := p.URL.Parse(href); err == nil {
			return u.String(), true
		}
	}
	return href, found
}

// Text returns the text of the element with the given id.
func (p *Page) Text(id string) string {
	var out string
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && attr(n, "id") == id {
			out = text(n)
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	if p.doc != nil {
		walk(p.doc)
	}
	return strings.TrimSpace(out)
}

func (p *Page) baseURL() *url.URL {
	var base *url.URL
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if base != nil {
			return
		}
		if n.Type == html.ElementNode && n.Data == "base" {
			if u, err := p.URL.Parse(attr(n, "href")); err == nil {
				base = u
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(p.doc)
	return base
}

func attr(n *html.Node, k string) string {
	for _, a := range n.Attr {
		if a.Key == k {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, k string) bool {
	for _, a := range n.Attr {
		if a.Key == k {
			return true
		}
	}
	return false
}

func firstOption(sel *html.Node) string {
	var first, chosen string
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "option" {
			v := attr(n, "value")
			if !hasAttr(n, "value") {
				v = strings.TrimSpace(text(n))
			}
			if first == "" {
				first = v
			}
			if hasAttr(n, "selected") && chosen == "" {
				chosen = v
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(sel)
	if chosen != "" {
		return chosen
	}
	return first
}

func text(n *html.Node) string {
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

func snippet(b []byte) string {
	s := string(b)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
