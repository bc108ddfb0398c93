package payflex

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/posrelay/posrelay/bank"
)

// VPOS is VakıfBank's virtual POS API for one merchant account (§3A.7–3A.9):
// VposRequest XML to Vposreq for provisioning, Capture, Cancel and Refund,
// SearchRequest XML to Search for the status. Both VakıfBank products use
// it after the sale: a Common Payment sale is a VPOS transaction of the same
// host merchant and terminal (CP-F3 names the VPOS terminal of VB-F3/F5).
type VPOS struct {
	merchantID, terminalNo, password string
	vposURL, searchURL               string
	doer                             bank.Doer
}

// NewVPOS checks the account and returns its VPOS client.
func NewVPOS(merchantID, terminalNo, password, vposURL, searchURL string, doer bank.Doer) (*VPOS, error) {
	switch {
	case merchantID == "":
		return nil, errors.New("payflex: MerchantID is empty; set merchant_id to the HostMerchantId VakıfBank gave (e.g. 000100000013506)")
	case terminalNo == "":
		return nil, errors.New("payflex: TerminalNo is empty; set terminal_no to the terminal VakıfBank gave (e.g. VP000579)")
	case password == "":
		return nil, errors.New("payflex: Password is empty; set password to the merchant password of the VakıfBank merchant panel")
	case doer == nil:
		return nil, errors.New("payflex: no transport")
	}
	if err := checkURL("VPOSURL", vposURL); err != nil {
		return nil, err
	}
	if err := checkURL("SearchURL", searchURL); err != nil {
		return nil, err
	}
	return &VPOS{merchantID: merchantID, terminalNo: terminalNo, password: password, vposURL: vposURL, searchURL: searchURL, doer: doer}, nil
}

// vposResponse is a VposResponse (§3A.9). Failures may carry only
// ResultCode, ResultDetail and InstallmentTable (VB-F7, VB-F9).
type vposResponse struct {
	MerchantID      text `xml:"MerchantId"`
	TransactionType text `xml:"TransactionType"`
	TransactionID   text `xml:"TransactionId"`
	ResultCode      text `xml:"ResultCode"`
	ResultDetail    text `xml:"ResultDetail"`
	AuthCode        text `xml:"AuthCode"`
	Rrn             text `xml:"Rrn"`
	CurrencyAmount  text `xml:"CurrencyAmount"`
	CurrencyCode    text `xml:"CurrencyCode"`
	OrderID         text `xml:"OrderId"`
}

func parseVposResponse(body []byte) (*vposResponse, error) {
	var r vposResponse
	root, err := DecodeXML(body, &r)
	if err != nil {
		return nil, err
	}
	if root != "VposResponse" {
		return nil, fmt.Errorf("%w: root <%s>, want <VposResponse>", bank.ErrMalformed, root)
	}
	if r.ResultCode == "" {
		return nil, fmt.Errorf("%w: VposResponse without ResultCode", bank.ErrMalformed)
	}
	return &r, nil
}

// encodeVposRequest writes a VposRequest without an XML declaration, as
// the bank takes it (§3A.7).
func encodeVposRequest(els []element) string {
	var b strings.Builder
	b.WriteString("<VposRequest>")
	writeElements(&b, els)
	b.WriteString("</VposRequest>")
	return b.String()
}

// post sends an XML message as the form field prmstr (§3A.7) and returns
// the answer's body. op names the call in errors.
func (v *VPOS) post(ctx context.Context, op, target, xmlMsg string) ([]byte, error) {
	return PostForm(ctx, v.doer, op, target, "", []byte("prmstr="+url.QueryEscape(xmlMsg)))
}

// PostForm posts a form-encoded body to one of VakıfBank's endpoints
// (accept: the Accept header, "" for none) and returns the answer's body;
// anything but HTTP 200 is a malformed answer. op names the call in
// errors.
func PostForm(ctx context.Context, doer bank.Doer, op, target, accept string, body []byte) ([]byte, error) {
	resp, err := doer.Do(ctx, &bank.Request{URL: target, ContentType: "application/x-www-form-urlencoded", Accept: accept, Body: body})
	if err != nil {
		var te *bank.TransportError
		if errors.As(err, &te) && te.Op == "bank call" {
			te.Op = op
		}
		return nil, err
	}
	if resp.Status != 200 {
		return nil, &bank.TransportError{Op: op, Sent: true, Err: fmt.Errorf("%w: HTTP %d", bank.ErrMalformed, resp.Status)}
	}
	return resp.Body, nil
}

