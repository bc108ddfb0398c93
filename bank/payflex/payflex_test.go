package payflex

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/posrelay/posrelay/bank"
)

func TestNewNamesTheField(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no merchant id", func(c *Config) { c.MerchantID = "" }, "merchant_id"},
		{"no terminal", func(c *Config) { c.TerminalNo = "" }, "terminal_no"},
		{"no password", func(c *Config) { c.Password = "" }, "password"},
		{"bad merchant type", func(c *Config) { c.MerchantType = 3 }, "MerchantType 3"},
		{"sub dealer without sub merchant", func(c *Config) { c.MerchantType = 2 }, "SubMerchantID"},
		{"no MPI URL", func(c *Config) { c.MPIURL = "" }, "MPIURL"},
		{"relative VPOS URL", func(c *Config) { c.VPOSURL = "/VposService/v3/Vposreq.aspx" }, "VPOSURL"},
		{"no Search URL", func(c *Config) { c.SearchURL = "" }, "SearchURL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			tc.mod(&cfg)
			_, err := New(cfg, &fakeDoer{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v; want an error naming %s", err, tc.want)
			}
		})
	}
}

func TestStartAsksForTheCardPage(t *testing.T) {
	g, d := newGateway(t, nil)
	step, err := g.Start(context.Background(), payment())
	if err != nil || step.Kind != bank.CardForm || len(d.reqs) != 0 {
		t.Fatalf("Start = %+v, %v; want a card form and no bank call", step, err)
	}
}

func TestSubmitCard(t *testing.T) {
	yBody := readTestdata(t, "enroll_y.xml")
	tests := []struct {
		name    string
		pan     string
		inst    int
		mod     func(*Config)
		answer  answer
		wantErr error  // errors.Is
		code    string // failed outcome's normalised code
		brand   string // BrandName sent
	}{
		{"enrolled visa goes to the ACS", "4355084355084358", 1, nil, ok(yBody), nil, "", "100"},
		{"enrolled mastercard", "5400000000000005", 1, nil, ok(yBody), nil, "", "200"},
		{"enrolled troy", "9792000000000003", 1, nil, ok(yBody), nil, "", "300"},
		{"enrolled amex with installments", "378282246310005", 6, nil, ok(yBody), nil, "", "400"},
		{"not enrolled", "4355084355084358", 1, nil, ok(readTestdata(t, "enroll_n.xml")), nil, bank.Code3DSNotEnrolled, "100"},
		{"VERes U", "4355084355084358", 1, nil, ok([]byte(`<IPaySecure><Message><VERes><Status>U</Status></VERes></Message></IPaySecure>`)), nil, bank.Code3DSFailed, "100"},
		{"merchant unknown (2005)", "4355084355084358", 1, func(c *Config) { c.NewRequestID = func() string { return "0aebb0757acccae6fba75b2e4d78cecf" } },
			ok(readTestdata(t, "enroll_e_2005.xml")), nil, bank.CodeMerchantConfig, "100"},
		{"address not registered (1105)", "4355084355084358", 1, nil,
			ok([]byte(`<IPaySecure><Message><VERes><Status>E</Status></VERes></Message><MessageErrorCode>1105</MessageErrorCode><ErrorMessage>Default</ErrorMessage></IPaySecure>`)), nil, bank.CodeMerchantConfig, "100"},
		{"E without a code", "4355084355084358", 1, nil, ok([]byte(`<IPaySecure><Message><VERes><Status>E</Status></VERes></Message></IPaySecure>`)), nil, bank.CodeBankError, "100"},
		{"WAF page", "4355084355084358", 1, nil, ok(readTestdata(t, "waf.html")), bank.ErrMalformed, "", "100"},
		{"HTTP 500", "4355084355084358", 1, nil, answer{status: 500, body: []byte("oops")}, bank.ErrMalformed, "", "100"},
		{"unreachable", "4355084355084358", 1, nil, answer{err: &bank.TransportError{Op: "bank call", Err: errors.New("refused")}}, nil, "", "100"},
		{"answer for another request id", "4355084355084358", 1, func(c *Config) { c.NewRequestID = func() string { return "other" } }, ok(yBody), bank.ErrMalformed, "", "100"},
		{"Y without MD", "4355084355084358", 1, nil,
			ok([]byte(`<IPaySecure><Message><VERes><Status>Y</Status><PaReq>x</PaReq><ACSUrl>https://acs.example/</ACSUrl><TermUrl>https://t.example/</TermUrl></VERes></Message></IPaySecure>`)), bank.ErrMalformed, "", "100"},
		{"ACS over plain http", "4355084355084358", 1, nil,
			ok([]byte(`<IPaySecure><Message><VERes><Status>Y</Status><PaReq>x</PaReq><ACSUrl>http://acs.example/</ACSUrl><TermUrl>https://t.example/</TermUrl><MD>m</MD></VERes></Message></IPaySecure>`)), bank.ErrMalformed, "", "100"},
		{"other root", "4355084355084358", 1, nil, ok([]byte(`<VposResponse><ResultCode>0000</ResultCode></VposResponse>`)), bank.ErrMalformed, "", "100"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mod := tc.mod
			if mod == nil {
				mod = func(c *Config) { c.NewRequestID = func() string { return "ce06048a3e9c0cd1d437803fb38b5ad0" } }
			}
			g, d := newGateway(t, mod, tc.answer)
			p := payment()
			p.Installments = tc.inst
			c := testCard(tc.pan)
			c.ExpYear, c.ExpMonth = "2030", "07"
			step, err := g.SubmitCard(context.Background(), p, c)
			if len(d.reqs) != 1 {
				t.Fatalf("%d requests; want 1", len(d.reqs))
			}
			r := d.reqs[0]
			if r.URL != mpiURL || r.ContentType != "application/x-www-form-urlencoded" {
				t.Errorf("request to %s as %s", r.URL, r.ContentType)
			}
			if strings.Trim(string(r.Body), "\x00") != "" {
				t.Errorf("the request body still holds the card after the call")
			}
			f := d.form(t, 0)
			want := map[string]string{"MerchantId": testMerchant, "MerchantPassword": testPassword, "MerchantType": "0", "PurchaseAmount": "100.00",
				"Currency": "949", "SuccessUrl": callbackURL, "FailureUrl": callbackURL, "Pan": tc.pan, "ExpiryDate": "3007",
				"BrandName": tc.brand, "IsRecurring": "false", "SessionInfo": "pay_1"}
			for k, v := range want {
				if f.Get(k) != v {
					t.Errorf("%s = %q; want %q", k, f.Get(k), v)
				}
			}
			if got := f.Get("InstallmentCount"); tc.inst > 1 && got != "6" || tc.inst <= 1 && f.Has("InstallmentCount") {
				t.Errorf("InstallmentCount = %q for %d installments (only sent when > 1)", got, tc.inst)
			}
			if f.Has("Cvv") || f.Has("Cvv2") || f.Has("CardHoldersName") {
				t.Errorf("enrollment carries more card data than Pan and ExpiryDate: %v", f)
			}
			switch {
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v; want %v", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), tc.pan) {
					t.Errorf("error quotes the card number: %v", err)
				}
			case tc.answer.err != nil:
				if err == nil {
					t.Fatal("want the transport error")
				}
			case tc.code != "":
				if err != nil || step.Outcome == nil || step.Outcome.Status != bank.Failed || step.Outcome.Result.Code != tc.code {
					t.Fatalf("step = %+v, %v; want failed %s", step, err, tc.code)
				}
				if step.Outcome.Result.BankMessage == "" || step.Outcome.Result.BankMessage == "Default" {
					t.Errorf("bank message %q; want the bank's text", step.Outcome.Result.BankMessage)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if step.Kind != bank.AutoPost || step.URL != "https://acs.issuer.example/mdpayacs/pareq" || step.Outcome != nil {
					t.Fatalf("step = %+v; want an auto-post to the ACS", step)
				}
				if step.Fields.Value("PaReq") == "" || step.Fields.Value("TermUrl") == "" || step.Fields.Value("MD") == "" || len(step.Fields) != 3 {
					t.Errorf("ACS fields %v; want PaReq, TermUrl, MD", step.Fields)
				}
				if step.State[StateRequestID] != f.Get("VerifyEnrollmentRequestId") || len(step.State) != 1 {
					t.Errorf("state %v; want the request id %s", step.State, f.Get("VerifyEnrollmentRequestId"))
				}
			}
		})
	}
}

