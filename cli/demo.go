package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/posrelay/posrelay/demo"
)

// bankURLs collects repeated --bank-url bank=URL flags.
type bankURLs map[string]string

func (b bankURLs) String() string { return fmt.Sprint(map[string]string(b)) }

func (b bankURLs) Set(v string) error {
	bank, u, ok := strings.Cut(v, "=")
	if !ok || bank == "" || u == "" {
		return fmt.Errorf("want bank=value, e.g. halkbank=http://127.0.0.1:9001")
	}
	b[bank] = u
	return nil
}

func runDemo(ctx context.Context, args []string, stdio Stdio) error {
	fs := newFlags("demo", stdio)
	addr := fs.String("addr", "127.0.0.1:8080", "relay listen `address`")
	state := fs.String("state", "", "state `dir` for demo.json and the journal (default: a new temporary directory)")
	webhook := fs.String("webhook-url", "", "send webhooks to this `URL` instead of the stand-in shop")
	banks := bankURLs{}
	fs.Var(banks, "bank-url", "point a bank's demo account at another simulator: `bank=URL` (repeatable)")
	models := bankURLs{}
	fs.Var(models, "model", "use another payment model for a bank: `bank=model`, e.g. halkbank=3d or qnb=3DModel (repeatable)")
	noKit := fs.Bool("no-kit", false, "keep the shop on its Go client even when Node is installed (by default its backend is the Velo kit under Node)")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	return demo.Run(ctx, demo.Options{Addr: *addr, StateDir: *state, WebhookURL: *webhook, BankURLs: banks, Models: models, NoKit: *noKit, Out: stdio.Out})
}
