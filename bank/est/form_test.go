package est

import (
	"context"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/posrelay/posrelay/bank"
	"github.com/posrelay/posrelay/signer"
)

var formNames = []string{"clientid", "storetype", "amount", "oid", "okUrl", "failUrl", "rnd", "lang", "currency", "taksit", "TranType", "hashAlgorithm"}

var cardNames = []string{"pan", "Ecom_Payment_Card_ExpDate_Month", "Ecom_Payment_Card_ExpDate_Year", "cv2"}

func names(f bank.Fields) []string {
	out := make([]string, len(f))
	for i, x := range f {
		out[i] = x.Name
	}
	return out
}

func concat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func testCard() *bank.Card {
	return &bank.Card{Number: "4355084355084358", ExpMonth: "12", ExpYear: "2030", CVV: "000", Holder: "John Doe"}
}

func TestStartAndSubmitCard(t *testing.T) {
	type want struct {
		names   []string
		values  map[string]string
		kind    bank.StepKind
		err     error
		noCards bool
	}
	base := map[string]string{"clientid": testClientID, "amount": "100.50", "oid": "ORDER-1", "okUrl": testCallback, "failUrl": testCallback,
		"rnd": testRnd, "lang": "tr", "currency": "949", "taksit": "", "TranType": "Auth", "hashAlgorithm": "ver3"}
	merge := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		name   string
		model  string
		card   bool // SubmitCard instead of Start
		pay    func(*bank.Payment)
		cardFn func(*bank.Card)
		want   want
	}{
		{name: "hosting/start", model: Model3DPayHosting,
			want: want{kind: bank.AutoPost, names: append(formNames[:len(formNames):len(formNames)], "hash"), values: merge("storetype", "3d_pay_hosting"), noCards: true}},
		{name: "hosting/3 installments", model: Model3DPayHosting, pay: func(p *bank.Payment) { p.Installments = 3 },
			want: want{kind: bank.AutoPost, values: merge("storetype", "3d_pay_hosting", "taksit", "3")}},
		{name: "hosting/0 installments", model: Model3DPayHosting, pay: func(p *bank.Payment) { p.Installments = 0 },
			want: want{kind: bank.AutoPost, values: merge("storetype", "3d_pay_hosting", "taksit", "")}},
		{name: "hosting/preauth", model: Model3DPayHosting, pay: func(p *bank.Payment) { p.Type = bank.PreAuth },
			want: want{kind: bank.AutoPost, values: merge("storetype", "3d_pay_hosting", "TranType", "PreAuth")}},
		{name: "hosting/english", model: Model3DPayHosting, pay: func(p *bank.Payment) { p.Language = "en" },
			want: want{kind: bank.AutoPost, values: merge("storetype", "3d_pay_hosting", "lang", "en")}},
		{name: "hosting/other language is tr", model: Model3DPayHosting, pay: func(p *bank.Payment) { p.Language = "de" },
			want: want{kind: bank.AutoPost, values: merge("storetype", "3d_pay_hosting", "lang", "tr")}},
		{name: "hosting/USD", model: Model3DPayHosting, pay: func(p *bank.Payment) { p.Currency, _ = bank.LookupCurrency("USD") },
			want: want{kind: bank.AutoPost, values: merge("storetype", "3d_pay_hosting", "currency", "840")}},
		{name: "hosting/small amount", model: Model3DPayHosting, pay: func(p *bank.Payment) { p.Amount = 5 },
			want: want{kind: bank.AutoPost, values: merge("storetype", "3d_pay_hosting", "amount", "0.05")}},
		{name: "hosting/email", model: Model3DPayHosting, pay: func(p *bank.Payment) { p.Email = "mail@customer.com" },
			want: want{kind: bank.AutoPost, names: concat(formNames, []string{"Email", "hash"}), values: merge("storetype", "3d_pay_hosting", "Email", "mail@customer.com")}},
		{name: "hosting/submit card", model: Model3DPayHosting, card: true, want: want{err: bank.ErrNotSupported}},
		{name: "3d_pay/start asks for the card page", model: Model3DPay, want: want{kind: bank.CardForm}},
		{name: "3d/start asks for the card page", model: Model3D, want: want{kind: bank.CardForm}},
		{name: "3d_pay/submit card", model: Model3DPay, card: true,
			want: want{kind: bank.AutoPost, names: concat(formNames, cardNames, []string{"hash"}),
				values: merge("storetype", "3d_pay", "pan", "4355084355084358", "Ecom_Payment_Card_ExpDate_Month", "12", "Ecom_Payment_Card_ExpDate_Year", "30", "cv2", "000")}},
		{name: "3d/submit card", model: Model3D, card: true,
			want: want{kind: bank.AutoPost, names: concat(formNames, cardNames, []string{"hash"}),
				values: merge("storetype", "3d", "pan", "4355084355084358", "Ecom_Payment_Card_ExpDate_Month", "12", "Ecom_Payment_Card_ExpDate_Year", "30", "cv2", "000")}},
		{name: "3d/submit card, two-digit year, preauth, 6 installments, email", model: Model3D, card: true,
			pay:    func(p *bank.Payment) { p.Type, p.Installments, p.Email = bank.PreAuth, 6, "a@b.c" },
			cardFn: func(c *bank.Card) { c.ExpYear = "26" },
			want: want{kind: bank.AutoPost, names: concat(formNames, []string{"Email"}, cardNames, []string{"hash"}),
				values: merge("storetype", "3d", "TranType", "PreAuth", "taksit", "6", "Email", "a@b.c", "Ecom_Payment_Card_ExpDate_Year", "26")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := newGateway(t, testConfig(tc.model), doerFunc(func(context.Context, *bank.Request) (*bank.Response, error) {
				t.Fatal("the form makes no bank call")
				return nil, nil
			}))
			p := testPayment("ORDER-1", 10050)
			if tc.pay != nil {
				tc.pay(p)
			}
			var st *bank.Step
			var err error
			if tc.card {
				c := testCard()
				if tc.cardFn != nil {
					tc.cardFn(c)
				}
				st, err = g.SubmitCard(context.Background(), p, c)
			} else {
				st, err = g.Start(context.Background(), p)
			}
			if tc.want.err != nil {
				if !errors.Is(err, tc.want.err) {
					t.Fatalf("err = %v, want %v", err, tc.want.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if st.Kind != tc.want.kind {
				t.Fatalf("Kind = %v, want %v", st.Kind, tc.want.kind)
			}
			if st.Kind == bank.CardForm {
				if st.URL != "" || st.Fields != nil || st.Outcome != nil {
					t.Fatalf("CardForm step carries %+v", st)
				}
				return
			}
			if st.URL != testGateURL || st.Method != "" {
				t.Errorf("URL %q method %q", st.URL, st.Method)
			}
			if st.State != nil {
				t.Errorf("State = %v: the form needs nothing kept", st.State)
			}
			if tc.want.names != nil && !reflect.DeepEqual(names(st.Fields), tc.want.names) {
				t.Errorf("fields\n got %v\nwant %v", names(st.Fields), tc.want.names)
			}
			m := st.Fields.Map()
			if len(m) != len(st.Fields) {
				t.Errorf("duplicate field in %v", names(st.Fields))
			}
			for k, v := range tc.want.values {
				if got, ok := st.Fields.Get(k); !ok || got != v {
					t.Errorf("%s = %q (present %v), want %q", k, got, ok, v)
				}
			}
			if st.Fields[len(st.Fields)-1].Name != "hash" {
				t.Error("hash is not the last field")
			}
			// The bank recomputes the hash over what it receives.
			if err := signer.VerifyESTv3(m, testStoreKey); err != nil {
				t.Errorf("hash: %v", err)
			}
			if m["hash"] != signer.ESTv3Hash(without(st.Fields, "hash").Map(), testStoreKey) {
				t.Error("hash is not the ver3 hash of the other fields")
			}
			if !regexp.MustCompile(`^[A-Za-z0-9+/]{86}==$`).MatchString(m["hash"]) {
				t.Errorf("hash %q is not 88 chars of base64", m["hash"])
			}
			hasCard := false
			for _, n := range cardNames {
				if _, ok := m[n]; ok {
					hasCard = true
				}
			}
			if hasCard != tc.card {
				t.Errorf("card fields present = %v, want %v", hasCard, tc.card)
			}
			if tc.card {
				// Card fields are signed: a changed card number fails at the bank.
				forged := st.Fields.Map()
				forged["pan"] = "4546711234567894"
				if err := signer.VerifyESTv3(forged, testStoreKey); !errors.Is(err, signer.ErrHashMismatch) {
					t.Errorf("pan is not covered by the hash: %v", err)
				}
			}
			for _, x := range st.Fields {
				if x.Name == "hash" || strings.HasPrefix(x.Name, "Ecom_") || x.Name == "pan" || x.Name == "cv2" {
					continue
				}
				if x.Value != strings.TrimSpace(x.Value) {
					t.Errorf("%s = %q has surrounding space", x.Name, x.Value)
				}
			}
		})
	}
}

// The form hash against the document's ver3 vectors (§4.1): the adapter's
// sign over the vectors' field sets reproduces the expected values.
func TestSignVectors(t *testing.T) {
	g := newGateway(t, Config{ClientID: "190100000", StoreKey: "123456", GateURL: testGateURL, APIURL: testAPIURL}, nil)
	common := func(storetype, rnd string) bank.Fields {
		return bank.Fields{
			bank.F("clientid", "190100000"), bank.F("storetype", storetype), bank.F("amount", "100.25"), bank.F("oid", "order222"),
			bank.F("okUrl", "https://domain.com/success"), bank.F("failUrl", "https://domain.com/fail_url"), bank.F("rnd", rnd),
		}
	}
	cases := []struct {
		name string
		f    bank.Fields
		want string
	}{
		{"EV3-1", append(common("3d_pay", "rand"), bank.F("lang", "tr"), bank.F("currency", "949"), bank.F("taksit", ""), bank.F("islemtipi", "Auth"),
			bank.F("firmaadi", "siparis veren"), bank.F("Email", "test@test.com"), bank.F("hashAlgorithm", "ver3")),
			"/uPxhEKWCEGi3NsDOOQ4u8Hu5g71v5GWspOid70WehTWEz97PqxG3IN1Jv5jsbOXOw3Z3Rr/0UtywzEgbqFfdA=="},
		{"EV3-2", append(common("3d", "12345"), bank.F("hashAlgorithm", "ver3"), bank.F("lang", "tr"), bank.F("currency", "949"), bank.F("islemtipi", "Auth"), bank.F("taksit", "")),
			"4aUsG5hqlIFLc9s8PKc5rWb2OLhmxDDewNgKa2XrwoYCIxlyVq8Fjl4IVaZzoqL983CfTseicmnTA0PjZr74xg=="},
		{"EV3-4", append(common("3d", "rand-21212"), bank.F("lang", "tr"), bank.F("currency", "949"), bank.F("taksit", ""), bank.F("TranType", "Auth"), bank.F("hashAlgorithm", "ver3")),
			"7tt3i3SMhzR3jYjCMwNrolSn7ksY7eKz2kVsqt/nUGK6XNw9/dMMZPVqHK9pQROGEIW3PJWut6v1Xv6ZDtnuSA=="},
		{"EV3-D1", append(common("3d_pay", "rand"), bank.F("lang", "tr"), bank.F("currency", "949"), bank.F("taksit", ""), bank.F("firmaadi", `A|B\C`),
			bank.F("hashAlgorithm", "ver3"), bank.F("TranType", "Auth")),
			"jXM+hDiHUgEcJtGKPNGc5uw90MfBZ9DO6CEHVNwpI0GaeHKz1RF/ld2qJ9nOMoMiwftNmkvW8LKQY++DDmqpnA=="},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			signed := g.sign(tc.f)
			if got := signed.Value("hash"); got != tc.want {
				t.Fatalf("hash %q, want %q", got, tc.want)
			}
		})
	}
	// EV3-4 is the form the adapter itself builds for the 3d model.
	t.Run("EV3-4 via formFields", func(t *testing.T) {
		g := newGateway(t, Config{ClientID: "190100000", StoreKey: "123456", Model: Model3D, GateURL: testGateURL, APIURL: testAPIURL,
			NewRnd: func() string { return "rand-21212" }}, nil)
		p := testPayment("order222", 10025)
		p.CallbackURL = "https://domain.com/success"
		f := g.formFields(p)
		f = with(f, "failUrl", "https://domain.com/fail_url") // the adapter uses one URL for both; the vector has two
		if !reflect.DeepEqual(names(f), formNames) {
			t.Fatalf("fields %v", names(f))
		}
		if got := g.sign(f).Value("hash"); got != "7tt3i3SMhzR3jYjCMwNrolSn7ksY7eKz2kVsqt/nUGK6XNw9/dMMZPVqHK9pQROGEIW3PJWut6v1Xv6ZDtnuSA==" {
			t.Fatalf("hash %q", got)
		}
	})
}

