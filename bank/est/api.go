package est

import (
	"bufio"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/text/encoding/charmap"

	"github.com/posrelay/posrelay/bank"
)

// cc5Request is one call to the XML API (§1.7). Nil pointers are left out;
// empty strings in pointers are sent as empty elements.
type cc5Request struct {
	Name, Password, ClientID string
	Type                     string
	IPAddress                string
	OrderID                  string
	Total                    string
	Currency                 string
	Taksit                   *string
	Number                   string
	PayerTxnID               string
	PayerSecurityLevel       string
	PayerAuthenticationCode  string
	Mode                     string
	Extra                    [][2]string
}

// encode writes the request as ISO-8859-9 XML in the library's element
// order (§1.7 serializer sample).
func (r *cc5Request) encode() ([]byte, error) {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="ISO-8859-9"?>` + "\n<CC5Request>")
	el := func(name, v string) {
		b.WriteString("<" + name + ">")
		_ = xml.EscapeText(&b, []byte(v))
		b.WriteString("</" + name + ">")
	}
	opt := func(name, v string) {
		if v != "" {
			el(name, v)
		}
	}
	el("Name", r.Name)
	el("Password", r.Password)
	el("ClientId", r.ClientID)
	opt("Type", r.Type)
	if r.Type == "Auth" || r.Type == "PreAuth" {
		el("IPAddress", r.IPAddress)
	}
	el("OrderId", r.OrderID)
	opt("Total", r.Total)
	opt("Currency", r.Currency)
	if r.Taksit != nil {
		el("Taksit", *r.Taksit)
	}
	opt("Number", r.Number)
	opt("PayerTxnId", r.PayerTxnID)
	opt("PayerSecurityLevel", r.PayerSecurityLevel)
	opt("PayerAuthenticationCode", r.PayerAuthenticationCode)
	opt("Mode", r.Mode)
	if len(r.Extra) > 0 {
		b.WriteString("<Extra>")
		for _, kv := range r.Extra {
			el(kv[0], kv[1])
		}
		b.WriteString("</Extra>")
	}
	b.WriteString("</CC5Request>")
	out, err := charmap.ISO8859_9.NewEncoder().String(b.String())
	if err != nil {
		// A character ISO-8859-9 lacks (only possible in free text): replace it.
		out, _ = charmap.ISO8859_9.NewEncoder().String(asciiOnly(b.String()))
	}
	return []byte(out), nil
}

func asciiOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x80 {
			return r
		}
		if _, ok := charmap.ISO8859_9.EncodeRune(r); ok {
			return r
		}
		return '?'
	}, s)
}

// cc5Response is the answer (§1.8), with Extra as a flat map.
type cc5Response struct {
	OrderID        string
	GroupID        string
	Response       string
	AuthCode       string
	HostRefNum     string
	ProcReturnCode string
	TransID        string
	ErrMsg         string
	Extra          map[string]string
}

// parseResponse reads a CC5Response in ISO-8859-9 or UTF-8: the plain
// XML banks send through parsePlain, anything else through encoding/xml.
func parseResponse(body []byte) (*cc5Response, error) {
	if r, ok := parsePlain(body); ok {
		return r, nil
	}
	return parseXML(body)
}

// parseXML reads a CC5Response with encoding/xml.
func parseXML(body []byte) (*cc5Response, error) {
	dec := xml.NewDecoder(bytes.NewReader(body))
	dec.CharsetReader = charsetReader
	r := &cc5Response{Extra: map[string]string{}}
	var path []string
	var text strings.Builder
	sawRoot := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: not a CC5Response: %v", bank.ErrMalformed, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(path) == 0 {
				if t.Name.Local != "CC5Response" {
					return nil, fmt.Errorf("%w: root <%s>, want <CC5Response>", bank.ErrMalformed, t.Name.Local)
				}
				sawRoot = true
			}
			path = append(path, t.Name.Local)
			text.Reset()
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			v := strings.TrimSpace(text.String())
			switch {
			case len(path) == 2:
				r.set(path[1], v)
			case len(path) == 3 && path[1] == "Extra":
				r.Extra[path[2]] = v
			}
			path = path[:len(path)-1]
			text.Reset()
		}
	}
	if !sawRoot || len(path) != 0 {
		return nil, fmt.Errorf("%w: truncated CC5Response", bank.ErrMalformed)
	}
	return r, nil
}

func (r *cc5Response) set(name, v string) {
	switch name {
	case "OrderId":
		r.OrderID = v
	case "GroupId":
		r.GroupID = v
	case "Response":
		r.Response = v
	case "AuthCode":
		r.AuthCode = v
	case "HostRefNum":
		r.HostRefNum = v
	case "ProcReturnCode":
		r.ProcReturnCode = v
	case "TransId":
		r.TransID = v
	case "ErrMsg":
		r.ErrMsg = v
	}
}

func charsetReader(label string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "iso-8859-9", "iso8859-9", "latin5":
		return newByteDecoder(in, latin5), nil
	case "windows-1254", "cp1254":
		return newByteDecoder(in, windows1254), nil
	case "utf-8", "utf8", "":
		return in, nil
	}
	return nil, fmt.Errorf("unsupported charset %q", label)
}

// The UTF-8 of every byte of the two Turkish single-byte charsets, taken
// from golang.org/x/text's own decoders.
var (
	latin5      = utf8Table(charmap.ISO8859_9)
	windows1254 = utf8Table(charmap.Windows1254)
)

func utf8Table(cm *charmap.Charmap) *[256]string {
	var t [256]string
	dec := cm.NewDecoder()
	for i := range t {
		s, err := dec.Bytes([]byte{byte(i)})
		if err != nil || len(s) == 0 {
			s = []byte("\uFFFD")
		}
		t[i] = string(s)
	}
	return &t
}

// byteDecoder turns a single-byte charset into UTF-8 as charmap's
// Decoder().Reader() does, byte by byte: without that reader's two 4 KB
// buffers, and, being an io.ByteReader, without the 4 KB bufio.Reader
// encoding/xml would put around it. Every refreshed payment read parses
// a status answer, so those buffers were most of its garbage.
type byteDecoder struct {
	in      io.ByteReader
	table   *[256]string
	pending string // the rest of the last byte's UTF-8
}

func newByteDecoder(in io.Reader, table *[256]string) *byteDecoder {
	br, ok := in.(io.ByteReader)
	if !ok {
		br = bufio.NewReader(in)
	}
	return &byteDecoder{in: br, table: table}
}

func (d *byteDecoder) ReadByte() (byte, error) {
	if d.pending != "" {
		c := d.pending[0]
		d.pending = d.pending[1:]
		return c, nil
	}
	c, err := d.in.ReadByte()
	if err != nil {
		return 0, err
	}
	u := d.table[c]
	d.pending = u[1:]
	return u[0], nil
}

func (d *byteDecoder) Read(p []byte) (int, error) {
	for n := range p {
		c, err := d.ReadByte()
		if err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		p[n] = c
	}
	return len(p), nil
}

// call sends one API request; op names it in errors.
func (g *Gateway) call(ctx context.Context, op string, req *cc5Request) (*cc5Response, error) {
	body, err := req.encode()
	if err != nil {
		return nil, err
	}
	resp, err := g.doer.Do(ctx, &bank.Request{URL: g.cfg.APIURL, ContentType: "text/xml; charset=ISO-8859-9", Body: body})
	if err != nil {
		return nil, err
	}
	if resp.Status != 200 {
		return nil, &bank.TransportError{Op: op, Sent: true, Err: fmt.Errorf("%w: HTTP %d", bank.ErrMalformed, resp.Status)}
	}
	r, err := parseResponse(resp.Body)
	if err != nil {
		return nil, &bank.TransportError{Op: op, Sent: true, Err: err}
	}
	if !r.hasVerdict() {
		return nil, &bank.TransportError{Op: op, Sent: true, Err: fmt.Errorf("%w: CC5Response without ProcReturnCode or a Declined/Error Response", bank.ErrMalformed)}
	}
	return r, nil
}

// hasVerdict reports whether an answer says how the call ended: a
// ProcReturnCode, or a Response of Declined or Error without one (EST-F21).
// An answer with neither says nothing, like an unreadable one.
func (r *cc5Response) hasVerdict() bool {
	return r.ProcReturnCode != "" || r.Response == "Declined" || r.Response == "Error"
}

// Status asks ORDERSTATUS and ORDERHISTORY (§1.7.6, §1.7.7). ORDERSTATUS
// describes the order's newest transaction — a refund once there is one
// (EST-F14) — so the sale and the refunds are read from the history.
func (g *Gateway) Status(ctx context.Context, p *bank.Payment) (*bank.StatusResult, error) {
	return g.status(ctx, p, true)
}

// StatusKnowingRefunds is Status for a caller whose journal says whether
// the payment has refunds. While ORDERSTATUS describes the sale itself
// (CHARGE_TYPE_CD S) and no refund is known, the history would only
// repeat the sale, so it is not asked: one bank call instead of two. A
// refund record (CHARGE_TYPE_CD C), no charge type, or a known refund
// still reads the history.
func (g *Gateway) StatusKnowingRefunds(ctx context.Context, p *bank.Payment, refunds bool) (*bank.StatusResult, error) {
	return g.status(ctx, p, refunds)
}

func (g *Gateway) status(ctx context.Context, p *bank.Payment, history bool) (*bank.StatusResult, error) {
	resp, err := g.call(ctx, "status", g.query(p.OrderID, "ORDERSTATUS"))
	if err != nil {
		return nil, err
	}
	x := resp.Extra
	st := &bank.StatusResult{Raw: "TRANS_STAT=" + x["TRANS_STAT"] + " " + resp.ErrMsg}
	if resp.ProcReturnCode != "00" {
		// Only "No record found" (EST-F12) means the bank has no such
		// order; any other refusal (API credentials, source IP…) says
		// nothing about it.
		if strings.Contains(strings.ToLower(resp.ErrMsg), "no record") {
			st.State = bank.TxnNotFound
			return st, nil
		}
		return nil, &bank.TransportError{Op: "status", Sent: true, Err: fmt.Errorf("ORDERSTATUS answered %s: %s", resp.ProcReturnCode, resp.ErrMsg)}
	}
	st.Ref = bank.Ref{AuthCode: x["AUTH_CODE"], HostRef: x["HOST_REF_NUM"], TransID: x["TRANS_ID"], MaskedPAN: strings.ReplaceAll(x["PAN"], " ", "")}
	st.Settled = x["SETTLEID"] != ""
	saleStat, saleProc := x["TRANS_STAT"], x["PROC_RET_CD"]
	st.Amount, st.Captured = minor(x["ORIG_TRANS_AMT"]), minor(x["CAPTURE_AMT"])
	if !history && x["CHARGE_TYPE_CD"] == "S" {
		return saleStatus(st, p, saleStat, saleProc, resp.ErrMsg)
	}
	h, err := g.call(ctx, "history", g.query(p.OrderID, "ORDERHISTORY"))
	if err == nil && h.ProcReturnCode != "00" {
		err = &bank.TransportError{Op: "history", Sent: true, Err: fmt.Errorf("ORDERHISTORY answered %s: %s", h.ProcReturnCode, h.ErrMsg)}
	}
	sale, found := []string(nil), false
	if err == nil {
		sale, found = saleFromHistory(h.Extra)
		if !found {
			err = &bank.TransportError{Op: "history", Sent: true, Err: fmt.Errorf("%w: ORDERHISTORY lists no sale", bank.ErrMalformed)}
		}
	}
	switch {
	case found:
		saleStat, saleProc = sale[1], sale[9]
		st.Amount, st.Captured = minor(sale[2]), minor(sale[3])
		st.Ref.HostRef, st.Ref.AuthCode = sale[7], sale[8]
		if len(sale) > 10 {
			st.Ref.TransID = sale[10]
		}
		st.Refunded = refundedFromHistory(h.Extra)
	case x["CHARGE_TYPE_CD"] == "C":
		// ORDERSTATUS describes the refund; the sale is only in the history.
		return nil, err
	}
	return saleStatus(st, p, saleStat, saleProc, resp.ErrMsg)
}

// saleStatus completes st from the sale's TRANS_STAT and proc return code.
func saleStatus(st *bank.StatusResult, p *bank.Payment, saleStat, saleProc, errMsg string) (*bank.StatusResult, error) {
	switch saleStat {
	case "A", "C", "S":
		st.State = bank.TxnApproved
		if st.Refunded > 0 {
			st.State = bank.TxnRefunded
		}
		if saleStat == "A" && st.Captured == 0 && p.Type == bank.Sale {
			st.Captured = st.Amount
		}
		st.Result = bank.NewResult(bank.CodeApproved, saleProc, errMsg)
	case "V", "CNCL":
		st.State = bank.TxnVoided
		st.Result = bank.NewResult(bank.CodeAlreadyVoided, saleProc, errMsg)
	case "PN":
		st.State = bank.TxnPending
	case "D", "ERR", "R":
		st.State = bank.TxnDeclined
		st.Result = procResult(saleProc, errMsg, "")
	default:
		// Not a state §1.7.6 lists: no reason to call the payment declined.
		return nil, &bank.TransportError{Op: "status", Sent: true, Err: fmt.Errorf("%w: TRANS_STAT %q", bank.ErrMalformed, saleStat)}
	}
	return st, nil
}

// saleFromHistory returns the columns of the order's sale (or pre-auth)
// line of ORDERHISTORY: [0] charge type, [1] TRANS_STAT, [2] original and
// [3] captured amount in minor units, … [7] host ref, [8] auth code, [9]
// proc return code, [10] trans id (EST-F22). Lines are newest first; the
// sale is the oldest S line.
func saleFromHistory(x map[string]string) ([]string, bool) {
	n, _ := strconv.Atoi(x["TRXCOUNT"])
	var sale []string
	for i := 1; i <= n && i <= 1000; i++ {
		cols := strings.Split(x["TRX"+strconv.Itoa(i)], "\t")
		if len(cols) > 9 && cols[0] == "S" {
			sale = cols
		}
	}
	return sale, sale != nil
}

func (g *Gateway) query(orderID, kind string) *cc5Request {
	return &cc5Request{Name: g.cfg.APIUser, Password: g.cfg.APIPassword, ClientID: g.cfg.ClientID, OrderID: orderID,
		Extra: [][2]string{{kind, "QUERY"}}}
}

// refundedFromHistory sums approved credits (charge type C) of ORDERHISTORY.
func refundedFromHistory(x map[string]string) int64 {
	n, _ := strconv.Atoi(x["TRXCOUNT"])
	var sum int64
	for i := 1; i <= n && i <= 1000; i++ {
		cols := strings.Split(x["TRX"+strconv.Itoa(i)], "\t")
		if len(cols) > 9 && cols[0] == "C" && cols[9] == "00" && cols[1] != "V" && cols[1] != "D" {
			sum += minor(cols[2])
		}
	}
	return sum
}

// minor reads the minor-unit amounts of ORDERSTATUS ("101" = 1.01).
func minor(s string) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// Operate sends Credit (refund), Void or PostAuth (capture) (§1.7.3–1.7.5).
func (g *Gateway) Operate(ctx context.Context, p *bank.Payment, op *bank.Operation) (*bank.OpResult, error) {
	req := &cc5Request{Name: g.cfg.APIUser, Password: g.cfg.APIPassword, ClientID: g.cfg.ClientID, OrderID: p.OrderID}
	switch op.Kind {
	case bank.OpRefund:
		req.Type, req.Total, req.Currency = "Credit", bank.FormatAmount(op.Amount), p.Currency.Numeric
	case bank.OpVoid:
		req.Type = "Void"
	case bank.OpCapture:
		req.Type, req.Total = "PostAuth", bank.FormatAmount(op.Amount)
		if op.Amount > p.Amount {
			req.Extra = [][2]string{{"PREAMT", bank.FormatAmount(p.Amount)}}
		}
	default:
		return nil, bank.ErrNotSupported
	}
	resp, err := g.call(ctx, string(op.Kind), req)
	if err != nil {
		return nil, err
	}
	res := &bank.OpResult{Ref: bank.Ref{AuthCode: resp.AuthCode, HostRef: resp.HostRefNum, TransID: resp.TransID}}
	if resp.ProcReturnCode == "00" {
		res.Status, res.Result = bank.Succeeded, bank.NewResult(bank.CodeApproved, "00", resp.ErrMsg)
		return res, nil
	}
	res.Status, res.Result = bank.Failed, procResult(resp.ProcReturnCode, resp.ErrMsg, resp.Extra["ERRORCODE"])
	return res, nil
}
