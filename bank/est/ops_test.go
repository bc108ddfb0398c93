package est

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/posrelay/posrelay/bank"
)

const xmlDecl = `<?xml version="1.0" encoding="ISO-8859-9"?>` + "\n"

// wafAnswer is the HTML a WAF answers instead of XML (§0.1).
func wafAnswer(t testing.TB) func(string) (*bank.Response, error) {
	body := readTestdata(t, "waf.html")
	return func(string) (*bank.Response, error) {
		return &bank.Response{Status: 200, ContentType: "text/html", Body: body, URL: testAPIURL}, nil
	}
}

func errAnswer(err error) func(string) (*bank.Response, error) {
	return func(string) (*bank.Response, error) { return nil, err }
}

func rawAnswer(status int, body []byte) func(string) (*bank.Response, error) {
	return func(string) (*bank.Response, error) {
		return &bank.Response{Status: status, ContentType: "text/xml", Body: body, URL: testAPIURL}, nil
	}
}

// errorsUnknown asserts an error that leaves a money-moving call open.
func checkUnknown(t testing.TB, err error, op string) {
	t.Helper()
	var te *bank.TransportError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v, want a *bank.TransportError", err)
	}
	if !te.Sent || te.Op != op {
		t.Errorf("TransportError %+v, want Sent and Op %q", te, op)
	}
	if !bank.OutcomeUnknown(err) {
		t.Error("OutcomeUnknown is false")
	}
}

// verifiedF5 is the EST-F5 callback (3d, mdStatus 1) as Verify accepts it.
func verifiedF5(t testing.TB, g *Gateway) *bank.Verified {
	t.Helper()
	fx := loadCallback(t, "EST-F5")
	v, err := g.Verify(testPayment("202210304547", 101), &bank.Callback{Method: "POST", Fields: fx.Fields})
	if err != nil || v.Finish == nil {
		t.Fatalf("EST-F5: %+v %v", v, err)
	}
	return v
}

func f5Gateway(t testing.TB, d bank.Doer) *Gateway {
	fx := loadCallback(t, "EST-F5")
	return newGateway(t, fx.config(Model3D), d)
}

