package e2e

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/posrelay/posrelay/api"
	"github.com/posrelay/posrelay/banksim/payfor"
	"github.com/posrelay/posrelay/demo"
	"github.com/posrelay/posrelay/internal/requireall"
	"github.com/posrelay/posrelay/signer"
)

// qnbCase is one test card and what must come of it at QNB (PayFor).
type qnbCase struct {
	name    string
	pan     string
	first   string // status right after the shopper's walk, when not final
	status  string // final payment status
	code    string // normalised result code
	reason  int    // Wix reason code in the webhook (0 = approved)
	event   string // webhook type
	landing string // return URL the shopper lands on
	// provisioned: a 3DModel payment sends exactly one 3DModelPayment
	// (none when the 3-D step failed).
	provisioned bool
}

// qnbCases are the simulator's test cards (banksim.TestCards) as PayFor
// answers them (banksim/payfor doc): the timeout and malformed cards'
// sales are approved at the bank while the relay hears nothing usable, so
// the payment is unknown until the status query settles it.
var qnbCases = []qnbCase{
	{"approved visa", "4355084355084358", "", "succeeded", "approved", 0, "payment.succeeded", "success", true},
	{"approved mastercard", "5400000000000005", "", "succeeded", "approved", 0, "payment.succeeded", "success", true},
	{"insufficient funds", "4000000000000515", "", "failed", "insufficient_funds", 3012, "payment.failed", "error", true},
	{"expired card", "4000000000000549", "", "failed", "expired_card", 3013, "payment.failed", "error", true},
	{"invalid card", "4000000000000143", "", "failed", "invalid_card", 3015, "payment.failed", "error", true},
	{"3-D authentication fails", "4000000000003006", "", "failed", "3ds_failed", 3004, "payment.failed", "error", false},
	{"not enrolled", "4000000000003105", "", "failed", "3ds_failed", 3004, "payment.failed", "error", false},
	{"half secure: the bank accepts the attempt", "4000000000003204", "", "succeeded", "approved", 0, "payment.succeeded", "success", true},
	{"bank timeout: settled by the status query", "4000000000009904", "unknown", "succeeded", "approved", 0, "payment.succeeded", "pending", true},
	{"malformed answer: settled by the status query", "4000000000009805", "unknown", "succeeded", "approved", 0, "payment.succeeded", "pending", true},
}

// qnbWithPending adds a pending return URL next to the success one.
func qnbWithPending(c *api.CreatePayment) {
	c.ReturnURLs.Pending = strings.Replace(c.ReturnURLs.Success, "result=success", "result=pending", 1)
}

