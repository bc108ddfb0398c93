package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/posrelay/posrelay/config"
	"github.com/posrelay/posrelay/store"
)

// openJournal opens the journal in stateDir, or in the state directory
// the configuration at configPath names, for an operator command. It can
// run next to a serving relay (SQLite WAL). As root it refuses a state
// directory another user owns unless allowRoot (--allow-root); rerun gives
// the command line the refusal suggests for a given state directory.
func openJournal(configPath, stateDir string, allowRoot bool, rerun func(stateDir string) string) (store.Journal, error) {
	if stateDir == "" {
		cfg, err := config.Load(configPath)
		if err != nil {
			return nil, &ExitError{Code: 1, Err: err}
		}
		stateDir = cfg.StateDir
	}
	if err := checkJournalOwner(stateDir, allowRoot, rerun(stateDir)); err != nil {
		return nil, &ExitError{Code: 1, Err: err}
	}
	return store.OpenSQLite(filepath.Join(stateDir, "journal.db"), store.SQLiteOptions{})
}

// allowRootFlag adds --allow-root to fs.
func allowRootFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("allow-root", false, "run as root even though another user (the relay's) owns the state directory; "+
		"journal files root creates there stop the relay from writing until they are chowned back")
}

// commandLine rebuilds a command line from name, the flags set in fs
// except those in drop, the positional arguments and extra, for advice
// printed to the operator. Operator flags hold no secrets.
func commandLine(name string, fs *flag.FlagSet, pos []string, drop []string, extra ...string) string {
	parts := []string{name}
	for _, a := range pos {
		parts = append(parts, shellQuote(a))
	}
	for _, a := range extra {
		parts = append(parts, shellQuote(a))
	}
	fs.Visit(func(f *flag.Flag) {
		if slices.Contains(drop, f.Name) {
			return
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() && f.Value.String() == "true" {
			parts = append(parts, "--"+f.Name)
			return
		}
		parts = append(parts, shellQuote("--"+f.Name+"="+f.Value.String()))
	})
	return strings.Join(parts, " ")
}

// journalCmd is an operator command on the journal: --config or --state
// name it, --json asks for JSON; the command adds its own flags to fs.
type journalCmd struct {
	name       string
	fs         *flag.FlagSet
	cfg, state *string
	asJSON     *bool
	allowRoot  *bool
}

func newJournalCmd(name string, stdio Stdio) *journalCmd {
	fs := newFlags(name, stdio)
	return &journalCmd{
		name:      name,
		fs:        fs,
		cfg:       fs.String("config", "/etc/posrelay/config.yaml", "configuration `file` (names the state directory)"),
		state:     fs.String("state", "", "state `dir` holding journal.db (instead of --config)"),
		asJSON:    fs.Bool("json", false, "print JSON"),
		allowRoot: allowRootFlag(fs),
	}
}

// open parses args and opens the journal; it returns the positional
// arguments.
func (c *journalCmd) open(args []string) (store.Journal, []string, error) {
	pos, err := parseFlags(c.fs, args)
	if err != nil {
		return nil, nil, err
	}
	rerun := func(dir string) string {
		return commandLine(c.name, c.fs, pos, []string{"config", "state", "allow-root"}, "--state", dir)
	}
	j, err := openJournal(*c.cfg, *c.state, *c.allowRoot, rerun)
	if err != nil {
		return nil, nil, err
	}
	return j, pos, nil
}

func runWebhooks(ctx context.Context, args []string, stdio Stdio) error {
	if len(args) == 0 {
		return usagef("webhooks needs a subcommand: list or redeliver")
	}
	cmd := newJournalCmd("webhooks "+args[0], stdio)
	status := cmd.fs.String("status", "", "list only pending, delivered or dead messages")
	payment := cmd.fs.String("payment", "", "list only this payment's messages")
	j, pos, err := cmd.open(args[1:])
	if err != nil {
		return err
	}
	defer j.Close()
	switch args[0] {
	case "list":
		switch *status {
		case "", "pending", "delivered", "dead":
		default:
			return usagef("--status %q: use pending, delivered or dead", *status)
		}
		ws, err := j.ListWebhooks(ctx, store.WebhookFilter{Status: store.WebhookStatus(*status), PaymentID: *payment, Limit: 1000})
		if err != nil {
			return err
		}
		return printWebhooks(stdio.Out, ws, *cmd.asJSON)
	case "redeliver":
		if len(pos) == 0 {
			return usagef("webhooks redeliver needs message ids (msg_…); see posrelay webhooks list --status dead")
		}
		for _, id := range pos {
			if err := j.Redeliver(ctx, id, time.Now()); err != nil {
				return fmt.Errorf("redeliver %s: %w", id, err)
			}
			fmt.Fprintf(stdio.Out, "%s queued; the running relay delivers it within a second\n", id)
		}
		return nil
	}
	return usagef("unknown webhooks subcommand %q; use list or redeliver", args[0])
}

func printWebhooks(w io.Writer, ws []*store.Webhook, asJSON bool) error {
	if asJSON {
		type row struct {
			ID, Site, Payment, Event, Status, LastError string
			Attempts, LastStatus                        int
			Next, Created, Delivered                    string
		}
		out := make([]row, 0, len(ws))
		for _, m := range ws {
			out = append(out, row{m.ID, m.SiteID, m.PaymentID, m.EventType, string(m.Status), m.LastError, m.Attempts, m.LastStatus,
				stamp(m.NextAttemptAt), stamp(m.CreatedAt), stamp(m.DeliveredAt)})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSITE\tPAYMENT\tEVENT\tSTATUS\tATTEMPTS\tLAST\tNEXT/DELIVERED")
	for _, m := range ws {
		when := stamp(m.NextAttemptAt)
		if m.Status == store.WebhookDelivered {
			when = stamp(m.DeliveredAt)
		}
		last := m.LastError
		if last == "" && m.LastStatus != 0 {
			last = fmt.Sprint(m.LastStatus)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", m.ID, m.SiteID, m.PaymentID, m.EventType, m.Status, m.Attempts, last, when)
	}
	return tw.Flush()
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
