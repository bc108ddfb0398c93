package payfor

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/posrelay/posrelay/banksim"
)

// secureTypes is the SecureType each XMLGate TxnType needs (§2.3, §2.7).
var secureTypes = map[string]string{
	"Auth": "NonSecure", "PreAuth": "NonSecure", "PostAuth": "NonSecure", "Void": "NonSecure", "Refund": "NonSecure",
	"OrderInquiry": "Inquiry", "TxnHistory": "Report",
}

// apiKind names a request for the counters and the dispatch:
// "3DModelPayment" by its SecureType, else a known TxnType, else "".
func apiKind(req map[string]string) string {
	if req["SecureType"] == "3DModelPayment" {
		return "3DModelPayment"
	}
	if _, ok := secureTypes[req["TxnType"]]; ok {
		return req["TxnType"]
	}
	return ""
}

// orderOf is the order a request is about: OrderId, or OrgOrderId for the
// calls that name the original order so.
func orderOf(req map[string]string) string {
	if o := req["OrgOrderId"]; o != "" {
		return o
	}
	return req["OrderId"]
}

func (s *Sim) handleAPI(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	body, err := banksim.ReadBody(w, r, maxXMLBytes)
	if !s.allowed(r) {
		s.countXML("", "")
		s.countRefusal(codeIPRestrict.Code)
		s.logf("xml: refused from %s: M047", clientIP(r))
		writeXML(w, s.errorAnswer("", codeIPRestrict, now))
		return
	}
	var req map[string]string
	if err == nil {
		req, err = parsePayforRequest(body)
	}
	if err != nil {
		s.countXML("", "")
		s.countRefusal(codeEmpty.Code)
		s.logf("xml: unreadable request: %v", err)
		writeXML(w, s.errorAnswer("", codeEmpty, now))
		return
	}
	kind, oid := apiKind(req), orderOf(req)
	s.countXML(kind, oid)
	s.logf("xml: %s OrderId=%q", kind, oid)
	refuse := func(d errDef) {
		s.countRefusal(d.Code)
		writeXML(w, s.errorAnswer(oid, d, now))
	}
	if kind == "3DModelPayment" {
		s.api3DModelPayment(w, r, req, now)
		return
	}
	switch {
	case req["MbrId"] == "":
		refuse(codeNoMbrID)
		return
	case req["MerchantId"] == "":
		refuse(codeNoMerchant)
		return
	case req["UserCode"] == "":
		refuse(codeNoUser)
		return
	case req["UserPass"] == "":
		refuse(codeNoPass)
		return
	case req["MbrId"] != s.cfg.MbrID || req["MerchantId"] != s.cfg.MerchantID:
		refuse(codeMerchant)
		return
	case req["UserCode"] != s.cfg.UserCode || req["UserPass"] != s.cfg.UserPass:
		refuse(codeUser)
		return
	case kind == "":
		refuse(codeTxnType)
		return
	case req["SecureType"] != secureTypes[kind]:
		refuse(codeSecureTxn)
		return
	case kind != "TxnHistory" && kind != "Auth" && kind != "PreAuth" && req["OrgOrderId"] == "":
		refuse(codeNoOrder)
		return
	}
	var answer []kv
	switch kind {
	case "Auth", "PreAuth":
		s.apiNonSecure(w, r, req, kind, now)
		return
	case "PostAuth":
		answer = s.apiPostAuth(req, now)
	case "Void":
		answer = s.apiVoid(req, now)
	case "Refund":
		answer = s.apiRefund(req, now)
	case "OrderInquiry":
		answer = s.orderInquiry(req["OrgOrderId"], now)
	case "TxnHistory":
		writeRaw(w, renderHistory(s.txnHistory(req["OrderId"], req["ReqDate"], now)))
		return
	}
	if c := answerCode(answer); c != "00" && c != "" {
		s.countRefusal(c)
	}
	writeXML(w, answer)
}

func answerCode(elems []kv) string {
	for _, e := range elems {
		if e.k == "ProcReturnCode" {
			return e.v
		}
	}
	return ""
}

func writeXML(w http.ResponseWriter, elems []kv) { writeRaw(w, renderResponse(elems)) }

