package payfor

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/posrelay/posrelay/bank"
)

// gateAnswer reads the gate's answer to the relay's 3-D form post. It is
// usually the ACS page (served to the shopper as is). The gate may also
// answer at once with its callback page, addressed to the relay's callback
// URL: a refusal (M047, M030, 101310…) or a card that cannot do 3-D. Such a
// failure ends the payment here. The page came over the relay's own
// connection to an allowlisted bank host, so it is trusted for a failure
// (which moves no money) without its ResponseHash; anything else in it is
// left to the shopper's browser to post, where Verify checks the hash.
func (g *Gateway) gateAnswer(p *bank.Payment, resp *bank.Response, rnd string) (*bank.Step, error) {
	malformed := func(format string, a ...any) error {
		return &bank.TransportError{Op: "payfor 3-D form", Sent: true, Err: fmt.Errorf("%w: "+format, append([]any{bank.ErrMalformed}, a...)...)}
	}
	if resp.Status != http.StatusOK {
		return nil, malformed("HTTP %d from the 3-D gate", resp.Status)
	}
	body := resp.Body
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, malformed("empty answer from the 3-D gate")
	}
	if bytes.Contains(body, []byte("The requested URL was rejected")) {
		return nil, malformed("the bank's firewall rejected the 3-D form (WAF page)")
	}
	base := resp.URL
	if base == "" {
		base = g.cfg.GateURL
	}
	doc, err := html.Parse(bytes.NewReader(body))
	if err != nil {
		return nil, malformed("unreadable HTML: %v", err)
	}
	page := &bank.Step{Kind: bank.HTML, HTML: body, BaseURL: base, State: map[string]string{stateRnd: rnd}}
	forms := readForms(doc, base)
	if len(forms) == 0 {
		if code, msg := pageCode(doc); code != "" {
			res := procResult(code, msg, "", false)
			return &bank.Step{Outcome: &bank.Outcome{Status: bank.Failed, Result: res, Echo: bank.Echo{OrderID: p.OrderID}}}, nil
		}
		return page, nil
	}
	if !sameURL(forms[0].action, p.CallbackURL) {
		return page, nil
	}
	v, err := g.decide(forms[0].fields.Map(), rnd)
	if err != nil {
		return nil, fmt.Errorf("payfor 3-D form: the gate answered with a callback the relay cannot use: %w", err)
	}
	if v.Echo.OrderID != p.OrderID || v.Echo.HasAmount && v.Echo.Amount != p.Amount ||
		v.Echo.Installments > 0 && v.Echo.Installments != max(p.Installments, 1) {
		return nil, fmt.Errorf("payfor 3-D form: %w: the gate's answer names another order, amount or installment count than the payment's", bank.ErrBinding)
	}
	if v.Outcome != nil && v.Outcome.Status == bank.Failed {
		return &bank.Step{Outcome: v.Outcome}, nil
	}
	return page, nil
}

// htmlForm is a form of the gate's answer as a browser would submit it.
type htmlForm struct {
	action string // resolved against the page's URL
	fields bank.Fields
}

// readForms returns the page's forms with their named inputs.
func readForms(doc *html.Node, pageURL string) []htmlForm {
	base, _ := url.Parse(pageURL)
	var forms []htmlForm
	var walk func(n *html.Node, cur int)
	walk = func(n *html.Node, cur int) {
		if n.Type == html.ElementNode {
			switch n.DataAtom {
			case atom.Base:
				if h, ok := attr(n, "href"); ok && base != nil {
					if u, err := base.Parse(h); err == nil {
						base = u
					}
				}
			case atom.Form:
				act, _ := attr(n, "action")
				resolved := act
				if base != nil {
					if u, err := base.Parse(act); err == nil {
						resolved = u.String()
					}
				}
				forms = append(forms, htmlForm{action: resolved})
				cur = len(forms) - 1
			case atom.Input:
				name, ok := attr(n, "name")
				typ, _ := attr(n, "type")
				switch strings.ToLower(typ) {
				case "submit", "button", "image", "reset", "checkbox", "radio", "file":
					ok = false
				}
				if ok && name != "" && cur >= 0 {
					v, _ := attr(n, "value")
					forms[cur].fields = append(forms[cur].fields, bank.F(name, v))
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, cur)
		}
	}
	walk(doc, -1)
	return forms
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// sameURL compares two absolute URLs the way a server would route them.
func sameURL(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	if err1 != nil || err2 != nil {
		return false
	}
	return strings.EqualFold(ua.Scheme, ub.Scheme) && strings.EqualFold(ua.Host, ub.Host) &&
		ua.EscapedPath() == ub.EscapedPath() && ua.RawQuery == ub.RawQuery
}

// codePattern finds PayFor's own codes in an error page's text.
var codePattern = regexp.MustCompile(`\b(?:M\d{3}|V\d{3,4}|P\d{3}|MR\d{2}|101310)\b`)

// pageCode finds the first known PayFor code in a page without a form (the
// gate's plain error page) and the line of text it stands in.
func pageCode(doc *html.Node) (code, line string) {
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		switch {
		case n.Type == html.ElementNode && (n.DataAtom == atom.Script || n.DataAtom == atom.Style):
			return
		case n.Type == html.TextNode:
			b.WriteString(n.Data)
			b.WriteByte('\n')
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	for l := range strings.SplitSeq(b.String(), "\n") {
		for _, m := range codePattern.FindAllString(l, -1) {
			if _, known := lookup(m); known {
				return m, clip(strings.Join(strings.Fields(l), " "), 200)
			}
		}
	}
	return "", ""
}

// clip shortens s to at most n runes.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}