func TestFinish(t *testing.T) {
	const md = "435508:4328956B2D668C558B0AECFF49A883EEFF2CD4168F54758441F31C79840636B8:3827:##190100000"
	wantBody := func(typ, taksit string) string {
		return xmlDecl + "<CC5Request><Name>ISBANKAPI</Name><Password>ISBANK07</Password><ClientId>190100000</ClientId><Type>" + typ +
			"</Type><IPAddress>89.244.149.137</IPAddress><OrderId>202210304547</OrderId><Total>1.01</Total><Currency>949</Currency><Taksit>" + taksit +
			"</Taksit><Number>" + md + "</Number><PayerTxnId>XWOb78QRZ1Re8f7i8b2ZW85cLr8=</PayerTxnId><PayerSecurityLevel>05</PayerSecurityLevel>" +
			"<PayerAuthenticationCode>ABABCSQDGQAAAABllJMDdUQAEJI=</PayerAuthenticationCode><Mode>P</Mode></CC5Request>"
	}
	transportErr := &bank.TransportError{Op: "dial", Err: errors.New("connection refused")}
	timeoutErr := &bank.TransportError{Op: "provision", Sent: true, Timeout: true, Err: context.DeadlineExceeded}
	cases := []struct {
		name     string
		pay      func(*bank.Payment)
		answer   func(string) (*bank.Response, error)
		body     string
		status   bank.Status
		code     string
		reason   int
		bankCode string
		ref      bank.Ref
		err      error // errors.Is target
		unknown  bool  // a TransportError with Sent, outcome unknown
	}{
		{name: "approved EST-F6", answer: fixtureAnswer(t, "EST-F6"), body: wantBody("Auth", ""), status: bank.Succeeded, code: bank.CodeApproved, bankCode: "00",
			ref: bank.Ref{AuthCode: "563339", HostRef: "230311184777", TransID: "22303LzpJ16296"}},
		{name: "preauth in 3 installments", pay: func(p *bank.Payment) { p.Type, p.Installments = bank.PreAuth, 3 }, answer: fixtureAnswer(t, "EST-F6"),
			body: wantBody("PreAuth", "3"), status: bank.Succeeded, code: bank.CodeApproved},
		{name: "declined 99 CORE-2603 EST-F7", answer: fixtureAnswer(t, "EST-F7"), status: bank.Failed, code: bank.CodeInstallments, reason: 3034, bankCode: "99/CORE-2603",
			ref: bank.Ref{TransID: "22303LtCH15933"}},
		{name: "declined 82 EST-F8", answer: fixtureAnswer(t, "EST-F8"), status: bank.Failed, code: bank.CodeInvalidCVV, reason: 3016, bankCode: "82/ISO8583-82",
			ref: bank.Ref{HostRef: "4139489", TransID: "24138rt2596"}},
		{name: "declined 99 CORE-2012 EST-F2", answer: fixtureAnswer(t, "EST-F2"), status: bank.Failed, code: bank.CodeInvalidCard, reason: 3015, bankCode: "99/CORE-2012"},
		{name: "declined without ProcReturnCode EST-F21", answer: fixtureAnswer(t, "EST-F21"), status: bank.Failed, code: bank.CodeInvalidAmount, reason: 3001, bankCode: "215021"},
		{name: "declined 51", answer: rawAnswer(200, cc5("Response", "Declined", "ProcReturnCode", "51", "ErrMsg", "Yetersiz bakiye")), status: bank.Failed,
			code: bank.CodeInsufficientFunds, reason: 3012, bankCode: "51"},
		{name: "WAF HTML page", answer: wafAnswer(t), err: bank.ErrMalformed, unknown: true},
		{name: "truncated XML", answer: rawAnswer(200, readTestdata(t, "responses/EST-F6.xml")[:120]), err: bank.ErrMalformed, unknown: true},
		{name: "HTTP 500", answer: rawAnswer(500, []byte("oops")), err: bank.ErrMalformed, unknown: true},
		{name: "HTTP 302", answer: rawAnswer(302, nil), err: bank.ErrMalformed, unknown: true},
		{name: "answer without a verdict", answer: rawAnswer(200, cc5("OrderId", "202210304547", "TransId", "x")), err: bank.ErrMalformed, unknown: true},
		{name: "Approved without ProcReturnCode", answer: rawAnswer(200, cc5("Response", "Approved", "AuthCode", "P1")), err: bank.ErrMalformed, unknown: true},
		{name: "transport error passed through", answer: errAnswer(transportErr), err: transportErr},
		{name: "timeout passed through", answer: errAnswer(timeoutErr), err: timeoutErr},
		{name: "context canceled passed through", answer: errAnswer(context.Canceled), err: context.Canceled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			g := f5Gateway(t, rec.wrap(tc.answer))
			v := verifiedF5(t, g)
			p := testPayment("202210304547", 101)
			if tc.pay != nil {
				tc.pay(p)
			}
			out, err := g.Finish(context.Background(), p, v)
			bodies := rec.bodies()
			if len(bodies) != 1 {
				t.Fatalf("%d calls", len(bodies))
			}
			if tc.body != "" && bodies[0] != tc.body {
				t.Errorf("request\n got %s\nwant %s", bodies[0], tc.body)
			}
			for _, s := range []string{"4355084355084358", "<Expires>", "<Cvv2Val>", "<pan>"} {
				if strings.Contains(bodies[0], s) {
					t.Errorf("provisioning carries card data %q", s)
				}
			}
			r := rec.reqs[0]
			if r.URL != testAPIURL || r.ContentType != "text/xml; charset=ISO-8859-9" || (r.Method != "" && r.Method != "POST") {
				t.Errorf("request %s %s %q", r.Method, r.URL, r.ContentType)
			}
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				if tc.unknown {
					checkUnknown(t, err, "provision")
				}
				if out != nil {
					t.Fatal("outcome with an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out.Status != tc.status || out.Result.Code != tc.code || out.Result.ReasonCode != tc.reason {
				t.Errorf("%s %s %d, want %s %s %d", out.Status, out.Result.Code, out.Result.ReasonCode, tc.status, tc.code, tc.reason)
			}
			if tc.bankCode != "" && out.Result.BankCode != tc.bankCode {
				t.Errorf("BankCode %q, want %q", out.Result.BankCode, tc.bankCode)
			}
			if tc.ref != (bank.Ref{}) && out.Ref != tc.ref {
				t.Errorf("Ref %+v, want %+v", out.Ref, tc.ref)
			}
			if out.Echo != v.Echo {
				t.Errorf("Echo %+v, want the callback's %+v", out.Echo, v.Echo)
			}
		})
	}
	t.Run("nothing to finish", func(t *testing.T) {
		g := f5Gateway(t, doerFunc(func(context.Context, *bank.Request) (*bank.Response, error) {
			t.Fatal("called the bank")
			return nil, nil
		}))
		if _, err := g.Finish(context.Background(), testPayment("o", 1), &bank.Verified{Echo: bank.Echo{OrderID: "o"}}); err == nil {
			t.Fatal("no error")
		}
	})
}