func writeRaw(w http.ResponseWriter, body []byte) {
	banksim.WriteBody(w, "text/xml; charset=utf-8", body)
}

// paymentAnswer is a payment, void or refund answer (PF-F1, the serializer
// sample of §2.7).
func paymentAnswer(authCode, hostRef, code, transID, msg, holder string) []kv {
	return []kv{
		{"AuthCode", authCode}, {"HostRefNum", hostRef}, {"ProcReturnCode", code}, {"TransId", transID},
		{"ErrMsg", msg}, {"CardHolderName", holder}, {"ArtiTaksit", "0"}, {"BankInternalResponseMessage", ""},
		{"PAYFORFROMXMLREQUEST", "1"}, {"SESSION_SYSTEM_USER", "0"},
	}
}

// errorAnswer is a refused call (PF-F2, PF-F3, PF-F14, PF-F15).
func (s *Sim) errorAnswer(oid string, d errDef, now time.Time) []kv {
	ref, _ := s.newHostRef(now)
	return paymentAnswer("", ref, d.Code, oid, d.Msg, "")
}

// api3DModelPayment provisions an authenticated 3DModel attempt (§2.7): no
// account block; the RequestGuid of the callback and the same OrderId
// (V036 otherwise, issue #283).
func (s *Sim) api3DModelPayment(w http.ResponseWriter, r *http.Request, req map[string]string, now time.Time) {
	oid := req["OrderId"]
	refuse := func(d errDef) {
		s.countRefusal(d.Code)
		writeXML(w, s.errorAnswer(oid, d, now))
	}
	if req["UserCode"] != s.cfg.UserCode || req["UserPass"] != s.cfg.UserPass {
		refuse(codeUser)
		return
	}
	var bad *errDef
	s.mu.Lock()
	a := s.byGUID[req["RequestGuid"]]
	switch {
	case a == nil:
		bad = &codeNotFound
	case a.oid != oid:
		bad = &codeSystem
	case a.paid:
		bad = &codeDuplicate
	default:
		a.paid = true
	}
	s.mu.Unlock()
	if bad != nil {
		refuse(*bad)
		return
	}
	t, booked := s.book(a, now)
	s.pay(w, r, a.oid, a.holder, t, booked, a.outcome)
}

// pay answers an authorisation by the card's outcome.
func (s *Sim) pay(w http.ResponseWriter, r *http.Request, oid, holder string, t banksim.Txn, booked bool, outcome banksim.Outcome) {
	now := t.At
	switch {
	case !booked:
		s.countRefusal(codeDuplicate.Code)
		writeXML(w, s.errorAnswer(oid, codeDuplicate, now))
	case t.Status == banksim.TxnDeclined:
		d := issuerDeclines[t.ProcCode]
		s.countRefusal(d.Code)
		writeXML(w, paymentAnswer("", t.HostRef, d.Code, oid, d.Msg, holder))
	case outcome == banksim.Timeout:
		// The sale is recorded; the answer never comes (only OrderInquiry tells).
		s.logf("xml: OrderId=%q approved, answer withheld (timeout card)", oid)
		s.hold.Hang(r.Context(), s.cfg.HangFor)
		panic(http.ErrAbortHandler)
	case outcome == banksim.Malformed:
		s.logf("xml: OrderId=%q approved, answer mangled (malformed card)", oid)
		if s.cfg.MalformedXML {
			full := renderResponse(paymentAnswer(t.AuthCode, t.HostRef, "00", oid, codeOK.Msg, holder))
			writeRaw(w, full[:len(full)*3/5])
			return
		}
		banksim.WriteBody(w, "text/html", banksim.WAFPage(fmt.Sprintf("%019d", banksim.RandInt(int64(1e18)))))
	default:
		writeXML(w, paymentAnswer(t.AuthCode, t.HostRef, "00", oid, codeOK.Msg, holder))
	}
}