// call sends a VposRequest and reads the VposResponse. An answer that
// cannot be read is a TransportError with Sent set: the bank may have
// acted.
func (v *VPOS) call(ctx context.Context, op string, els []element) (*vposResponse, error) {
	body, err := v.post(ctx, op, v.vposURL, encodeVposRequest(els))
	if err != nil {
		return nil, err
	}
	r, err := parseVposResponse(body)
	if err != nil {
		return nil, &bank.TransportError{Op: op, Sent: true, Err: err}
	}
	return r, nil
}

func (v *VPOS) account() []element {
	return []element{{"MerchantId", v.merchantID}, {"Password", v.password}}
}

func txnType(t bank.TxnType) string {
	if t == bank.PreAuth {
		return "Auth" // VakıfBank's "Auth" is a pre-authorisation (§3A.3)
	}
	return "Sale"
}

// provisionElements is the card-less provisioning after 3-D (§3A.8,
// CP.VPOS 2026): no Pan, Expiry, Cvv, CurrencyAmount or CurrencyCode — the
// MPI transaction fixes card and amount (1127 otherwise).
func (v *VPOS) provisionElements(p *bank.Payment, mpiID, eci, cavv string) []element {
	els := []element{
		{"TransactionType", txnType(p.Type)},
		{"MerchantId", v.merchantID},
		{"Password", v.password},
		{"TerminalNo", v.terminalNo},
		{"ECI", eci},
		{"CAVV", cavv},
		{"MpiTransactionId", mpiID},
		{"OrderId", p.OrderID},
		{"ClientIp", p.CustomerIP},
		{"TransactionDeviceSource", "0"},
	}
	if p.Installments > 1 {
		els = append(els, element{"NumberOfInstallments", fmt.Sprint(p.Installments)})
	}
	return els
}

// provision sends the provisioning and reads the authoritative answer.
// An approval that names another order or amount than the payment's is an
// error wrapping bank.ErrBinding, never a failure: money may have moved, so
// the relay leaves the payment unknown for the operator.
func (v *VPOS) provision(ctx context.Context, p *bank.Payment, mpiID, eci, cavv string) (*bank.Outcome, error) {
	r, err := v.call(ctx, "provision", v.provisionElements(p, mpiID, eci, cavv))
	if err != nil {
		return nil, err
	}
	ref := bank.Ref{AuthCode: string(r.AuthCode), HostRef: string(r.Rrn), TransID: string(r.TransactionID)}
	if r.ResultCode != "0000" {
		return &bank.Outcome{Status: bank.Failed, Result: Result(string(r.ResultCode), string(r.ResultDetail)), Ref: ref}, nil
	}
	if err := checkAnswer(p, string(r.OrderID), string(r.CurrencyAmount), string(r.CurrencyCode)); err != nil {
		return nil, fmt.Errorf("provision approved %s: %w", r.TransactionID, err)
	}
	return &bank.Outcome{Status: bank.Succeeded, Result: Result("0000", string(r.ResultDetail)), Ref: ref}, nil
}

// checkAnswer compares what an approval says about the order with the
// payment: fields the bank left out are not compared.
func checkAnswer(p *bank.Payment, orderID, amount, currency string) error {
	if orderID != "" && orderID != p.OrderID {
		return fmt.Errorf("%w: bank answered for order %q, payment is for %q", bank.ErrBinding, orderID, p.OrderID)
	}
	if amount != "" {
		a, err := bank.ParseAmount(amount)
		if err != nil {
			return fmt.Errorf("%w: amount %q: %v", bank.ErrMalformed, amount, err)
		}
		if a != p.Amount {
			return fmt.Errorf("%w: bank answered amount %s, payment is for %s", bank.ErrBinding, amount, bank.FormatAmount(p.Amount))
		}
	}
	if currency != "" && currency != p.Currency.Numeric {
		return fmt.Errorf("%w: bank answered currency %s, payment is in %s", bank.ErrBinding, currency, p.Currency.Numeric)
	}
	return nil
}