func TestFormOrigins(t *testing.T) {
	cases := []struct{ name, gate, want string }{
		{"production", "https://sanalpos.halkbank.com.tr/fim/est3Dgate", "https://sanalpos.halkbank.com.tr"},
		{"test", "https://entegrasyon.asseco-see.com.tr/fim/est3Dgate", "https://entegrasyon.asseco-see.com.tr"},
		{"port and query", "https://127.0.0.1:8443/fim/est3Dgate?x=1", "https://127.0.0.1:8443"},
		{"plain http simulator", "http://sim.local:9000/fim/est3Dgate", "http://sim.local:9000"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(Model3DPayHosting)
			cfg.GateURL = tc.gate
			got := newGateway(t, cfg, nil).FormOrigins()
			if len(got) != 1 || got[0] != tc.want {
				t.Errorf("%s: %v, want [%s]", tc.gate, got, tc.want)
			}
		})
	}
	cfg := testConfig(Model3DPayHosting)
	cfg.GateURL = "https://bad host/%zz"
	if got := newGateway(t, cfg, nil).FormOrigins(); got != nil {
		t.Errorf("unparsable gate URL: %v", got)
	}
}

func TestNew(t *testing.T) {
	g, err := New(Config{ClientID: "1", StoreKey: "k", GateURL: testGateURL, APIURL: testAPIURL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if g.cfg.Model != Model3DPayHosting {
		t.Errorf("default model %q", g.cfg.Model)
	}
	r1, r2 := g.cfg.NewRnd(), g.cfg.NewRnd()
	if !regexp.MustCompile(`^[0-9A-F]{24}$`).MatchString(r1) || r1 == r2 {
		t.Errorf("rnd %q, %q", r1, r2)
	}
	bad := []Config{
		{ClientID: "1", StoreKey: "k", GateURL: testGateURL, APIURL: testAPIURL, Model: "3d_host"},
		{ClientID: "1", StoreKey: "k", GateURL: testGateURL, APIURL: testAPIURL, Model: "regular"},
		{StoreKey: "k", GateURL: testGateURL, APIURL: testAPIURL},
		{ClientID: "1", GateURL: testGateURL, APIURL: testAPIURL},
		{ClientID: "1", StoreKey: "k", APIURL: testAPIURL},
		{ClientID: "1", StoreKey: "k", GateURL: testGateURL},
	}
	for i, c := range bad {
		if _, err := New(c, nil); err == nil {
			t.Errorf("config %d accepted", i)
		}
	}
}
