package banksim

import (
	"bytes"
	"html/template"
	"net/http"
	"strings"
)

// The bank pages a shopper sees: a card page and the simulated ACS's
// one-time code page. Each simulator writes its own card fields and words;
// the frame, the style, the challenge form and the rendering are shared.

// PageWords are the words every simulator's card and challenge pages
// share. A simulator's page texts embed them, so templates see them as
// {{.T.Code}}, {{.T.Cancel}}…
type PageWords struct {
	Lang, ChallengeTitle, Merchant, Order, Amount, Card, PAN, Holder string
	CodePrompt, Code, Submit, Cancel, Hint                           string
	NotFound, BadExpiry, BadCVV                                      string
}

var pageWords = map[string]PageWords{
	"tr": {
		Lang: "tr", ChallengeTitle: "3-D Secure Doğrulama",
		Merchant: "Üye işyeri", Order: "Sipariş no", Amount: "Tutar", Card: "Kart",
		PAN: "Kart numarası", Holder: "Kart sahibi",
		CodePrompt: "Kartınıza kayıtlı telefona gönderilen tek kullanımlık şifreyi giriniz.",
		Code:       "Şifre", Submit: "Onayla", Cancel: "İptal",
		Hint:     "Simülatör: doğru şifre " + ChallengeCode + ".",
		NotFound: "İşlem bulunamadı veya tamamlanmış.", BadExpiry: "Son kullanma tarihi geçersiz.", BadCVV: "Güvenlik kodu geçersiz.",
	},
	"en": {
		Lang: "en", ChallengeTitle: "3-D Secure Verification",
		Merchant: "Merchant", Order: "Order", Amount: "Amount", Card: "Card",
		PAN: "Card number", Holder: "Card holder",
		CodePrompt: "Enter the one-time code sent to the phone registered for your card.",
		Code:       "Code", Submit: "Submit", Cancel: "Cancel",
		Hint:     "Simulator: the code is " + ChallengeCode + ".",
		NotFound: "Transaction not found or already completed.", BadExpiry: "The expiry date is not valid.", BadCVV: "The security code is not valid.",
	},
}

// Words returns the shared page words in English for "en", else in
// Turkish.
func Words(lang string) PageWords {
	if w, ok := pageWords[lang]; ok {
		return w
	}
	return pageWords["tr"]
}

// PageData is what a card or challenge page shows. T is the simulator's
// page texts: a struct that embeds PageWords and has the card page's words
// (Pay and the field labels).
type PageData struct {
	T                                any
	Title, Merchant, OrderID, Amount string
	Masked, Error, Action            string
	Hidden                           Form // hidden fields, for a page whose template writes HiddenFields
}

const pageStyle = `body{font-family:sans-serif;max-width:28em;margin:2em auto;padding:0 1em}label{display:block;margin:.6em 0 .2em}input{font-size:1.1em;width:100%;box-sizing:border-box}button{font-size:1.1em;margin:1em .5em 0 0}.err{color:#b00}`

// PageHead is the start of a page template: the head with the pages' style
// and extraCSS, the title as the heading, summary (a template line showing
// the payment) and the error, if any.
func PageHead(extraCSS, summary string) string {
	return `<!DOCTYPE html>
<html lang="{{.T.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>` + pageStyle + extraCSS + `</style>
</head><body>
<h1>{{.Title}}</h1>
` + summary + `
{{if .Error}}<p class="err">{{.Error}}</p>{{end}}
`
}

// OrderPageHead is PageHead with the merchant, the order, the amount and
// the card (once known) listed.
var OrderPageHead = PageHead(`dl{display:grid;grid-template-columns:auto 1fr;gap:.2em 1em}`,
	`<dl><dt>{{.T.Merchant}}</dt><dd>{{.Merchant}}</dd><dt>{{.T.Order}}</dt><dd>{{.OrderID}}</dd><dt>{{.T.Amount}}</dt><dd>{{.Amount}}</dd>{{if .Masked}}<dt>{{.T.Card}}</dt><dd>{{.Masked}}</dd>{{end}}</dl>`)

// HiddenFields is a template fragment writing PageData.Hidden as hidden
// inputs.
const HiddenFields = `{{range .Hidden}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">{{end}}`

// CardPage is a card page template: head, then the form "card" posting to
// .Action with fields (the bank's inputs, one a line) and the {{.T.Pay}}
// button.
func CardPage(head, fields string) *template.Template {
	return template.Must(template.New("card").Parse(head + `<form id="card" method="post" action="{{.Action}}" autocomplete="off">
` + fields + `<button type="submit">{{.T.Pay}}</button>
</form>
</body></html>
`))
}

// ChallengePage is the simulated ACS's one-time code page template: head,
// then the form "challenge" posting "code" and "action" (submit or cancel)
// to .Action, after hidden (a template fragment, may be empty).
func ChallengePage(head, hidden string) *template.Template {
	return template.Must(template.New("challenge").Parse(head + `<p>{{.T.CodePrompt}}</p>
<form id="challenge" method="post" action="{{.Action}}" autocomplete="off">
` + hidden + `<label for="code">{{.T.Code}}</label><input id="code" name="code" inputmode="numeric" autofocus>
<button type="submit" name="action" value="submit">{{.T.Submit}}</button>
<button type="submit" name="action" value="cancel" formnovalidate>{{.T.Cancel}}</button>
</form>
<p><small>{{.T.Hint}}</small></p>
</body></html>
`))
}

// WritePage renders a page template with status 200 (500 with an error
// page if the template fails).
func WritePage(w http.ResponseWriter, t *template.Template, d PageData) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, d); err != nil {
		WriteError(w, http.StatusInternalServerError, err.Error())
		return
	}
	WriteHTML(w, http.StatusOK, buf.Bytes())
}

// WriteError serves the plain bilingual error page with message.
func WriteError(w http.ResponseWriter, status int, message string) {
	WriteHTML(w, status, ErrorPage("Hata / Error", message))
}

// WriteGone answers a page request for an unknown or finished transaction
// (status 400), in lang.
func WriteGone(w http.ResponseWriter, lang string) {
	WriteError(w, http.StatusBadRequest, Words(lang).NotFound)
}

// DisplayAmount is how the pages show an amount: "1.234,56 TL" in Turkish
// and "1234.56 TRY" in English.
func DisplayAmount(minor int64, currency, lang string) string {
	alpha := CurrencyAlpha(currency)
	s := FormatAmount(minor)
	if lang == "en" {
		return s + " " + alpha
	}
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte('.')
		}
		b.WriteRune(c)
	}
	if alpha == "TRY" {
		alpha = "TL"
	}
	return b.String() + "," + frac + " " + alpha
}
