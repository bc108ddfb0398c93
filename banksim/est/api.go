package est

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/posrelay/posrelay/banksim"
)

// apiKinds are the CC5Request types the simulator serves; queries are
// named after their Extra element.
var apiKinds = map[string]bool{"Auth": true, "PreAuth": true, "PostAuth": true, "Void": true, "Credit": true}

// apiKind names a request for the counters and the dispatch: ORDERSTATUS or
// ORDERHISTORY for queries, else its Type if known, else "".
func apiKind(req *cc5Request) string {
	switch {
	case strings.EqualFold(req.Extra["ORDERSTATUS"], "QUERY"):
		return "ORDERSTATUS"
	case strings.EqualFold(req.Extra["ORDERHISTORY"], "QUERY"):
		return "ORDERHISTORY"
	case apiKinds[req.get("Type")]:
		return req.get("Type")
	}
	return ""
}

func (s *Sim) handleAPI(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	body, err := banksim.ReadBody(w, r, maxXMLBytes)
	var req *cc5Request
	if err == nil {
		req, err = parseCC5Request(body, r.Header.Get("Content-Type"))
	}
	if err != nil {
		s.countAPI("", "")
		s.logf("api: unreadable request: %v", err)
		writeXML(w, s.errorAnswer("", s.newTransID(now), apiBadXML, now))
		return
	}
	kind, oid := apiKind(req), req.get("OrderId")
	s.countAPI(kind, oid)
	if req.get("Name") != s.cfg.APIUser || req.get("Password") != s.cfg.APIPassword || req.get("ClientId") != s.cfg.ClientID {
		s.logf("api: %s oid=%q refused: bad credentials", kind, oid)
		writeXML(w, s.errorAnswer("", "", apiAuth, now))
		return
	}
	s.logf("api: %s oid=%q", kind, oid)
	switch kind {
	case "ORDERSTATUS":
		writeXML(w, s.orderStatus(oid, now))
	case "ORDERHISTORY":
		writeXML(w, s.orderHistory(oid, now))
	case "Auth", "PreAuth":
		s.apiPay(w, r, req, kind, now)
	case "PostAuth":
		writeXML(w, s.apiPostAuth(req, now))
	case "Void":
		writeXML(w, s.apiVoid(req, now))
	case "Credit":
		writeXML(w, s.apiCredit(req, now))
	default:
		d := apiBadType
		if req.get("Type") == "" {
			d = apiNoType
		}
		writeXML(w, s.errorAnswer(oid, s.newTransID(now), d, now))
	}
}

func writeXML(w http.ResponseWriter, elems []xmlElem) {
	banksim.WriteBody(w, "text/xml;charset=ISO-8859-9", renderCC5(elems))
}

// numCode is Extra/NUMCODE of an error: "99" and the CORE number
// ("CORE-2008" → "992008"), as in EST-F2/F7/F17/F20.
func numCode(code string) string {
	if n, ok := strings.CutPrefix(code, "CORE-"); ok {
		return "99" + n
	}
	return "99"
}

// errorAnswer is a ProcReturnCode 99 answer (EST-F2, F7, F17, F20).
func (s *Sim) errorAnswer(oid, transID string, d errDef, now time.Time) []xmlElem {
	return []xmlElem{
		el("OrderId", oid), el("GroupId", oid), el("Response", "Error"), el("AuthCode", ""), el("HostRefNum", ""),
		el("ProcReturnCode", "99"), el("TransId", transID), el("ErrMsg", d.Msg),
		extra(el("SETTLEID", ""), el("TRXDATE", trxDate(now)), el("ERRORCODE", d.Code), el("NUMCODE", numCode(d.Code))),
	}
}

