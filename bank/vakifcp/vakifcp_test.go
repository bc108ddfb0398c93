package vakifcp

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/posrelay/posrelay/bank"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type answer struct {
	status int
	body   []byte
	err    error
}

func ok(body []byte) answer { return answer{status: 200, body: body} }

type fakeDoer struct {
	mu      sync.Mutex
	answers []answer
	reqs    []*bank.Request
}

func (f *fakeDoer) Do(_ context.Context, r *bank.Request) (*bank.Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, r)
	if len(f.answers) == 0 {
		return nil, &bank.TransportError{Op: "bank call", Err: errors.New("no answer scripted")}
	}
	a := f.answers[0]
	f.answers = f.answers[1:]
	if a.err != nil {
		return nil, a.err
	}
	return &bank.Response{Status: a.status, Body: a.body, URL: r.URL}, nil
}

func (f *fakeDoer) form(t testing.TB, i int) url.Values {
	t.Helper()
	v, err := url.ParseQuery(string(f.reqs[i].Body))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// The account of CP-F3 and the test hosts of §3B.
const (
	merchant    = "000100000013506"
	terminal    = "VP000579"
	password    = "123456"
	registerURL = "https://cptest.vakifbank.com.tr/CommonPayment/api/RegisterTransaction"
	pageURL     = "https://cptest.vakifbank.com.tr/CommonPayment/SecurePayment"
	queryURL    = "https://cptest.vakifbank.com.tr/CommonPayment/api/VposTransaction"
	vposURL     = "https://onlineodemetest.vakifbank.com.tr:4443/VposService/v3/Vposreq.aspx"
	searchURL   = "https://onlineodemetest.vakifbank.com.tr:4443/UIService/Search.aspx"
	callbackURL = "https://relay.example/callback/tok"
)

func testConfig() Config {
	return Config{MerchantID: merchant, TerminalNo: terminal, Password: password,
		RegisterURL: registerURL, PageURL: pageURL, QueryURL: queryURL, VPOSURL: vposURL, SearchURL: searchURL}
}

func newGateway(t testing.TB, mod func(*Config), answers ...answer) (*Gateway, *fakeDoer) {
	t.Helper()
	d := &fakeDoer{answers: answers}
	cfg := testConfig()
	if mod != nil {
		mod(&cfg)
	}
	g, err := New(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	return g, d
}

// cpF3Payment is the payment CP-F3 answers for: order 2023030913ED, 1.01 TRY.
func cpF3Payment() *bank.Payment {
	return &bank.Payment{ID: "pay_1", OrderID: "2023030913ED", Amount: 101, Currency: bank.Currency{Alpha: "TRY", Numeric: "949"},
		Installments: 1, Type: bank.Sale, CustomerIP: "203.0.113.7", CallbackURL: callbackURL,
		State: map[string]string{StateToken: "b35a56bf37334872a945afc0016d5887"}}
}

func TestNewNamesTheField(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no merchant", func(c *Config) { c.MerchantID = "" }, "merchant_id"},
		{"no terminal", func(c *Config) { c.TerminalNo = "" }, "terminal_no"},
		{"no password", func(c *Config) { c.Password = "" }, "password"},
		{"no register URL", func(c *Config) { c.RegisterURL = "" }, "RegisterURL"},
		{"relative page URL", func(c *Config) { c.PageURL = "/CommonPayment/SecurePayment" }, "PageURL"},
		{"ftp query URL", func(c *Config) { c.QueryURL = "ftp://cptest.vakifbank.com.tr/x" }, "QueryURL"},
		{"VPOS without Search", func(c *Config) { c.SearchURL = "" }, "SearchURL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			tc.mod(&cfg)
			if _, err := New(cfg, &fakeDoer{}); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v; want an error naming %s", err, tc.want)
			}
		})
	}
}