// qnbCalls reads the QNB simulator's counters over HTTP.
func qnbCalls(t *testing.T, s *stack) payfor.Calls {
	t.Helper()
	resp, err := http.Get(s.Banks["qnb"].Endpoint + payfor.CallsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c payfor.Calls
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// qnbWebhookCount is how many webhooks the shop has for a payment now.
func qnbWebhookCount(t *testing.T, s *stack, paymentID string) int {
	t.Helper()
	resp, err := http.Get(s.Shop + "/webhooks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var all []shopEvent
	if err := json.NewDecoder(resp.Body).Decode(&all); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range all {
		if e.Event.Data.PaymentID == paymentID {
			n++
		}
	}
	return n
}

func TestQNBModels(t *testing.T) {
	for _, model := range []string{"3DHost", "3DPay", "3DModel"} {
		t.Run(model, func(t *testing.T) {
			t.Parallel()
			s := startDemo(t, demo.Options{Models: map[string]string{"qnb": model}})
			for _, tc := range qnbCases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					j := s.pay(t, "qnb", 14990, testCard(tc.pan), qnbWithPending)
					if !strings.Contains(j.final.URL.String(), "result="+tc.landing) {
						t.Fatalf("shopper landed on %s; want the %s return URL\nhistory: %v\n%s", j.final.URL, tc.landing, j.history, j.final.Body)
					}
					if tc.first != "" {
						if p := s.payment(t, j.payment.ID); p.Status != tc.first && p.Status != tc.status {
							t.Fatalf("payment after the walk = %s %+v; want %s until the status query", p.Status, p.Result, tc.first)
						}
					}
					ev := s.webhooks(t, j.payment.ID, 1)
					p := s.payment(t, j.payment.ID)
					if p.Status != tc.status || p.Result == nil || p.Result.Code != tc.code {
						t.Fatalf("payment = %s %+v; want %s %s", p.Status, p.Result, tc.status, tc.code)
					}
					if tc.status == "succeeded" && tc.first == "" && p.MaskedPAN != tc.pan[:6]+"******"+tc.pan[12:] {
						t.Errorf("masked PAN %q", p.MaskedPAN)
					}
					if len(ev) != 1 || ev[0].Event.Type != tc.event || ev[0].Event.Data.ReasonCode != tc.reason ||
						ev[0].Event.Data.WixTransactionID != p.WixTransactionID {
						t.Fatalf("webhooks = %+v; want one %s with reason %d", ev, tc.event, tc.reason)
					}
					want := 0
					if model == "3DModel" && tc.provisioned {
						want = 1
					}
					if n := qnbCalls(t, s).Count(p.BankOrderID, "3DModelPayment"); n != want {
						t.Errorf("%d 3DModelPayment calls for %s; want %d", n, p.BankOrderID, want)
					}
				})
			}
		})
	}
}