// Operate sends a Refund, Cancel (void) or Capture that names the sale by
// the bank's TransactionId (ReferenceTransactionId, §3A.8).
func (v *VPOS) Operate(ctx context.Context, p *bank.Payment, op *bank.Operation) (*bank.OpResult, error) {
	ref := p.Ref.TransID
	if ref == "" {
		return nil, fmt.Errorf("payflex: %s of order %s: the sale's VakıfBank TransactionId is not on record; refresh the payment's status first", op.Kind, p.OrderID)
	}
	els := v.account()
	switch op.Kind {
	case bank.OpRefund:
		if op.Amount <= 0 {
			return nil, fmt.Errorf("payflex: refund amount %d: give a positive amount in minor units", op.Amount)
		}
		els = append(els, element{"TransactionType", "Refund"}, element{"ReferenceTransactionId", ref},
			element{"ClientIp", p.CustomerIP}, element{"CurrencyAmount", bank.FormatAmount(op.Amount)})
	case bank.OpVoid:
		els = append(els, element{"TransactionType", "Cancel"}, element{"ReferenceTransactionId", ref},
			element{"ClientIp", p.CustomerIP})
	case bank.OpCapture:
		amount := op.Amount
		if amount == 0 {
			amount = p.Amount
		}
		els = append(els, element{"TerminalNo", v.terminalNo}, element{"TransactionType", "Capture"},
			element{"ReferenceTransactionId", ref}, element{"CurrencyAmount", bank.FormatAmount(amount)},
			element{"CurrencyCode", p.Currency.Numeric}, element{"ClientIp", p.CustomerIP})
	default:
		return nil, fmt.Errorf("%w: %s", bank.ErrNotSupported, op.Kind)
	}
	r, err := v.call(ctx, string(op.Kind), els)
	if err != nil {
		return nil, err
	}
	res := &bank.OpResult{Ref: bank.Ref{AuthCode: string(r.AuthCode), HostRef: string(r.Rrn), TransID: string(r.TransactionID)}}
	if r.ResultCode == "0000" {
		res.Status, res.Result = bank.Succeeded, Result("0000", string(r.ResultDetail))
		return res, nil
	}
	res.Status, res.Result = bank.Failed, Result(string(r.ResultCode), string(r.ResultDetail))
	return res, nil
}

// searchResponse is the Search answer (§3A.9, VB-F12, VB-F13).
type searchResponse struct {
	Status          text         `xml:"ResponseInfo>Status"`
	ResponseCode    text         `xml:"ResponseInfo>ResponseCode"`
	ResponseMessage text         `xml:"ResponseInfo>ResponseMessage"`
	Items           []searchItem `xml:"TransactionSearchResultInfo>TransactionSearchResultInfo"`
}

type searchItem struct {
	TransactionType   text `xml:"TransactionType"`
	TransactionID     text `xml:"TransactionId"`
	OrderID           text `xml:"OrderId"`
	ResultCode        text `xml:"ResultCode"`
	ResponseMessage   text `xml:"ResponseMessage"`
	AuthCode          text `xml:"AuthCode"`
	Rrn               text `xml:"Rrn"`
	Amount            text `xml:"Amount"`         // what real answers carry (issue #229)
	CurrencyAmount    text `xml:"CurrencyAmount"` // what the library's fixture carries
	AmountCode        text `xml:"AmountCode"`
	IsReversed        text `xml:"IsReversed"`
	IsCanceled        text `xml:"IsCanceled"`
	IsRefunded        text `xml:"IsRefunded"`
	TotalRefundAmount text `xml:"TotalRefundAmount"`
	IsBatchClosed     text `xml:"IsBatchClosed"`
	PanMasked         text `xml:"PanMasked"`
}

func parseSearchResponse(body []byte) (*searchResponse, error) {
	var r searchResponse
	if _, err := DecodeXML(body, &r); err != nil {
		return nil, err
	}
	if r.ResponseCode == "" {
		return nil, fmt.Errorf("%w: Search answer without ResponseInfo/ResponseCode", bank.ErrMalformed)
	}
	return &r, nil
}

// encodeSearchRequest writes a SearchRequest with its XML declaration
// (§3A.7). The bank's TransactionId wins over the order id when both are
// given.
func (v *VPOS) encodeSearchRequest(transID, orderID string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<SearchRequest><MerchantCriteria>")
	writeElements(&b, []element{{"HostMerchantId", v.merchantID}, {"MerchantPassword", v.password}})
	b.WriteString("</MerchantCriteria><TransactionCriteria>")
	writeElements(&b, []element{{"TransactionId", transID}, {"OrderId", orderID}, {"AuthCode", ""}})
	b.WriteString("</TransactionCriteria></SearchRequest>")
	return b.String()
}