// apiNonSecure serves a NonSecure Auth or PreAuth (§2.7): the card in the
// request, no 3-D. The card's 3-D outcomes do not apply.
func (s *Sim) apiNonSecure(w http.ResponseWriter, r *http.Request, req map[string]string, kind string, now time.Time) {
	oid := req["OrderId"]
	refuse := func(d errDef) {
		s.countRefusal(d.Code)
		writeXML(w, s.errorAnswer(oid, d, now))
	}
	if oid == "" {
		refuse(codeNoOrder)
		return
	}
	amount, err := banksim.ParseAmount(req["PurchAmount"])
	switch {
	case err != nil:
		refuse(codeAmount)
		return
	case amount == 0:
		refuse(codeZeroAmount)
		return
	case amount > 200_000_00:
		refuse(codeAmountRange)
		return
	case req["Currency"] == "":
		refuse(codeNoCurrency)
		return
	case banksim.CurrencyAlpha(req["Currency"]) == "":
		refuse(codeCurrency)
		return
	}
	form := banksim.Form{{Name: "InstallmentCount", Value: req["InstallmentCount"]}}
	if ref := checkInstallments(form, kind); ref != nil {
		refuse(ref.def)
		return
	}
	pan := strings.ReplaceAll(req["Pan"], " ", "")
	if ref := checkCard(pan, req["Expiry"], req["Cvv2"]); ref != nil {
		refuse(ref.def)
		return
	}
	a := &attempt{model: "NonSecure", oid: oid, amount: amount, currency: req["Currency"], txnType: kind,
		inst: req["InstallmentCount"], lang: strings.ToUpper(req["Lang"]), holder: req["CardHolderName"], clientIP: clientIP(r)}
	a.setCard(pan, req["Expiry"], now)
	switch a.outcome {
	case banksim.ThreeDSFail, banksim.NotEnrolled, banksim.HalfSecure:
		a.outcome = banksim.Approve // no 3-D here
	}
	a.pan = ""
	t, booked := s.book(a, now)
	s.pay(w, r, oid, a.holder, t, booked, a.outcome)
}

// apiPostAuth captures a pre-authorisation (§2.7). Without PurchAmount the
// full amount; otherwise within ±15 % of it (V027).
func (s *Sim) apiPostAuth(req map[string]string, now time.Time) []kv {
	oid := req["OrgOrderId"]
	var amount int64
	if a := req["PurchAmount"]; a != "" {
		var err error
		if amount, err = banksim.ParseAmount(a); err != nil || amount == 0 {
			return s.errorAnswer(oid, codeAmount, now)
		}
	}
	var err error
	_ = s.record(oid, func(h *banksim.History) error {
		sale := h.Sale()
		if sale != nil && amount != 0 && amount*100 < sale.Amount*(100-banksim.CaptureTolerance) {
			err = banksim.ErrExceedsPreAuth
			return nil
		}
		_, err = h.Capture(amount, req["Currency"], true, now)
		return nil
	})
	switch {
	case errors.Is(err, banksim.ErrNotPreAuth):
		return s.errorAnswer(oid, codeNotPreAuth, now)
	case errors.Is(err, banksim.ErrAlreadyCapture):
		return s.errorAnswer(oid, codeCaptured, now)
	case errors.Is(err, banksim.ErrExceedsPreAuth):
		return s.errorAnswer(oid, codeCaptureAmt, now)
	case errors.Is(err, banksim.ErrCurrency):
		return s.errorAnswer(oid, codeCurrency, now)
	case err != nil:
		return s.errorAnswer(oid, codeNotFound, now)
	}
	ref, _ := s.newHostRef(now)
	return paymentAnswer(newAuthCode(), ref, "00", oid, codeOK.Msg, "")
}

// apiVoid cancels the order's newest approved transaction before end of
// day (§2.7, PF-F13, PF-F14); after it V018.
func (s *Sim) apiVoid(req map[string]string, now time.Time) []kv {
	oid := req["OrgOrderId"]
	var (
		t   *banksim.Txn
		err error
	)
	_ = s.record(oid, func(h *banksim.History) error {
		switch sale := h.Sale(); {
		case sale == nil:
			err = banksim.ErrNoSale
		case sale.Status == banksim.TxnVoided:
			err = banksim.ErrSaleVoided
		default:
			t, err = h.Void(now)
		}
		return nil
	})
	switch {
	case errors.Is(err, banksim.ErrSaleVoided):
		return s.errorAnswer(oid, codeVoided, now)
	case errors.Is(err, banksim.ErrSettled):
		return s.errorAnswer(oid, codeNoVoid, now)
	case err != nil:
		return s.errorAnswer(oid, codeNotFound, now)
	}
	ref, _ := s.newHostRef(now)
	return paymentAnswer(t.AuthCode, ref, "00", oid, codeOK.Msg, "")
}