// approvedAnswer is an approved payment, capture or void (EST-F1, F6, F16).
func (s *Sim) approvedAnswer(oid, authCode, hostRef, transID, maskedPAN string, now time.Time) []xmlElem {
	return []xmlElem{
		el("OrderId", oid), el("GroupId", oid), el("Response", "Approved"), el("AuthCode", authCode),
		el("HostRefNum", hostRef), el("ProcReturnCode", "00"), el("TransId", transID), el("ErrMsg", ""),
		extra(
			el("SETTLEID", s.batch(now)), el("TRXDATE", trxDate(now)), el("ERRORCODE", ""),
			el("TERMINALID", s.terminalNo()), el("MERCHANTID", s.merchantNo()),
			el("CARDBRAND", banksim.Brand(maskedPAN)), xmlElem{Name: "CARDISSUER", Value: cardIssuer, CharRefs: true},
			el("AVSAPPROVE", "Y"), el("HOSTDATE", hostDate(now.Add(time.Second))),
			el("AVSERRORCODEDETAIL", "avshatali-avshatali-avshatali-avshatali-"), el("NUMCODE", "00"),
		),
	}
}

// declinedAnswer is an issuer decline (EST-F8).
func (s *Sim) declinedAnswer(t *banksim.Txn, oid string, now time.Time) []xmlElem {
	d := issuerDeclines[t.ProcCode]
	_, stan := s.newHostRef(now)
	return []xmlElem{
		el("OrderId", oid), el("GroupId", oid), el("Response", "Declined"), el("HostRefNum", t.HostRef),
		el("ProcReturnCode", t.ProcCode), el("TransId", t.TransID), el("ErrMsg", d.Msg),
		extra(
			el("CARDBRAND", banksim.Brand(t.MaskedPAN)), xmlElem{Name: "CARDISSUER", Value: cardIssuer, CharRefs: true},
			el("ERRORCODE", d.Code), el("TRXDATE", trxDate(now)), el("ACQSTAN", stan),
			el("TRACEID", banksim.RandHex(16)), el("NUMCODE", t.ProcCode),
		),
	}
}

// provisionable: mdStatus values a 3-D provisioning may use. 1 is full 3-D;
// 2–4 are half-secure, which the merchant may still choose to charge.
func provisionable(mdStatus string) bool {
	return mdStatus >= "1" && mdStatus <= "4" && len(mdStatus) == 1
}

