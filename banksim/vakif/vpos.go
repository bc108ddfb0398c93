package vakif

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/posrelay/posrelay/banksim"
)

// cardFields may not appear in a 3-D provision (1127, §3A.8).
var cardFields = []string{"Pan", "Expiry", "Cvv", "CardHoldersName", "CurrencyAmount", "CurrencyCode"}

// readPrmstr reads the XML message of a VPOS or Search post (§3A.7); ok is
// false when the post has no prmstr.
func readPrmstr(w http.ResponseWriter, r *http.Request) (msg string, ok bool) {
	f, err := banksim.ReadForm(w, r)
	if err != nil {
		return "", false
	}
	v := f.Value("prmstr")
	return v, strings.TrimSpace(v) != ""
}

// vposError is a refusal: ResultCode, ResultDetail and an empty
// InstallmentTable (VB-F7, VB-F9).
func vposError(w http.ResponseWriter, d errDef) {
	writeXML(w, group("VposResponse", el("ResultCode", d.Code), el("ResultDetail", d.Msg), emptyEl("InstallmentTable")))
}

func (s *Sim) handleVPOS(w http.ResponseWriter, r *http.Request) {
	if !s.fromRelay(r, "vpos") {
		s.mu.Lock()
		s.countVPOS("", "")
		s.mu.Unlock()
		vposError(w, errIP)
		return
	}
	body, ok := readPrmstr(w, r)
	if !ok {
		s.mu.Lock()
		s.countVPOS("", "")
		s.mu.Unlock()
		writeRaw(w, "text/html; charset=utf-8", []byte(poxMessage))
		return
	}
	m, err := parseXMLMsg(body)
	if err != nil || m.Root != "VposRequest" {
		s.mu.Lock()
		s.countVPOS("", "")
		s.mu.Unlock()
		s.logf("vpos: unreadable request: %v", err)
		vposError(w, vposBadXML)
		return
	}
	typ := m.get("TransactionType")
	orderID := m.get("OrderId")
	if ref := m.get("ReferenceTransactionId"); orderID == "" && ref != "" {
		s.mu.Lock()
		orderID = s.txns[ref].orderID
		s.mu.Unlock()
	}
	s.mu.Lock()
	s.countVPOS(typ, orderID)
	s.mu.Unlock()
	if m.get("MerchantId") != s.cfg.MerchantID || m.get("Password") != s.cfg.Password {
		s.logf("vpos: %s refused: unknown merchant or wrong password", typ)
		vposError(w, vposMerchant)
		return
	}
	now := s.now()
	switch typ {
	case "Sale", "Auth":
		s.provision(w, r, m, now)
	case "Capture":
		s.answerOp(w, m, now, s.capture)
	case "Cancel":
		s.answerOp(w, m, now, s.cancel)
	case "Refund":
		s.answerOp(w, m, now, s.refund)
	default:
		vposError(w, vposType)
	}
}

// provision serves a Sale or Auth after 3-D. It binds to the MPI
// transaction: card and amount come from there, and the request may not
// carry them.
func (s *Sim) provision(w http.ResponseWriter, r *http.Request, m *xmlMsg, now time.Time) {
	s.mu.Lock()
	s.lastProv = slices.Clone(m.Fields)
	s.mu.Unlock()
	mpiID, orderID := m.get("MpiTransactionId"), m.get("OrderId")
	carries := false
	for _, name := range cardFields {
		carries = carries || m.get(name) != ""
	}
	refuse := func(d errDef) {
		s.logf("vpos: %s order=%q refused: %s %s", m.get("TransactionType"), orderID, d.Code, d.Msg)
		vposError(w, d)
	}
	switch {
	case m.get("TerminalNo") != s.cfg.TerminalNo:
		refuse(vposTerminal)
		return
	case mpiID == "" && carries:
		refuse(vposNonSecure)
		return
	case carries:
		refuse(vposCardIn3D)
		return
	case mpiID == "":
		refuse(vposNoMPI)
		return
	case m.get("ECI") == "":
		refuse(vposNoECI)
		return
	case m.get("CAVV") == "":
		refuse(vposNoCAVV)
		return
	case m.get("ClientIp") == "":
		refuse(vposNoClientIP)
		return
	case m.get("TransactionDeviceSource") == "":
		refuse(vposNoDevice)
		return
	case orderID == "" || len(orderID) > 64:
		refuse(vposOrderID)
		return
	case !banksim.ValidInstallments(m.get("NumberOfInstallments")):
		refuse(vposInstallments)
		return
	}
	var bad *errDef
	s.mu.Lock()
	e := s.enrollments[mpiID]
	switch {
	case e == nil:
		bad = &vposUnknownMPI
	case e.used:
		bad = &vposMPIUsed
	case e.stage != stageDone || e.status != "Y" && e.status != "A":
		bad = &vposMPIMismatch
	case m.get("ECI") != e.eci:
		bad = &vposECI
	case m.get("CAVV") != e.cavv:
		bad = &vposCAVV
	case m.get("NumberOfInstallments") != e.installments:
		bad = &vposMPIMismatch
	default:
		e.used = true // claimed; released if the order is paid already
	}
	s.mu.Unlock()
	if bad != nil {
		refuse(*bad)
		return
	}
	preAuth := m.get("TransactionType") == "Auth"
	t := saleTxn(preAuth, e.amount, e.currency, e.installments, e.masked, e.outcome, now)
	t.ECI, t.CAVV, t.XID, t.MDStatus = e.eci, e.cavv, e.xid, e.status
	if !s.record(orderID, t) {
		s.mu.Lock()
		e.used = false
		s.mu.Unlock()
		refuse(vposDuplicate)
		return
	}
	answer := s.saleAnswer(&t, m.get("TransactionType"), orderID, now)
	switch e.outcome {
	case banksim.Timeout:
		s.logf("vpos: %s order=%q approved, answer withheld (timeout card)", m.get("TransactionType"), orderID)
		s.hold.Hang(r.Context(), s.cfg.HangFor)
		panic(http.ErrAbortHandler)
	case banksim.Malformed:
		s.logf("vpos: %s order=%q approved, answered with a WAF page (malformed card)", m.get("TransactionType"), orderID)
		writeWAF(w)
	default:
		s.logf("vpos: %s order=%q: %s", m.get("TransactionType"), orderID, t.ProcCode)
		writeXML(w, answer)
	}
}

