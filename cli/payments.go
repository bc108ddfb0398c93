package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"go.uber.org/zap"

	"github.com/posrelay/posrelay/bank"
	"github.com/posrelay/posrelay/config"
	"github.com/posrelay/posrelay/proxy"
	"github.com/posrelay/posrelay/store"
)

var turkey = time.FixedZone("UTC+3", 3*60*60)

func runPayments(ctx context.Context, args []string, stdio Stdio) error {
	if len(args) == 0 {
		return usagef("payments needs a subcommand: list or show")
	}
	cmd := newJournalCmd("payments "+args[0], stdio)
	date := cmd.fs.String("date", "", "list payments created on this day, YYYY-MM-DD (Türkiye time; default today)")
	status := cmd.fs.String("status", "", "list only payments with this status (pending, succeeded, failed, canceled, expired, unknown, voided)")
	site := cmd.fs.String("site", "", "list only this site's payments")
	j, pos, err := cmd.open(args[1:])
	if err != nil {
		return err
	}
	defer j.Close()
	switch args[0] {
	case "list":
		f := store.PaymentFilter{SiteID: *site, Status: store.PaymentStatus(*status), Limit: 10000}
		day := *date
		if day == "" {
			day = time.Now().In(turkey).Format("2006-01-02")
		}
		from, err := time.ParseInLocation("2006-01-02", day, turkey)
		if err != nil {
			return usagef("--date %q: use YYYY-MM-DD", *date)
		}
		f.CreatedFrom, f.CreatedBefore = from, from.AddDate(0, 0, 1)
		ps, err := j.ListPayments(ctx, f)
		if err != nil {
			return err
		}
		ps = redactPayments(ps) // no pay or callback tokens, no bank state
		if *cmd.asJSON {
			return writeIndented(stdio, ps)
		}
		tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSITE\tORDER\tBANK\tSTATUS\tAMOUNT\tREFUNDED\tRESULT\tCREATED")
		for _, p := range ps {
			res := ""
			if p.Result != nil {
				res = p.Result.Code
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s %s\t%s\t%s\t%s\n", p.ID, p.SiteID, p.OrderID, p.Bank, p.Status,
				bank.FormatAmount(p.Amount), p.Currency, bank.FormatAmount(p.Refunded), res, stamp(p.CreatedAt))
		}
		return tw.Flush()
	case "show":
		if len(pos) != 1 {
			return usagef("payments show needs one payment id (pay_…)")
		}
		p, err := j.GetPayment(ctx, pos[0])
		if err != nil {
			return &ExitError{Code: 1, Err: fmt.Errorf("payment %s: %w", pos[0], err)}
		}
		ops, err := j.Operations(ctx, p.ID)
		if err != nil {
			return err
		}
		evs, err := j.Events(ctx, p.ID)
		if err != nil {
			return err
		}
		hooks, err := j.ListWebhooks(ctx, store.WebhookFilter{PaymentID: p.ID})
		if err != nil {
			return err
		}
		// Tokens and bank state open the shopper's or the bank's pages.
		p, ops = redactPayment(p), redactOperations(ops)
		if *cmd.asJSON {
			return writeIndented(stdio, map[string]any{"payment": p, "operations": ops, "events": evs, "webhooks": hooks})
		}
		out := stdio.Out
		fmt.Fprintf(out, "%s  site %s  order %s (bank order %s)  %s %s\n", p.ID, p.SiteID, p.OrderID, p.BankOrderID, p.Bank, p.Model)
		fmt.Fprintf(out, "status %s  amount %s %s  captured %s  refunded %s  installments %d  type %s\n", p.Status,
			bank.FormatAmount(p.Amount), p.Currency, bank.FormatAmount(p.Captured), bank.FormatAmount(p.Refunded), p.Installments, p.Type)
		if p.Result != nil {
			fmt.Fprintf(out, "result %s (bank code %s: %s), Wix reason %d\n", p.Result.Code, p.Result.BankCode, p.Result.BankMessage, p.Result.ReasonCode)
		}
		fmt.Fprintf(out, "auth %s  host ref %s  trans %s  card %s  wix transaction %s\n", p.Ref.AuthCode, p.Ref.HostRef, p.Ref.TransID, p.Ref.MaskedPAN, p.WixTransactionID)
		fmt.Fprintln(out, "\nevents:")
		for _, e := range evs {
			fmt.Fprintf(out, "  %3d  %s  %-20s %v\n", e.Seq, stamp(e.At), e.Kind, e.Detail)
		}
		if len(ops) > 0 {
			fmt.Fprintln(out, "\noperations:")
			for _, o := range ops {
				code := ""
				if o.Result != nil {
					code = o.Result.Code
				}
				fmt.Fprintf(out, "  %s  %-7s %s  %-9s %s  bank calls %d  %s\n", o.ID, o.Kind, bank.FormatAmount(o.Amount), o.Status, code, o.BankCalls, stamp(o.CreatedAt))
			}
		}
		fmt.Fprintln(out, "\nwebhooks:")
		return printWebhooks(out, hooks, false)
	}
	return usagef("unknown payments subcommand %q; use list or show", args[0])
}