// apiPay serves Auth and PreAuth: provisioning after a 3d / 3d_host
// callback (§1.7.1, Number = md) or a non-secure payment (§1.7.2).
func (s *Sim) apiPay(w http.ResponseWriter, r *http.Request, req *cc5Request, kind string, now time.Time) {
	oid := req.get("OrderId")
	number := strings.ReplaceAll(req.get("Number"), " ", "")
	threeD := strings.Contains(number, ":") || req.has("PayerTxnId") || req.has("PayerAuthenticationCode")
	if oid == "" && !threeD {
		oid = "SIM" + strings.ToUpper(banksim.RandHex(8)) // the gateway names the order itself
	}
	answer := func(d errDef) { writeXML(w, s.errorAnswer(oid, s.newTransID(now), d, now)) }
	amount, err := banksim.ParseAmount(req.get("Total"))
	switch {
	case err != nil:
		answer(apiAmount)
		return
	case amount == 0:
		answer(apiZeroAmount)
		return
	}
	cur := req.get("Currency")
	if banksim.CurrencyAlpha(cur) == "" {
		answer(apiCurrency)
		return
	}
	taksit := req.get("Taksit")
	if !banksim.ValidInstallments(taksit) {
		answer(apiInstallment)
		return
	}
	var (
		masked  string
		outcome banksim.Outcome
		a       *attempt
	)
	if threeD {
		var bad *errDef
		s.mu.Lock()
		a = s.byMD[number]
		switch {
		case a == nil:
			bad = &apiMDMismatch
		case a.mdUsed:
			bad = &apiMDReused
		case a.oid != oid || a.amount != amount:
			bad = &apiMDMismatch
		case a.currency != cur:
			bad = &apiCurrencyMis
		case !provisionable(a.mdStatus):
			bad = &apiMDStatus
		case req.get("PayerTxnId") != a.xid || req.get("PayerSecurityLevel") != a.eci || req.get("PayerAuthenticationCode") != a.cavv:
			bad = &apiMDMismatch
		default:
			a.mdUsed = true // claimed; released if the order turns out to be paid already
			masked, outcome = a.masked, a.outcome
		}
		s.mu.Unlock()
		if bad != nil {
			answer(*bad)
			return
		}
	} else {
		switch {
		case number == "":
			answer(apiNoCard)
			return
		case !banksim.ValidPAN(number):
			answer(apiCardFormat)
			return
		}
		mm, yy, ok := strings.Cut(req.get("Expires"), "/")
		m, y, err := banksim.ParseExpiry(mm, yy)
		if !ok || err != nil || len(yy) != 2 {
			answer(apiExpiry)
			return
		}
		if !banksim.ValidCVV(req.get("Cvv2Val")) {
			answer(apiCVV)
			return
		}
		masked, outcome = banksim.MaskGrouped(number), banksim.CardOutcome(number)
		if banksim.Expired(m, y, now) {
			outcome = banksim.ExpiredCard
		}
	}
	t := s.saleTxn(kind, amount, cur, taksit, masked, outcome, now)
	if a != nil {
		t.MDStatus, t.ECI, t.CAVV, t.XID = a.mdStatus, a.eci, a.cavv, a.xid
	}
	dup := false
	_ = s.ledger.Do(oid, func(h *banksim.History) error {
		if dup = h.Sale() != nil; !dup {
			h.Append(t)
		}
		return nil
	})
	if dup {
		if a != nil {
			s.mu.Lock()
			a.mdUsed = false
			s.mu.Unlock()
		}
		answer(apiDuplicate)
		return
	}
	s.indexTxn(t.TransID, oid)
	switch {
	case t.Status == banksim.TxnDeclined:
		writeXML(w, s.declinedAnswer(&t, oid, now))
	case outcome == banksim.Timeout:
		// The sale is recorded; the answer never comes (only ORDERSTATUS tells).
		s.logf("api: %s oid=%q approved, answer withheld (timeout card)", kind, oid)
		s.hold.Hang(r.Context(), s.cfg.HangFor)
		panic(http.ErrAbortHandler)
	case outcome == banksim.Malformed:
		s.logf("api: %s oid=%q approved, answer mangled (malformed card)", kind, oid)
		if s.cfg.MalformedXML {
			full := renderCC5(s.approvedAnswer(oid, t.AuthCode, t.HostRef, t.TransID, masked, now))
			banksim.WriteBody(w, "text/xml;charset=ISO-8859-9", full[:len(full)*3/5])
			return
		}
		banksim.WriteBody(w, "text/html", banksim.WAFPage(fmt.Sprintf("%019d", banksim.RandInt(int64(1e18)))))
	default:
		writeXML(w, s.approvedAnswer(oid, t.AuthCode, t.HostRef, t.TransID, masked, now))
	}
}

// apiPostAuth captures a pre-authorisation (§1.7.3). An empty Total
// captures the full amount; more than the pre-authorised amount needs
// Extra/PREAMT equal to it.
func (s *Sim) apiPostAuth(req *cc5Request, now time.Time) []xmlElem {
	oid := req.get("OrderId")
	transID := s.newTransID(now)
	var amount int64
	if tot := req.get("Total"); tot != "" {
		var err error
		if amount, err = banksim.ParseAmount(tot); err != nil {
			return s.errorAnswer(oid, transID, apiAmount, now)
		}
	}
	preAmt, preErr := banksim.ParseAmount(req.Extra["PREAMT"])
	var (
		t   *banksim.Txn
		err error
	)
	_ = s.ledger.Do(oid, func(h *banksim.History) error {
		sale := h.Sale()
		stated := preErr == nil && sale != nil && sale.Amount == preAmt
		t, err = h.Capture(amount, req.get("Currency"), stated, now)
		return nil
	})
	switch {
	case errors.Is(err, banksim.ErrNotPreAuth):
		return s.errorAnswer(oid, transID, apiNotPreAuth, now)
	case errors.Is(err, banksim.ErrAlreadyCapture):
		return s.errorAnswer(oid, transID, apiCaptured, now)
	case errors.Is(err, banksim.ErrExceedsPreAuth):
		return s.errorAnswer(oid, transID, apiOverPreAuth, now)
	case errors.Is(err, banksim.ErrCurrency):
		return s.errorAnswer(oid, transID, apiCurrencyMis, now)
	case err != nil:
		return s.errorAnswer(oid, transID, apiNoPreAuth, now)
	}
	hostRef, _ := s.newHostRef(now)
	s.indexTxn(transID, oid)
	return s.approvedAnswer(oid, t.AuthCode, hostRef, transID, t.MaskedPAN, now)
}

