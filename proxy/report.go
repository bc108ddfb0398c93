package proxy

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/posrelay/posrelay/bank"
	"github.com/posrelay/posrelay/config"
	"github.com/posrelay/posrelay/store"
)

// turkey is the banks' business day: end-of-day settlement happens at
// midnight in Türkiye (UTC+3, no daylight saving since 2016).
var turkey = time.FixedZone("UTC+3", 3*60*60)

// Report is the reconciliation of one day's payments and operations.
type Report struct {
	Date       string        `json:"date"`
	TimeZone   string        `json:"timeZone"`
	Site       string        `json:"site,omitempty"`
	Payments   []ReportRow   `json:"payments"`
	Operations []ReportOp    `json:"operations"`
	Totals     ReportTotals  `json:"totals"`
	BankCheck  *BankCheck    `json:"bankCheck,omitempty"`
	Issues     []ReportIssue `json:"issues"`
}

// ReportRow is one payment of the day.
type ReportRow struct {
	ID               string `json:"id"`
	Site             string `json:"site"`
	OrderID          string `json:"orderId"`
	BankOrderID      string `json:"bankOrderId"`
	WixTransactionID string `json:"wixTransactionId,omitempty"`
	Bank             string `json:"bank"`
	Status           string `json:"status"`
	Amount           int64  `json:"amount"`
	Currency         string `json:"currency"`
	Captured         int64  `json:"captured"`
	Refunded         int64  `json:"refunded"`
	ResultCode       string `json:"resultCode,omitempty"`
	AuthCode         string `json:"authCode,omitempty"`
	HostRef          string `json:"hostRef,omitempty"`
	TransID          string `json:"transId,omitempty"`
	CreatedAt        string `json:"createdAt"`
	FinalAt          string `json:"finalAt,omitempty"`
	Webhook          string `json:"webhook"` // delivered, pending, dead, none
}

// ReportOp is one refund, void or capture of the day.
type ReportOp struct {
	ID          string `json:"id"`
	PaymentID   string `json:"paymentId"`
	OrderID     string `json:"orderId"`
	Kind        string `json:"kind"`
	Amount      int64  `json:"amount"`
	Status      string `json:"status"`
	WixRefundID string `json:"wixRefundId,omitempty"`
	ResultCode  string `json:"resultCode,omitempty"`
	CreatedAt   string `json:"createdAt"`
	Webhook     string `json:"webhook"`
}

// ReportTotals sums the day per currency.
type ReportTotals struct {
	Payments  int              `json:"payments"`
	Succeeded int              `json:"succeeded"`
	Failed    int              `json:"failed"`
	Open      int              `json:"open"` // pending or unknown
	Captured  map[string]int64 `json:"captured"`
	Refunded  map[string]int64 `json:"refunded"`
}

// BankCheck says how many records were compared with the bank.
type BankCheck struct {
	Checked int `json:"checked"`
	Failed  int `json:"failed"` // status queries that got no answer
}

// ReportIssue is a difference the operator should look at.
type ReportIssue struct {
	PaymentID string `json:"paymentId"`
	OrderID   string `json:"orderId"`
	Issue     string `json:"issue"` // see the issue* constants
	Journal   string `json:"journal"`
	Bank      string `json:"bank,omitempty"`
}

// Report issues.
const (
	issueNotAtBank          = "not_at_bank"           // the journal says paid, the bank knows nothing
	issueAmountDiffers      = "amount_differs"        // approved at the bank for another amount
	issueStateDiffers       = "state_differs"         // e.g. failed here, approved at the bank
	issueRefundDiffers      = "refund_differs"        // refunded amounts disagree
	issueWebhookUndelivered = "webhook_not_delivered" // the site has not heard of the final status
	issueStatusUnavailable  = "status_unavailable"    // the bank's status API gave no answer
	issueLateApproval       = "late_approval"         // the bank approved after the relay had closed the payment
	issueDuplicatePayment   = "duplicate_payment"     // more than one succeeded payment for one order
	issueOperationDisagrees = "operation_disagrees"   // a bank answer came after its operation was settled the other way
)

// apiBankCheckLimit bounds the status queries one API report may make:
// each is a bank round trip, and a bigger day belongs to the operator
// command (posrelay report daily --check-bank), which has no limit.
const apiBankCheckLimit = 500

// DailyReport lists a day's payments and operations (site "" = every
// site); with checkBank each payment that reached the bank is compared with
// the bank's status API.
func (r *Relay) DailyReport(ctx context.Context, site, date string, checkBank bool) (*Report, error) {
	return r.buildReport(ctx, site, date, checkBank, 0)
}

