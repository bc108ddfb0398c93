package e2e

import (
	"strings"
	"testing"

	"github.com/posrelay/posrelay/demo"
)

// outcomeCase is one test card and what must come of it.
type outcomeCase struct {
	name    string
	pan     string
	status  string // final payment status
	code    string // normalised result code
	reason  int    // Wix reason code in the webhook (0 = approved, none sent)
	event   string // webhook type; "" = none expected yet
	landing string // return URL result the shopper lands on
}

// estCases are the simulator's test cards (banksim.TestCards) whose
// outcome is final when the shopper comes back, the same in each of the
// three models. Expectations follow the protocol document §1.6 (approved
// only with mdStatus 1 and, where the bank authorises, ProcReturnCode 00;
// mdStatus 2–4 are "half 3-D", refused unless the site allows them) and
// §1.8 (ISO 8583 codes), with Wix reason codes from research/wix-velo.md
// §2.8. The site's allow_half_secure is false here (the default).
var estCases = []outcomeCase{
	{"approved visa", "4355084355084358", "succeeded", "approved", 0, "payment.succeeded", "success"},
	{"approved mastercard", "5400000000000005", "succeeded", "approved", 0, "payment.succeeded", "success"},
	{"approved troy", "9792000000000003", "succeeded", "approved", 0, "payment.succeeded", "success"},
	{"insufficient funds", "4000000000000515", "failed", "insufficient_funds", 3012, "payment.failed", "error"},
	{"expired card", "4000000000000549", "failed", "expired_card", 3013, "payment.failed", "error"},
	{"invalid card", "4000000000000143", "failed", "invalid_card", 3015, "payment.failed", "error"},
	{"3-D authentication fails", "4000000000003006", "failed", "3ds_failed", 3004, "payment.failed", "error"},
	// mdStatus 2: no challenge, back at once; Wix 3005 "3D secure not enabled".
	{"not enrolled, half-secure refused", "4000000000003105", "failed", "3ds_not_enrolled", 3005, "payment.failed", "error"},
	// mdStatus 4 (attempt): refused while allow_half_secure is false.
	{"half-secure attempt refused", "4000000000003204", "failed", "3ds_half_secure", 3004, "payment.failed", "error"},
}

func TestHalkbankModels(t *testing.T) {
	for _, model := range []string{"3d_pay_hosting", "3d_pay", "3d"} {
		t.Run(model, func(t *testing.T) {
			s := startDemo(t, demo.Options{Models: map[string]string{"halkbank": model}})
			for _, tc := range estCases {
				t.Run(tc.name, func(t *testing.T) {
					j := s.pay(t, "halkbank", 14990, testCard(tc.pan), nil)
					if !strings.Contains(j.final.URL.String(), "result="+tc.landing) {
						t.Fatalf("shopper landed on %s; want the %s return URL\nhistory: %v\n%s", j.final.URL, tc.landing, j.history, j.final.Body)
					}
					p := s.payment(t, j.payment.ID)
					if p.Status != tc.status || p.Result == nil || p.Result.Code != tc.code {
						t.Fatalf("payment = %s %+v; want %s %s", p.Status, p.Result, tc.status, tc.code)
					}
					ev := s.webhooks(t, p.ID, 1)
					if len(ev) != 1 || ev[0].Event.Type != tc.event || ev[0].Event.Data.ReasonCode != tc.reason ||
						ev[0].Event.Data.WixTransactionID != p.WixTransactionID {
						t.Fatalf("webhooks = %+v; want one %s with reason %d", ev, tc.event, tc.reason)
					}
				})
			}
		})
	}
}