func writeIndented(stdio Stdio, v any) error {
	enc := json.NewEncoder(stdio.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func runReport(ctx context.Context, args []string, stdio Stdio) error {
	if len(args) == 0 || args[0] != "daily" {
		return usagef("report needs a kind: report daily --date YYYY-MM-DD")
	}
	fs := newFlags("report daily", stdio)
	cfgPath := fs.String("config", "/etc/posrelay/config.yaml", "configuration `file`")
	date := fs.String("date", "", "the day, YYYY-MM-DD (Türkiye time; default today)")
	site := fs.String("site", "", "only this site")
	checkBank := fs.Bool("check-bank", false, "compare every payment that reached the bank with the bank's status API")
	asCSV := fs.Bool("csv", false, "print CSV instead of JSON")
	allowRoot := allowRootFlag(fs)
	pos, err := parseFlags(fs, args[1:])
	if err != nil {
		return err
	}
	relay, closeJournal, err := openRelay("report daily", fs, pos, nil, *cfgPath, *allowRoot, false)
	if err != nil {
		return err
	}
	defer closeJournal()
	day := *date
	if day == "" {
		day = time.Now().In(turkey).Format("2006-01-02")
	}
	rep, err := relay.DailyReport(ctx, *site, day, *checkBank)
	if err != nil {
		return err
	}
	if *asCSV {
		_, err = stdio.Out.Write(rep.CSV())
		return err
	}
	if err := writeIndented(stdio, rep); err != nil {
		return err
	}
	if len(rep.Issues) > 0 {
		fmt.Fprintf(stdio.Err, "%d issue(s) to look at\n", len(rep.Issues))
		return &ExitError{Code: 3}
	}
	return nil
}

// openRelay loads the configuration at cfgPath and opens its journal for
// an operator command that needs the relay's logic (reports, settlements)
// without serving; name, fs and pos rebuild the command line for advice
// (without the flags in drop). With logged, the relay logs to stderr as
// the serving one does (journald under systemd-run), else not at all.
// The returned func closes the journal.
func openRelay(name string, fs *flag.FlagSet, pos, drop []string, cfgPath string, allowRoot, logged bool) (*proxy.Relay, func(), error) {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, nil, &ExitError{Code: 1, Err: err}
	}
	var log *zap.Logger
	if logged {
		if log, err = proxy.NewLogger(cfg.LogLevel); err != nil {
			return nil, nil, &ExitError{Code: 1, Err: err}
		}
	}
	rerun := func(string) string { return commandLine(name, fs, pos, append([]string{"allow-root"}, drop...)) }
	j, err := openJournal("", cfg.StateDir, allowRoot, rerun)
	if err != nil {
		return nil, nil, err
	}
	relay, err := proxy.New(proxy.Options{Config: cfg, Journal: j, Logger: log, Version: Version})
	if err != nil {
		j.Close()
		return nil, nil, err
	}
	return relay, func() { j.Close() }, nil
}