func TestSubmitCardFreshRequestIDs(t *testing.T) {
	n := 0
	ids := func() string { n++; return strings.Repeat("ab", 15) + string(rune('0'+n)) + "0" }
	var answers []answer
	for range 3 {
		answers = append(answers, ok(readTestdata(t, "enroll_n.xml")))
	}
	g, d := newGateway(t, func(c *Config) { c.NewRequestID = ids }, answers...)
	seen := map[string]bool{}
	for range 3 {
		_, _ = g.SubmitCard(context.Background(), payment(), testCard("4355084355084358"))
	}
	for i := range d.reqs {
		id := d.form(t, i).Get("VerifyEnrollmentRequestId")
		if id == "" || seen[id] {
			t.Fatalf("attempt %d reused VerifyEnrollmentRequestId %q", i, id)
		}
		seen[id] = true
	}
	// The default generator: 32 hex digits, new every time.
	if a, b := randomID(), randomID(); len(a) != 32 || a == b {
		t.Errorf("randomID %q %q", a, b)
	}
}

func TestSubmitCardUnsupportedBrand(t *testing.T) {
	g, d := newGateway(t, nil)
	step, err := g.SubmitCard(context.Background(), payment(), testCard("6011111111111117"))
	if err != nil || step.Outcome == nil || step.Outcome.Result.Code != bank.CodeCardNotSupported || len(d.reqs) != 0 {
		t.Fatalf("step %+v, %v, %d requests; want card_not_supported without a bank call", step, err, len(d.reqs))
	}
}

func TestSubmitCardWithoutCustomerIP(t *testing.T) {
	g, d := newGateway(t, nil)
	p := payment()
	p.CustomerIP = ""
	step, err := g.SubmitCard(context.Background(), p, testCard("4355084355084358"))
	if err != nil || step.Outcome == nil || step.Outcome.Result.Code != bank.CodeMerchantConfig || !strings.Contains(step.Outcome.Result.BankMessage, "customer.ip") || len(d.reqs) != 0 {
		t.Fatalf("step %+v, %v; want merchant_config naming customer.ip, before any bank call", step, err)
	}
}

func TestSubMerchant(t *testing.T) {
	g, d := newGateway(t, func(c *Config) { c.MerchantType, c.SubMerchantID = 2, "SUB1" }, ok(readTestdata(t, "enroll_n.xml")))
	_, _ = g.SubmitCard(context.Background(), payment(), testCard("4355084355084358"))
	if f := d.form(t, 0); f.Get("MerchantType") != "2" || f.Get("SubMerchantId") != "SUB1" {
		t.Errorf("MerchantType %q SubMerchantId %q", f.Get("MerchantType"), f.Get("SubMerchantId"))
	}
}
