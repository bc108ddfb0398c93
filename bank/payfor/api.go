package payfor

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/text/encoding/charmap"

	"github.com/posrelay/posrelay/bank"
)

// encodeRequest writes a PayforRequest with the elements in order, exactly
// as the library's serializer does (§2.7): the declaration, a newline, the
// request on one line, a newline.
func encodeRequest(fields bank.Fields) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<PayforRequest>")
	for _, f := range fields {
		b.WriteString("<" + f.Name + ">")
		_ = xml.EscapeText(&b, []byte(f.Value))
		b.WriteString("</" + f.Name + ">")
	}
	b.WriteString("</PayforRequest>\n")
	return b.Bytes()
}

// account is the block that opens every request but 3DModelPayment.
func (g *Gateway) account(fields ...bank.Field) bank.Fields {
	return append(bank.Fields{
		bank.F("MerchantId", g.cfg.MerchantID),
		bank.F("UserCode", g.cfg.UserCode),
		bank.F("UserPass", g.cfg.UserPass),
		bank.F("MbrId", g.cfg.MbrID),
	}, fields...)
}

// response is a decoded XMLGate answer: a PayforResponse's leaf elements,
// or a TxnHistoryReport's entries.
type response struct {
	root    string            // "PayforResponse" or "TxnHistoryReport"
	fields  map[string]string // PayforResponse
	history []historyEntry    // TxnHistoryReport, in document order
}

// historyEntry is one PaymentRequestExtended of a TxnHistoryReport.
type historyEntry struct {
	fields map[string]string // its PaymentRequest
	extra  map[string]string // its ExtraParameters (IsBatchClosed, SettlementDate)
}

// maxDepth bounds the nesting the parser follows; a TxnHistoryReport is
// five deep (report, entry, ExtraParameters, ArrayOfString, string).
const maxDepth = 8

// parseResponse reads an XMLGate answer (§2.7): UTF-8 (ISO-8859-9 and
// windows-1254 are read too), element values trimmed, so `\r\n` and
// indentation inside empty elements read as "". A single history entry is
// one entry, as many are many. Anything else — an HTML page, truncated or
// foreign XML — is bank.ErrMalformed.
func parseResponse(body []byte) (*response, error) {
	body = bytes.TrimPrefix(bytes.TrimSpace(body), []byte("\xef\xbb\xbf"))
	if len(body) == 0 {
		return nil, fmt.Errorf("%w: empty answer", bank.ErrMalformed)
	}
	dec := xml.NewDecoder(bytes.NewReader(body))
	dec.CharsetReader = charsetReader
	r := &response{fields: map[string]string{}}
	var (
		path  []string
		text  strings.Builder
		entry *historyEntry
		pair  []string // the <string> values of one ArrayOfString
	)
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: not a PayFor answer: %v", bank.ErrMalformed, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := t.Name.Local
			if len(path) == 0 {
				if r.root != "" {
					return nil, fmt.Errorf("%w: more than one root element", bank.ErrMalformed)
				}
				if name != "PayforResponse" && name != "TxnHistoryReport" {
					return nil, fmt.Errorf("%w: root <%s>, want <PayforResponse> or <TxnHistoryReport>", bank.ErrMalformed, name)
				}
				r.root = name
			}
			if len(path) >= maxDepth {
				return nil, fmt.Errorf("%w: elements nested too deep", bank.ErrMalformed)
			}
			path = append(path, name)
			text.Reset()
			switch {
			case r.root == "TxnHistoryReport" && len(path) == 2 && name == "PaymentRequestExtended":
				r.history = append(r.history, historyEntry{fields: map[string]string{}, extra: map[string]string{}})
				entry = &r.history[len(r.history)-1]
			case len(path) == 4 && path[2] == "ExtraParameters" && name == "ArrayOfString":
				pair = pair[:0]
			}
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			v := strings.TrimSpace(text.String())
			text.Reset()
			switch {
			case r.root == "PayforResponse" && len(path) == 2:
				setFirst(r.fields, path[1], v)
			case entry != nil && len(path) == 4 && path[2] == "PaymentRequest":
				setFirst(entry.fields, path[3], v)
			case entry != nil && len(path) == 5 && path[2] == "ExtraParameters" && path[4] == "string":
				pair = append(pair, v)
			case entry != nil && len(path) == 4 && path[2] == "ExtraParameters" && path[3] == "ArrayOfString":
				if len(pair) >= 1 && pair[0] != "" {
					val := ""
					if len(pair) >= 2 {
						val = pair[1]
					}
					setFirst(entry.extra, pair[0], val)
				}
			case len(path) == 2:
				entry = nil
			}
			path = path[:len(path)-1]
		}
	}
	if r.root == "" || len(path) != 0 {
		return nil, fmt.Errorf("%w: truncated PayFor answer", bank.ErrMalformed)
	}
	return r, nil
}

