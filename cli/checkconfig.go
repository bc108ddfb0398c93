package cli

import (
	"context"
	"fmt"

	"github.com/posrelay/posrelay/config"
)

func runCheckConfig(_ context.Context, args []string, stdio Stdio) error {
	fs := newFlags("check-config", stdio)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("check-config needs exactly one file: posrelay check-config /etc/posrelay/config.yaml")
	}
	cfg, err := config.Load(pos[0])
	if err != nil {
		return &ExitError{Code: 1, Err: err}
	}
	accounts := 0
	for _, s := range cfg.Sites {
		accounts += len(s.Accounts)
	}
	fmt.Fprintf(stdio.Out, "%s: ok (%d site(s), %d bank account(s), tls %s, public URL %s)\n",
		pos[0], len(cfg.Sites), accounts, cfg.TLS.Mode, cfg.Server.PublicURL)
	return nil
}
