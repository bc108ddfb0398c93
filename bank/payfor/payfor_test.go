package payfor

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/posrelay/posrelay/bank"
	"github.com/posrelay/posrelay/signer"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr []string // parts of the error; none = valid
	}{
		{"valid 3DHost", nil, nil},
		{"valid 3DModel", func(c *Config) { c.Model = Model3DModel; c.HostURL = "" }, nil},
		{"3DPay needs no host URL", func(c *Config) { c.Model = Model3DPay; c.HostURL = "" }, nil},
		{"unknown model", func(c *Config) { c.Model = "3D" }, []string{`model "3D"`, "use 3DHost, 3DPay or 3DModel"}},
		{"missing secrets named", func(c *Config) { c.UserPass, c.MerchantPass = "", "" }, []string{"user password is empty", "merchant password is empty"}},
		{"3DHost needs the host URL", func(c *Config) { c.HostURL = "" }, []string{"3DHost.aspx URL"}},
		{"3DModel needs the gate URL", func(c *Config) { c.Model = Model3DModel; c.GateURL = "ftp://x" }, []string{"Default.aspx URL"}},
		{"API URL always", func(c *Config) { c.APIURL = "/Gateway/XMLGate.aspx" }, []string{"XMLGate URL"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(Model3DHost)
			cfg.Model = ""
			if tc.mod != nil {
				tc.mod(&cfg)
			}
			g, err := New(cfg, &fakeDoer{})
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if g.cfg.MbrID != MbrIDQNB || g.cfg.Model == "" {
					t.Errorf("defaults: MbrID %q model %q", g.cfg.MbrID, g.cfg.Model)
				}
				return
			}
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), testUserPass) || strings.Contains(err.Error(), testMerchantPass) {
				t.Error("the error shows a secret")
			}
		})
	}
}

// TestFormHashPF1 reproduces vector PF-1 through the form builder.
func TestFormHashPF1(t *testing.T) {
	cfg := testConfig(Model3DHost)
	cfg.MbrID = "5"
	g, err := New(cfg, &fakeDoer{})
	if err != nil {
		t.Fatal(err)
	}
	p := testPayment("2020110828BC", 10001)
	p.CallbackURL = "http://localhost/finansbank-payfor/3d/response.php"
	f := g.formFields(p, "0.43625700 1604831630")
	if got := f.Value("Hash"); got != "zmSUxYPhmCj7QOzqpk/28LuE1Oc=" {
		t.Errorf("Hash = %s, want PF-1's zmSUxYPhmCj7QOzqpk/28LuE1Oc=", got)
	}
}