func setFirst(m map[string]string, k, v string) {
	if _, ok := m[k]; !ok {
		m[k] = v
	}
}

func charsetReader(label string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "utf-8", "utf8", "":
		return in, nil
	case "iso-8859-9", "iso8859-9", "latin5":
		return charmap.ISO8859_9.NewDecoder().Reader(in), nil
	case "windows-1254", "cp1254":
		return charmap.Windows1254.NewDecoder().Reader(in), nil
	}
	return nil, fmt.Errorf("unsupported charset %q", label)
}

// call sends one XMLGate request; op names it in errors. A non-XML answer
// (an HTML error or WAF page, a truncated document) is a TransportError
// with Sent set, wrapping bank.ErrMalformed: the bank may have acted.
func (g *Gateway) call(ctx context.Context, op string, fields bank.Fields) (*response, error) {
	body := encodeRequest(fields)
	resp, err := g.doer.Do(ctx, &bank.Request{URL: g.cfg.APIURL, ContentType: "text/xml; charset=UTF-8", Accept: "text/xml", Body: body})
	clear(body) // holds UserPass
	if err != nil {
		return nil, fmt.Errorf("payfor %s: %w", op, err)
	}
	if resp.Status != 200 {
		return nil, &bank.TransportError{Op: "payfor " + op, Sent: true, Err: fmt.Errorf("%w: HTTP %d from XMLGate", bank.ErrMalformed, resp.Status)}
	}
	r, err := parseResponse(resp.Body)
	if err != nil {
		return nil, &bank.TransportError{Op: "payfor " + op, Sent: true, Err: err}
	}
	if r.root != "PayforResponse" && op != "history" {
		return nil, &bank.TransportError{Op: "payfor " + op, Sent: true, Err: fmt.Errorf("%w: <%s> answer to %s", bank.ErrMalformed, r.root, op)}
	}
	return r, nil
}

// Status asks OrderInquiry and, for an approved order, TxnHistory for the
// capture of a pre-authorisation and the settlement (§2.7, PF-F11, PF-F12).
func (g *Gateway) Status(ctx context.Context, p *bank.Payment) (*bank.StatusResult, error) {
	r, err := g.call(ctx, "order inquiry", g.account(
		bank.F("OrgOrderId", p.OrderID),
		bank.F("SecureType", "Inquiry"),
		bank.F("Lang", lang(p)),
		bank.F("TxnType", "OrderInquiry"),
	))
	if err != nil {
		return nil, err
	}
	f := r.fields
	prc, typ := f["ProcReturnCode"], f["TxnType"]
	st := &bank.StatusResult{Raw: fmt.Sprintf("TxnType=%s ProcReturnCode=%s TxnResult=%s IsVoided=%s IsRefunded=%s RefundedAmount=%s",
		typ, prc, f["TxnResult"], f["IsVoided"], f["IsRefunded"], f["RefundedAmount"])}
	isSale := typ == "Auth" || typ == "PreAuth" || typ == "PostAuth"
	switch {
	case prc == "V013":
		st.State, st.Result = bank.TxnNotFound, procResult(prc, message(f), f["IrcCode"], false)
		return st, nil
	case !isSale || f["OrderId"] != "" && f["OrderId"] != p.OrderID:
		// Not a record of this order's sale: the inquiry itself was refused.
		return nil, fmt.Errorf("payfor order inquiry: the bank answered %s %q (TxnType %q); check the account's credentials and the relay's registered IP",
			prc, message(f), typ)
	}
	st.Ref = bank.Ref{AuthCode: f["AuthCode"], HostRef: f["HostRefNum"], TransID: f["TransId"], MaskedPAN: f["CardMask"]}
	st.Amount = amount(f["PurchAmount"])
	if prc == "V033" {
		// The record of a 3DModel authentication that was never
		// provisioned: there is no sale.
		st.State, st.Result = bank.TxnNotFound, bank.NewResult(bank.CodeNotFound, prc, message(f))
		return st, nil
	}
	if prc != "00" {
		st.State = bank.TxnDeclined
		st.Result = procResult(prc, message(f), f["IrcCode"], false)
		if openCodes[prc] || prc == "" {
			st.State, st.Result = bank.TxnPending, bank.NewResult(bank.CodeUnknown, prc, message(f))
		}
		return st, nil
	}
	st.State, st.Result = bank.TxnApproved, bank.NewResult(bank.CodeApproved, prc, message(f))
	if typ == "Auth" || typ == "PostAuth" {
		st.Captured = st.Amount
	}
	st.Refunded = amount(f["RefundedAmount"])
	switch {
	case strings.EqualFold(f["IsVoided"], "true"):
		st.State = bank.TxnVoided
		return st, nil
	case st.Refunded > 0 || strings.EqualFold(f["IsRefunded"], "true"):
		st.State = bank.TxnRefunded
		// IsRefunded without a RefundedAmount: refunds exist, their total
		// is not said (no proof of any one refund).
		st.RefundedUnknown = st.Refunded == 0
	}
	if h, err := g.call(ctx, "history", g.account(
		bank.F("SecureType", "Report"),
		bank.F("OrderId", p.OrderID),
		bank.F("TxnType", "TxnHistory"),
		bank.F("Lang", lang(p)),
	)); err == nil {
		applyHistory(st, h)
	}
	return st, nil
}