// apiRefund refunds all or part of a settled sale (§2.7): V014 before end
// of day (PF-F15), never above the captured amount less earlier refunds.
// Refused refunds of a known order stay in its history.
func (s *Sim) apiRefund(req map[string]string, now time.Time) []kv {
	oid := req["OrgOrderId"]
	amount, err := banksim.ParseAmount(req["PurchAmount"])
	switch {
	case err != nil:
		return s.errorAnswer(oid, codeAmount, now)
	case amount == 0:
		return s.errorAnswer(oid, codeZeroAmount, now)
	}
	var (
		rec  *banksim.Txn
		cerr = banksim.ErrNoSale
	)
	_ = s.record(oid, func(h *banksim.History) error {
		sale := h.Sale()
		if sale == nil {
			return nil
		}
		cerr = h.CheckRefund(amount, req["Currency"], now)
		t := banksim.Txn{Kind: banksim.KindRefund, Status: banksim.TxnApproved, Amount: amount, Captured: amount,
			Currency: sale.Currency, At: now, CapturedAt: now, TransID: oid, MaskedPAN: sale.MaskedPAN, ProcCode: "00"}
		t.HostRef, _ = s.newHostRef(now)
		if cerr == nil {
			t.AuthCode = newAuthCode()
		} else {
			t.Status, t.ProcCode = banksim.TxnDeclined, refundCode(cerr).Code
		}
		rec = h.Append(t)
		return nil
	})
	if cerr != nil {
		d := refundCode(cerr)
		ref := ""
		if rec != nil {
			ref = rec.HostRef
		}
		return paymentAnswer("", ref, d.Code, oid, d.Msg, "")
	}
	return paymentAnswer(rec.AuthCode, rec.HostRef, "00", oid, codeOK.Msg, "")
}

func refundCode(err error) errDef {
	switch {
	case errors.Is(err, banksim.ErrSaleVoided):
		return codeVoided
	case errors.Is(err, banksim.ErrNotCaptured):
		return codeNotDone
	case errors.Is(err, banksim.ErrNotSettled):
		return codeRefundEOD
	case errors.Is(err, banksim.ErrCurrency):
		return codeCurrency
	case errors.Is(err, banksim.ErrZeroNet):
		return codeRefunded
	case errors.Is(err, banksim.ErrExceedsNet):
		return codeOverRefund
	}
	return codeNotFound
}

// inquirySale picks the transaction OrderInquiry reports: the order's sale
// or pre-authorisation (approved, perhaps voided since), else its newest
// attempt.
func inquirySale(o banksim.Order) *banksim.Txn {
	for i := range o.Txns {
		t := &o.Txns[i]
		if (t.Kind == banksim.KindSale || t.Kind == banksim.KindPreAuth) && t.Status != banksim.TxnDeclined {
			return t
		}
	}
	for i := len(o.Txns) - 1; i >= 0; i-- {
		if t := &o.Txns[i]; t.Kind != banksim.KindRefund {
			return t
		}
	}
	return nil
}

func txnTypeOf(t *banksim.Txn) string {
	switch t.Kind {
	case banksim.KindPreAuth:
		return "PreAuth"
	case banksim.KindRefund:
		return "Refund"
	}
	return "Auth"
}

// txnStatus is the record's TxnStatus: Y approved, N declined, V voided.
func txnStatus(t *banksim.Txn) string {
	switch t.Status {
	case banksim.TxnDeclined:
		return "N"
	case banksim.TxnVoided:
		return "V"
	}
	return "Y"
}

func txnResult(t *banksim.Txn) string {
	if t.Status == banksim.TxnDeclined {
		return "Failed"
	}
	return "Success"
}