// saleAnswer is a provisioning answer: approved like VB-F4, declined like
// VB-F3.
func (s *Sim) saleAnswer(t *banksim.Txn, typ, orderID string, now time.Time) node {
	res := approved
	if d, declined := issuerDecline(t.Outcome); declined {
		res = d
	}
	amount := banksim.FormatAmount(t.Amount)
	return group("VposResponse",
		el("MerchantId", s.cfg.MerchantID), el("TerminalNo", s.cfg.TerminalNo), el("TransactionType", typ),
		el("TransactionId", t.TransID), el("ResultCode", res.Code), el("ResultDetail", res.Msg),
		emptyEl("InstallmentTable"), emptyEl("CampaignResult"),
		el("AuthCode", t.AuthCode), el("HostDate", hostDate(now)), el("Rrn", t.HostRef),
		el("CurrencyAmount", amount), el("CurrencyCode", t.Currency), el("OrderId", orderID), el("TLAmount", amount),
		el("ECI", t.ECI), el("ThreeDSecureType", "2"), el("TransactionDeviceSource", "0"), el("BatchNo", s.batchNo(now)),
	)
}

// opResult is what an operation did to the ledger.
type opResult struct {
	orderID string
	txn     banksim.Txn // the new (or changed) transaction
	refID   string
}

// answerOp runs a Capture, Cancel or Refund and answers it like VB-F8 and
// VB-F10, or with the refusal.
func (s *Sim) answerOp(w http.ResponseWriter, m *xmlMsg, now time.Time, op func(m *xmlMsg, now time.Time) (*opResult, *errDef)) {
	typ := m.get("TransactionType")
	if m.get("ReferenceTransactionId") == "" {
		vposError(w, vposNoReference)
		return
	}
	if m.get("ClientIp") == "" {
		vposError(w, vposNoClientIP)
		return
	}
	res, bad := op(m, now)
	if bad != nil {
		s.logf("vpos: %s of %q refused: %s %s", typ, m.get("ReferenceTransactionId"), bad.Code, bad.Msg)
		vposError(w, *bad)
		return
	}
	s.logf("vpos: %s of %q for order %q: approved", typ, res.refID, res.orderID)
	amount := banksim.FormatAmount(res.txn.Amount)
	writeXML(w, group("VposResponse",
		el("MerchantId", s.cfg.MerchantID), el("TransactionType", typ), el("TransactionId", res.txn.TransID),
		el("ReferenceTransactionId", res.refID), el("ResultCode", approved.Code), el("ResultDetail", approved.Msg),
		emptyEl("InstallmentTable"), emptyEl("CampaignResult"),
		el("AuthCode", res.txn.AuthCode), el("HostDate", hostDate(now)), el("Rrn", res.txn.HostRef),
		el("TerminalNo", s.cfg.TerminalNo), el("CurrencyAmount", amount), el("CurrencyCode", res.txn.Currency),
		el("BatchNo", s.batchNo(now)), el("TLAmount", amount),
	))
}

// reference finds the transaction a ReferenceTransactionId names.
func (s *Sim) reference(id string) (txnRef, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ref, ok := s.txns[id]
	return ref, ok && ref.index >= 0
}

// index makes a transaction findable by its TransactionId; idx -1 marks
// one that only changed another (a capture, a cancel).
func (s *Sim) index(transID, orderID string, idx int) {
	s.mu.Lock()
	s.txns[transID] = txnRef{orderID: orderID, index: idx}
	s.mu.Unlock()
}

