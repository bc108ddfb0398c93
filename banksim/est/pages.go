package est

import (
	"net/http"

	"github.com/posrelay/posrelay/banksim"
)

// Page texts in Turkish and English (by the gate's lang field).
type texts struct {
	banksim.PageWords
	CardTitle, Month, Year, CVV, Pay string
}

var pageTexts = map[string]texts{
	"tr": {
		PageWords: banksim.Words("tr"), CardTitle: "Güvenli Ödeme",
		Month: "Son kullanma ayı (AA)", Year: "Son kullanma yılı (YY)", CVV: "Güvenlik kodu (CVV)", Pay: "Ödemeyi tamamla",
	},
	"en": {
		PageWords: banksim.Words("en"), CardTitle: "Secure Payment",
		Month: "Expiry month (MM)", Year: "Expiry year (YY)", CVV: "Security code (CVV)", Pay: "Pay",
	},
}

func textsFor(lang string) texts {
	if t, ok := pageTexts[lang]; ok {
		return t
	}
	return pageTexts["tr"]
}

var cardPage = banksim.CardPage(banksim.OrderPageHead, `<label for="pan">{{.T.PAN}}</label><input id="pan" name="pan" inputmode="numeric" required>
<label for="m">{{.T.Month}}</label><input id="m" name="Ecom_Payment_Card_ExpDate_Month" inputmode="numeric" maxlength="2" required>
<label for="y">{{.T.Year}}</label><input id="y" name="Ecom_Payment_Card_ExpDate_Year" inputmode="numeric" maxlength="2" required>
<label for="cvv">{{.T.CVV}}</label><input id="cvv" name="cv2" inputmode="numeric" maxlength="4" required>
<label for="holder">{{.T.Holder}}</label><input id="holder" name="cardHolderName">
`)

var challengePage = banksim.ChallengePage(banksim.OrderPageHead, "")

// writePage shows the card page or, if challenge, the challenge page for
// the attempt.
func (s *Sim) writePage(w http.ResponseWriter, r *http.Request, a *attempt, challenge bool, errMsg string) {
	s.mu.Lock()
	lang, oid, amount, currency, id, pan := a.lang, a.oid, a.amount, a.currency, a.id, a.pan
	s.mu.Unlock()
	t := textsFor(lang)
	page, title, action := cardPage, t.CardTitle, CardPagePrefix
	if challenge {
		page, title, action = challengePage, t.ChallengeTitle, ChallengePagePrefix
	}
	d := banksim.PageData{T: t, Title: title, Merchant: s.cfg.MerchantName, OrderID: oid,
		Amount: banksim.DisplayAmount(amount, currency, lang), Error: errMsg, Action: banksim.BaseURL(r) + action + id}
	if pan != "" {
		d.Masked = banksim.MaskGrouped(pan)
	}
	banksim.WritePage(w, page, d)
}

func (s *Sim) writeCardPage(w http.ResponseWriter, r *http.Request, a *attempt, errMsg string) {
	s.writePage(w, r, a, false, errMsg)
}

func (s *Sim) writeChallengePage(w http.ResponseWriter, r *http.Request, a *attempt) {
	s.writePage(w, r, a, true, "")
}
