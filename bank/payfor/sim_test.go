package payfor

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/posrelay/posrelay/bank"
	"github.com/posrelay/posrelay/banksim"
	simpayfor "github.com/posrelay/posrelay/banksim/payfor"
)

// httpDoer is a bank.Doer over net/http for tests against the simulator.
type httpDoer struct{}

func (httpDoer) Do(ctx context.Context, r *bank.Request) (*bank.Response, error) {
	method := r.Method
	if method == "" {
		method = http.MethodPost
	}
	req, err := http.NewRequestWithContext(ctx, method, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", r.ContentType)
	c := &http.Client{CheckRedirect: func(_ *http.Request, via []*http.Request) error {
		if len(via) > r.FollowRedirects {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := c.Do(req)
	if err != nil {
		return nil, &bank.TransportError{Op: "bank call", Sent: true, Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, &bank.TransportError{Op: "bank call", Sent: true, Err: err}
	}
	return &bank.Response{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: body, URL: resp.Request.URL.String()}, nil
}

// simGateway starts the simulator and a gateway for its account; relayIPs
// are the addresses the simulator accepts the relay's calls from.
func simGateway(t *testing.T, model string, relayIPs ...netip.Prefix) (*Gateway, *simpayfor.Sim) {
	t.Helper()
	sim := simpayfor.New(simpayfor.Config{RelayIPs: relayIPs, Logf: t.Logf})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(func() { sim.Close(); srv.Close() })
	cfg := testConfig(model)
	cfg.NewRnd = nil
	cfg.GateURL, cfg.HostURL, cfg.APIURL = srv.URL+simpayfor.GatePath, srv.URL+simpayfor.HostPath, srv.URL+simpayfor.APIPath
	g, err := New(cfg, httpDoer{})
	if err != nil {
		t.Fatal(err)
	}
	return g, sim
}

// TestAgainstSimulator runs the adapter against the simulator: the
// server-side 3-D form, the served ACS page, the callback, provisioning,
// status and a void.
func TestAgainstSimulator(t *testing.T) {
	for _, model := range []string{Model3DModel, Model3DPay} {
		t.Run(model, func(t *testing.T) {
			g, sim := simGateway(t, model)
			p := testPayment("SIM-"+model, 2550)
			card := &bank.Card{Number: "4355084355084358", ExpMonth: "12", ExpYear: "2030", CVV: "000", Holder: "Test Shopper"}
			step, err := g.SubmitCard(t.Context(), p, card)
			if err != nil {
				t.Fatal(err)
			}
			if step.Kind != bank.HTML || !strings.Contains(step.BaseURL, simpayfor.ChallengePagePrefix) {
				t.Fatalf("step %v at %s", step.Kind, step.BaseURL)
			}
			p.State = step.State
			// The shopper answers the challenge on the page the relay serves.
			acs, err := banksim.FindForm(step.HTML)
			if err != nil || !strings.HasPrefix(acs.Action, "http") {
				t.Fatalf("ACS form %+v, %v; want an absolute action", acs, err)
			}
			acs.Fields.Set("code", banksim.ChallengeCode)
			resp, err := http.Post(acs.Action, "application/x-www-form-urlencoded", strings.NewReader(acs.Fields.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			cbForm, err := banksim.FindForm(page)
			if err != nil || cbForm.Action != testCallback {
				t.Fatalf("callback form to %q, %v", cbForm.Action, err)
			}
			var fields bank.Fields
			for _, f := range cbForm.Fields {
				fields = append(fields, bank.F(f.Name, f.Value))
			}
			v, err := g.Verify(p, &bank.Callback{Method: "POST", Fields: fields})
			if err != nil {
				t.Fatal(err)
			}
			out := v.Outcome
			if model == Model3DModel {
				if out != nil {
					t.Fatalf("3DModel callback decided %+v", out)
				}
				if out, err = g.Finish(t.Context(), p, v); err != nil {
					t.Fatal(err)
				}
			}
			if out.Status != bank.Succeeded || out.Ref.AuthCode == "" || out.Ref.MaskedPAN != "435508******4358" || v.Echo.Amount != 2550 {
				t.Fatalf("outcome %+v echo %+v", out, v.Echo)
			}
			if n := sim.Calls().Count(p.OrderID, "3DModelPayment"); n != map[string]int{Model3DModel: 1, Model3DPay: 0}[model] {
				t.Errorf("%d 3DModelPayment calls", n)
			}
			st, err := g.Status(t.Context(), p)
			if err != nil || st.State != bank.TxnApproved || st.Amount != 2550 || st.Captured != 2550 || st.Settled {
				t.Fatalf("status %+v, %v", st, err)
			}
			res, err := g.Operate(t.Context(), p, &bank.Operation{Kind: bank.OpRefund, Amount: 100})
			if err != nil || res.Status != bank.Failed || res.Result.Code != bank.CodeVoidInstead {
				t.Fatalf("same-day refund %+v, %v; want refund_before_settlement", res, err)
			}
			if res, err = g.Operate(t.Context(), p, &bank.Operation{Kind: bank.OpVoid}); err != nil || res.Status != bank.Succeeded {
				t.Fatalf("void %+v, %v", res, err)
			}
			if st, err = g.Status(t.Context(), p); err != nil || st.State != bank.TxnVoided {
				t.Fatalf("status after void %+v, %v", st, err)
			}
		})
	}
}

// TestAgainstSimulatorRefusals: the bank's refusals of the relay's own
// form post end the payment with a clear result.
func TestAgainstSimulatorRefusals(t *testing.T) {
	card := func() *bank.Card {
		return &bank.Card{Number: "4355084355084358", ExpMonth: "12", ExpYear: "2030", CVV: "000", Holder: "Test Shopper"}
	}
	t.Run("M047: the relay's address is not registered", func(t *testing.T) {
		g, _ := simGateway(t, Model3DPay, netip.MustParsePrefix("192.0.2.0/24"))
		step, err := g.SubmitCard(t.Context(), testPayment("REF-1", 100), card())
		if err != nil || step.Outcome == nil || step.Outcome.Result.Code != bank.CodeMerchantConfig || step.Outcome.Result.BankCode != "M047" {
			t.Fatalf("step %+v, %v; want M047 as merchant_config", step, err)
		}
		if _, err := g.Status(t.Context(), testPayment("REF-1", 100)); err == nil || !strings.Contains(err.Error(), "M047") {
			t.Errorf("status from an unregistered address: %v", err)
		}
	})
	t.Run("101310: the order id was used", func(t *testing.T) {
		g, sim := simGateway(t, Model3DPay)
		// A non-secure sale uses the order id first.
		resp, err := http.Post(g.cfg.APIURL, "text/xml", bytes.NewReader(encodeRequest(g.account(
			bank.F("MOTO", "0"), bank.F("OrderId", "REF-2"), bank.F("SecureType", "NonSecure"), bank.F("TxnType", "Auth"),
			bank.F("PurchAmount", "1.00"), bank.F("Currency", "949"), bank.F("InstallmentCount", "0"), bank.F("Lang", "TR"),
			bank.F("Pan", "4355084355084358"), bank.F("Expiry", "1230"), bank.F("Cvv2", "000")))))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if o, ok := sim.Order("REF-2"); !ok || o.State != banksim.StateApproved {
			t.Fatalf("non-secure sale %+v", o)
		}
		step, err := g.SubmitCard(t.Context(), testPayment("REF-2", 100), card())
		if err != nil || step.Outcome == nil || step.Outcome.Result.Code != bank.CodeDuplicateOrder {
			t.Fatalf("step %+v, %v; want duplicate_order", step, err)
		}
	})
	t.Run("card not enrolled", func(t *testing.T) {
		g, _ := simGateway(t, Model3DModel)
		c := card()
		c.Number = "4000000000003105"
		step, err := g.SubmitCard(t.Context(), testPayment("REF-3", 100), c)
		if err != nil || step.Outcome == nil || step.Outcome.Status != bank.Failed || step.Outcome.Result.Code != bank.Code3DSFailed {
			t.Fatalf("step %+v, %v; want 3ds_failed", step, err)
		}
	})
	t.Run("half-secure frictionless answer is served, not decided", func(t *testing.T) {
		g, _ := simGateway(t, Model3DPay)
		c := card()
		c.Number = "4000000000003204"
		step, err := g.SubmitCard(t.Context(), testPayment("REF-4", 100), c)
		if err != nil || step.Outcome != nil || step.Kind != bank.HTML {
			t.Fatalf("step %+v, %v; want the callback page served", step, err)
		}
		f, _ := banksim.FindForm(step.HTML)
		if v, _ := url.Parse(f.Action); v.String() != testCallback || f.Fields.Value("ProcReturnCode") != "00" {
			t.Fatalf("page posts %s %v", f.Action, f.Fields.Value("ProcReturnCode"))
		}
	})
}