// apiVoid cancels the order's newest approved transaction before end of
// day (§1.7.4). The order may be named by OrderId or by a TransId.
func (s *Sim) apiVoid(req *cc5Request, now time.Time) []xmlElem {
	oid := req.get("OrderId")
	if tid := req.get("TransId"); oid == "" && tid != "" {
		s.mu.Lock()
		oid = s.byTrans[tid]
		s.mu.Unlock()
	}
	transID := s.newTransID(now)
	var (
		t   *banksim.Txn
		err error
	)
	_ = s.ledger.Do(oid, func(h *banksim.History) error {
		t, err = h.Void(now)
		return nil
	})
	switch {
	case errors.Is(err, banksim.ErrSettled):
		return s.errorAnswer(oid, transID, apiVoidSettled, now)
	case err != nil:
		return s.errorAnswer("", transID, apiNoVoid, now) // EST-F17: no OrderId
	}
	hostRef, _ := s.newHostRef(now)
	return []xmlElem{
		el("OrderId", oid), el("GroupId", oid), el("Response", "Approved"), el("AuthCode", t.AuthCode),
		el("HostRefNum", hostRef), el("ProcReturnCode", "00"), el("TransId", transID), el("ErrMsg", ""),
		extra(
			el("SETTLEID", s.batch(now)), el("TRXDATE", trxDate(now)), el("ERRORCODE", ""),
			el("TERMINALID", s.terminalNo()), el("MERCHANTID", s.merchantNo()),
			el("CARDBRAND", banksim.Brand(t.MaskedPAN)), xmlElem{Name: "CARDISSUER", Value: cardIssuer, CharRefs: true},
			el("HOSTDATE", hostDate(now.Add(time.Second))), el("NUMCODE", "00"),
		),
	}
}

