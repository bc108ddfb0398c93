package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posrelay/posrelay/bank"
	"github.com/posrelay/posrelay/store"
)

// Values a journal holds that operator output must never show.
const (
	testPayToken      = "PAYTOKEN-must-not-show-7f3a9c"
	testCallbackToken = "CBTOKEN-must-not-show-2b8e41"
	testBankState     = "BANKSTATE-must-not-show-d05c77"
	testOpBankState   = "OPSTATE-must-not-show-91aa3e"
)

// seedJournal makes a state directory holding a journal with one
// succeeded payment (created 2025-03-10, Türkiye time) that carries the
// test tokens and bank state, a refund with bank state, and their
// webhooks; it returns the directory and a configuration file naming it.
func seedJournal(t *testing.T) (stateDir, configPath string) {
	t.Helper()
	stateDir = t.TempDir()
	j, err := store.OpenSQLite(filepath.Join(stateDir, "journal.db"), store.SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	ctx := t.Context()
	at := time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)
	p := &store.Payment{
		ID: "pay_redact1", SiteID: "shop1", Bank: "halkbank", Account: "halkbank", Model: "3d_pay_hosting",
		OrderID: "order-redact", BankOrderID: "order-redact", Amount: 12_550, Currency: "TRY", Installments: 1,
		Type: "sale", Language: "tr",
		ReturnURLs:    store.ReturnURLs{Success: "https://www.example.com/ok", Error: "https://www.example.com/error"},
		PayToken:      testPayToken,
		CallbackToken: testCallbackToken,
		BankState:     map[string]string{"token": testBankState},
		Status:        store.StatusPending, Stage: store.StageCreated,
		CreatedAt: at, UpdatedAt: at, ExpiresAt: at.Add(30 * time.Minute),
	}
	if err := j.CreatePayment(ctx, p, store.Event{At: at, Kind: "created", Detail: map[string]string{"bank": "halkbank"}}, nil); err != nil {
		t.Fatal(err)
	}
	done := at.Add(2 * time.Minute)
	_, err = j.UpdatePayment(ctx, p.ID, func(q *store.Payment) (*store.Change, error) {
		q.Status, q.Stage, q.Captured, q.UpdatedAt, q.FinalAt = store.StatusSucceeded, store.StageDone, q.Amount, done, done
		q.Result = &bank.Result{Code: bank.CodeApproved}
		return &store.Change{
			Events: []store.Event{{At: done, Kind: "succeeded"}},
			Operations: []*store.Operation{{
				ID: "op_redact1", PaymentID: p.ID, SiteID: p.SiteID, Kind: bank.OpRefund, Amount: 500, Status: store.OpPending,
				BankState: map[string]string{"rnd": testOpBankState}, CreatedAt: done, UpdatedAt: done,
			}},
			Webhooks: []store.Webhook{{
				ID: "msg_redact1", SiteID: p.SiteID, PaymentID: p.ID, EventType: "payment.succeeded", Body: []byte(`{"type":"payment.succeeded"}`),
				Status: store.WebhookPending, NextAttemptAt: done, CreatedAt: done,
			}},
		}, nil
	})
	if err != nil {
		t.Fatal(err)
	}

	tmpl, err := os.ReadFile("testdata/journal_config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	configPath = filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(configPath, []byte(strings.ReplaceAll(string(tmpl), "STATE_DIR", stateDir)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("POSRELAY_TEST_SHOP1_SECRET", "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t-0001")
	t.Setenv("POSRELAY_TEST_SHOP1_WHSEC", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw9qOyCmGz7pU=")
	t.Setenv("POSRELAY_TEST_HB_STORE_KEY", "store-key-0001")
	t.Setenv("POSRELAY_TEST_HB_API_PASSWORD", "api-password-0001")
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	return stateDir, configPath
}

// TestOperatorOutputHidesSecrets runs every journal command in every
// output mode against a journal holding a payment with known tokens and
// bank state: the payment shows, its tokens and bank state never do.
func TestOperatorOutputHidesSecrets(t *testing.T) {
	state, cfg := seedJournal(t)
	cases := []struct {
		name string
		args []string
		exit int
		want []string // stdout must show these
	}{
		{"payments list", []string{"payments", "list", "--state", state, "--date", "2025-03-10"}, 0, []string{"pay_redact1"}},
		{"payments list --json", []string{"payments", "list", "--state", state, "--date", "2025-03-10", "--json"}, 0,
			[]string{`"ID": "pay_redact1"`, `"PayToken": "[hidden]"`, `"CallbackToken": "[hidden]"`, `"token": "[hidden]"`}},
		{"payments list --json via --config", []string{"payments", "list", "--config", cfg, "--date", "2025-03-10", "--json"}, 0,
			[]string{`"ID": "pay_redact1"`}},
		{"payments show", []string{"payments", "show", "pay_redact1", "--state", state}, 0, []string{"pay_redact1", "op_redact1", "msg_redact1"}},
		{"payments show --json", []string{"payments", "show", "pay_redact1", "--state", state, "--json"}, 0,
			[]string{`"ID": "pay_redact1"`, `"PayToken": "[hidden]"`, `"rnd": "[hidden]"`, `"ID": "op_redact1"`}},
		{"webhooks list", []string{"webhooks", "list", "--state", state}, 0, []string{"msg_redact1"}},
		{"webhooks list --json", []string{"webhooks", "list", "--state", state, "--json"}, 0, []string{`"ID": "msg_redact1"`}},
		{"webhooks list --payment --json", []string{"webhooks", "list", "--state", state, "--payment", "pay_redact1", "--json"}, 0, []string{"msg_redact1"}},
		// The webhook is still pending: the report lists it as an issue (exit 3).
		{"report daily", []string{"report", "daily", "--config", cfg, "--date", "2025-03-10"}, 3, []string{`"id": "pay_redact1"`, "op_redact1"}},
		{"report daily --csv", []string{"report", "daily", "--config", cfg, "--date", "2025-03-10", "--csv"}, 0, []string{"pay_redact1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.args, "")
			if code != tc.exit {
				t.Fatalf("exit %d; want %d\nstdout:\n%s\nstderr:\n%s", code, tc.exit, out, errOut)
			}
			for _, s := range tc.want {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			for _, s := range []string{testPayToken, testCallbackToken, testBankState, testOpBankState} {
				if strings.Contains(out, s) || strings.Contains(errOut, s) {
					t.Errorf("output shows %s\nstdout:\n%s\nstderr:\n%s", s, out, errOut)
				}
			}
		})
	}
}

// TestRedactPayment checks the shared helper hides tokens and bank state
// values, keeps the keys and leaves the journal's record alone.
func TestRedactPayment(t *testing.T) {
	p := &store.Payment{ID: "pay_1", PayToken: testPayToken, CallbackToken: testCallbackToken, BankState: map[string]string{"token": testBankState}}
	r := redactPayment(p)
	if r.ID != "pay_1" || r.PayToken != hidden || r.CallbackToken != hidden || len(r.BankState) != 1 || r.BankState["token"] != hidden {
		t.Errorf("redactPayment = %+v; want tokens and bank state values hidden", r)
	}
	if p.PayToken != testPayToken || p.CallbackToken != testCallbackToken || p.BankState["token"] != testBankState {
		t.Errorf("redactPayment changed its argument: %+v", p)
	}
	ops := []*store.Operation{{ID: "op_1", BankState: map[string]string{"rnd": testOpBankState}}, {ID: "op_2"}}
	ro := redactOperations(ops)
	if ro[0].BankState["rnd"] != hidden || ro[1].BankState != nil || ops[0].BankState["rnd"] != testOpBankState {
		t.Errorf("redactOperations = %+v, %+v (argument now %+v)", ro[0], ro[1], ops[0])
	}
}
