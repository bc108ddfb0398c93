package payfor

import (
	"net/http"
	"strings"
	"time"

	"github.com/posrelay/posrelay/banksim"
)

func (s *Sim) handleCardPage(w http.ResponseWriter, r *http.Request, id string) {
	if a := s.waiting(id, stageCard); a != nil {
		s.writeCardPage(w, r, a, "")
		return
	}
	banksim.WriteGone(w, "tr")
}

// waiting returns the attempt id if it is at stage st: showing its 3DHost
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
func (s *Sim) claim(w http.ResponseWriter, r *http.Request, id string, st, next stage) (*attempt, banksim.Form) {
	a := s.lookup(id)
	body, err := banksim.ReadForm(w, r)
	if err != nil || a == nil {
		banksim.WriteGone(w, "tr")
		return nil, nil
	}
	s.mu.Lock()
	if !a.at(st) {
		s.mu.Unlock()
		banksim.WriteGone(w, a.pageLang())
		return nil, nil
	}
	a.stage = next
	s.mu.Unlock()
	return a, body
}

// handleCardSubmit takes the 3DHost card page: a card number the bank
// cannot use ends the attempt with its refusal (M008, M041); a bad expiry
// or CVV shows the page again.
func (s *Sim) handleCardSubmit(w http.ResponseWriter, r *http.Request, id string) {
	a, body := s.claim(w, r, id, stageCard, stageChallenge) // reverted if the page is shown again
	if a == nil {
		return
	}
	pan := strings.ReplaceAll(body.Value("Pan"), " ", "")
	expiry, cvv := body.Value("Expiry"), body.Value("Cvv2")
	t := textsFor(a.pageLang())
	if ref := checkCard(pan, expiry, cvv); ref != nil {
		if ref.def == codePANLength || ref.def == codeBadPAN {
			s.mu.Lock()
			a.stage = stageDone
			s.mu.Unlock()
			s.countRefusal(ref.def.Code)
			s.logf("card page: OrderId=%q refused: %s", a.oid, ref.def.Code)
			s.sendRefusal(w, r, a.form, ref, a.clientIP)
			return
		}
		s.mu.Lock()
		a.stage = stageCard
		s.mu.Unlock()
		msg := t.BadExpiry
		if ref.def != codeExpiry {
			msg = t.BadCVV
		}
		s.writeCardPage(w, r, a, msg)
		return
	}
	s.mu.Lock()
	a.setCard(pan, expiry, s.now())
	if h := strings.TrimSpace(body.Value("CardHolderName")); h != "" {
		a.holder = h
	}
	s.mu.Unlock()
	s.begin3DS(w, r, a)
}

// begin3DS runs the simulated directory and ACS: a card that is not
// enrolled, or only attempt-capable, comes back at once; the others see the
// challenge.
func (s *Sim) begin3DS(w http.ResponseWriter, r *http.Request, a *attempt) {
	switch a.outcome {
	case banksim.NotEnrolled:
		a.notEnroll = true
		s.finish3DS(w, r, a, false, false)
	case banksim.HalfSecure:
		s.finish3DS(w, r, a, true, true)
	default:
		s.mu.Lock()
		a.stage = stageChallenge
		s.mu.Unlock()
		http.Redirect(w, r, banksim.BaseURL(r)+ChallengePagePrefix+a.id, http.StatusSeeOther)
	}
}

func (s *Sim) handleChallengePage(w http.ResponseWriter, r *http.Request, id string) {
	if a := s.waiting(id, stageChallenge); a != nil {
		s.writeChallengePage(w, r, a)
		return
	}
	banksim.WriteGone(w, "tr")
}

func (s *Sim) handleChallengeSubmit(w http.ResponseWriter, r *http.Request, id string) {
	a, body := s.claim(w, r, id, stageChallenge, stageDone)
	if a == nil {
		return
	}
	ok := body.Value("action") != "cancel" && body.Value("code") == banksim.ChallengeCode && a.outcome != banksim.ThreeDSFail
	s.finish3DS(w, r, a, ok, false)
}

// randCAVV looks like "AAABBCaIaIAoUkWEBYhoAAAAAAA=".
func randCAVV() string { return banksim.RandCAVV(0, 0, 1) }

