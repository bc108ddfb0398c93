package est

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/posrelay/posrelay/banksim"
)

func (s *Sim) handleCardPage(w http.ResponseWriter, r *http.Request) {
	if a := s.waiting(r.PathValue("id"), stageCard); a != nil {
		s.writeCardPage(w, r, a, "")
		return
	}
	banksim.WriteGone(w, "tr")
}

// waiting returns the attempt id if it is at stage st: showing its hosted
// card page or its challenge.
func (s *Sim) waiting(id string, st stage) *attempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.attempts[id]
	if a == nil || !a.at(st) {
		return nil
	}
	return a
}

// claim takes the post of a page shown at stage st: it reads the form and
// moves the attempt to next. An unreadable post or an attempt that is not
// at st gets the gone page, and claim returns nil.
func (s *Sim) claim(w http.ResponseWriter, r *http.Request, st, next stage) (*attempt, banksim.Form) {
	a := s.lookup(r.PathValue("id"))
	body, err := banksim.ReadForm(w, r)
	if err != nil || a == nil {
		banksim.WriteGone(w, "tr")
		return nil, nil
	}
	s.mu.Lock()
	if !a.at(st) {
		s.mu.Unlock()
		banksim.WriteGone(w, a.lang)
		return nil, nil
	}
	a.stage = next
	s.mu.Unlock()
	return a, body
}

// handleCardSubmit takes the hosted card page: a card number the page
// cannot read ends the attempt with HPP-1001 (EST-F4); a bad expiry or CVV
// shows the page again.
func (s *Sim) handleCardSubmit(w http.ResponseWriter, r *http.Request) {
	a, body := s.claim(w, r, stageCard, stageChallenge) // reverted if the page is shown again
	if a == nil {
		return
	}
	pan := strings.ReplaceAll(body.Value("pan"), " ", "")
	month, year := body.Value("Ecom_Payment_Card_ExpDate_Month"), body.Value("Ecom_Payment_Card_ExpDate_Year")
	if !banksim.ValidPAN(pan) {
		s.mu.Lock()
		a.stage = stageDone
		s.mu.Unlock()
		posted := append(append(banksim.Form{}, a.form...),
			banksim.Field{Name: "pan", Value: pan},
			banksim.Field{Name: "Ecom_Payment_Card_ExpDate_Month", Value: month},
			banksim.Field{Name: "Ecom_Payment_Card_ExpDate_Year", Value: year})
		s.logf("card page: oid=%q unreadable card number", a.oid)
		s.sendGatewayError(w, posted, gwCardFormat, "")
		return
	}
	t := textsFor(a.lang)
	m, y, err := banksim.ParseExpiry(month, year)
	msg := ""
	switch {
	case err != nil || len(year) != 2:
		msg = t.BadExpiry
	case !banksim.ValidCVV(body.Value("cv2")):
		msg = t.BadCVV
	}
	if msg != "" {
		s.mu.Lock()
		a.stage = stageCard
		s.mu.Unlock()
		s.writeCardPage(w, r, a, msg)
		return
	}
	s.mu.Lock()
	a.pan, a.expMonth, a.expYear = pan, month, year
	a.outcome = banksim.CardOutcome(pan)
	if banksim.Expired(m, y, s.now()) {
		a.outcome = banksim.ExpiredCard
	}
	s.mu.Unlock()
	s.begin3DS(w, r, a)
}

// begin3DS runs the simulated directory/ACS: cards that are not enrolled or
// only attempt-capable come back at once; the others see the challenge.
func (s *Sim) begin3DS(w http.ResponseWriter, r *http.Request, a *attempt) {
	switch a.outcome {
	case banksim.NotEnrolled:
		s.finish3DS(w, r, a, "2", "")
	case banksim.HalfSecure:
		s.finish3DS(w, r, a, "4", "")
	default:
		s.mu.Lock()
		a.stage = stageChallenge
		s.mu.Unlock()
		s.writeChallengePage(w, r, a)
	}
}

func (s *Sim) handleChallengePage(w http.ResponseWriter, r *http.Request) {
	if a := s.waiting(r.PathValue("id"), stageChallenge); a != nil {
		s.writeChallengePage(w, r, a)
		return
	}
	banksim.WriteGone(w, "tr")
}

func (s *Sim) handleChallengeSubmit(w http.ResponseWriter, r *http.Request) {
	a, body := s.claim(w, r, stageChallenge, stageDone)
	if a == nil {
		return
	}
	switch {
	case body.Value("action") == "cancel":
		s.finish3DS(w, r, a, "0", "N-status/Cancelled by cardholder")
	case body.Value("code") == banksim.ChallengeCode && a.outcome != banksim.ThreeDSFail:
		s.finish3DS(w, r, a, "1", "")
	default:
		s.finish3DS(w, r, a, "0", "")
	}
}