// TestQNBForgedTamperedReplayedCallbacks posts callbacks to the payment's
// callback URL, read from the form the simulator sends the shopper back
// with: forged, tampered (re-hashed or not) and replayed ones change
// nothing and send no webhook; only the genuine one completes the payment,
// once.
func TestQNBForgedTamperedReplayedCallbacks(t *testing.T) {
	for _, tc := range []struct {
		model, pan, status, landing string
	}{
		{"3DModel", "4355084355084358", "succeeded", "success"},
		{"3DPay", "4000000000000515", "failed", "error"},
		{"3DHost", "4355084355084358", "succeeded", "success"},
	} {
		t.Run(tc.model, func(t *testing.T) {
			t.Parallel()
			s := startDemo(t, demo.Options{Models: map[string]string{"qnb": tc.model}})
			key := s.Banks["qnb"].Fields["merchantPass"]
			mid, user := s.Banks["qnb"].Fields["merchantId"], s.Banks["qnb"].Fields["userCode"]
			p := s.createPayment(t, "qnb", 14990, qnbWithPending)
			cb := walkToCallback(t, p.RedirectURL, testCard(tc.pan))
			action := cb.Action.String()
			if cb.Values.Get("OkUrl") != action || cb.Values.Get("FailUrl") != action || cb.Values.Get("ResponseHash") == "" {
				t.Fatalf("the bank's callback form posts to %s with OkUrl %q", action, cb.Values.Get("OkUrl"))
			}
			// rehash signs the changed fields as someone holding key would.
			rehash := func(v url.Values, key string) url.Values {
				plain := signer.PayForResponsePlaintext(mid, key, v.Get("OrderId"), v.Get("AuthCode"), v.Get("ProcReturnCode"), v.Get("3DStatus"), v.Get("ResponseRnd"), user)
				v.Set("ResponseHash", signer.PayForResponseHash(signer.PayForSHA1, plain))
				return v
			}
			change := func(kv ...string) url.Values {
				v := clone(cb.Values)
				for i := 0; i+1 < len(kv); i += 2 {
					v.Set(kv[i], kv[i+1])
				}
				return v
			}
			attacks := []struct {
				name   string
				fields url.Values
			}{
				{"forged ResponseHash", change("ResponseHash", strings.Repeat("A", 27)+"=")},
				{"approval forged onto the answer", change("ProcReturnCode", "00", "3DStatus", "1", "AuthCode", "S99999", "TxnResult", "Success")},
				{"SHA-256 hash of the wrong key", func() url.Values {
					v := change("HashType", "")
					plain := signer.PayForResponsePlaintext(mid, "guessed", v.Get("OrderId"), v.Get("AuthCode"), v.Get("ProcReturnCode"), v.Get("3DStatus"), v.Get("ResponseRnd"), user)
					v.Set("ResponseHash", signer.PayForResponseHash(signer.PayForSHA256, plain))
					return v
				}()},
				{"amount changed, not re-hashed", change("PurchAmount", "0.01")},
				{"amount changed, re-hashed with a guessed key", rehash(change("PurchAmount", "0.01"), "guessed")},
				{"amount changed, re-hashed with the merchant's key", rehash(change("PurchAmount", "0.01"), key)},
				{"currency changed, re-hashed with the merchant's key", rehash(change("Currency", "840"), key)},
				{"order changed, re-hashed with the merchant's key", rehash(change("OrderId", p.BankOrderID+"X"), key)},
				{"another merchant, re-hashed with the merchant's key", rehash(change("MerchantID", "085300000000001"), key)},
				{"model changed", change("SecureType", map[string]string{"3DModel": "3DPay", "3DPay": "3DModel", "3DHost": "3DPay"}[tc.model])},
				{"empty body", url.Values{}},
			}
			before := s.payment(t, p.ID)
			for _, a := range attacks {
				t.Run(a.name, func(t *testing.T) {
					status, loc := postCallback(t, action, a.fields)
					if status != http.StatusBadRequest || loc != "" {
						t.Fatalf("got %d %q; want 400 and no redirect", status, loc)
					}
					if now := s.payment(t, p.ID); now.Status != "pending" || now.UpdatedAt != before.UpdatedAt {
						t.Fatalf("payment changed: %s at %s", now.Status, now.UpdatedAt)
					}
				})
			}
			if n := qnbWebhookCount(t, s, p.ID); n != 0 {
				t.Fatalf("%d webhooks for rejected callbacks", n)
			}
			if n := qnbCalls(t, s).Count(p.BankOrderID, "3DModelPayment"); n != 0 {
				t.Fatalf("%d 3DModelPayment calls for rejected callbacks", n)
			}

			// The genuine callback completes the payment, once.
			status, loc := postCallback(t, action, cb.Values)
			if status != http.StatusSeeOther || !strings.Contains(loc, "result="+tc.landing) {
				t.Fatalf("genuine callback: %d %q; want 303 to the %s URL", status, loc, tc.landing)
			}
			done := s.payment(t, p.ID)
			if done.Status != tc.status {
				t.Fatalf("payment %s %+v; want %s", done.Status, done.Result, tc.status)
			}
			s.webhooks(t, p.ID, 1)
			for _, replay := range []url.Values{cb.Values, rehash(change("PurchAmount", "0.01"), key)} {
				status, loc = postCallback(t, action, replay)
				if status != http.StatusSeeOther || !strings.Contains(loc, "result="+tc.landing) {
					t.Fatalf("replayed callback: %d %q; want 303 to where the payment ended", status, loc)
				}
			}
			if again := s.payment(t, p.ID); again.Status != done.Status || again.UpdatedAt != done.UpdatedAt {
				t.Fatalf("replay changed the payment: %s at %s (was %s at %s)", again.Status, again.UpdatedAt, done.Status, done.UpdatedAt)
			}
			if n := qnbWebhookCount(t, s, p.ID); n != 1 {
				t.Fatalf("%d webhooks; want exactly one", n)
			}
			want := 0
			if tc.model == "3DModel" {
				want = 1
			}
			if n := qnbCalls(t, s).Count(p.BankOrderID, "3DModelPayment"); n != want {
				t.Fatalf("%d 3DModelPayment calls; want %d", n, want)
			}
		})
	}
}