// capture closes a pre-authorisation (Capture, §3A.8).
func (s *Sim) capture(m *xmlMsg, now time.Time) (*opResult, *errDef) {
	if m.get("TerminalNo") != s.cfg.TerminalNo {
		return nil, &vposTerminal
	}
	ref, ok := s.reference(m.get("ReferenceTransactionId"))
	if !ok {
		return nil, &vposNoReference
	}
	amount, err := banksim.ParseAmount(m.get("CurrencyAmount"))
	if err != nil || amount == 0 {
		return nil, &vposAmount
	}
	var (
		res  *opResult
		cerr error
	)
	_ = s.ledger.Do(ref.orderID, func(h *banksim.History) error {
		if h.Txns[ref.index] != h.Sale() {
			cerr = banksim.ErrNotPreAuth
			return nil
		}
		var t *banksim.Txn
		if t, cerr = h.Capture(amount, m.get("CurrencyCode"), false, now); cerr == nil {
			c := *t
			c.TransID, c.HostRef, c.Amount = newTransID(), newRRN(), amount
			res = &opResult{orderID: ref.orderID, txn: c, refID: t.TransID}
		}
		return nil
	})
	switch {
	case errors.Is(cerr, banksim.ErrNotPreAuth):
		return nil, &vposNotPreAuth
	case errors.Is(cerr, banksim.ErrAlreadyCapture):
		return nil, &vposCaptured
	case errors.Is(cerr, banksim.ErrExceedsPreAuth):
		return nil, &vposOverPreAuth
	case errors.Is(cerr, banksim.ErrSaleVoided):
		return nil, &vposPreAuthVoid
	case errors.Is(cerr, banksim.ErrCurrency):
		return nil, &vposCurrency
	case cerr != nil:
		return nil, &vposNoReference
	}
	s.index(res.txn.TransID, ref.orderID, -1)
	return res, nil
}

// cancel voids the referenced sale, pre-authorisation or refund before its
// batch closes (Cancel, §3A.8).
func (s *Sim) cancel(m *xmlMsg, now time.Time) (*opResult, *errDef) {
	ref, ok := s.reference(m.get("ReferenceTransactionId"))
	if !ok {
		return nil, &vposNoReference
	}
	var (
		res *opResult
		bad *errDef
	)
	_ = s.ledger.Do(ref.orderID, func(h *banksim.History) error {
		t := h.Txns[ref.index]
		switch {
		case t.Status == banksim.TxnVoided:
			bad = &vposCancelled
		case t.Status != banksim.TxnApproved:
			bad = &vposNotPreAuth
		case t.Kind == banksim.KindPreAuth && !t.CapturedAt.IsZero():
			bad = &vposCaptureVoid
		case t.Settled(now):
			bad = &vposBatchClosed
		case t.Kind != banksim.KindRefund && h.Refunded() > 0:
			bad = &vposNotPreAuth
		default:
			t.Status, t.VoidedAt = banksim.TxnVoided, now
			c := *t
			c.TransID, c.HostRef, c.AuthCode = newTransID(), newRRN(), newAuthCode()
			res = &opResult{orderID: ref.orderID, txn: c, refID: t.TransID}
		}
		return nil
	})
	if bad != nil {
		return nil, bad
	}
	s.index(res.txn.TransID, ref.orderID, -1)
	return res, nil
}

// refund returns part or all of a settled sale (Refund, §3A.8), never more
// than is left of the captured amount.
func (s *Sim) refund(m *xmlMsg, now time.Time) (*opResult, *errDef) {
	ref, ok := s.reference(m.get("ReferenceTransactionId"))
	if !ok {
		return nil, &vposNoOriginal
	}
	amount, err := banksim.ParseAmount(m.get("CurrencyAmount"))
	if err != nil || amount == 0 {
		return nil, &vposAmount
	}
	var (
		res  *opResult
		cerr error
		idx  int
	)
	_ = s.ledger.Do(ref.orderID, func(h *banksim.History) error {
		sale := h.Sale()
		if sale == nil || h.Txns[ref.index] != sale {
			cerr = banksim.ErrNoSale
			return nil
		}
		if cerr = h.CheckRefund(amount, "", now); cerr != nil {
			return nil
		}
		idx = len(h.Txns)
		t := h.Append(banksim.Txn{
			Kind: banksim.KindRefund, Status: banksim.TxnApproved, Amount: amount, Captured: amount, Currency: sale.Currency,
			At: now, CapturedAt: now, TransID: newTransID(), AuthCode: newAuthCode(), HostRef: newRRN(),
			MaskedPAN: sale.MaskedPAN, ProcCode: approved.Code,
		})
		res = &opResult{orderID: ref.orderID, txn: *t, refID: sale.TransID}
		return nil
	})
	switch {
	case errors.Is(cerr, banksim.ErrNoSale):
		return nil, &vposNoOriginal
	case errors.Is(cerr, banksim.ErrSaleVoided):
		return nil, &vposRefundVoided
	case errors.Is(cerr, banksim.ErrNotCaptured):
		return nil, &vposNotCaptured
	case errors.Is(cerr, banksim.ErrNotSettled):
		return nil, &vposNotSettled
	case errors.Is(cerr, banksim.ErrZeroNet):
		return nil, &vposRefundedAll
	case errors.Is(cerr, banksim.ErrExceedsNet):
		return nil, &vposOverRefund
	case cerr != nil:
		return nil, &vposNoOriginal
	}
	s.index(res.txn.TransID, ref.orderID, idx)
	return res, nil
}