// statusDoer answers ORDERSTATUS and ORDERHISTORY queries.
func statusDoer(rec *recorder, status, history func(string) (*bank.Response, error)) doerFunc {
	return rec.wrap(func(body string) (*bank.Response, error) {
		switch {
		case strings.Contains(body, "<Extra><ORDERSTATUS>QUERY</ORDERSTATUS></Extra>"):
			return status(body)
		case strings.Contains(body, "<Extra><ORDERHISTORY>QUERY</ORDERHISTORY></Extra>"):
			if history == nil {
				return nil, errors.New("no history answer")
			}
			return history(body)
		}
		return nil, fmt.Errorf("unexpected request %s", body)
	})
}

// history builds an ORDERHISTORY answer (derived, in the shape of EST-F22)
// from TAB-separated lines, newest first.
func history(lines ...string) func(string) (*bank.Response, error) {
	kv := []string{"ErrMsg", "", "ProcReturnCode", "00", "Response", "Approved", "OrderId", "x", "Extra.TERMINALID", "00655020", "Extra.NUMCODE", "0"}
	for i, l := range lines {
		kv = append(kv, fmt.Sprintf("Extra.TRX%d", i+1), strings.ReplaceAll(l, " | ", "\t"))
	}
	kv = append(kv, "Extra.TRXCOUNT", fmt.Sprint(len(lines)))
	return rawAnswer(200, cc5(kv...))
}

