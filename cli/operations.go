package cli

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/posrelay/posrelay/bank"
	"github.com/posrelay/posrelay/proxy"
	"github.com/posrelay/posrelay/store"
)

// runOperations lists the refunds, voids and captures the bank left open,
// and records an operator's finding for one of them.
func runOperations(ctx context.Context, args []string, stdio Stdio) error {
	if len(args) == 0 {
		return usagef("operations needs a subcommand: list or settle")
	}
	name := "operations " + args[0]
	switch args[0] {
	case "list", "settle":
	default:
		return usagef("unknown operations subcommand %q; use list or settle", args[0])
	}
	fs := newFlags(name, stdio)
	cfgPath := fs.String("config", "/etc/posrelay/config.yaml", "configuration `file`")
	asJSON := fs.Bool("json", false, "print JSON")
	as := fs.String("as", "", "settle: what the bank says happened, succeeded or failed")
	note := fs.String("note", "", "settle: how you know, kept in the payment's history (e.g. \"seen in the merchant panel, RRN 123456789012\"); never a card number")
	allowRoot := allowRootFlag(fs)
	pos, err := parseFlags(fs, args[1:])
	if err != nil {
		return err
	}
	var succeeded bool
	if args[0] == "settle" {
		if len(pos) != 1 {
			return usagef("operations settle needs one operation id (op_…): operations settle op_… --as succeeded|failed --note \"…\"")
		}
		switch *as {
		case "succeeded":
			succeeded = true
		case "failed":
		default:
			return usagef("--as %q: use --as succeeded (the bank carried it out) or --as failed (it did not)", *as)
		}
		// Checked before anything can echo it (the journal owner check
		// prints a command line, which leaves the note out).
		if err := proxy.CheckSettleNote(*note); err != nil {
			return &ExitError{Code: 1, Err: err}
		}
	} else if len(pos) != 0 {
		return usagef("operations list takes no arguments")
	}
	relay, closeJournal, err := openRelay(name, fs, pos, []string{"note"}, *cfgPath, *allowRoot, args[0] == "settle")
	if err != nil {
		return err
	}
	defer closeJournal()

	if args[0] == "settle" {
		op, err := relay.SettleOperationByHand(ctx, pos[0], succeeded, *note)
		if err != nil {
			return &ExitError{Code: 1, Err: err}
		}
		if *asJSON {
			return writeIndented(stdio, redactOperations([]*store.Operation{op})[0])
		}
		fmt.Fprintf(stdio.Out, "%s (%s of %s on %s) is now %s; the site's webhook is in the outbox (posrelay webhooks list --payment %s)\n",
			op.ID, op.Kind, bank.FormatAmount(op.Amount), op.PaymentID, op.Status, op.PaymentID)
		return nil
	}

	ops, err := relay.OpenOperations(ctx)
	if err != nil {
		return err
	}
	ops = redactOperations(ops)
	if *asJSON {
		return writeIndented(stdio, ops)
	}
	tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPAYMENT\tSITE\tKIND\tAMOUNT\tSTATUS\tBANK CALLS\tCREATED")
	for _, o := range ops {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", o.ID, o.PaymentID, o.SiteID, o.Kind, bank.FormatAmount(o.Amount), o.Status, o.BankCalls, stamp(o.CreatedAt))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(ops) > 0 {
		fmt.Fprintln(stdio.Err, "check each with the bank, then: posrelay operations settle op_… --as succeeded|failed --note \"…\"")
	}
	return nil
}