// qnbCanBindRelayIP reports whether the demo relay can leave from 127.0.0.2,
// the address the QNB simulator registers for it.
func qnbCanBindRelayIP() bool {
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// TestQNBBrowserPostGetsM047: a 3-D form posted straight to Default.aspx
// by the shopper's browser (127.0.0.1) is refused with M047, as QNB does
// since 2026; the relay's server-side post from its registered address
// (127.0.0.2) goes through. XMLGate is restricted the same way.
func TestQNBBrowserPostGetsM047(t *testing.T) {
	if !qnbCanBindRelayIP() {
		requireall.Missing(t, "127.0.0.2 cannot be bound here: the demo relay and the browser share an address; on macOS add it with: sudo ifconfig lo0 alias 127.0.0.2")
	}
	s := startDemo(t, demo.Options{Models: map[string]string{"qnb": "3DPay"}})
	bank := s.Banks["qnb"]
	f := bank.Fields
	oid, amount, ok := "M047-"+time.Now().Format("150405.000"), "10.00", s.Shop+"/return?result=ok"
	rnd := "0123456789abcdef01234567"
	form := url.Values{
		"MbrId": {f["mbrId"]}, "MerchantID": {f["merchantId"]}, "UserCode": {f["userCode"]}, "OrderId": {oid}, "Lang": {"TR"},
		"SecureType": {"3DPay"}, "TxnType": {"Auth"}, "PurchAmount": {amount}, "InstallmentCount": {"0"}, "Currency": {"949"},
		"OkUrl": {ok}, "FailUrl": {ok}, "Rnd": {rnd}, "MOTO": {"0"},
		"Hash":           {signer.PayForRequestHash(f["mbrId"], oid, amount, ok, ok, "Auth", "0", rnd, f["merchantPass"])},
		"CardHolderName": {"Test Shopper"}, "Pan": {"4355084355084358"}, "Expiry": {"1230"}, "Cvv2": {"000"},
	}
	resp, err := http.PostForm(bank.Endpoint+payfor.GatePath, form)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "M047") || !strings.Contains(string(body), "IP kısıtlaması") {
		t.Fatalf("browser post: %d\n%s\nwant M047", resp.StatusCode, body)
	}
	resp, err = http.Post(bank.Endpoint+payfor.APIPath, "text/xml; charset=UTF-8", strings.NewReader(
		`<?xml version="1.0" encoding="UTF-8"?>`+"\n<PayforRequest><MerchantId>"+f["merchantId"]+"</MerchantId><UserCode>"+f["userCode"]+
			"</UserCode><UserPass>"+f["userPass"]+"</UserPass><MbrId>"+f["mbrId"]+"</MbrId><OrgOrderId>"+oid+
			"</OrgOrderId><SecureType>Inquiry</SecureType><Lang>TR</Lang><TxnType>OrderInquiry</TxnType></PayforRequest>\n"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "<ProcReturnCode>M047</ProcReturnCode>") {
		t.Fatalf("XMLGate from the browser's address: %s; want M047", body)
	}
	if c := qnbCalls(t, s); c.Refusals["M047"] != 2 {
		t.Errorf("refusals %v; want two M047", c.Refusals)
	}
	j := s.pay(t, "qnb", 1000, testCard("4355084355084358"), nil)
	if p := s.payment(t, j.payment.ID); p.Status != "succeeded" {
		t.Fatalf("the relay's own post: payment %s %+v; want succeeded", p.Status, p.Result)
	}
	if c := qnbCalls(t, s); c.Refusals["M047"] != 2 || c.FormPosts["3DPay"] != 2 {
		t.Errorf("counters %+v after the relay's payment", c)
	}
}

// TestQNBAfterSale runs the shared after-sale checklist (refund, void,
// capture, status, report) against the QNB simulator's XMLGate.
func TestQNBAfterSale(t *testing.T) { afterSale(t, "qnb", nil) }
