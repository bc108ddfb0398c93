package vakif

import (
	"net/http"
	"strconv"
	"time"

	"github.com/posrelay/posrelay/banksim"
)

// searchInfo is ResponseInfo (VB-F12).
func searchInfo(status string, d errDef, now time.Time) node {
	return group("ResponseInfo",
		el("Status", status), el("ResponseCode", d.Code), el("ResponseMessage", d.Msg),
		el("ResponseDateTime", now.In(banksim.Turkey).Format("2006-01-02T15:04:05.0000000-07:00")), el("IsIdempotent", "false"))
}

func searchError(w http.ResponseWriter, d errDef, now time.Time) {
	writeXML(w, group("SearchResponse", searchInfo("Error", d, now)))
}

// handleSearch answers a SearchRequest (§3A.8): by TransactionId if given,
// else by OrderId, where the order's successful transaction is returned if
// there is one, else its last.
func (s *Sim) handleSearch(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	s.mu.Lock()
	s.calls.Searches++
	s.mu.Unlock()
	if !s.fromRelay(r, "search") {
		searchError(w, errIP, now)
		return
	}
	body, ok := readPrmstr(w, r)
	if !ok {
		writeRaw(w, "text/html; charset=utf-8", []byte(poxMessage))
		return
	}
	m, err := parseXMLMsg(body)
	if err != nil || m.Root != "SearchRequest" {
		searchError(w, searchBadXML, now)
		return
	}
	if m.get("MerchantCriteria/HostMerchantId") != s.cfg.MerchantID || m.get("MerchantCriteria/MerchantPassword") != s.cfg.Password {
		searchError(w, searchMerchant, now)
		return
	}
	transID, orderID := m.get("TransactionCriteria/TransactionId"), m.get("TransactionCriteria/OrderId")
	var items []node
	switch {
	case transID != "":
		s.mu.Lock()
		ref, ok := s.txns[transID]
		s.mu.Unlock()
		if ok && ref.index >= 0 {
			orderID = ref.orderID
			_ = s.ledger.Do(orderID, func(h *banksim.History) error {
				items = append(items, s.searchItem(h, h.Txns[ref.index], orderID, now))
				return nil
			})
		}
	case orderID != "":
		_ = s.ledger.Do(orderID, func(h *banksim.History) error {
			if t := h.Sale(); t != nil {
				items = append(items, s.searchItem(h, t, orderID, now))
			} else if n := len(h.Txns); n > 0 {
				items = append(items, s.searchItem(h, h.Txns[n-1], orderID, now))
			}
			return nil
		})
	default:
		searchError(w, searchCriteria, now)
		return
	}
	s.mu.Lock()
	s.countOrder(orderID)
	s.mu.Unlock()
	doc := []node{searchInfo("Success", errDef{"0000", "Succeeded."}, now),
		el("PageIndex", "1"), el("PageSize", "10"), el("TotalItemCount", strconv.Itoa(len(items)))}
	if len(items) > 0 {
		doc = append(doc, group("TransactionSearchResultInfo", items...))
	}
	writeXML(w, group("SearchResponse", doc...))
}

// searchItem describes one transaction like VB-F13, with Amount as real
// answers carry it (issue #229).
func (s *Sim) searchItem(h *banksim.History, t *banksim.Txn, orderID string, now time.Time) node {
	typ := "Sale"
	switch t.Kind {
	case banksim.KindPreAuth:
		typ = "Auth"
	case banksim.KindRefund:
		typ = "Refund"
	}
	res := approved
	if t.Status == banksim.TxnDeclined {
		res = errDef{t.ProcCode, ""}
		if d, ok := issuerDecline(t.Outcome); ok {
			res = d
		}
	}
	refunded := int64(0)
	if t.Kind != banksim.KindRefund {
		refunded = h.Refunded()
	}
	b := strconv.FormatBool
	return group("TransactionSearchResultInfo",
		el("MerchantId", s.cfg.MerchantID), el("TransactionType", typ), el("TransactionId", t.TransID),
		el("OrderId", orderID), el("ResultCode", res.Code), el("ResponseMessage", res.Msg), el("HostResultCode", "000"),
		el("AuthCode", t.AuthCode), el("HostDate", hostDate(t.At)), el("Rrn", t.HostRef),
		el("Amount", banksim.FormatAmount(t.Amount)), el("AmountCode", t.Currency), el("CurrencyCode", t.Currency),
		el("ThreeDSecureType", "2"), el("IsReversed", "false"), el("IsCanceled", b(t.Status == banksim.TxnVoided)),
		el("IsRefunded", b(refunded > 0)), el("TotalRefundAmount", banksim.FormatAmount(refunded)),
		el("IsBatchClosed", b(banksim.SettledBy(t.CapturedAt, now))), el("ECI", t.ECI), el("CAVV", t.CAVV),
		el("PanMasked", t.MaskedPAN),
	)
}