func TestStartRegisters(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*Config)
		pay     func(*bank.Payment)
		answer  answer
		wantURL string // redirect
		code    string // failed outcome
		wantErr bool
	}{
		{"registered", nil, nil, ok(readTestdata(t, "register_ok.xml")),
			"https://cptest.vakifbank.com.tr/CommonPayment/SecurePayment?Ptkn=c5e076e7bf234a339c40afc10166c06d", "", false},
		{"registered without a page URL", nil, nil,
			ok([]byte(`<R><PaymentToken>tok1</PaymentToken><ErrorCode/></R>`)), pageURL + "?Ptkn=tok1", "", false},
		{"page URL with its own Ptkn", nil, nil,
			ok([]byte(`<R><CommonPaymentUrl>` + pageURL + `?Ptkn=tok1</CommonPaymentUrl><PaymentToken>tok1</PaymentToken></R>`)), pageURL + "?Ptkn=tok1", "", false},
		{"5007 wrong password", nil, nil, ok(readTestdata(t, "register_5007.xml")), "", bank.CodeMerchantConfig, false},
		{"5029 invalid request", nil, nil, ok([]byte(`<R><ErrorCode>5029</ErrorCode><ResponseMessage>Geçersiz İstek</ResponseMessage></R>`)), "", bank.CodeMerchantConfig, false},
		{"1047 amount is the merchant's problem too", nil, nil, ok([]byte(`<R><ErrorCode>1047</ErrorCode></R>`)), "", bank.CodeMerchantConfig, false},
		{"payment page on another host", nil, nil,
			ok([]byte(`<R><CommonPaymentUrl>https://evil.example/CommonPayment/SecurePayment</CommonPaymentUrl><PaymentToken>tok1</PaymentToken></R>`)), "", "", true},
		{"payment page on another port", nil, nil,
			ok([]byte(`<R><CommonPaymentUrl>https://cptest.vakifbank.com.tr:8443/CommonPayment/SecurePayment</CommonPaymentUrl><PaymentToken>tok1</PaymentToken></R>`)), "", "", true},
		{"payment page over http", nil, nil,
			ok([]byte(`<R><CommonPaymentUrl>http://cptest.vakifbank.com.tr/CommonPayment/SecurePayment</CommonPaymentUrl><PaymentToken>tok1</PaymentToken></R>`)), "", "", true},
		{"page URL with another Ptkn", nil, nil,
			ok([]byte(`<R><CommonPaymentUrl>` + pageURL + `?Ptkn=tok2</CommonPaymentUrl><PaymentToken>tok1</PaymentToken></R>`)), "", "", true},
		{"WAF page", nil, nil, ok(readTestdata(t, "waf.html")), "", "", true},
		{"empty answer", nil, nil, ok([]byte(`<R/>`)), "", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, d := newGateway(t, tc.mod, tc.answer)
			p := cpF3Payment()
			p.State = nil
			step, err := g.Start(context.Background(), p)
			r := d.reqs[0]
			if r.URL != registerURL || r.Accept != "text/xml" || r.ContentType != "application/x-www-form-urlencoded" {
				t.Errorf("register sent to %s accept %q type %q", r.URL, r.Accept, r.ContentType)
			}
			switch {
			case tc.wantErr:
				if err == nil {
					t.Fatalf("Start = %+v; want an error", step)
				}
			case err != nil:
				t.Fatal(err)
			case tc.code != "":
				if step.Outcome == nil || step.Outcome.Status != bank.Failed || step.Outcome.Result.Code != tc.code || step.Outcome.Result.BankCode == "" {
					t.Fatalf("step %+v; want failed %s", step, tc.code)
				}
			default:
				tok, _ := url.Parse(tc.wantURL)
				if step.Kind != bank.Redirect || step.URL != tc.wantURL || step.State[StateToken] != tok.Query().Get("Ptkn") {
					t.Fatalf("step %+v; want a redirect to %s keeping the token", step, tc.wantURL)
				}
			}
		})
	}
}