// apiCredit refunds all or part of a settled sale (§1.7.5). Refused
// refunds of a known order are kept in its history, as EST-F22 shows.
func (s *Sim) apiCredit(req *cc5Request, now time.Time) []xmlElem {
	oid := req.get("OrderId")
	transID := s.newTransID(now)
	amount, err := banksim.ParseAmount(req.get("Total"))
	switch {
	case err != nil:
		return s.errorAnswer(oid, transID, apiAmount, now)
	case amount == 0:
		return s.errorAnswer(oid, transID, apiZeroAmount, now)
	}
	cur := req.get("Currency")
	var (
		rec   *banksim.Txn
		cerr  = banksim.ErrNoSale
		known bool
	)
	_ = s.ledger.Do(oid, func(h *banksim.History) error {
		sale := h.Sale()
		if sale == nil {
			return nil
		}
		known = true
		cerr = h.CheckRefund(amount, cur, now)
		t := banksim.Txn{
			Kind: banksim.KindRefund, Status: banksim.TxnApproved, Amount: amount, Captured: amount,
			Currency: sale.Currency, At: now, CapturedAt: now, TransID: transID, MaskedPAN: sale.MaskedPAN, ProcCode: "00",
		}
		switch {
		case cerr == nil:
			t.AuthCode = newAuthCode()
			t.HostRef, _ = s.newHostRef(now)
		case errors.Is(cerr, banksim.ErrZeroNet):
			t.Status, t.ProcCode, t.ErrCode = banksim.TxnDeclined, "", apiZeroNet.Code
			t.HostRef, _ = s.newHostRef(now)
		default:
			t.Status, t.ProcCode = banksim.TxnDeclined, "99"
		}
		rec = h.Append(t)
		return nil
	})
	if known {
		s.indexTxn(transID, oid)
	}
	switch {
	case !known:
		return s.errorAnswer(oid, transID, apiNoRefund, now)
	case errors.Is(cerr, banksim.ErrZeroNet):
		// EST-F21: Declined, no ProcReturnCode.
		return []xmlElem{
			el("OrderId", oid), el("Response", "Declined"), el("HostRefNum", rec.HostRef), el("TransId", transID),
			el("ErrMsg", apiZeroNet.Msg),
			extra(el("TRXDATE", trxDate(now)), el("TRACEID", banksim.RandHex(16)), el("ERRORCODE", apiZeroNet.Code)),
		}
	case errors.Is(cerr, banksim.ErrCurrency):
		rec.ErrCode = apiCurrencyMis.Code
		return s.errorAnswer(oid, transID, apiCurrencyMis, now)
	case errors.Is(cerr, banksim.ErrExceedsNet):
		rec.ErrCode = apiOverRefund.Code
		return s.errorAnswer(oid, transID, apiOverRefund, now)
	case cerr != nil:
		rec.ErrCode = apiNotSettled.Code
		return s.errorAnswer(oid, transID, apiNotSettled, now)
	}
	_, stan := s.newHostRef(now)
	// EST-F19 (with its top-level ERRORCODE).
	return []xmlElem{
		el("OrderId", oid), el("GroupId", oid), el("Response", "Approved"), el("AuthCode", rec.AuthCode),
		el("HostRefNum", rec.HostRef), el("ProcReturnCode", "00"), el("TransId", transID), el("ErrMsg", ""),
		el("ERRORCODE", ""),
		extra(
			el("KULLANILANPUAN", "000000000000"), el("CARDBRAND", banksim.Brand(rec.MaskedPAN)),
			el("TRXDATE", trxDate(now)), el("KULLANILABILIRPUAN", "000000000000"), el("ACQSTAN", stan),
			el("KAZANILANPUAN", "000000000000"), el("TRACEID", banksim.RandHex(16)), el("NUMCODE", "00"), el("SETTLEID", ""),
		),
	}
}

// transStat is ORDERSTATUS TRANS_STAT / ORDERHISTORY [1]: D declined,
// V voided, A authorised (a sale before end of day, an open pre-auth),
// C captured (a settled sale, a captured pre-auth, a refund).
func transStat(t *banksim.Txn, now time.Time) string {
	switch {
	case t.Status == banksim.TxnDeclined:
		return "D"
	case t.Status == banksim.TxnVoided:
		return "V"
	case t.Kind == banksim.KindRefund:
		return "C"
	case t.Kind == banksim.KindPreAuth && !t.CapturedAt.IsZero():
		return "C"
	case t.Settled(now):
		return "C"
	}
	return "A"
}

func chargeType(t *banksim.Txn) string {
	if t.Kind == banksim.KindRefund {
		return "C"
	}
	return "S"
}

func captureAmt(t *banksim.Txn) string {
	if t.CapturedAt.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.Captured, 10)
}

