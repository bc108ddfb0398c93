package vakif

import (
	"bytes"
	"html/template"
	"net/http"
	"strings"

	"github.com/posrelay/posrelay/banksim"
)

// texts are the pages' words in Turkish and English.
type texts struct {
	Lang, CardTitle, ChallengeTitle, Amount, Card                        string
	PAN, Month, Year, CVV, Holder, Pay, CodePrompt, Code, Submit, Cancel string
	Hint, BadPAN, BadExpiry, BadCVV                                      string
}

var pageTexts = map[string]texts{
	"tr": {
		Lang: "tr", CardTitle: "VakıfBank Ortak Ödeme", ChallengeTitle: "3-D Secure Doğrulama", Amount: "Tutar", Card: "Kart",
		PAN: "Kart numarası", Month: "Son kullanma ayı (AA)", Year: "Son kullanma yılı (YYYY)", CVV: "Güvenlik kodu (CVV)",
		Holder: "Kart sahibi", Pay: "Öde", CodePrompt: "Kartınıza kayıtlı telefona gönderilen tek kullanımlık şifreyi giriniz.",
		Code: "Şifre", Submit: "Onayla", Cancel: "İptal", Hint: "Simülatör: doğru şifre " + banksim.ChallengeCode + ".",
		BadPAN: "Kart numarası geçersiz.", BadExpiry: "Son kullanma tarihi geçersiz.", BadCVV: "Güvenlik kodu geçersiz.",
	},
	"en": {
		Lang: "en", CardTitle: "VakıfBank Common Payment", ChallengeTitle: "3-D Secure Verification", Amount: "Amount", Card: "Card",
		PAN: "Card number", Month: "Expiry month (MM)", Year: "Expiry year (YYYY)", CVV: "Security code (CVV)",
		Holder: "Card holder", Pay: "Pay", CodePrompt: "Enter the one-time code sent to the phone registered for your card.",
		Code: "Code", Submit: "Submit", Cancel: "Cancel", Hint: "Simulator: the code is " + banksim.ChallengeCode + ".",
		BadPAN: "The card number is not valid.", BadExpiry: "The expiry date is not valid.", BadCVV: "The security code is not valid.",
	},
}

func textsFor(lang string) texts {
	if t, ok := pageTexts[lang]; ok {
		return t
	}
	return pageTexts["tr"]
}

const pageHead = `<!DOCTYPE html>
<html lang="{{.T.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>body{font-family:sans-serif;max-width:28em;margin:2em auto;padding:0 1em}label{display:block;margin:.6em 0 .2em}input{font-size:1.1em;width:100%;box-sizing:border-box}button{font-size:1.1em;margin:1em .5em 0 0}.err{color:#b00}</style>
</head><body>
<h1>{{.Title}}</h1>
<p>{{.T.Amount}}: {{.Amount}}{{if .Masked}} · {{.T.Card}}: {{.Masked}}{{end}}</p>
{{if .Error}}<p class="err">{{.Error}}</p>{{end}}
`

// cardPage is Common Payment's card page. Field names follow the 3D Pay
// register fields (§3B).
var cardPage = template.Must(template.New("card").Parse(pageHead + `<form id="card" method="post" action="{{.Action}}" autocomplete="off">
<input type="hidden" name="Ptkn" value="{{.Token}}">
<label for="pan">{{.T.PAN}}</label><input id="pan" name="CardNumber" inputmode="numeric" required>
<label for="m">{{.T.Month}}</label><input id="m" name="ExpireMonth" inputmode="numeric" maxlength="2" required>
<label for="y">{{.T.Year}}</label><input id="y" name="ExpireYear" inputmode="numeric" maxlength="4" required>
<label for="cvv">{{.T.CVV}}</label><input id="cvv" name="Cvv" inputmode="numeric" maxlength="4" required>
<label for="holder">{{.T.Holder}}</label><input id="holder" name="CardHoldersName">
<button type="submit">{{.T.Pay}}</button>
</form>
</body></html>
`))

// challengePage is the stand-in ACS's one-time code page.
var challengePage = template.Must(template.New("challenge").Parse(pageHead + `<p>{{.T.CodePrompt}}</p>
<form id="challenge" method="post" action="{{.Action}}" autocomplete="off">
{{range .Hidden}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">{{end}}
<label for="code">{{.T.Code}}</label><input id="code" name="code" inputmode="numeric" autofocus>
<button type="submit" name="action" value="submit">{{.T.Submit}}</button>
<button type="submit" name="action" value="cancel" formnovalidate>{{.T.Cancel}}</button>
</form>
<p><small>{{.T.Hint}}</small></p>
</body></html>
`))

type pageData struct {
	T                                    texts
	Title, Amount, Masked, Error, Action string
	Token                                string
	Hidden                               banksim.Form
}

// displayAmount is "1.234,56 TL" in Turkish and "1234.56 TRY" in English.
func displayAmount(minor int64, currency, lang string) string {
	alpha := banksim.CurrencyAlpha(currency)
	s := banksim.FormatAmount(minor)
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

func renderPage(w http.ResponseWriter, t *template.Template, d pageData) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, d); err != nil {
		banksim.WriteHTML(w, http.StatusInternalServerError, banksim.ErrorPage("Hata / Error", err.Error()))
		return
	}
	banksim.WriteHTML(w, http.StatusOK, buf.Bytes())
}

func (s *Sim) writeCardPage(w http.ResponseWriter, c *session, errMsg string) {
	s.mu.Lock()
	lang, amount, currency, token := c.lang, c.amount, c.currency, c.token
	s.mu.Unlock()
	t := textsFor(lang)
	renderPage(w, cardPage, pageData{T: t, Title: t.CardTitle, Amount: displayAmount(amount, currency, lang),
		Error: errMsg, Action: CPPagePath, Token: token})
}

// writeChallenge shows the one-time code page; action is where it posts,
// with the hidden fields.
func (s *Sim) writeChallenge(w http.ResponseWriter, lang string, amount int64, currency, masked, action string, hidden banksim.Form) {
	t := textsFor(lang)
	renderPage(w, challengePage, pageData{T: t, Title: t.ChallengeTitle, Amount: displayAmount(amount, currency, lang),
		Masked: masked, Action: action, Hidden: hidden})
}

// writeGone answers a page request for an unknown or finished transaction.
func writeGone(w http.ResponseWriter) {
	banksim.WriteHTML(w, http.StatusBadRequest, banksim.ErrorPage("Hata / Error", "İşlem bulunamadı veya tamamlanmış. / Transaction not found or already completed."))
}