// TestRegisterFields: the 3D Host register request of §3B, no card
// fields, no HashedData.
func TestRegisterFields(t *testing.T) {
	g, d := newGateway(t, func(c *Config) { c.AllowHalfSecure = true }, ok(readTestdata(t, "register_ok.xml")))
	p := cpF3Payment()
	p.Installments, p.Language = 3, "en"
	if _, err := g.Start(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	f := d.form(t, 0)
	want := map[string]string{
		"HostMerchantId": merchant, "MerchantPassword": password, "HostTerminalId": terminal, "TransactionType": "Sale",
		"AmountCode": "949", "Amount": "1.01", "OrderID": "2023030913ED", "IsSecure": "true", "AllowNotEnrolledCard": "true",
		"SuccessUrl": callbackURL, "FailUrl": callbackURL, "RequestLanguage": "en-US", "InstallmentCount": "3",
	}
	if len(f) != len(want) {
		t.Errorf("register sent %d fields: %v", len(f), f)
	}
	for k, v := range want {
		if f.Get(k) != v {
			t.Errorf("%s = %q; want %q", k, f.Get(k), v)
		}
	}
	for _, k := range []string{"HashedData", "PAN", "CVV", "ExpireMonth", "ExpireYear", "BrandNumber", "CardHoldersName"} {
		if f.Has(k) {
			t.Errorf("register carries %s", k)
		}
	}
}

func TestSalesOnly(t *testing.T) {
	g, d := newGateway(t, nil)
	p := cpF3Payment()
	p.Type = bank.PreAuth
	if _, err := g.Start(context.Background(), p); !errors.Is(err, bank.ErrNotSupported) || len(d.reqs) != 0 {
		t.Fatalf("pre-auth Start = %v; want ErrNotSupported without a bank call", err)
	}
	if _, err := g.SubmitCard(context.Background(), p, &bank.Card{}); !errors.Is(err, bank.ErrNotSupported) {
		t.Fatalf("SubmitCard = %v", err)
	}
	if _, err := g.Operate(context.Background(), cpF3Payment(), &bank.Operation{Kind: bank.OpCapture}); !errors.Is(err, bank.ErrNotSupported) {
		t.Fatalf("capture = %v", err)
	}
}

func callback(q string) *bank.Callback {
	v, _ := url.ParseQuery(q)
	cb := &bank.Callback{Method: "GET"}
	for _, k := range []string{"Rc", "Message", "TransactionId", "PaymentToken", "MaskedPan"} {
		if x, ok := v[k]; ok {
			cb.Fields = append(cb.Fields, bank.F(k, x[0]))
		}
	}
	return cb
}

func TestVerify(t *testing.T) {
	tests := []struct {
		name    string
		query   string
		state   map[string]string
		wantErr error
	}{
		{"success return", "Rc=0000&TransactionId=3ee068d5b5a747ada65dafc0016d5887&PaymentToken=b35a56bf37334872a945afc0016d5887", nil, nil},
		{"failure return still asks the bank", "Rc=0057&PaymentToken=b35a56bf37334872a945afc0016d5887", nil, nil},
		{"forged success without a transaction", "Rc=0000&PaymentToken=b35a56bf37334872a945afc0016d5887", nil, nil},
		{"another payment's token", "Rc=0000&PaymentToken=5aeb359892f8400b9d0fafbd016c7636", nil, bank.ErrBinding},
		{"no token", "Rc=0000&TransactionId=x", nil, bank.ErrMalformed},
		{"nothing registered", "Rc=0000&PaymentToken=b35a56bf37334872a945afc0016d5887", map[string]string{}, bank.ErrBinding},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, d := newGateway(t, nil)
			p := cpF3Payment()
			if tc.state != nil {
				p.State = tc.state
			}
			v, err := g.Verify(p, callback(tc.query))
			if len(d.reqs) != 0 {
				t.Fatal("Verify made a bank call")
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v; want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.Outcome != nil || v.Finish == nil || v.Echo != (bank.Echo{OrderID: p.OrderID}) {
				t.Fatalf("verified %+v; want no outcome (Finish asks the bank) and the order id only", v)
			}
		})
	}
}