// orderStatus answers ORDERSTATUS (§1.7.6, EST-F11…F14) with the order's
// newest successful transaction (or its newest one if none succeeded).
func (s *Sim) orderStatus(oid string, now time.Time) []xmlElem {
	o, ok := s.ledger.Order(oid, now)
	if !ok || len(o.Txns) == 0 {
		return []xmlElem{
			el("ErrMsg", "No record found for "+oid), el("ProcReturnCode", "99"), el("Response", "Declined"),
			el("OrderId", ""), el("TransId", ""),
			extra(el("NUMCODE", "0"), el("ORDERSTATUS", "ORD_ID:\tCHARGE_TYPE_CD:\tORIG_TRANS_AMT:\tCAPTURE_AMT:\tTRANS_STAT:\tAUTH_DTTM:\tCAPTURE_DTTM:\tAUTH_CODE:")),
		}
	}
	t := &o.Txns[len(o.Txns)-1]
	for i := len(o.Txns) - 1; i >= 0; i-- {
		if o.Txns[i].ProcCode == "00" {
			t = &o.Txns[i]
			break
		}
	}
	stat := transStat(t, now)
	settle := ""
	if t.Settled(now) {
		settle = s.batch(t.CapturedAt)
	}
	summary := fmt.Sprintf("ORD_ID:%s\tCHARGE_TYPE_CD:%s\tORIG_TRANS_AMT:%d\tCAPTURE_AMT:%s\tTRANS_STAT:%s\tAUTH_DTTM:%s\tCAPTURE_DTTM:%s\tAUTH_CODE:%s\tTRANS_ID:%s",
		oid, chargeType(t), t.Amount, captureAmt(t), stat, dttm(t.At), dttm(t.CapturedAt), t.AuthCode, t.TransID)
	kids := []xmlElem{
		el("AUTH_CODE", t.AuthCode), el("AUTH_DTTM", dttm(t.At)), el("CAPTURE_AMT", captureAmt(t)),
		el("CAPTURE_DTTM", dttm(t.CapturedAt)), el("CAVV_3D", t.CAVV), el("CHARGE_TYPE_CD", chargeType(t)),
		el("ECI_3D", t.ECI), el("HOSTDATE", hostDate(t.At.Add(time.Second))), el("HOST_REF_NUM", t.HostRef),
		el("MDSTATUS", t.MDStatus), el("NUMCODE", "0"), el("ORDERSTATUS", summary), el("ORD_ID", oid),
		el("ORIG_TRANS_AMT", strconv.FormatInt(t.Amount, 10)), el("PAN", t.MaskedPAN), el("PROC_RET_CD", t.ProcCode),
		el("SETTLEID", settle), el("TRANS_ID", t.TransID), el("TRANS_STAT", stat),
	}
	if !t.VoidedAt.IsZero() {
		kids = append(kids, el("VOID_DTTM", dttm(t.VoidedAt)))
	}
	kids = append(kids, el("XID_3D", t.XID))
	return []xmlElem{
		el("ErrMsg", "Record(s) found for "+oid), el("ProcReturnCode", "00"), el("Response", "Approved"),
		el("OrderId", oid), el("TransId", t.TransID), extra(kids...),
	}
}

// orderHistory answers ORDERHISTORY (§1.7.7, EST-F22): every transaction,
// newest first, TAB-separated.
func (s *Sim) orderHistory(oid string, now time.Time) []xmlElem {
	o, ok := s.ledger.Order(oid, now)
	if !ok || len(o.Txns) == 0 {
		// [sim] The document has no not-found sample; shaped like EST-F12.
		return []xmlElem{
			el("ErrMsg", "No record found for "+oid), el("ProcReturnCode", "99"), el("Response", "Declined"),
			el("OrderId", ""), extra(el("NUMCODE", "0"), el("TRXCOUNT", "0")),
		}
	}
	kids := []xmlElem{el("TERMINALID", s.terminalNo()), el("MERCHANTID", s.merchantNo()), el("NUMCODE", "0")}
	n := len(o.Txns)
	for i := range n {
		t := &o.Txns[n-1-i]
		kids = append(kids, el(fmt.Sprintf("TRX%d", i+1), strings.Join([]string{
			chargeType(t), transStat(t, now), strconv.FormatInt(t.Amount, 10), captureAmt(t),
			dttm(t.At), dttm(t.CapturedAt), dttm(t.VoidedAt), t.HostRef, t.AuthCode, t.ProcCode, t.TransID,
		}, "\t")))
	}
	kids = append(kids, el("TRXCOUNT", strconv.Itoa(n)))
	return []xmlElem{
		el("ErrMsg", ""), el("ProcReturnCode", "00"), el("Response", "Approved"), el("OrderId", oid), extra(kids...),
	}
}