// schemeID is the sID / dsId of a card scheme: 1 Visa, 2 MasterCard
// (§1.6); 3 for Troy is the simulator's choice.
func schemeID(brand string) string {
	switch brand {
	case "MASTERCARD":
		return "2"
	case "TROY":
		return "3"
	}
	return "1"
}

// newMD builds an md like "435508:<64 hex>:3827:##700655000200".
func (s *Sim) newMD(pan string) string {
	return fmt.Sprintf("%s:%s:%04d:##%s", pan[:6], strings.ToUpper(banksim.RandHex(32)), banksim.RandInt(10000), s.cfg.ClientID)
}

// finish3DS ends the 3-D step with mdStatus, authorises the payment for
// 3d_pay and 3d_pay_hosting, and sends the shopper back with the callback.
func (s *Sim) finish3DS(w http.ResponseWriter, r *http.Request, a *attempt, mdStatus, mdErrorMsg string) {
	now := s.now()
	brand := banksim.Brand(a.pan)
	acs := banksim.BaseURL(r) + ChallengePagePrefix + a.id
	var tx, eci, cavv string
	switch mdStatus {
	case "1":
		tx, eci, cavv = "Y", banksim.ECI(brand == "MASTERCARD", true), randCAVV()
		if mdErrorMsg == "" {
			mdErrorMsg = "Y-status/Challenge authentication via ACS: " + acs
		}
	case "2":
		tx, eci = "N", banksim.ECI(brand == "MASTERCARD", false)
		mdErrorMsg = "N-status/Card not enrolled in 3-D Secure"
	case "4":
		tx, eci, cavv = "A", banksim.ECI(brand == "MASTERCARD", false), randCAVV()
		mdErrorMsg = "A-status/Attempts processing performed"
	default:
		tx = "N"
		if mdErrorMsg == "" {
			mdErrorMsg = "N-status/Challenge authentication via ACS: " + acs
		}
	}
	s.mu.Lock()
	a.stage = stageDone
	a.mdStatus, a.txStatus, a.eci, a.cavv, a.mdErrorMsg = mdStatus, tx, eci, cavv, mdErrorMsg
	a.xid, a.md = banksim.RandB64(20), s.newMD(a.pan)
	a.masked = banksim.MaskGrouped(a.pan)
	a.mdUsed = a.pays() // the gateway itself pays with it, or it is free for provisioning
	s.byMD[a.md] = a
	s.mu.Unlock()

	f := s.threeDFields(a)
	to := a.failURL
	switch {
	case mdStatus == "1" && a.pays():
		if s.authorise(a, &f, now) {
			to = a.okURL
		}
	case mdStatus == "1":
		to = a.okURL
	}
	s.logf("3-D: oid=%q storetype=%s mdStatus=%s outcome=%s", a.oid, a.storeType, mdStatus, a.outcome)
	s.mu.Lock()
	a.wipeCard()
	s.mu.Unlock()
	s.sendCallback(w, to, f, a.lang)
}

// randCAVV looks like "ABABByBkEgAAAABllJMDdVWUGZE=".
func randCAVV() string { return banksim.RandCAVV(0x00, 0x10) }

// threeDFields builds a callback after the 3-D step (§1.6): the merchant's
// fields (minus hash, pan, cv2) and the MPI's.
func (s *Sim) threeDFields(a *attempt) banksim.Form {
	brand := banksim.Brand(a.pan)
	sid := schemeID(brand)
	f := echo(a.form)
	if a.pays() {
		f.Set("ReturnOid", a.oid)
	}
	f.Set("mdStatus", a.mdStatus)
	f.Set("mdErrorMsg", latin5(a.mdErrorMsg))
	f.Set("txstatus", a.txStatus)
	if a.eci != "" {
		f.Set("eci", a.eci)
	}
	if a.cavv != "" {
		f.Set("cavv", a.cavv)
		f.Set("cavvAlgorithm", "3")
	}
	f.Set("xid", a.xid)
	f.Set("md", a.md)
	f.Set("PAResSyntaxOK", "true")
	f.Set("PAResVerified", "true")
	f.Set("version", "2.0")
	f.Set("sID", sid)
	f.Set("dsId", sid)
	if a.pays() {
		f.Set("payResults_dsId", sid)
	}
	f.Set("merchantID", s.cfg.ClientID)
	f.Set("merchantName", latin5(s.cfg.MerchantName))
	f.Set("clientIp", a.clientIP)
	f.Set("maskedCreditCard", banksim.MaskGrouped(a.pan))
	f.Set("MaskedPan", banksim.MaskShort(a.pan))
	f.Set("Ecom_Payment_Card_ExpDate_Month", a.expMonth)
	f.Set("Ecom_Payment_Card_ExpDate_Year", a.expYear)
	f.Set("ACQBIN", "406456")
	f.Set("digest", "digest")
	f.Set("callbackCall", "true")
	f.Set("TRANID", "")
	f.Set("encoding", "ISO-8859-9")
	f.Set("rnd", banksim.RandB64(15))
	f.Set("NATIONALIDNO", "")
	return f
}

