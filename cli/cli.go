// Package cli implements posrelay's subcommands. Each command returns an
// error; only main exits, with the code ExitCode derives from that error.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
)

// Version is the relay's version, set at build time with
// -ldflags "-X github.com/posrelay/posrelay/cli.Version=v1.2.3".
var Version = "v0.1.0-dev"

// Stdio are a command's standard streams.
type Stdio struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// ExitError carries a specific exit status. A nil Err means the message was
// already printed.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// usageError marks a mistake in the command line (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// ExitCode prints err (if any) and returns the process exit status.
func ExitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintln(stderr, "posrelay:", ee.Err)
		}
		return ee.Code
	}
	var ue usageError
	if errors.As(err, &ue) || errors.Is(err, flag.ErrHelp) {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "posrelay:", err)
		}
		return 2
	}
	fmt.Fprintln(stderr, "posrelay:", err)
	return 1
}

type command struct {
	summary string
	run     func(ctx context.Context, args []string, io Stdio) error
}

var commands map[string]command

func init() {
	commands = map[string]command{
		"serve":        {"run the relay: serve --config FILE", runServe},
		"check-config": {"validate a configuration file without starting: check-config FILE", runCheckConfig},
		"keygen":       {"print a fresh request key (id + secret) and webhook secret", runKeygen},
		"demo":         {"run relay + bank simulators + a stand-in shop on embedded defaults", runDemo},
		"version":      {"print the version", runVersion},
		"hash":         {"compute a bank hash from JSON fields on stdin: hash est|payfor-request|payfor-response (secrets: --store-key-file, --merchant-pass-file)", runHash},
		"payments":     {"list a day's payments or show one with its history: payments list|show", runPayments},
		"operations":   {"list refunds, voids and captures the bank left open, or record what the bank says of one: operations list|settle", runOperations},
		"report":       {"reconcile a day: report daily --date YYYY-MM-DD [--check-bank] [--csv]", runReport},
		"webhooks":     {"list the webhook outbox or redeliver messages: webhooks list|redeliver", runWebhooks},
		"verify":       {"verify a bank callback's hash from JSON fields on stdin: verify est|payfor (secrets: --store-key-file, --merchant-pass-file)", runVerify},
	}
}

// Run runs the subcommand named by args[0].
func Run(ctx context.Context, args []string, stdio Stdio) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdio.Out)
		if len(args) == 0 {
			return &ExitError{Code: 2}
		}
		return nil
	}
	cmd, ok := commands[args[0]]
	if !ok {
		return usagef("unknown command %q; run posrelay help", args[0])
	}
	return cmd.run(ctx, args[1:], stdio)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "posrelay — a fixed-IP payment relay for Wix sites and Turkish banks")
	fmt.Fprintln(w, "\nUsage: posrelay <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-13s %s\n", n, commands[n].summary)
	}
}

// newFlags makes a flag set that reports errors instead of exiting.
func newFlags(name string, stdio Stdio) *flag.FlagSet {
	fs := flag.NewFlagSet("posrelay "+name, flag.ContinueOnError)
	fs.SetOutput(stdio.Err)
	return fs
}

// parseFlags parses flags placed before or after the positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func runVersion(_ context.Context, _ []string, stdio Stdio) error {
	fmt.Fprintln(stdio.Out, "posrelay", Version)
	return nil
}
