package vakif

import (
	"net/http"

	"github.com/posrelay/posrelay/banksim"
)

// texts are the pages' words in Turkish and English.
type texts struct {
	banksim.PageWords
	CardTitle, Month, Year, CVV, Pay, BadPAN string
}

var pageTexts = map[string]texts{
	"tr": {
		PageWords: banksim.Words("tr"), CardTitle: "VakıfBank Ortak Ödeme",
		Month: "Son kullanma ayı (AA)", Year: "Son kullanma yılı (YYYY)", CVV: "Güvenlik kodu (CVV)", Pay: "Öde",
		BadPAN: "Kart numarası geçersiz.",
	},
	"en": {
		PageWords: banksim.Words("en"), CardTitle: "VakıfBank Common Payment",
		Month: "Expiry month (MM)", Year: "Expiry year (YYYY)", CVV: "Security code (CVV)", Pay: "Pay",
		BadPAN: "The card number is not valid.",
	},
}

func textsFor(lang string) texts {
	if t, ok := pageTexts[lang]; ok {
		return t
	}
	return pageTexts["tr"]
}

var pageHead = banksim.PageHead("", `<p>{{.T.Amount}}: {{.Amount}}{{if .Masked}} · {{.T.Card}}: {{.Masked}}{{end}}</p>`)

// cardPage is Common Payment's card page, with the PaymentToken (Ptkn)
// hidden. Field names follow the 3D Pay register fields (§3B).
var cardPage = banksim.CardPage(pageHead, banksim.HiddenFields+`
<label for="pan">{{.T.PAN}}</label><input id="pan" name="CardNumber" inputmode="numeric" required>
<label for="m">{{.T.Month}}</label><input id="m" name="ExpireMonth" inputmode="numeric" maxlength="2" required>
<label for="y">{{.T.Year}}</label><input id="y" name="ExpireYear" inputmode="numeric" maxlength="4" required>
<label for="cvv">{{.T.CVV}}</label><input id="cvv" name="Cvv" inputmode="numeric" maxlength="4" required>
<label for="holder">{{.T.Holder}}</label><input id="holder" name="CardHoldersName">
`)

// challengePage is the stand-in ACS's one-time code page.
var challengePage = banksim.ChallengePage(pageHead, banksim.HiddenFields+"\n")

func (s *Sim) writeCardPage(w http.ResponseWriter, c *session, errMsg string) {
	s.mu.Lock()
	lang, amount, currency, token := c.lang, c.amount, c.currency, c.token
	s.mu.Unlock()
	t := textsFor(lang)
	banksim.WritePage(w, cardPage, banksim.PageData{T: t, Title: t.CardTitle, Amount: banksim.DisplayAmount(amount, currency, lang),
		Error: errMsg, Action: CPPagePath, Hidden: banksim.Form{{Name: "Ptkn", Value: token}}})
}

// writeChallenge shows the one-time code page; action is where it posts,
// with the hidden fields.
func (s *Sim) writeChallenge(w http.ResponseWriter, lang string, amount int64, currency, masked, action string, hidden banksim.Form) {
	t := textsFor(lang)
	banksim.WritePage(w, challengePage, banksim.PageData{T: t, Title: t.ChallengeTitle, Amount: banksim.DisplayAmount(amount, currency, lang),
		Masked: masked, Action: action, Hidden: hidden})
}

// writeGone answers a page request for an unknown or finished transaction.
func writeGone(w http.ResponseWriter) {
	banksim.WriteError(w, http.StatusBadRequest, "İşlem bulunamadı veya tamamlanmış. / Transaction not found or already completed.")
}
