package payfor

import (
	"net/http"

	"github.com/posrelay/posrelay/banksim"
)

// Page texts in Turkish and English (by the form's Lang).
type texts struct {
	banksim.PageWords
	CardTitle, Expiry, CVV, Pay string
}

var pageTexts = map[string]texts{
	"tr": {
		PageWords: banksim.Words("tr"), CardTitle: "QNB Güvenli Ödeme",
		Expiry: "Son kullanma tarihi (AAYY)", CVV: "Güvenlik kodu (CVV2)", Pay: "Ödemeyi tamamla",
	},
	"en": {
		PageWords: banksim.Words("en"), CardTitle: "QNB Secure Payment",
		Expiry: "Expiry (MMYY)", CVV: "Security code (CVV2)", Pay: "Pay",
	},
}

func textsFor(lang string) texts {
	if t, ok := pageTexts[lang]; ok {
		return t
	}
	return pageTexts["tr"]
}

var cardPage = banksim.CardPage(banksim.OrderPageHead, `<label for="pan">{{.T.PAN}}</label><input id="pan" name="Pan" inputmode="numeric" maxlength="19" required>
<label for="expiry">{{.T.Expiry}}</label><input id="expiry" name="Expiry" inputmode="numeric" maxlength="4" required>
<label for="cvv">{{.T.CVV}}</label><input id="cvv" name="Cvv2" inputmode="numeric" maxlength="4" required>
<label for="holder">{{.T.Holder}}</label><input id="holder" name="CardHolderName">
`)

var challengePage = banksim.ChallengePage(banksim.OrderPageHead, "")

// writePage shows the card page or, if challenge, the challenge page for
// the attempt. The pages link back to the simulator with absolute URLs
// only: the relay fetches the ACS page server-side and serves it to the
// shopper from its own origin (with a <base>), so nothing may depend on the
// page's address.
func (s *Sim) writePage(w http.ResponseWriter, r *http.Request, a *attempt, challenge bool, errMsg string) {
	s.mu.Lock()
	lang, oid, amount, currency, id, masked := a.pageLang(), a.oid, a.amount, a.currency, a.id, a.masked
	s.mu.Unlock()
	t := textsFor(lang)
	page, title, prefix := cardPage, t.CardTitle, CardPagePrefix
	if challenge {
		page, title, prefix = challengePage, t.ChallengeTitle, ChallengePagePrefix
	}
	banksim.WritePage(w, page, banksim.PageData{T: t, Title: title, Merchant: s.cfg.MerchantName, OrderID: oid,
		Amount: banksim.DisplayAmount(amount, currency, lang), Masked: masked, Error: errMsg, Action: banksim.BaseURL(r) + prefix + id})
}

func (s *Sim) writeCardPage(w http.ResponseWriter, r *http.Request, a *attempt, errMsg string) {
	s.writePage(w, r, a, false, errMsg)
}

func (s *Sim) writeChallengePage(w http.ResponseWriter, r *http.Request, a *attempt) {
	s.writePage(w, r, a, true, "")
}