func (s *Sim) errMsg(t *banksim.Txn) string {
	if t.ProcCode == "00" {
		return codeOK.Msg
	}
	if d, ok := issuerDeclines[t.ProcCode]; ok {
		return d.Msg
	}
	return ""
}

// orderInquiry answers OrderInquiry with the order's PaymentRequest record
// and its void and refund state (PF-F11), or V013 (PF-F12).
func (s *Sim) orderInquiry(oid string, now time.Time) []kv {
	o, ok := s.ledger.Order(oid, now)
	var t *banksim.Txn
	if ok {
		t = inquirySale(o)
	}
	common := []kv{
		{"MbrId", s.cfg.MbrID}, {"MerchantID", s.cfg.MerchantID}, {"OrderId", oid},
	}
	if t == nil {
		if a := s.payableAttempt(oid); a != nil {
			// [sim] A 3DModel authentication waiting for 3DModelPayment
			// is on record with its callback's code, and no sale.
			return append([]kv{{"RequestGuid", a.guid}, {"InsertDatetime", txnDate(a.created)}}, append(common,
				kv{"SecureType", a.model}, kv{"PurchAmount", banksim.FormatAmount(a.amount)}, kv{"Currency", a.currency},
				kv{"TxnType", a.txnType}, kv{"TxnStatus", "N"}, kv{"ErrMsg", code3DOK.Msg}, kv{"D3Status", "1"},
				kv{"TxnResult", "Failed"}, kv{"AuthCode", ""}, kv{"ProcReturnCode", code3DOK.Code}, kv{"CardMask", a.masked},
				kv{"IsVoided", "false"}, kv{"IsRefunded", "false"}, kv{"RefundedAmount", "0"})...)
		}
		return append([]kv{{"RequestGuid", "0"}, {"InsertDatetime", "1.01.0001 00:00:00"}}, append(common,
			kv{"SecureType", "Inquiry"}, kv{"Exponent", "2"}, kv{"TerminalID", s.terminalID()}, kv{"TxnType", "OrderInquiry"},
			kv{"OrgOrderId", oid}, kv{"IrcDet", codeNotFound.Msg}, kv{"IrcCode", "99961"}, kv{"TxnStatus", "P"},
			kv{"ErrMsg", codeNotFound.Msg}, kv{"D3Status", "-1"}, kv{"ProcReturnCode", codeNotFound.Code},
			kv{"RefundedAmount", "0"}, kv{"PAYFORFROMXMLREQUEST", "1"}, kv{"SESSION_SYSTEM_USER", "0"})...)
	}
	s.mu.Lock()
	sl := s.sales[oid]
	s.mu.Unlock()
	refunded := "0"
	if o.Refunded > 0 {
		refunded = banksim.FormatAmount(o.Refunded)
	}
	d3 := t.MDStatus
	if d3 == "" {
		d3 = "-1"
	}
	voided := t.Status == banksim.TxnVoided
	return append([]kv{{"RequestGuid", sl.guid}, {"InsertDatetime", txnDate(t.At)}}, append(common,
		kv{"RequestIp", sl.ip}, kv{"SecureType", sl.model}, kv{"PurchAmount", banksim.FormatAmount(t.Amount)},
		kv{"Exponent", "2"}, kv{"Currency", t.Currency}, kv{"TerminalID", s.terminalID()}, kv{"TxnType", txnTypeOf(t)},
		kv{"OrgOrderId", ""}, kv{"CardType", cardTypeOfMask(t.MaskedPAN)}, kv{"Lang", sl.lang},
		kv{"InstallmentCount", t.Installments}, kv{"AlphaCode", alphaCode(t.Currency)}, kv{"Ecommerce", "1"},
		kv{"MrcCountryCode", "792"}, kv{"MrcName", s.cfg.MerchantName}, kv{"CardHolderName", sl.holder},
		kv{"TxnStatus", txnStatus(t)}, kv{"ErrMsg", s.errMsg(t)}, kv{"D3Status", d3}, kv{"TxnResult", txnResult(t)},
		kv{"AuthCode", t.AuthCode}, kv{"HostRefNum", t.HostRef}, kv{"ProcReturnCode", t.ProcCode},
		kv{"BatchNo", s.batch(t.At)}, kv{"VoidDate", ymd(t.VoidedAt)}, kv{"CardMask", t.MaskedPAN},
		kv{"RefundedAmount", refunded}, kv{"RefundedPoint", "0"}, kv{"ReqDate", ymd(t.At)}, kv{"SysDate", ymd(t.At)},
		kv{"F37", t.HostRef}, kv{"RequestClientIp", sl.ip}, kv{"VoidTime", hms(t.VoidedAt)},
		kv{"PAYFORFROMXMLREQUEST", "1"}, kv{"IsVoided", strconv.FormatBool(voided)},
		kv{"IsRefunded", strconv.FormatBool(o.Refunded > 0)}, kv{"TrxDate", t.At.In(banksim.Turkey).Format("02.01.2006 15:04")},
		kv{"ReturnMessage", s.errMsg(t)})...)
}