// buildReport is DailyReport with a limit on the bank checks (0: none);
// above it the report is refused before the bank is asked anything.
func (r *Relay) buildReport(ctx context.Context, site, date string, checkBank bool, maxChecks int) (*Report, error) {
	day, err := time.ParseInLocation("2006-01-02", date, turkey)
	if err != nil {
		return nil, errInvalid("date", "date %q is not YYYY-MM-DD", date)
	}
	from, before := day, day.AddDate(0, 0, 1)
	ps, err := r.journal.ListPayments(ctx, store.PaymentFilter{SiteID: site, CreatedFrom: from, CreatedBefore: before})
	if err != nil {
		return nil, internalError(err)
	}
	ops, err := r.journal.OperationsBetween(ctx, from, before)
	if err != nil {
		return nil, internalError(err)
	}
	rep := &Report{Date: date, TimeZone: "Europe/Istanbul (UTC+3)", Site: site, Payments: []ReportRow{}, Operations: []ReportOp{},
		Issues: []ReportIssue{}, Totals: ReportTotals{Captured: map[string]int64{}, Refunded: map[string]int64{}}}
	var toCheck []*store.Payment
	if checkBank {
		for _, p := range ps {
			if p.Stage != store.StageCreated || p.Status == store.StatusSucceeded {
				toCheck = append(toCheck, p) // reached the bank
			}
		}
		if maxChecks > 0 && len(toCheck) > maxChecks {
			return nil, &apiError{Status: fasthttp.StatusUnprocessableEntity, Code: "report_too_large", Field: "checkBank",
				Message: fmt.Sprintf("%d payments of %s reached the bank; checkBank asks for at most %d. Run `posrelay report daily --date %s --check-bank` on the relay's server, or leave checkBank out.",
					len(toCheck), date, maxChecks, date)}
		}
	}
	orders := map[string]string{}
	paidOrders := map[[2]string]bool{} // (site, order) whose duplicates were looked for
	for _, p := range ps {
		hook, err := r.webhookState(ctx, p.ID, statusEvent[p.Status])
		if err != nil {
			return nil, internalError(err)
		}
		row := ReportRow{ID: p.ID, Site: p.SiteID, OrderID: p.OrderID, BankOrderID: p.BankOrderID, WixTransactionID: p.WixTransactionID,
			Bank: p.Bank, Status: string(p.Status), Amount: p.Amount, Currency: p.Currency, Captured: p.Captured, Refunded: p.Refunded,
			AuthCode: p.Ref.AuthCode, HostRef: p.Ref.HostRef, TransID: p.Ref.TransID, CreatedAt: fmtTime(p.CreatedAt), FinalAt: fmtTime(p.FinalAt), Webhook: hook}
		if p.Result != nil {
			row.ResultCode = p.Result.Code
		}
		orders[p.ID] = p.OrderID
		rep.Payments = append(rep.Payments, row)
		rep.Totals.Payments++
		switch {
		case p.Status == store.StatusSucceeded || p.Status == store.StatusVoided:
			rep.Totals.Succeeded++
			rep.Totals.Captured[p.Currency] += p.Captured
		case p.Status == store.StatusPending || p.Status == store.StatusUnknown:
			rep.Totals.Open++
		default:
			rep.Totals.Failed++
		}
		if p.Status.Final() && hook != "delivered" {
			rep.Issues = append(rep.Issues, ReportIssue{PaymentID: p.ID, OrderID: p.OrderID, Issue: issueWebhookUndelivered, Journal: string(p.Status) + ", webhook " + hook})
		}
		if err := r.paymentIssues(ctx, p, paidOrders, rep); err != nil {
			return nil, internalError(err)
		}
	}
	for _, op := range ops {
		if site != "" && op.SiteID != site {
			continue
		}
		if _, ok := orders[op.PaymentID]; !ok {
			if p, err := r.journal.GetPayment(ctx, op.PaymentID); err == nil {
				orders[op.PaymentID] = p.OrderID
			}
		}
		typ := ""
		switch {
		case op.Kind == bank.OpRefund && op.Status == store.OpSucceeded:
			typ = "refund.succeeded"
		case op.Kind == bank.OpRefund && op.Status == store.OpFailed:
			typ = "refund.failed"
		case op.Kind == bank.OpVoid && op.Status == store.OpSucceeded:
			typ = "payment.voided"
		case op.Kind == bank.OpVoid && op.Status == store.OpFailed:
			typ = "payment.void_failed"
		}
		hook := "none"
		if typ != "" {
			if hook, err = r.webhookState(ctx, op.PaymentID, typ); err != nil {
				return nil, internalError(err)
			}
		}
		row := ReportOp{ID: op.ID, PaymentID: op.PaymentID, OrderID: orders[op.PaymentID], Kind: string(op.Kind), Amount: op.Amount,
			Status: string(op.Status), WixRefundID: op.WixRefundID, CreatedAt: fmtTime(op.CreatedAt), Webhook: hook}
		if op.Result != nil {
			row.ResultCode = op.Result.Code
		}
		if op.Kind == bank.OpRefund && op.Status == store.OpSucceeded {
			if p, err := r.journal.GetPayment(ctx, op.PaymentID); err == nil {
				rep.Totals.Refunded[p.Currency] += op.Amount
			}
		}
		rep.Operations = append(rep.Operations, row)
	}
	if checkBank {
		rep.BankCheck = &BankCheck{}
		for _, p := range toCheck {
			r.compareWithBank(ctx, p, rep)
		}
	}
	sort.SliceStable(rep.Issues, func(i, j int) bool { return rep.Issues[i].PaymentID < rep.Issues[j].PaymentID })
	return rep, nil
}