func isTrue(t text) bool { return strings.EqualFold(string(t), "true") }

// Status asks Search about the payment: by the bank's TransactionId when
// known, else by order id, where the bank returns the successful
// transaction if there is one, else the last (§3A.8). The order succeeded
// iff ResponseCode and the transaction's ResultCode are both 0000 (§3A.9).
func (v *VPOS) Status(ctx context.Context, p *bank.Payment) (*bank.StatusResult, error) {
	body, err := v.post(ctx, "status", v.searchURL, v.encodeSearchRequest(p.Ref.TransID, p.OrderID))
	if err != nil {
		return nil, err
	}
	r, err := parseSearchResponse(body)
	if err != nil {
		return nil, &bank.TransportError{Op: "status", Sent: true, Err: err}
	}
	if r.ResponseCode != "0000" {
		res := Result(string(r.ResponseCode), string(r.ResponseMessage))
		return nil, fmt.Errorf("payflex: Search refused the query: %s %s (%s)", res.BankCode, res.BankMessage, res.Code)
	}
	st := &bank.StatusResult{}
	it := pickItem(r.Items)
	if it == nil {
		st.State, st.Raw = bank.TxnNotFound, "Search: no transaction"
		return st, nil
	}
	if it.OrderID != "" && string(it.OrderID) != p.OrderID {
		return nil, fmt.Errorf("payflex: Search answered for order %q, payment is for %q: %w", it.OrderID, p.OrderID, bank.ErrBinding)
	}
	amount := it.Amount
	if amount == "" {
		amount = it.CurrencyAmount
	}
	if amount != "" {
		if st.Amount, err = bank.ParseAmount(string(amount)); err != nil {
			return nil, &bank.TransportError{Op: "status", Sent: true, Err: fmt.Errorf("%w: Amount %q", bank.ErrMalformed, amount)}
		}
	}
	if it.TotalRefundAmount != "" {
		if st.Refunded, err = bank.ParseAmount(string(it.TotalRefundAmount)); err != nil {
			return nil, &bank.TransportError{Op: "status", Sent: true, Err: fmt.Errorf("%w: TotalRefundAmount %q", bank.ErrMalformed, it.TotalRefundAmount)}
		}
	}
	st.Settled = isTrue(it.IsBatchClosed)
	st.Ref = bank.Ref{AuthCode: string(it.AuthCode), HostRef: string(it.Rrn), TransID: string(it.TransactionID), MaskedPAN: string(it.PanMasked)}
	st.Raw = fmt.Sprintf("Search: %s %s ResultCode=%s IsCanceled=%s IsReversed=%s IsRefunded=%s IsBatchClosed=%s",
		it.TransactionType, it.TransactionID, it.ResultCode, it.IsCanceled, it.IsReversed, it.IsRefunded, it.IsBatchClosed)
	if it.ResultCode != "0000" {
		st.State, st.Result = bank.TxnDeclined, Result(string(it.ResultCode), string(it.ResponseMessage))
		return st, nil
	}
	st.Result = Result("0000", string(it.ResponseMessage))
	if it.TransactionType != "Auth" {
		st.Captured = st.Amount
	}
	switch {
	case isTrue(it.IsCanceled) || isTrue(it.IsReversed):
		st.State = bank.TxnVoided
	case st.Refunded > 0 || isTrue(it.IsRefunded):
		st.State = bank.TxnRefunded
		// IsRefunded without TotalRefundAmount says there are refunds, not
		// how much: taking it for the whole amount would confirm a partial
		// refund the bank never booked.
		st.RefundedUnknown = st.Refunded == 0
	default:
		st.State = bank.TxnApproved
	}
	return st, nil
}

// pickItem chooses the sale among the transactions Search returned: an
// approved Sale or Auth if there is one, else the last item.
func pickItem(items []searchItem) *searchItem {
	for i := range items {
		t := items[i].TransactionType
		if items[i].ResultCode == "0000" && (t == "Sale" || t == "Auth" || t == "") {
			return &items[i]
		}
	}
	if len(items) == 0 {
		return nil
	}
	return &items[len(items)-1]
}