// cardTypeOfMask is the CardType of a masked card number (its BIN).
func cardTypeOfMask(masked string) string {
	if len(masked) < 6 {
		return ""
	}
	return cardType(masked[:6] + "0000000000")
}

// txnHistory answers TxnHistory for one order, or for every order with a
// transaction on reqDate (yyyyMMdd), oldest first: the sale, the capture of
// a pre-authorisation (PostAuth) and the refunds, each with IsBatchClosed.
func (s *Sim) txnHistory(oid, reqDate string, now time.Time) []historyItem {
	var oids []string
	if oid != "" {
		oids = []string{oid}
	} else {
		s.mu.Lock()
		oids = append(oids, s.orders...)
		s.mu.Unlock()
	}
	var items []historyItem
	for _, id := range oids {
		o, ok := s.ledger.Order(id, now)
		if !ok {
			continue
		}
		s.mu.Lock()
		sl := s.sales[id]
		s.mu.Unlock()
		for i := range o.Txns {
			t := &o.Txns[i]
			if reqDate != "" && ymd(t.At) != reqDate {
				continue
			}
			items = append(items, s.historyItem(id, sl, t, txnTypeOf(t), t.Amount, t.At, now))
			if t.Kind == banksim.KindPreAuth && !t.CapturedAt.IsZero() {
				items = append(items, s.historyItem(id, sl, t, "PostAuth", t.Captured, t.CapturedAt, now))
			}
		}
	}
	return items
}

func (s *Sim) historyItem(oid string, sl sale, t *banksim.Txn, typ string, amount int64, at, now time.Time) historyItem {
	org := ""
	if typ == "PostAuth" || typ == "Refund" {
		org = oid
	}
	closed := banksim.SettledBy(at, now)
	settlement := ""
	if closed && t.Status == banksim.TxnApproved {
		settlement = ymd(banksim.EndOfDay(at))
	}
	return historyItem{
		fields: []kv{
			{"RequestGuid", sl.guid}, {"InsertDatetime", isoDate(at)}, {"MbrId", s.cfg.MbrID},
			{"MerchantID", s.cfg.MerchantID}, {"OrderId", oid}, {"SecureType", sl.model},
			{"PurchAmount", banksim.FormatAmount(amount)}, {"Currency", t.Currency}, {"TxnType", typ},
			{"OrgOrderId", org}, {"Lang", sl.lang}, {"InstallmentCount", t.Installments}, {"TxnStatus", txnStatus(t)},
			{"ErrMsg", s.errMsg(t)}, {"TxnResult", txnResult(t)}, {"AuthCode", t.AuthCode}, {"HostRefNum", t.HostRef},
			{"ProcReturnCode", t.ProcCode}, {"BatchNo", s.batch(at)}, {"VoidDate", ymd(t.VoidedAt)},
			{"CardMask", t.MaskedPAN}, {"ReqDate", ymd(at)},
		},
		extra: []kv{{"IsBatchClosed", map[bool]string{true: "True", false: "False"}[closed]}, {"SettlementDate", settlement}},
	}
}

// payableAttempt is an order's 3DModel attempt that is authenticated and
// not provisioned, or nil.
func (s *Sim) payableAttempt(oid string) *attempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.attempts {
		if a.oid == oid && a.stage == stagePayable && !a.paid {
			return a
		}
	}
	return nil
}
