package banksim

import (
	"html"
	"net/http"
	"strconv"
	"strings"
)

// AutoPost is a page that posts a form to another site by itself, the way
// a bank sends the shopper's browser back to the merchant: a script submits
// the form at once, and a button does the same without JavaScript.
type AutoPost struct {
	Action string
	Fields Form
	// Charset is the page's declared charset and the form's accept-charset;
	// "" means UTF-8. Field values are written byte for byte, so a browser
	// posts back exactly the bytes in Fields.
	Charset string
	Lang    string // "tr" (default) or "en": the button and notice text
}

// Render returns the page. Everything but the field values is ASCII, so the
// page is valid in any ASCII-compatible charset.
func (a AutoPost) Render() []byte {
	cs := a.Charset
	if cs == "" {
		cs = "UTF-8"
	}
	title, note, button := "Yonlendiriliyorsunuz", "Otomatik yonlendirilmezseniz Devam dugmesine basiniz.", "Devam"
	lang := "tr"
	if a.Lang == "en" {
		title, note, button, lang = "Redirecting", "If you are not redirected, press Continue.", "Continue", "en"
	}
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"" + lang + "\"><head><meta charset=\"" + html.EscapeString(cs) + "\">")
	b.WriteString("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>" + title + "</title></head>\n<body>\n")
	b.WriteString("<form id=\"autopost\" method=\"post\" action=\"" + html.EscapeString(a.Action) + "\" accept-charset=\"" + html.EscapeString(cs) + "\">\n")
	for _, f := range a.Fields {
		b.WriteString("<input type=\"hidden\" name=\"" + html.EscapeString(f.Name) + "\" value=\"" + html.EscapeString(f.Value) + "\">\n")
	}
	b.WriteString("<p>" + note + "</p>\n<button type=\"submit\">" + button + "</button>\n</form>\n")
	b.WriteString("<script>document.getElementById(\"autopost\").submit();</script>\n</body></html>\n")
	return []byte(b.String())
}

// WriteAutoPost serves the page with status 200.
func WriteAutoPost(w http.ResponseWriter, a AutoPost) {
	cs := a.Charset
	if cs == "" {
		cs = "utf-8"
	}
	body := a.Render()
	h := w.Header()
	h.Set("Content-Type", "text/html; charset="+cs)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// WriteHTML serves a UTF-8 HTML page.
func WriteHTML(w http.ResponseWriter, status int, page []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(page)))
	w.WriteHeader(status)
	_, _ = w.Write(page)
}

// ErrorPage is a bank's plain error page: a title and a message, nowhere to
// post back to. Used when a request is too broken to answer through the
// merchant's URLs.
func ErrorPage(title, message string) []byte {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>")
	b.WriteString(html.EscapeString(title))
	b.WriteString("</title></head>\n<body>\n<h1>")
	b.WriteString(html.EscapeString(title))
	b.WriteString("</h1>\n<p>")
	b.WriteString(html.EscapeString(message))
	b.WriteString("</p>\n</body></html>\n")
	return []byte(b.String())
}

// WAFPage is the F5-style rejection page that sometimes stands in for a
// bank's XML answer (protocol document §0.1). Clients must treat it as a
// transport error.
func WAFPage(supportID string) []byte {
	return []byte("<html><head><title>Request Rejected</title></head><body>" +
		"The requested URL was rejected. Please consult with your administrator.<br><br>" +
		"Your support ID is: " + html.EscapeString(supportID) +
		"<br><br><a href='javascript:history.back();'>[Go Back]</a></body></html>")
}
