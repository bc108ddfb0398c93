package payfor

import (
	"bytes"
	"html/template"
	"net/http"
	"strings"

	"github.com/posrelay/posrelay/banksim"
)

// Page texts in Turkish and English (by the form's Lang).
type texts struct {
	Lang, CardTitle, ChallengeTitle, Merchant, Order, Amount, Card string
	PAN, Expiry, CVV, Holder, Pay, CodePrompt, Code, Submit        string
	Cancel, Hint, NotFound, BadExpiry, BadCVV                      string
}

var pageTexts = map[string]texts{
	"tr": {
		Lang: "tr", CardTitle: "QNB Güvenli Ödeme", ChallengeTitle: "3-D Secure Doğrulama",
		Merchant: "Üye işyeri", Order: "Sipariş no", Amount: "Tutar", Card: "Kart",
		PAN: "Kart numarası", Expiry: "Son kullanma tarihi (AAYY)", CVV: "Güvenlik kodu (CVV2)",
		Holder: "Kart sahibi", Pay: "Ödemeyi tamamla",
		CodePrompt: "Kartınıza kayıtlı telefona gönderilen tek kullanımlık şifreyi giriniz.",
		Code:       "Şifre", Submit: "Onayla", Cancel: "İptal",
		Hint:     "Simülatör: doğru şifre " + banksim.ChallengeCode + ".",
		NotFound: "İşlem bulunamadı veya tamamlanmış.", BadExpiry: "Son kullanma tarihi geçersiz.", BadCVV: "Güvenlik kodu geçersiz.",
	},
	"en": {
		Lang: "en", CardTitle: "QNB Secure Payment", ChallengeTitle: "3-D Secure Verification",
		Merchant: "Merchant", Order: "Order", Amount: "Amount", Card: "Card",
		PAN: "Card number", Expiry: "Expiry (MMYY)", CVV: "Security code (CVV2)",
		Holder: "Card holder", Pay: "Pay",
		CodePrompt: "Enter the one-time code sent to the phone registered for your card.",
		Code:       "Code", Submit: "Submit", Cancel: "Cancel",
		Hint:     "Simulator: the code is " + banksim.ChallengeCode + ".",
		NotFound: "Transaction not found or already completed.", BadExpiry: "The expiry date is not valid.", BadCVV: "The security code is not valid.",
	},
}

func textsFor(lang string) texts {
	if t, ok := pageTexts[lang]; ok {
		return t
	}
	return pageTexts["tr"]
}

// The pages link back to the simulator with absolute URLs only: the relay
// fetches the ACS page server-side and serves it to the shopper from its
// own origin (with a <base>), so nothing may depend on the page's address.
const pageHead = `<!DOCTYPE html>
<html lang="{{.T.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>body{font-family:sans-serif;max-width:28em;margin:2em auto;padding:0 1em}label{display:block;margin:.6em 0 .2em}input{font-size:1.1em;width:100%;box-sizing:border-box}button{font-size:1.1em;margin:1em .5em 0 0}.err{color:#b00}dl{display:grid;grid-template-columns:auto 1fr;gap:.2em 1em}</style>
</head><body>
<h1>{{.Title}}</h1>
<dl><dt>{{.T.Merchant}}</dt><dd>{{.Merchant}}</dd><dt>{{.T.Order}}</dt><dd>{{.OrderID}}</dd><dt>{{.T.Amount}}</dt><dd>{{.Amount}}</dd>{{if .Masked}}<dt>{{.T.Card}}</dt><dd>{{.Masked}}</dd>{{end}}</dl>
{{if .Error}}<p class="err">{{.Error}}</p>{{end}}
`

var cardPage = template.Must(template.New("card").Parse(pageHead + `<form id="card" method="post" action="{{.Action}}" autocomplete="off">
<label for="pan">{{.T.PAN}}</label><input id="pan" name="Pan" inputmode="numeric" maxlength="19" required>
<label for="expiry">{{.T.Expiry}}</label><input id="expiry" name="Expiry" inputmode="numeric" maxlength="4" required>
<label for="cvv">{{.T.CVV}}</label><input id="cvv" name="Cvv2" inputmode="numeric" maxlength="4" required>
<label for="holder">{{.T.Holder}}</label><input id="holder" name="CardHolderName">
<button type="submit">{{.T.Pay}}</button>
</form>
</body></html>
`))

var challengePage = template.Must(template.New("challenge").Parse(pageHead + `<p>{{.T.CodePrompt}}</p>
<form id="challenge" method="post" action="{{.Action}}" autocomplete="off">
<label for="code">{{.T.Code}}</label><input id="code" name="code" inputmode="numeric" autofocus>
<button type="submit" name="action" value="submit">{{.T.Submit}}</button>
<button type="submit" name="action" value="cancel" formnovalidate>{{.T.Cancel}}</button>
</form>
<p><small>{{.T.Hint}}</small></p>
</body></html>
`))

type pageData struct {
	T                                texts
	Title, Merchant, OrderID, Amount string
	Masked, Error, Action            string
}

func (s *Sim) pageData(r *http.Request, a *attempt, title, prefix, errMsg string) pageData {
	s.mu.Lock()
	lang, oid, amount, currency, id, masked := a.pageLang(), a.oid, a.amount, a.currency, a.id, a.masked
	s.mu.Unlock()
	return pageData{T: textsFor(lang), Title: title, Merchant: s.cfg.MerchantName, OrderID: oid,
		Amount: displayAmount(amount, currency, lang), Masked: masked, Error: errMsg, Action: banksim.BaseURL(r) + prefix + id}
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
	return b.String() + "," + frac + " " + alphaCode(currency)
}

func render(w http.ResponseWriter, t *template.Template, d pageData) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, d); err != nil {
		banksim.WriteHTML(w, http.StatusInternalServerError, banksim.ErrorPage("Hata / Error", err.Error()))
		return
	}
	banksim.WriteHTML(w, http.StatusOK, buf.Bytes())
}

func (s *Sim) writeCardPage(w http.ResponseWriter, r *http.Request, a *attempt, errMsg string) {
	render(w, cardPage, s.pageData(r, a, textsFor(a.pageLang()).CardTitle, CardPagePrefix, errMsg))
}

func (s *Sim) writeChallengePage(w http.ResponseWriter, r *http.Request, a *attempt) {
	render(w, challengePage, s.pageData(r, a, textsFor(a.pageLang()).ChallengeTitle, ChallengePagePrefix, ""))
}

func writeGone(w http.ResponseWriter, lang string) {
	banksim.WriteHTML(w, http.StatusBadRequest, banksim.ErrorPage("Hata / Error", textsFor(lang).NotFound))
}
