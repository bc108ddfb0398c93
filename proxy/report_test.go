package proxy

import (
	"context"
	"encoding/csv"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/posrelay/posrelay/store"
)

// reportPayment is one payment as a test puts it in the journal: created
// today, then moved to status (with captured/refunded amounts) and given
// extra events.
type reportPayment struct {
	id, order string
	status    store.PaymentStatus
	stage     store.Stage
	captured  int64
	refunded  int64
	events    []string
}

func putPayments(t *testing.T, r *Relay, ps []reportPayment) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	for i, rp := range ps {
		p := &store.Payment{ID: rp.id, SiteID: "shop1", Bank: "halkbank", Account: "halkbank", Model: "3d_pay_hosting",
			OrderID: rp.order, BankOrderID: rp.order + "-" + rp.id, Amount: 10000, Currency: "TRY", Type: "sale", Language: "tr",
			PayToken: "pt" + rp.id, CallbackToken: "ct" + rp.id, Status: store.StatusPending, Stage: store.StageCreated,
			CreatedAt: now.Add(time.Duration(i) * time.Millisecond), UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := r.journal.CreatePayment(ctx, p, store.Event{At: now, Kind: "created"}, nil); err != nil {
			t.Fatal(err)
		}
		if rp.status == store.StatusVoided { // the only way there
			if _, err := r.journal.UpdatePayment(ctx, p.ID, func(q *store.Payment) (*store.Change, error) {
				q.Status, q.Stage = store.StatusSucceeded, store.StageDone
				return nil, nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := r.journal.UpdatePayment(ctx, p.ID, func(q *store.Payment) (*store.Change, error) {
			q.Stage = rp.stage
			if rp.status != "" && rp.status != store.StatusPending {
				q.Status, q.FinalAt = rp.status, now
			}
			q.Captured, q.Refunded = rp.captured, rp.refunded
			ch := &store.Change{}
			for _, k := range rp.events {
				ch.Events = append(ch.Events, store.Event{At: now, Kind: k, Detail: map[string]string{"auth_code": "A1"}})
			}
			return ch, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// reportRelay is a relay whose Halkbank account points at a closed
// loopback port: a bank check gets no answer, and no test reaches a bank.
func reportRelay(t *testing.T) *testRelay {
	t.Helper()
	return newTestRelayIn(t, `tls: {mode: off}
server: {listen: "127.0.0.1:0", public_url: "https://pay.example.com"}
egress: {allow_ranges: ["127.0.0.0/8"], bank_timeout: 1s}
environments: {closed: {halkbank: "http://127.0.0.1:1"}}
`, "closed")
}

func today() string { return time.Now().In(turkey).Format("2006-01-02") }

// TestReportIssuesFromJournal checks the issues the report finds without
// asking the bank: a second charge for one order, and a bank approval
// that came after the relay had closed the payment.
func TestReportIssuesFromJournal(t *testing.T) {
	done := store.StageDone
	tests := []struct {
		name     string
		payments []reportPayment
		want     []string // "issue payment"
	}{
		{"one payment per order", []reportPayment{
			{id: "pay_a", order: "O1", status: store.StatusSucceeded, stage: done, captured: 10000},
			{id: "pay_b", order: "O2", status: store.StatusSucceeded, stage: done, captured: 10000},
		}, nil},
		{"a failed attempt then a success", []reportPayment{
			{id: "pay_a", order: "O1", status: store.StatusFailed, stage: done},
			{id: "pay_b", order: "O1", status: store.StatusSucceeded, stage: done, captured: 10000},
		}, nil},
		{"two successes for one order", []reportPayment{
			{id: "pay_a", order: "O1", status: store.StatusSucceeded, stage: done, captured: 10000},
			{id: "pay_b", order: "O1", status: store.StatusSucceeded, stage: done, captured: 10000},
		}, []string{"duplicate_payment pay_a"}},
		{"a pre-authorisation and a sale for one order", []reportPayment{
			{id: "pay_a", order: "O1", status: store.StatusSucceeded, stage: done},
			{id: "pay_b", order: "O1", status: store.StatusSucceeded, stage: done, captured: 10000},
		}, []string{"duplicate_payment pay_a"}},
		{"the second charge refunded in full", []reportPayment{
			{id: "pay_a", order: "O1", status: store.StatusSucceeded, stage: done, captured: 10000},
			{id: "pay_b", order: "O1", status: store.StatusSucceeded, stage: done, captured: 10000, refunded: 10000},
		}, nil},
		{"the second charge voided", []reportPayment{
			{id: "pay_a", order: "O1", status: store.StatusSucceeded, stage: done, captured: 10000},
			{id: "pay_b", order: "O1", status: store.StatusVoided, stage: done, captured: 10000},
		}, nil},
		{"late approval of an expired payment", []reportPayment{
			{id: "pay_a", order: "O1", status: store.StatusExpired, stage: done, events: []string{eventLateApproval}},
			{id: "pay_b", order: "O2", status: store.StatusFailed, stage: done, events: []string{"bank_step"}},
		}, []string{"late_approval pay_a"}},
		{"a bank answer after an operation was settled the other way", []reportPayment{
			{id: "pay_a", order: "O1", status: store.StatusSucceeded, stage: done, captured: 10000, events: []string{eventOperationDisagrees}},
			{id: "pay_b", order: "O2", status: store.StatusVoided, stage: done, captured: 10000, events: []string{"void_succeeded"}},
		}, []string{"operation_disagrees pay_a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := reportRelay(t)
			putPayments(t, tr.Relay, tt.payments)
			rep, err := tr.DailyReport(context.Background(), "", today(), false)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, i := range rep.Issues {
				if i.Issue != issueWebhookUndelivered { // no webhooks in this journal
					got = append(got, i.Issue+" "+i.PaymentID)
				}
			}
			if strings.Join(got, "; ") != strings.Join(tt.want, "; ") {
				t.Errorf("issues %q; want %q", got, tt.want)
			}
		})
	}
}

// TestReportBankCheckLimit checks that an API report refuses, before it
// asks the bank anything, to check more payments than its limit, and that
// the refusal says what to run instead.
func TestReportBankCheckLimit(t *testing.T) {
	tr := reportRelay(t)
	putPayments(t, tr.Relay, []reportPayment{
		{id: "pay_a", order: "O1", stage: store.StageBankStep},
		{id: "pay_b", order: "O2", stage: store.StageBankStep},
		{id: "pay_c", order: "O3", stage: store.StageCreated}, // never reached the bank: not counted
	})
	tests := []struct {
		name      string
		checkBank bool
		limit     int
		refused   bool
	}{
		{"over the limit", true, 1, true},
		{"at the limit", true, 2, false},
		{"no bank check", false, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			rep, err := tr.buildReport(ctx, "", today(), tt.checkBank, tt.limit)
			var ae *apiError
			if tt.refused {
				if !errors.As(err, &ae) || ae.Status != 422 || ae.Code != "report_too_large" || !strings.Contains(ae.Message, "posrelay report daily") {
					t.Fatalf("err = %v; want 422 report_too_large naming the CLI", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Payments) != 3 {
				t.Errorf("report has %d payments; want 3", len(rep.Payments))
			}
			if tt.checkBank && (rep.BankCheck == nil || rep.BankCheck.Checked != 2) {
				t.Errorf("bank check %+v; want 2 payments checked", rep.BankCheck)
			}
		})
	}
}

// TestReportCSVDefusesFormulas checks that a site's order id cannot turn
// into a spreadsheet formula in the CSV export.
func TestReportCSVDefusesFormulas(t *testing.T) {
	tests := []struct{ name, order, want string }{
		{"plain", "ORD-1", "ORD-1"},
		{"equals", `=HYPERLINK("http://evil.example","x")`, `'=HYPERLINK("http://evil.example","x")`},
		{"plus", "+1+1", "'+1+1"},
		{"minus", "-2+3", "'-2+3"},
		{"at", "@SUM(A1)", "'@SUM(A1)"},
		{"tab", "\t=1", "'\t=1"},
		{"inner equals", "A=1", "A=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := &Report{Payments: []ReportRow{{ID: "pay_a", OrderID: tt.order, Status: "succeeded"}}}
			rows, err := csv.NewReader(strings.NewReader(string(rep.CSV()))).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if got := rows[1][3]; got != tt.want {
				t.Errorf("order cell %q; want %q", got, tt.want)
			}
		})
	}
}