// applyHistory reads the settlement of the sale and the capture of a
// pre-authorisation from TxnHistory.
func applyHistory(st *bank.StatusResult, h *response) {
	for _, e := range h.history {
		f := e.fields
		if f["ProcReturnCode"] != "00" || f["TxnStatus"] == "V" {
			continue
		}
		switch f["TxnType"] {
		case "Auth", "PreAuth":
			st.Settled = strings.EqualFold(e.extra["IsBatchClosed"], "true")
		case "PostAuth":
			st.Captured = amount(f["PurchAmount"])
		}
	}
}

// amount reads a decimal amount of an answer, 0 when absent or unreadable.
func amount(s string) int64 {
	n, err := bank.ParseAmount(s)
	if err != nil {
		return 0
	}
	return n
}

// Operate sends Refund, Void or PostAuth (§2.7). V014 (refund before end
// of day) comes back as CodeVoidInstead, V018 (void after settlement) as
// CodeRefundInstead, V013 as CodeNotFound.
func (g *Gateway) Operate(ctx context.Context, p *bank.Payment, op *bank.Operation) (*bank.OpResult, error) {
	var fields bank.Fields
	switch op.Kind {
	case bank.OpRefund:
		if op.Amount <= 0 {
			return nil, fmt.Errorf("payfor refund: amount %d; give the amount to refund in minor units", op.Amount)
		}
		fields = g.account(
			bank.F("SecureType", "NonSecure"),
			bank.F("Lang", lang(p)),
			bank.F("OrgOrderId", p.OrderID),
			bank.F("TxnType", "Refund"),
			bank.F("PurchAmount", bank.FormatAmount(op.Amount)),
			bank.F("Currency", p.Currency.Numeric),
		)
	case bank.OpVoid:
		fields = g.account(
			bank.F("OrgOrderId", p.OrderID),
			bank.F("SecureType", "NonSecure"),
			bank.F("TxnType", "Void"),
			bank.F("Currency", p.Currency.Numeric),
			bank.F("Lang", lang(p)),
		)
	case bank.OpCapture:
		amt := op.Amount
		if amt == 0 {
			amt = p.Amount
		}
		fields = g.account(
			bank.F("OrgOrderId", p.OrderID),
			bank.F("SecureType", "NonSecure"),
			bank.F("TxnType", "PostAuth"),
			bank.F("PurchAmount", bank.FormatAmount(amt)),
			bank.F("Currency", p.Currency.Numeric),
			bank.F("Lang", lang(p)),
			bank.F("MOTO", "0"),
		)
	default:
		return nil, bank.ErrNotSupported
	}
	r, err := g.call(ctx, string(op.Kind), fields)
	if err != nil {
		return nil, err
	}
	f := r.fields
	res := &bank.OpResult{Ref: bank.Ref{AuthCode: f["AuthCode"], HostRef: f["HostRefNum"], TransID: f["TransId"]}}
	switch prc := f["ProcReturnCode"]; prc {
	case "00":
		res.Status, res.Result = bank.Succeeded, bank.NewResult(bank.CodeApproved, prc, message(f))
	case "":
		return nil, &bank.TransportError{Op: "payfor " + string(op.Kind), Sent: true, Err: fmt.Errorf("%w: answer without ProcReturnCode", bank.ErrMalformed)}
	default:
		res.Status, res.Result = closing(prc, message(f), f["IrcCode"], false)
	}
	return res, nil
}