func TestStatus(t *testing.T) {
	query := func(oid, kind string) string {
		return xmlDecl + "<CC5Request><Name>ISBANKAPI</Name><Password>ISBANK07</Password><ClientId>190100000</ClientId><OrderId>" + oid +
			"</OrderId><Extra><" + kind + ">QUERY</" + kind + "></Extra></CC5Request>"
	}
	// History lines: [0] type | [1] TRANS_STAT | [2] amount | [3] captured | [4-6] dates | [7] host ref | [8] auth code | [9] proc code | [10] trans id.
	const (
		saleF11   = "S | A | 101 |  | 2022-10-30 12:29:53.773 |  |  | 230300671782 | P90325 | 00 | 22303Md4C19254"
		saleF13   = "S | V | 101 | 101 | 2024-01-03 21:49:42.929 | 2024-01-03 21:49:42.929 | 2024-01-03 21:49:44.301 | 400300744237 | P42795 | 00 | 24003VxrB15662"
		saleF14   = "S | C | 201 | 201 | 2024-01-28 19:58:40.100 | 2024-01-28 19:58:40.100 |  | 402800747500 | P93700 | 00 | 24028T8xG11900"
		refundF14 = "C | C | 201 | 201 | 2024-01-28 19:58:49.382 | 2024-01-28 19:58:49.382 |  | 402800747548 | P93736 | 00 | 24028T8xG11980"
	)
	transportErr := &bank.TransportError{Op: "dial", Err: io.ErrUnexpectedEOF}
	type want struct {
		state    bank.TxnState
		amount   int64
		captured int64
		refunded int64
		settled  bool
		ref      bank.Ref
		code     string
		bankCode string
		calls    int
		err      error // errors.Is target
		anyErr   bool
	}
	cases := []struct {
		name    string
		oid     string
		typ     bank.TxnType
		status  func(string) (*bank.Response, error)
		history func(string) (*bank.Response, error)
		want    want
	}{
		{name: "approved EST-F11, history", oid: "20221030FAC5", status: fixtureAnswer(t, "EST-F11"), history: history(saleF11),
			want: want{state: bank.TxnApproved, amount: 101, captured: 101, code: bank.CodeApproved, bankCode: "00", calls: 2,
				ref: bank.Ref{AuthCode: "P90325", HostRef: "230300671782", TransID: "22303Md4C19254", MaskedPAN: "435508******4358"}}},
		{name: "approved EST-F11, history unavailable", oid: "20221030FAC5", status: fixtureAnswer(t, "EST-F11"), history: errAnswer(transportErr),
			want: want{state: bank.TxnApproved, amount: 101, captured: 101, code: bank.CodeApproved, bankCode: "00", calls: 2,
				ref: bank.Ref{AuthCode: "P90325", HostRef: "230300671782", TransID: "22303Md4C19254", MaskedPAN: "435508******4358"}}},
		{name: "approved EST-F11 pre-auth: nothing captured", oid: "20221030FAC5", typ: bank.PreAuth, status: fixtureAnswer(t, "EST-F11"), history: history(saleF11),
			want: want{state: bank.TxnApproved, amount: 101, captured: 0, code: bank.CodeApproved, calls: 2}},
		{name: "not found EST-F12", oid: "2022103088D22", status: fixtureAnswer(t, "EST-F12"), want: want{state: bank.TxnNotFound, calls: 1}},
		{name: "voided EST-F13", oid: "20240103BBF9", status: fixtureAnswer(t, "EST-F13"), history: history(saleF13),
			want: want{state: bank.TxnVoided, amount: 101, captured: 101, code: bank.CodeAlreadyVoided, bankCode: "00", calls: 2,
				ref: bank.Ref{AuthCode: "P42795", HostRef: "400300744237", TransID: "24003VxrB15662", MaskedPAN: "454671******7894"}}},
		{name: "voided EST-F13, history unavailable", oid: "20240103BBF9", status: fixtureAnswer(t, "EST-F13"), history: errAnswer(transportErr),
			want: want{state: bank.TxnVoided, amount: 101, captured: 101, code: bank.CodeAlreadyVoided, calls: 2}},
		// EST-F14 (a refund is the newest transaction) with EST-F22's
		// history (another order in the document; paired here for shape):
		// the sale is read from the history, not from the refund record.
		{name: "refund record EST-F14 + history EST-F22", oid: "20240128C0B7", status: fixtureAnswer(t, "EST-F14"), history: fixtureAnswer(t, "EST-F22"),
			want: want{state: bank.TxnVoided, amount: 101, captured: 101, refunded: 0, code: bank.CodeAlreadyVoided, bankCode: "00", calls: 2,
				ref: bank.Ref{AuthCode: "P78955", HostRef: "400200744059", TransID: "24002V29G19979", MaskedPAN: "454671******7894"}}},
		{name: "refund record EST-F14, full refund", oid: "20240128C0B7", status: fixtureAnswer(t, "EST-F14"), history: history(refundF14, saleF14),
			want: want{state: bank.TxnRefunded, amount: 201, captured: 201, refunded: 201, code: bank.CodeApproved, calls: 2,
				ref: bank.Ref{AuthCode: "P93700", HostRef: "402800747500", TransID: "24028T8xG11900", MaskedPAN: "454671******7894"}}},
		{name: "partial refunds summed", oid: "20240128C0B7", status: fixtureAnswer(t, "EST-F14"), history: history(
			"C | C | 51 | 51 | 2024-01-29 10:00:00.000 |  |  | 402900000003 | P00003 | 00 | T3",
			"C | D | 30 | 30 | 2024-01-29 09:00:00.000 |  |  |  |  | 99 | T2",
			"C | V | 20 | 20 | 2024-01-28 20:30:00.000 |  | 2024-01-28 20:31:00.000 | 402800000002 | P00002 | 00 | T1b",
			"C | C | 100 | 100 | 2024-01-28 20:00:00.000 |  |  | 402800000001 | P00001 | 00 | T1",
			saleF14),
			want: want{state: bank.TxnRefunded, amount: 201, captured: 201, refunded: 151, code: bank.CodeApproved, calls: 2}},
		{name: "refund record, history unavailable", oid: "20240128C0B7", status: fixtureAnswer(t, "EST-F14"), history: errAnswer(transportErr),
			want: want{err: transportErr, calls: 2}},
		{name: "refund record, history without the sale", oid: "20240128C0B7", status: fixtureAnswer(t, "EST-F14"), history: history(refundF14),
			want: want{anyErr: true, calls: 2}},
		{name: "refund record, history not found", oid: "20240128C0B7", status: fixtureAnswer(t, "EST-F14"),
			history: rawAnswer(200, cc5("ErrMsg", "No record found for 20240128C0B7", "ProcReturnCode", "99", "Response", "Declined", "Extra.TRXCOUNT", "0")),
			want:    want{anyErr: true, calls: 2}},
		{name: "declined sale", oid: "O1", status: rawAnswer(200, cc5("ProcReturnCode", "00", "Response", "Approved", "ErrMsg", "Record(s) found for O1",
			"Extra.ORD_ID", "O1", "Extra.CHARGE_TYPE_CD", "S", "Extra.ORIG_TRANS_AMT", "101", "Extra.TRANS_STAT", "D", "Extra.PROC_RET_CD", "51")),
			history: history("S | D | 101 |  | 2024-01-01 10:00:00.000 |  |  |  |  | 51 | T"),
			want:    want{state: bank.TxnDeclined, amount: 101, code: bank.CodeInsufficientFunds, bankCode: "51", calls: 2}},
		{name: "pending", oid: "O1", status: rawAnswer(200, cc5("ProcReturnCode", "00", "ErrMsg", "Record(s) found for O1",
			"Extra.ORD_ID", "O1", "Extra.CHARGE_TYPE_CD", "S", "Extra.ORIG_TRANS_AMT", "101", "Extra.TRANS_STAT", "PN")), history: errAnswer(transportErr),
			want: want{state: bank.TxnPending, amount: 101, calls: 2}},
		{name: "settled", oid: "O1", status: rawAnswer(200, cc5("ProcReturnCode", "00", "ErrMsg", "Record(s) found for O1",
			"Extra.ORD_ID", "O1", "Extra.CHARGE_TYPE_CD", "S", "Extra.ORIG_TRANS_AMT", "101", "Extra.CAPTURE_AMT", "101", "Extra.TRANS_STAT", "C", "Extra.SETTLEID", "2287", "Extra.PROC_RET_CD", "00")),
			history: errAnswer(transportErr),
			want:    want{state: bank.TxnApproved, amount: 101, captured: 101, settled: true, code: bank.CodeApproved, calls: 2}},
		// Not every failed query means the order does not exist.
		{name: "API credentials refused is no 'not found'", oid: "O1",
			status: rawAnswer(200, cc5("OrderId", "", "Response", "Error", "ProcReturnCode", "99", "ErrMsg", "Kullanici adi, sifre veya isyeri numarasi hatali.", "Extra.ERRORCODE", "")),
			want:   want{anyErr: true, calls: 1}},
		{name: "CORE-2001 is no 'not found'", oid: "O1",
			status: rawAnswer(200, cc5("Response", "Error", "ProcReturnCode", "99", "ErrMsg", "Gecersiz Islem Tipi.", "Extra.ERRORCODE", "CORE-2001")),
			want:   want{anyErr: true, calls: 1}},
		{name: "answer without a verdict is no 'not found'", oid: "O1", status: rawAnswer(200, cc5()), want: want{anyErr: true, calls: 1}},
		{name: "unknown TRANS_STAT is no decline", oid: "O1", status: rawAnswer(200, cc5("ProcReturnCode", "00", "ErrMsg", "Record(s) found for O1",
			"Extra.ORD_ID", "O1", "Extra.CHARGE_TYPE_CD", "S", "Extra.ORIG_TRANS_AMT", "101", "Extra.TRANS_STAT", "Q")), history: errAnswer(transportErr),
			want: want{anyErr: true, calls: 2}},
		{name: "empty TRANS_STAT is no decline", oid: "O1", status: rawAnswer(200, cc5("ProcReturnCode", "00", "ErrMsg", "Record(s) found for O1",
			"Extra.ORD_ID", "O1")), history: errAnswer(transportErr),
			want: want{anyErr: true, calls: 2}},
		{name: "WAF page", oid: "O1", status: wafAnswer(t), want: want{err: bank.ErrMalformed, calls: 1}},
		{name: "transport error passed through", oid: "O1", status: errAnswer(transportErr), want: want{err: transportErr, calls: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			g := newGateway(t, testConfig(Model3DPayHosting), statusDoer(rec, tc.status, tc.history))
			p := testPayment(tc.oid, 101)
			if tc.typ != "" {
				p.Type = tc.typ
			}
			st, err := g.Status(context.Background(), p)
			bodies := rec.bodies()
			if len(bodies) != tc.want.calls {
				t.Errorf("%d calls, want %d", len(bodies), tc.want.calls)
			}
			if len(bodies) > 0 && bodies[0] != query(tc.oid, "ORDERSTATUS") {
				t.Errorf("first request\n got %s\nwant %s", bodies[0], query(tc.oid, "ORDERSTATUS"))
			}
			if len(bodies) > 1 && bodies[1] != query(tc.oid, "ORDERHISTORY") {
				t.Errorf("second request\n got %s\nwant %s", bodies[1], query(tc.oid, "ORDERHISTORY"))
			}
			w := tc.want
			if w.err != nil || w.anyErr {
				if err == nil {
					t.Fatalf("no error; got %+v", st)
				}
				if w.err != nil && !errors.Is(err, w.err) {
					t.Fatalf("err = %v, want %v", err, w.err)
				}
				if st != nil {
					t.Fatal("a result with the error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if st.State != w.state || st.Amount != w.amount || st.Captured != w.captured || st.Refunded != w.refunded || st.Settled != w.settled {
				t.Errorf("got state %s amount %d captured %d refunded %d settled %v\nwant state %s amount %d captured %d refunded %d settled %v",
					st.State, st.Amount, st.Captured, st.Refunded, st.Settled, w.state, w.amount, w.captured, w.refunded, w.settled)
			}
			if w.ref != (bank.Ref{}) && st.Ref != w.ref {
				t.Errorf("Ref %+v, want %+v", st.Ref, w.ref)
			}
			if st.Result.Code != w.code {
				t.Errorf("Code %q, want %q", st.Result.Code, w.code)
			}
			if w.bankCode != "" && st.Result.BankCode != w.bankCode {
				t.Errorf("BankCode %q, want %q", st.Result.BankCode, w.bankCode)
			}
			if st.Result.Code != "" && !bank.KnownCode(st.Result.Code) {
				t.Errorf("unknown code %q", st.Result.Code)
			}
			if strings.Contains(st.Raw, "ISBANK07") {
				t.Error("Raw carries the API password")
			}
		})
	}
}

func TestOperate(t *testing.T) {
	req := func(inner string) string {
		return xmlDecl + "<CC5Request><Name>ISBANKAPI</Name><Password>ISBANK07</Password><ClientId>190100000</ClientId>" + inner + "</CC5Request>"
	}
	transportErr := &bank.TransportError{Op: "dial", Err: errors.New("no route to host")}
	cases := []struct {
		name     string
		amount   int64 // the payment's
		op       bank.Operation
		answer   func(string) (*bank.Response, error)
		body     string
		status   bank.Status
		code     string
		reason   int
		bankCode string
		ref      bank.Ref
		err      error
		unknown  string // Op of the expected TransportError
	}{
		{name: "refund approved EST-F19", amount: 10000, op: bank.Operation{ID: "op_1", Kind: bank.OpRefund, Amount: 1000}, answer: fixtureAnswer(t, "EST-F19"),
			body:   req("<Type>Credit</Type><OrderId>ORDER-1</OrderId><Total>10.00</Total><Currency>949</Currency>"),
			status: bank.Succeeded, code: bank.CodeApproved, bankCode: "00", ref: bank.Ref{AuthCode: "46", HostRef: "41", TransID: "24138"}},
		{name: "refund before end of day EST-F20", amount: 10000, op: bank.Operation{Kind: bank.OpRefund, Amount: 10000}, answer: fixtureAnswer(t, "EST-F20"),
			body:   req("<Type>Credit</Type><OrderId>ORDER-1</OrderId><Total>100.00</Total><Currency>949</Currency>"),
			status: bank.Failed, code: bank.CodeVoidInstead, reason: 3022, bankCode: "99/CORE-2508"},
		{name: "refund declined without ProcReturnCode EST-F21", amount: 10000, op: bank.Operation{Kind: bank.OpRefund, Amount: 1}, answer: fixtureAnswer(t, "EST-F21"),
			status: bank.Failed, code: bank.CodeInvalidAmount, reason: 3001, bankCode: "215021", ref: bank.Ref{HostRef: "413051", TransID: "24082"}},
		{name: "void approved EST-F16", amount: 10000, op: bank.Operation{Kind: bank.OpVoid}, answer: fixtureAnswer(t, "EST-F16"),
			body:   req("<Type>Void</Type><OrderId>ORDER-1</OrderId>"),
			status: bank.Succeeded, code: bank.CodeApproved, ref: bank.Ref{AuthCode: "P43467", HostRef: "230300671786", TransID: "22303MzZG10851"}},
		{name: "void after settlement EST-F17", amount: 10000, op: bank.Operation{Kind: bank.OpVoid}, answer: fixtureAnswer(t, "EST-F17"),
			status: bank.Failed, code: bank.CodeRefundInstead, reason: 3022, bankCode: "99/CORE-2008"},
		{name: "capture of the pre-auth amount", amount: 10000, op: bank.Operation{Kind: bank.OpCapture, Amount: 10000}, answer: fixtureAnswer(t, "EST-F16"),
			body:   req("<Type>PostAuth</Type><OrderId>ORDER-1</OrderId><Total>100.00</Total>"),
			status: bank.Succeeded, code: bank.CodeApproved},
		{name: "capture below the pre-auth", amount: 10000, op: bank.Operation{Kind: bank.OpCapture, Amount: 2550}, answer: fixtureAnswer(t, "EST-F16"),
			body:   req("<Type>PostAuth</Type><OrderId>ORDER-1</OrderId><Total>25.50</Total>"),
			status: bank.Succeeded, code: bank.CodeApproved},
		{name: "capture above the pre-auth sends PREAMT", amount: 10000, op: bank.Operation{Kind: bank.OpCapture, Amount: 11000}, answer: fixtureAnswer(t, "EST-F16"),
			body:   req("<Type>PostAuth</Type><OrderId>ORDER-1</OrderId><Total>110.00</Total><Extra><PREAMT>100.00</PREAMT></Extra>"),
			status: bank.Succeeded, code: bank.CodeApproved},
		{name: "capture declined", amount: 10000, op: bank.Operation{Kind: bank.OpCapture, Amount: 10000},
			answer: rawAnswer(200, cc5("Response", "Error", "ProcReturnCode", "99", "ErrMsg", "x", "Extra.ERRORCODE", "CORE-9999")),
			status: bank.Failed, code: bank.CodeBankError, reason: 1003, bankCode: "99/CORE-9999"},
		{name: "refund: WAF page", amount: 10000, op: bank.Operation{Kind: bank.OpRefund, Amount: 100}, answer: wafAnswer(t), err: bank.ErrMalformed, unknown: "refund"},
		{name: "void: truncated XML", amount: 10000, op: bank.Operation{Kind: bank.OpVoid}, answer: rawAnswer(200, []byte(xmlDecl+"<CC5Response><ProcReturnCode>00")), err: bank.ErrMalformed, unknown: "void"},
		{name: "void: answer without a verdict", amount: 10000, op: bank.Operation{Kind: bank.OpVoid}, answer: rawAnswer(200, cc5("OrderId", "ORDER-1")), err: bank.ErrMalformed, unknown: "void"},
		{name: "capture: HTTP 503", amount: 10000, op: bank.Operation{Kind: bank.OpCapture, Amount: 100}, answer: rawAnswer(503, nil), err: bank.ErrMalformed, unknown: "capture"},
		{name: "transport error passed through", amount: 10000, op: bank.Operation{Kind: bank.OpVoid}, answer: errAnswer(transportErr), err: transportErr},
		{name: "unknown operation", amount: 10000, op: bank.Operation{Kind: "chargeback"}, err: bank.ErrNotSupported},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			answer := tc.answer
			if answer == nil {
				answer = func(string) (*bank.Response, error) {
					t.Fatal("called the bank")
					return nil, nil
				}
			}
			g := newGateway(t, testConfig(Model3DPayHosting), rec.wrap(answer))
			p := testPayment("ORDER-1", tc.amount)
			p.Ref = bank.Ref{AuthCode: "P1", HostRef: "H1", TransID: "T1"}
			res, err := g.Operate(context.Background(), p, &tc.op)
			bodies := rec.bodies()
			if tc.body != "" && (len(bodies) != 1 || bodies[0] != tc.body) {
				t.Errorf("requests\n got %q\nwant %s", bodies, tc.body)
			}
			for _, b := range bodies {
				if strings.Contains(b, "<IPAddress>") || strings.Contains(b, "<Number>") || strings.Contains(b, "<Mode>") {
					t.Errorf("after-sale request carries payment fields: %s", b)
				}
			}
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				if tc.unknown != "" {
					checkUnknown(t, err, tc.unknown)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.status || res.Result.Code != tc.code || res.Result.ReasonCode != tc.reason {
				t.Errorf("%s %s %d, want %s %s %d", res.Status, res.Result.Code, res.Result.ReasonCode, tc.status, tc.code, tc.reason)
			}
			if tc.bankCode != "" && res.Result.BankCode != tc.bankCode {
				t.Errorf("BankCode %q, want %q", res.Result.BankCode, tc.bankCode)
			}
			if tc.ref != (bank.Ref{}) && res.Ref != tc.ref {
				t.Errorf("Ref %+v, want %+v", res.Ref, tc.ref)
			}
		})
	}
}