func TestFinish(t *testing.T) {
	cpF3 := readTestdata(t, "cp-f3.xml")
	tests := []struct {
		name     string
		pay      func(*bank.Payment)
		answer   answer
		status   bank.Status
		code     string
		bankCode string
		wantErr  error
		unknown  bool
	}{
		{"CP-F3 approved, amount with a decimal comma", nil, ok(cpF3), bank.Succeeded, bank.CodeApproved, "0000", nil, false},
		{"CP-F1 directory error", func(p *bank.Payment) { p.State[StateToken] = "68244b7e3dfd4b3ebea1afbe0185b9ed" },
			ok(readTestdata(t, "cp-f1.xml")), bank.Failed, bank.Code3DSFailed, "2053", nil, false},
		{"CP-F2 not permitted", func(p *bank.Payment) { p.State[StateToken] = "5aeb359892f8400b9d0fafbd016c7636" },
			ok(readTestdata(t, "cp-f2.xml")), bank.Failed, bank.CodeNotPermitted, "0057", nil, false},
		{"not enrolled", nil, ok([]byte(`<R><Rc>2053</Rc><Message>VeRes status is N Message : Card is not enrolled</Message></R>`)),
			bank.Failed, bank.Code3DSNotEnrolled, "2053", nil, false},
		{"approved for another amount", func(p *bank.Payment) { p.Amount = 100 }, ok(cpF3), "", "", "", bank.ErrBinding, false},
		{"approved for another order", func(p *bank.Payment) { p.OrderID = "2023030913EE" }, ok(cpF3), "", "", "", bank.ErrBinding, false},
		{"approved in another currency", func(p *bank.Payment) { p.Currency = bank.Currency{Alpha: "USD", Numeric: "840"} }, ok(cpF3), "", "", "", bank.ErrBinding, false},
		{"answer for another token", func(p *bank.Payment) { p.State[StateToken] = "other" }, ok(cpF3), "", "", "", bank.ErrBinding, false},
		{"approved without an amount", nil, ok([]byte(`<R><Rc>0000</Rc><OrderID>2023030913ED</OrderID></R>`)), "", "", "", bank.ErrMalformed, true},
		{"the query refused", nil, ok([]byte(`<R><ErrorCode>1105</ErrorCode><ResponseMessage>IP</ResponseMessage></R>`)), "", "", "", nil, false},
		{"WAF page", nil, ok(readTestdata(t, "waf.html")), "", "", "", bank.ErrMalformed, true},
		{"answer lost", nil, answer{err: &bank.TransportError{Op: "bank call", Sent: true, Timeout: true, Err: errors.New("timeout")}}, "", "", "", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, d := newGateway(t, nil, tc.answer)
			p := cpF3Payment()
			if tc.pay != nil {
				tc.pay(p)
			}
			v := &bank.Verified{Echo: bank.Echo{OrderID: p.OrderID}, Finish: map[string]string{finishTransID: "3ee068d5b5a747ada65dafc0016d5887"}}
			out, err := g.Finish(context.Background(), p, v)
			f := d.form(t, 0)
			if d.reqs[0].URL != queryURL || f.Get("HostMerchantId") != merchant || f.Get("Password") != password ||
				f.Get("TransactionId") != "3ee068d5b5a747ada65dafc0016d5887" || f.Get("PaymentToken") != p.State[StateToken] || len(f) != 4 {
				t.Errorf("query %s %v", d.reqs[0].URL, f)
			}
			if tc.status == "" {
				if err == nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) || bank.OutcomeUnknown(err) != tc.unknown {
					t.Fatalf("Finish = %+v, %v; want an error %v (outcome unknown %v)", out, err, tc.wantErr, tc.unknown)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out.Status != tc.status || out.Result.Code != tc.code || out.Result.BankCode != tc.bankCode {
				t.Fatalf("outcome %+v; want %s %s %s", out, tc.status, tc.code, tc.bankCode)
			}
			if tc.status == bank.Succeeded && (out.Ref.TransID != "3ee068d5b5a747ada65dafc0016d5887" || out.Ref.AuthCode != "735879" ||
				out.Ref.HostRef != "306822971283" || out.Ref.MaskedPAN != "49384601****4205") {
				t.Errorf("ref %+v", out.Ref)
			}
		})
	}
}

// TestAfterSaleThroughVPOS: status, cancel and refund reach the VPOS
// (package payflex) by the sale's TransactionId; without its URLs they are
// not supported.
func TestAfterSaleThroughVPOS(t *testing.T) {
	search := `<SearchResponse><ResponseInfo><ResponseCode>0000</ResponseCode></ResponseInfo><TransactionSearchResultInfo><TransactionSearchResultInfo>` +
		`<TransactionType>Sale</TransactionType><TransactionId>3ee0</TransactionId><OrderId>2023030913ED</OrderId><ResultCode>0000</ResultCode><Amount>1,01</Amount>` +
		`</TransactionSearchResultInfo></TransactionSearchResultInfo></SearchResponse>`
	g, d := newGateway(t, nil, ok([]byte(search)), ok([]byte(`<VposResponse><ResultCode>0000</ResultCode><TransactionId>c1</TransactionId></VposResponse>`)))
	p := cpF3Payment()
	st, err := g.Status(context.Background(), p)
	if err != nil || st.State != bank.TxnApproved || st.Amount != 101 || d.reqs[0].URL != searchURL {
		t.Fatalf("status %+v, %v via %s", st, err, d.reqs[0].URL)
	}
	p.Ref.TransID = "3ee0"
	res, err := g.Operate(context.Background(), p, &bank.Operation{Kind: bank.OpVoid})
	if err != nil || res.Status != bank.Succeeded || d.reqs[1].URL != vposURL || !strings.Contains(d.form(t, 1).Get("prmstr"), "<ReferenceTransactionId>3ee0</ReferenceTransactionId>") {
		t.Fatalf("cancel %+v, %v", res, err)
	}

	bare, _ := newGateway(t, func(c *Config) { c.VPOSURL, c.SearchURL = "", "" })
	if _, err := bare.Status(context.Background(), p); !errors.Is(err, bank.ErrNotSupported) {
		t.Errorf("status without Search = %v", err)
	}
	if _, err := bare.Operate(context.Background(), p, &bank.Operation{Kind: bank.OpRefund, Amount: 1}); !errors.Is(err, bank.ErrNotSupported) {
		t.Errorf("refund without VPOS = %v", err)
	}
}