// finish3DS ends the 3-D step (§2.6): for 3DModel the callback says
// 3DStatus 1 / V033 and the attempt waits for 3DModelPayment; for 3DPay and
// 3DHost the bank authorises at once. attemptOnly marks an attempt-level
// (half-secure) authentication.
func (s *Sim) finish3DS(w http.ResponseWriter, r *http.Request, a *attempt, ok, attemptOnly bool) {
	now := s.now()
	v := s.merchantValues(a.form, a.clientIP, banksim.BaseURL(r))
	s.mu.Lock()
	a.guid = s.newGUID()
	a.xid = b64([]byte(now.In(banksim.Turkey).Format("20060102150405") + banksim.RandHex(5)))
	if ok {
		a.status3D, a.eci, a.cavv = "1", banksim.ECI(a.cardType == "M", !attemptOnly), randCAVV()
	} else {
		a.status3D = "-1"
	}
	if a.holder != "" {
		v["CardHolderName"] = a.holder
	}
	a.stage = stageDone
	if ok && !a.pays() {
		a.stage = stagePayable
		s.byGUID[a.guid] = a
	}
	s.mu.Unlock()

	v["RequestGuid"] = a.guid
	v["TransactionDate"] = txnDate(now)
	v["PayerTxnId"], v["PayerAuthenticationCode"], v["Eci"] = a.xid, a.cavv, a.eci
	v["CardType"], v["DsBrand"] = a.cardType, a.cardType
	v["CardMask"] = a.masked
	v["Version"] = "2.2.0"
	v["ParesVerified"], v["ParesSyntaxOk"] = "true", "true"
	v["3DStatus"] = a.status3D
	v["BatchNo"] = s.batch(now)
	v["ReqId"] = s.newGUID()[8:]
	v["ReqDate"], v["SysDate"] = ymd(now), ymd(now)
	_, v["F11"] = s.newHostRef(now)
	v["MpiElapsedTime"] = "4"
	if a.cavv != "" {
		v["CavvAlg"] = "2"
	}
	to := a.failURL
	switch {
	case !ok:
		v["RequestStat"], v["D3Stat"], v["TxnStatus"], v["TxnResult"] = "1,4,5", "N", "N", "Failed"
		v["ParesSyntaxOk"] = "false"
		d := code3DFail // PF-F6
		if a.pays() {
			d = codeMR15 // PF-F9
		}
		v["ProcReturnCode"], v["ErrMsg"] = d.Code, code3DFail.Msg
		v["IrcCode"], v["IrcDet"] = codeMR15.Code, codeMR15.Msg
		if a.notEnroll {
			v["IrcDet"] = notEnrolledDet
		}
	case !a.pays():
		// PF-F4: authenticated, nothing paid yet.
		v["RequestStat"], v["D3Stat"], v["TxnStatus"], v["TxnResult"] = "1,3,5", "Y", "N", "Failed"
		v["ProcReturnCode"], v["ErrMsg"] = code3DOK.Code, code3DOK.Msg
		to = a.okURL
	default:
		v["RequestStat"], v["D3Stat"] = "1,3,10,5", "Y"
		if a.hosted() {
			v["RequestStat"] = "1,2,3,10,5"
		}
		if s.authorise(a, v, now) {
			to = a.okURL
		}
	}
	v["ReturnUrl"] = to
	s.logf("3-D: OrderId=%q SecureType=%s 3DStatus=%s ProcReturnCode=%s outcome=%s", a.oid, a.model, a.status3D, v["ProcReturnCode"], a.outcome)
	s.mu.Lock()
	a.pan = "" // the card is not needed any more
	s.mu.Unlock()
	s.sendCallback(w, to, v, a.pageLang())
}

// saleTxn is the ledger record of an authorisation.
func (s *Sim) saleTxn(a *attempt, now time.Time) banksim.Txn {
	t := banksim.Txn{
		Kind: banksim.KindSale, Status: banksim.TxnApproved, Amount: a.amount, Currency: a.currency,
		Installments: a.inst, At: now, TransID: a.oid, MaskedPAN: a.masked, Outcome: a.outcome, ProcCode: "00",
		ECI: a.eci, CAVV: a.cavv, XID: a.xid, MDStatus: a.status3D,
	}
	if a.txnType == "PreAuth" {
		t.Kind = banksim.KindPreAuth
	}
	t.HostRef, _ = s.newHostRef(now)
	switch a.outcome {
	case banksim.InsufficientFunds, banksim.ExpiredCard, banksim.InvalidCard:
		t.Status, t.ProcCode = banksim.TxnDeclined, banksim.DeclineCode(a.outcome)
	default:
		t.AuthCode = newAuthCode()
		if t.Kind == banksim.KindSale {
			t.Captured, t.CapturedAt = a.amount, now
		}
	}
	return t
}

// sale is what the simulator remembers of an order's authorisation beyond
// the ledger: for OrderInquiry and TxnHistory.
type sale struct {
	guid, holder, model, lang, ip string
}

// book records an attempt's authorisation in the ledger unless the order
// has one already; it reports the transaction and whether it was recorded.
func (s *Sim) book(a *attempt, now time.Time) (banksim.Txn, bool) {
	t := s.saleTxn(a, now)
	booked := false
	_ = s.record(a.oid, func(h *banksim.History) error {
		if len(h.Txns) == 0 {
			h.Append(t)
			booked = true
		}
		return nil
	})
	if booked {
		s.mu.Lock()
		s.sales[a.oid] = sale{guid: a.guid, holder: a.holder, model: a.model, lang: a.lang, ip: a.clientIP}
		s.mu.Unlock()
	}
	return t, booked
}

// authorise pays a 3DPay / 3DHost attempt after a successful 3-D step and
// adds the payment result to the callback values. It reports whether the
// callback goes to OkUrl.
func (s *Sim) authorise(a *attempt, v map[string]string, now time.Time) bool {
	t, booked := s.book(a, now)
	fail := func(d errDef) bool {
		v["TxnStatus"], v["TxnResult"] = "N", "Failed"
		v["ProcReturnCode"], v["ErrMsg"] = d.Code, d.Msg
		return false
	}
	switch {
	case !booked:
		return fail(codeDuplicate)
	case t.Status == banksim.TxnDeclined:
		v["HostRefNum"] = t.HostRef
		return fail(issuerDeclines[t.ProcCode])
	case a.outcome == banksim.Timeout:
		// Recorded as approved; the host's answer came too late.
		return fail(codePending)
	case a.outcome == banksim.Malformed:
		// Recorded as approved, but the callback carries no payment result.
		v["TxnStatus"] = "Y"
		return true
	}
	v["TxnStatus"], v["TxnResult"] = "Y", "Success"
	v["ProcReturnCode"], v["ErrMsg"] = codeOK.Code, codeOK.Msg
	v["AuthCode"], v["HostRefNum"], v["RRN"], v["F37"] = t.AuthCode, t.HostRef, t.HostRef, t.HostRef
	v["MerchantCountryCode"] = "TR"
	return true
}
