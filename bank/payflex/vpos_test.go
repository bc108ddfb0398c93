package payflex

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/posrelay/posrelay/bank"
)

// searchAnswer is a Search answer with one transaction, in the shape of
// VB-F13 but with Amount as real answers carry it (issue #229).
func searchAnswer(item string) []byte {
	return []byte(`<?xml version="1.0" encoding="utf-8"?><SearchResponse><ResponseInfo><Status>Success</Status><ResponseCode>0000</ResponseCode>` +
		`<ResponseMessage>Succeeded.</ResponseMessage></ResponseInfo><PageIndex>1</PageIndex><PageSize>10</PageSize><TotalItemCount>1</TotalItemCount>` +
		`<TransactionSearchResultInfo><TransactionSearchResultInfo><TransactionId>tx1</TransactionId><OrderId>order222</OrderId>` + item +
		`</TransactionSearchResultInfo></TransactionSearchResultInfo></SearchResponse>`)
}

func TestStatus(t *testing.T) {
	tests := []struct {
		name     string
		order    string
		answer   answer
		state    bank.TxnState
		amount   int64
		captured int64
		refunded int64
		settled  bool
		code     string
		err      bool
	}{
		{"VB-F13 approved sale", "z2d71cc5-d242-4b01-8479-d56eb8f74d7", ok(readTestdata(t, "vb-f13.xml")), bank.TxnApproved, 9050, 9050, 0, false, bank.CodeApproved, false},
		{"VB-F12 merchant not found", "order222", ok(readTestdata(t, "vb-f12.xml")), "", 0, 0, 0, false, "", true},
		{"nothing found", "order222", ok([]byte(`<SearchResponse><ResponseInfo><Status>Success</Status><ResponseCode>0000</ResponseCode></ResponseInfo><TotalItemCount>0</TotalItemCount></SearchResponse>`)),
			bank.TxnNotFound, 0, 0, 0, false, "", false},
		{"settled sale", "order222", ok(searchAnswer(`<TransactionType>Sale</TransactionType><ResultCode>0000</ResultCode><Amount>1,01</Amount><IsBatchClosed>true</IsBatchClosed>`)),
			bank.TxnApproved, 101, 101, 0, true, bank.CodeApproved, false},
		{"open pre-authorisation", "order222", ok(searchAnswer(`<TransactionType>Auth</TransactionType><ResultCode>0000</ResultCode><Amount>1.01</Amount>`)),
			bank.TxnApproved, 101, 0, 0, false, bank.CodeApproved, false},
		{"cancelled", "order222", ok(searchAnswer(`<TransactionType>Sale</TransactionType><ResultCode>0000</ResultCode><Amount>1.01</Amount><IsCanceled>true</IsCanceled>`)),
			bank.TxnVoided, 101, 101, 0, false, bank.CodeApproved, false},
		{"reversed", "order222", ok(searchAnswer(`<TransactionType>Sale</TransactionType><ResultCode>0000</ResultCode><Amount>1.01</Amount><IsReversed>true</IsReversed>`)),
			bank.TxnVoided, 101, 101, 0, false, bank.CodeApproved, false},
		{"partly refunded", "order222", ok(searchAnswer(`<TransactionType>Sale</TransactionType><ResultCode>0000</ResultCode><Amount>100.00</Amount><IsRefunded>true</IsRefunded><TotalRefundAmount>30.00</TotalRefundAmount><IsBatchClosed>true</IsBatchClosed>`)),
			bank.TxnRefunded, 10000, 10000, 3000, true, bank.CodeApproved, false},
		// IsRefunded without TotalRefundAmount: refunds exist, their total is not known (never taken as the whole amount).
		{"refunded, total not said", "order222", ok(searchAnswer(`<TransactionType>Sale</TransactionType><ResultCode>0000</ResultCode><Amount>100.00</Amount><IsRefunded>true</IsRefunded><IsBatchClosed>true</IsBatchClosed>`)),
			bank.TxnRefunded, 10000, 10000, 0, true, bank.CodeApproved, false},
		{"declined", "order222", ok(searchAnswer(`<TransactionType>Sale</TransactionType><ResultCode>0051</ResultCode><ResponseMessage>RED</ResponseMessage><Amount>1.01</Amount>`)),
			bank.TxnDeclined, 101, 0, 0, false, bank.CodeInsufficientFunds, false},
		{"another order", "order-x", ok(searchAnswer(`<TransactionType>Sale</TransactionType><ResultCode>0000</ResultCode><Amount>1.01</Amount>`)), "", 0, 0, 0, false, "", true},
		{"WAF page", "order222", ok(readTestdata(t, "waf.html")), "", 0, 0, 0, false, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, d := newGateway(t, nil, tc.answer)
			p := payment()
			p.OrderID = tc.order
			st, err := g.Status(context.Background(), p)
			if d.reqs[0].URL != searchURL {
				t.Errorf("status went to %s", d.reqs[0].URL)
			}
			if f, raw := d.xmlFields(t, 0); !strings.HasPrefix(raw, `<?xml version="1.0" encoding="UTF-8"?>`) ||
				f.Value("MerchantCriteria/HostMerchantId") != testMerchant || f.Value("MerchantCriteria/MerchantPassword") != testPassword ||
				f.Value("TransactionCriteria/OrderId") != tc.order {
				t.Errorf("SearchRequest %s", raw)
			}
			if tc.err {
				if err == nil {
					t.Fatalf("Status = %+v; want an error", st)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if unknown := tc.state == bank.TxnRefunded && tc.refunded == 0; st.RefundedUnknown != unknown {
				t.Errorf("RefundedUnknown %v; want %v", st.RefundedUnknown, unknown)
			}
			if st.State != tc.state || st.Amount != tc.amount || st.Captured != tc.captured || st.Refunded != tc.refunded || st.Settled != tc.settled {
				t.Fatalf("status %+v; want %s amount %d captured %d refunded %d settled %v", st, tc.state, tc.amount, tc.captured, tc.refunded, tc.settled)
			}
			if tc.code != "" && st.Result.Code != tc.code {
				t.Errorf("result %+v; want %s", st.Result, tc.code)
			}
		})
	}
}

func TestStatusByTransactionID(t *testing.T) {
	g, d := newGateway(t, nil, ok(searchAnswer(`<TransactionType>Sale</TransactionType><ResultCode>0000</ResultCode><Amount>100.00</Amount>`)))
	p := payment()
	p.Ref.TransID = "tx1"
	if _, err := g.Status(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if f, _ := d.xmlFields(t, 0); f.Value("TransactionCriteria/TransactionId") != "tx1" {
		t.Errorf("search criteria %v; want the bank's TransactionId", f)
	}
}

func TestOperate(t *testing.T) {
	tests := []struct {
		name    string
		kind    bank.OpKind
		amount  int64
		answer  answer
		status  bank.Status
		code    string
		transID string
	}{
		{"VB-F8 refund approved", bank.OpRefund, 101, ok(readTestdata(t, "vb-f8.xml")), bank.Succeeded, bank.CodeApproved, "455ae6c09140434ea6edafc0018acbb9"},
		{"VB-F9 already refunded", bank.OpRefund, 101, ok(readTestdata(t, "vb-f9.xml")), bank.Failed, bank.CodeAlreadyRefunded, ""},
		{"refund before end of day", bank.OpRefund, 101, ok([]byte(`<VposResponse><ResultCode>1074</ResultCode><ResultDetail>x</ResultDetail></VposResponse>`)), bank.Failed, bank.CodeVoidInstead, ""},
		{"refund above what is left", bank.OpRefund, 101, ok([]byte(`<VposResponse><ResultCode>1046</ResultCode></VposResponse>`)), bank.Failed, bank.CodeRefundExceeds, ""},
		{"VB-F10 cancel approved", bank.OpVoid, 0, ok(readTestdata(t, "vb-f10.xml")), bank.Succeeded, bank.CodeApproved, "4a8e979308de4568b500afc00187a501"},
		{"VB-F11 already cancelled", bank.OpVoid, 0, ok(readTestdata(t, "vb-f11.xml")), bank.Failed, bank.CodeAlreadyVoided, ""},
		{"cancel after end of day", bank.OpVoid, 0, ok([]byte(`<VposResponse><ResultCode>2202</ResultCode></VposResponse>`)), bank.Failed, bank.CodeRefundInstead, ""},
		{"capture approved", bank.OpCapture, 0, ok(readTestdata(t, "vb-f8.xml")), bank.Succeeded, bank.CodeApproved, "455ae6c09140434ea6edafc0018acbb9"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, d := newGateway(t, nil, tc.answer)
			p := payment()
			p.Ref.TransID = "6d491ea480564068976fafc0018a9def"
			res, err := g.Operate(context.Background(), p, &bank.Operation{Kind: tc.kind, Amount: tc.amount})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.status || res.Result.Code != tc.code || res.Ref.TransID != tc.transID {
				t.Fatalf("result %+v; want %s %s %s", res, tc.status, tc.code, tc.transID)
			}
			f, _ := d.xmlFields(t, 0)
			if f.Value("ReferenceTransactionId") != p.Ref.TransID {
				t.Errorf("ReferenceTransactionId %q; want the sale's TransactionId", f.Value("ReferenceTransactionId"))
			}
			if tc.kind == bank.OpCapture && f.Value("CurrencyAmount") != "100.00" {
				t.Errorf("capture of the whole pre-authorisation sent %q", f.Value("CurrencyAmount"))
			}
		})
	}
}

func TestOperateRefusals(t *testing.T) {
	tests := []struct {
		name string
		ref  string
		op   bank.Operation
		want string
	}{
		{"no TransactionId on record", "", bank.Operation{Kind: bank.OpVoid}, "TransactionId is not on record"},
		{"zero refund", "tx", bank.Operation{Kind: bank.OpRefund}, "positive amount"},
		{"unknown operation", "tx", bank.Operation{Kind: "chargeback"}, "not supported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, d := newGateway(t, nil)
			p := payment()
			p.Ref.TransID = tc.ref
			_, err := g.Operate(context.Background(), p, &tc.op)
			if err == nil || !strings.Contains(err.Error(), tc.want) || len(d.reqs) != 0 {
				t.Fatalf("Operate = %v (%d calls); want %q without a bank call", err, len(d.reqs), tc.want)
			}
		})
	}
}

func TestVposResponseSerializerSample(t *testing.T) {
	r, err := parseVposResponse(readTestdata(t, "vposresponse_serializer.xml"))
	if err != nil || r.ResultCode != "9039" || r.ResultDetail != "Üye işyeri bulunamadı." {
		t.Fatalf("parse = %+v, %v", r, err)
	}
	for _, name := range []string{"vb-f3.xml", "vb-f4.xml", "vb-f5.xml", "vb-f6.xml", "vb-f7.xml", "vb-f8.xml", "vb-f9.xml", "vb-f10.xml", "vb-f11.xml"} {
		if _, err := parseVposResponse(readTestdata(t, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := parseVposResponse(readTestdata(t, "waf.html")); !errors.Is(err, bank.ErrMalformed) {
		t.Errorf("WAF page: %v; want ErrMalformed", err)
	}
}