// paymentIssues adds what the journal alone shows is wrong with p: a
// late approval of a closed payment, a bank answer that disagrees with how
// one of its operations was settled, or a second succeeded payment for
// the same order (looked for across days, once per order).
func (r *Relay) paymentIssues(ctx context.Context, p *store.Payment, paidOrders map[[2]string]bool, rep *Report) error {
	if p.Status == store.StatusSucceeded || p.Status == store.StatusVoided { // the statuses operations run on
		evs, err := r.journal.Events(ctx, p.ID)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if e.Kind == eventOperationDisagrees {
				rep.Issues = append(rep.Issues, ReportIssue{PaymentID: p.ID, OrderID: p.OrderID, Issue: issueOperationDisagrees,
					Journal: "operation " + e.Detail["operation"] + " " + e.Detail["recorded"],
					Bank:    e.Detail["bank_says"] + " (" + e.Detail["source"] + "): check it with the bank and put it right"})
			}
		}
	}
	switch p.Status {
	case store.StatusFailed, store.StatusExpired, store.StatusCanceled:
		evs, err := r.journal.Events(ctx, p.ID)
		if err != nil {
			return err
		}
		if e := findEvent(evs, eventLateApproval); e != nil {
			rep.Issues = append(rep.Issues, ReportIssue{PaymentID: p.ID, OrderID: p.OrderID, Issue: issueLateApproval,
				Journal: string(p.Status), Bank: "approved (auth code " + e.Detail["auth_code"] + "): void or refund it"})
		}
	case store.StatusSucceeded: // the relay voids a second approval itself; this finds what that missed
		k := [2]string{p.SiteID, p.OrderID}
		if paidOrders[k] {
			return nil
		}
		paidOrders[k] = true
		all, err := r.journal.PaymentsByOrder(ctx, p.SiteID, p.OrderID)
		if err != nil {
			return err
		}
		var paid []string
		for _, q := range all {
			if holdsMoney(q) {
				paid = append(paid, q.ID)
			}
		}
		if len(paid) > 1 {
			rep.Issues = append(rep.Issues, ReportIssue{PaymentID: p.ID, OrderID: p.OrderID, Issue: issueDuplicatePayment,
				Journal: fmt.Sprintf("%d succeeded payments for order %s: %s; refund or void all but one", len(paid), p.OrderID, strings.Join(paid, ", "))})
		}
	}
	return nil
}

// webhookState is the delivery state of a payment's message of one type.
func (r *Relay) webhookState(ctx context.Context, paymentID, typ string) (string, error) {
	if typ == "" {
		return "none", nil
	}
	ws, err := r.journal.ListWebhooks(ctx, store.WebhookFilter{PaymentID: paymentID})
	if err != nil {
		return "", err
	}
	state := "none"
	for _, w := range ws {
		if w.EventType == typ {
			state = string(w.Status)
		}
	}
	return state, nil
}