func TestStart(t *testing.T) {
	tests := []struct {
		name      string
		model     string
		mod       func(*bank.Payment)
		wantKind  bank.StepKind
		wantField map[string]string
	}{
		{"3DHost sale, Turkish, single payment", Model3DHost, nil, bank.AutoPost, map[string]string{
			"MbrId": "5", "MerchantID": testMerchantID, "UserCode": testUserCode, "OrderId": "ORD-1001", "Lang": "TR",
			"SecureType": "3DHost", "TxnType": "Auth", "PurchAmount": "149.90", "InstallmentCount": "0", "Currency": "949",
			"OkUrl": testCallback, "FailUrl": testCallback, "Rnd": "r1", "MOTO": "0",
		}},
		{"3DHost pre-auth, English, 3 installments, USD", Model3DHost, func(p *bank.Payment) {
			p.Type, p.Language, p.Installments = bank.PreAuth, "en", 3
			p.Currency, _ = bank.LookupCurrency("USD")
		}, bank.AutoPost, map[string]string{"TxnType": "PreAuth", "Lang": "EN", "InstallmentCount": "3", "Currency": "840"}},
		{"3DPay asks for the card page", Model3DPay, nil, bank.CardForm, nil},
		{"3DModel asks for the card page", Model3DModel, nil, bank.CardForm, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newTestGateway(t, tc.model, &fakeDoer{})
			p := testPayment("ORD-1001", 14990)
			if tc.mod != nil {
				tc.mod(p)
			}
			step, err := g.Start(t.Context(), p)
			if err != nil {
				t.Fatal(err)
			}
			if step.Kind != tc.wantKind {
				t.Fatalf("kind %v, want %v", step.Kind, tc.wantKind)
			}
			if step.Kind != bank.AutoPost {
				return
			}
			if step.URL != testHostURL || step.State[stateRnd] != "r1" {
				t.Errorf("URL %s state %v", step.URL, step.State)
			}
			names := make([]string, len(step.Fields))
			for i, f := range step.Fields {
				names[i] = f.Name
			}
			want := "MbrId MerchantID UserCode OrderId Lang SecureType TxnType PurchAmount InstallmentCount Currency OkUrl FailUrl Rnd MOTO Hash"
			if strings.Join(names, " ") != want {
				t.Errorf("fields %v\nwant %s", names, want)
			}
			for k, v := range tc.wantField {
				if got := step.Fields.Value(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			f := step.Fields.Value
			wantHash := signer.PayForRequestHash(f("MbrId"), f("OrderId"), f("PurchAmount"), f("OkUrl"), f("FailUrl"), f("TxnType"), f("InstallmentCount"), f("Rnd"), testMerchantPass)
			if f("Hash") != wantHash {
				t.Errorf("Hash %s, want %s", f("Hash"), wantHash)
			}
			if got := g.FormOrigins(); len(got) != 1 || got[0] != "https://bank.example" {
				t.Errorf("FormOrigins = %v", got)
			}
		})
	}
}

func testCard() *bank.Card {
	return &bank.Card{Number: "4155650100416111", ExpMonth: "01", ExpYear: "2030", CVV: "123", Holder: "Ayşe Yılmaz"}
}

func TestSubmitCard(t *testing.T) {
	tests := []struct {
		name     string
		model    string
		file     string
		status   int
		doerErr  error
		wantHTML bool   // the page is served to the shopper
		wantCode string // an outcome ends the payment with this code
		wantErr  error  // SubmitCard fails (the shopper may retry)
	}{
		{"ACS page is served", Model3DPay, "gate_acs.html", 200, nil, true, "", nil},
		{"3DModel ACS page is served", Model3DModel, "gate_acs.html", 200, nil, true, "", nil},
		{"M047: the relay's address is not registered", Model3DPay, "gate_m047.html", 200, nil, false, bank.CodeMerchantConfig, nil},
		{"101310: order id used before", Model3DPay, "gate_101310.html", 200, nil, false, bank.CodeDuplicateOrder, nil},
		{"card cannot do 3-D", Model3DPay, "gate_not_enrolled.html", 200, nil, false, bank.Code3DSFailed, nil},
		{"frictionless success goes through the browser and Verify", Model3DPay, "gate_frictionless_ok.html", 200, nil, true, "", nil},
		{"plain error page with a code", Model3DPay, "gate_error_page.html", 200, nil, false, bank.CodeMerchantConfig, nil},
		{"page without form or code is served", Model3DPay, "gate_unknown_page.html", 200, nil, true, "", nil},
		{"WAF page", Model3DPay, "waf.html", 200, nil, false, "", bank.ErrMalformed},
		{"HTTP 500", Model3DPay, "gate_acs.html", 500, nil, false, "", bank.ErrMalformed},
		{"callback for another order", Model3DPay, "gate_other_order.html", 200, nil, false, "", bank.ErrBinding},
		{"transport error", Model3DPay, "", 0, &bank.TransportError{Op: "bank call", Err: errors.New("connection refused")}, false, "", nil},
		{"3DHost does not take cards", Model3DHost, "", 0, nil, false, "", bank.ErrNotSupported},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &fakeDoer{}
			switch {
			case tc.doerErr != nil:
				d.answer = func(*bank.Request, string) (*bank.Response, error) { return nil, tc.doerErr }
			case tc.file != "":
				d.answer = answerFile(t, tc.file, tc.status, "https://bank.example/Gateway/ACS/9f3c")
			}
			g := newTestGateway(t, tc.model, d)
			p := testPayment("ORD-1001", 14990)
			step, err := g.SubmitCard(t.Context(), p, testCard())
			if tc.doerErr != nil || tc.wantErr != nil {
				if err == nil {
					t.Fatalf("want an error, got step %+v", step)
				}
				if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
					t.Errorf("error %v, want %v", err, tc.wantErr)
				}
				if tc.doerErr != nil && !errors.Is(err, tc.doerErr) {
					t.Errorf("error %v does not wrap the transport error", err)
				}
				if strings.Contains(err.Error(), "4155650100416111") || strings.Contains(err.Error(), "Ayşe") {
					t.Error("the error shows card data")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.wantHTML:
				if step.Kind != bank.HTML || step.Outcome != nil || len(step.HTML) == 0 || step.BaseURL != "https://bank.example/Gateway/ACS/9f3c" || step.State[stateRnd] != "r1" {
					t.Errorf("step = kind %v base %q state %v outcome %+v", step.Kind, step.BaseURL, step.State, step.Outcome)
				}
			default:
				o := step.Outcome
				if o == nil || o.Status != bank.Failed || o.Result.Code != tc.wantCode || o.Result.ReasonCode == 0 || o.Echo.OrderID != "ORD-1001" {
					t.Fatalf("outcome = %+v, want failed %s", o, tc.wantCode)
				}
			}
			checkGatePost(t, d)
		})
	}
}

// checkGatePost checks the relay's server-side post of the 3-D form.
func checkGatePost(t *testing.T, d *fakeDoer) {
	t.Helper()
	reqs := d.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.URL != testGateURL || r.ContentType != "application/x-www-form-urlencoded" || r.FollowRedirects != maxRedirects || r.Method != "" {
		t.Errorf("request %s %q follow %d", r.URL, r.ContentType, r.FollowRedirects)
	}
	v, err := url.ParseQuery(string(r.Body))
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"Pan": "4155650100416111", "Expiry": "0130", "Cvv2": "123", "CardHolderName": "Ayşe Yılmaz",
		"MOTO": "0", "Lang": "TR", "SecureType": "3DPay", "OkUrl": testCallback} {
		if k == "SecureType" && v.Get(k) == Model3DModel {
			continue
		}
		if got := v.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	for i, b := range d.bodies[0] {
		if b != 0 {
			t.Fatalf("the form body (with the card) was not wiped after the call: byte %d", i)
		}
	}
}