// saleTxn is the ledger record of an authorisation.
func (s *Sim) saleTxn(tranType string, amount int64, currency, taksit, maskedPAN string, outcome banksim.Outcome, now time.Time) banksim.Txn {
	t := banksim.Txn{
		Kind: banksim.KindSale, Status: banksim.TxnApproved, Amount: amount, Currency: currency,
		Installments: taksit, At: now, TransID: s.newTransID(now), MaskedPAN: maskedPAN,
		Outcome: outcome, ProcCode: "00",
	}
	if tranType == "PreAuth" {
		t.Kind = banksim.KindPreAuth
	}
	t.HostRef, _ = s.newHostRef(now)
	switch outcome {
	case banksim.InsufficientFunds, banksim.ExpiredCard, banksim.InvalidCard:
		t.Status, t.ProcCode = banksim.TxnDeclined, banksim.DeclineCode(outcome)
		t.ErrCode = issuerDeclines[t.ProcCode].Code
	default:
		t.AuthCode = newAuthCode()
		if t.Kind == banksim.KindSale {
			t.Captured, t.CapturedAt = amount, now
		}
	}
	return t
}

// authorise makes the payment of a 3d_pay / 3d_pay_hosting attempt after a
// successful 3-D step and adds the payment fields to the callback. It
// reports whether the callback goes to okUrl.
func (s *Sim) authorise(a *attempt, f *banksim.Form, now time.Time) bool {
	brand := banksim.Brand(a.pan)
	extraIDs := func() {
		f.Set("EXTRA.TRXDATE", trxDate(now))
		f.Set("EXTRA.HOSTDATE", hostDate(now.Add(time.Second)))
		f.Set("EXTRA.MERCHANTID", s.merchantNo())
		f.Set("EXTRA.TERMINALID", s.terminalNo())
	}
	payError := func(d errDef) bool {
		f.Set("Response", "Error")
		f.Set("ProcReturnCode", "99")
		f.Set("AuthCode", "")
		f.Set("TransId", s.newTransID(now))
		f.Set("HostRefNum", "")
		f.Set("ErrMsg", latin5(d.Msg))
		f.Set("ErrCode", d.Code)
		f.Set("SettleId", "")
		extraIDs()
		f.Set("EXTRA.ERRORCODE", d.Code)
		return false
	}
	if a.outcome == banksim.Timeout {
		// The acquirer never answered: nothing is recorded.
		return payError(authTimeout)
	}
	t := s.saleTxn(a.tranType, a.amount, a.currency, a.taksit, a.masked, a.outcome, now)
	t.MDStatus, t.ECI, t.CAVV, t.XID = a.mdStatus, a.eci, a.cavv, a.xid
	dup := false
	_ = s.ledger.Do(a.oid, func(h *banksim.History) error {
		if h.Sale() != nil {
			dup = true
			return nil
		}
		h.Append(t)
		return nil
	})
	if dup {
		return payError(gwDuplicate)
	}
	s.indexTxn(t.TransID, a.oid)
	if a.outcome == banksim.Malformed {
		// Recorded as approved, but the callback carries no payment result.
		return true
	}
	_, stan := s.newHostRef(now)
	f.Set("acqStan", stan)
	f.Set("TransId", t.TransID)
	f.Set("HostRefNum", t.HostRef)
	extraIDs()
	f.Set("EXTRA.CARDBRAND", brand)
	f.Set("EXTRA.CARDISSUER", latin5(cardIssuer))
	if t.Status == banksim.TxnDeclined {
		d := issuerDeclines[t.ProcCode]
		f.Set("Response", "Declined")
		f.Set("ProcReturnCode", t.ProcCode)
		f.Set("AuthCode", "")
		f.Set("ErrMsg", latin5(d.Msg))
		f.Set("ErrCode", d.Code)
		f.Set("SettleId", "")
		f.Set("EXTRA.ERRORCODE", d.Code)
		return false
	}
	f.Set("Response", "Approved")
	f.Set("ProcReturnCode", "00")
	f.Set("AuthCode", t.AuthCode)
	f.Set("ErrMsg", "")
	f.Set("SettleId", s.batch(now))
	f.Set("EXTRA.AVSAPPROVE", "Y")
	f.Set("EXTRA.AVSERRORCODEDETAIL", "avshatali-avshatali-avshatali-avshatali-")
	f.Set("EXTRA.KAZANILANPUAN", "000000000000")
	return true
}