func (r *Relay) compareWithBank(ctx context.Context, p *store.Payment, rep *Report) {
	g, ok := r.gatewayFor(p)
	if !ok {
		return
	}
	rep.BankCheck.Checked++
	st, err := g.Status(ctx, r.bankPayment(p))
	issue := func(kind, journal, bankSays string) {
		rep.Issues = append(rep.Issues, ReportIssue{PaymentID: p.ID, OrderID: p.OrderID, Issue: kind, Journal: journal, Bank: bankSays})
	}
	if err != nil {
		rep.BankCheck.Failed++
		issue(issueStatusUnavailable, string(p.Status), shortErr(err))
		return
	}
	bankSays := fmt.Sprintf("%s, amount %d, refunded %d", st.State, st.Amount, st.Refunded)
	if st.RefundedUnknown {
		bankSays = fmt.Sprintf("%s, amount %d, refunded (total not given)", st.State, st.Amount)
	}
	journal := fmt.Sprintf("%s, amount %d, refunded %d", p.Status, p.Amount, p.Refunded)
	approvedAtBank := st.State == bank.TxnApproved || st.State == bank.TxnRefunded
	switch {
	case (p.Status == store.StatusSucceeded || p.Status == store.StatusVoided) && st.State == bank.TxnNotFound:
		issue(issueNotAtBank, journal, bankSays)
	case approvedAtBank && st.Amount != 0 && st.Amount != p.Amount:
		issue(issueAmountDiffers, journal, bankSays)
	case p.Status == store.StatusSucceeded && !approvedAtBank,
		p.Status == store.StatusVoided && st.State != bank.TxnVoided,
		(p.Status == store.StatusFailed || p.Status == store.StatusExpired || p.Status == store.StatusCanceled) && approvedAtBank,
		p.Status == store.StatusUnknown:
		issue(issueStateDiffers, journal, bankSays)
	case approvedAtBank && !st.RefundedUnknown && st.Refunded != p.Refunded,
		st.RefundedUnknown && p.Refunded == 0:
		issue(issueRefundDiffers, journal, bankSays)
	}
}

// dailyReport handles GET /v1/reports/daily?date=YYYY-MM-DD[&format=csv][&checkBank=true].
func (r *Relay) dailyReport(ctx *fasthttp.RequestCtx, rs *reqState, site *config.Site) {
	args := ctx.QueryArgs()
	date := string(args.Peek("date"))
	if date == "" {
		date = r.now().In(turkey).Format("2006-01-02")
	}
	check := string(args.Peek("checkBank")) == "true"
	format := string(args.Peek("format"))
	if format != "" && format != "json" && format != "csv" {
		// Refused before the report asks the bank anything.
		writeError(ctx, rs, errInvalid("format", "format must be json or csv"))
		return
	}
	rep, err := r.buildReport(context.Background(), site.ID, date, check, apiBankCheckLimit)
	if err != nil {
		writeError(ctx, rs, err)
		return
	}
	rs.decision = "report"
	if format == "csv" {
		ctx.Response.Header.SetContentType("text/csv; charset=utf-8")
		ctx.Response.Header.Set("Content-Disposition", `attachment; filename="posrelay-`+date+`.csv"`)
		ctx.SetBody(rep.CSV())
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, rep)
}

// CSV writes the report as one row per payment and per operation, then
// one row per issue. Order ids come from the sites: a cell that a
// spreadsheet would read as a formula is quoted with a leading apostrophe.
func (rep *Report) CSV() []byte {
	var b bytes.Buffer
	w := safeCSV{csv.NewWriter(&b)}
	_ = w.Write([]string{"record", "id", "payment_id", "order_id", "bank", "kind", "status", "amount", "currency",
		"captured", "refunded", "result_code", "auth_code", "host_ref", "trans_id", "created_at", "webhook", "detail"})
	for _, p := range rep.Payments {
		_ = w.Write([]string{"payment", p.ID, p.ID, p.OrderID, p.Bank, "payment", p.Status, strconv.FormatInt(p.Amount, 10), p.Currency,
			strconv.FormatInt(p.Captured, 10), strconv.FormatInt(p.Refunded, 10), p.ResultCode, p.AuthCode, p.HostRef, p.TransID, p.CreatedAt, p.Webhook, ""})
	}
	for _, o := range rep.Operations {
		_ = w.Write([]string{"operation", o.ID, o.PaymentID, o.OrderID, "", o.Kind, o.Status, strconv.FormatInt(o.Amount, 10), "",
			"", "", o.ResultCode, "", "", "", o.CreatedAt, o.Webhook, o.WixRefundID})
	}
	for _, i := range rep.Issues {
		_ = w.Write([]string{"issue", "", i.PaymentID, i.OrderID, "", i.Issue, "", "", "", "", "", "", "", "", "", "", "", "journal: " + i.Journal + "; bank: " + i.Bank})
	}
	w.Flush()
	return b.Bytes()
}

// safeCSV writes rows with cells defused against formula injection
// (OWASP "CSV injection"): =, +, -, @, tab and CR at the start of a cell.
type safeCSV struct{ *csv.Writer }

func (w safeCSV) Write(row []string) error {
	for i, c := range row {
		if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
			row[i] = "'" + c
		}
	}
	return w.Writer.Write(row)
}
