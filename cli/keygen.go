package cli

import (
	"context"
	"fmt"

	"github.com/posrelay/posrelay/signer"
)

func runKeygen(_ context.Context, args []string, stdio Stdio) error {
	fs := newFlags("keygen", stdio)
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	id, secret := signer.NewKeySecret()
	fmt.Fprintf(stdio.Out, "# Request key: the key id goes in the relay's config (sites[].keys[].id) and in the\n")
	fmt.Fprintf(stdio.Out, "# Wix Secrets Manager; the secret goes in both, never in code.\n")
	fmt.Fprintf(stdio.Out, "key_id=%s\nkey_secret=%s\n", id, secret)
	fmt.Fprintf(stdio.Out, "# Webhook secret: sites[].webhook.secret in the relay and a Wix secret for http-functions.js.\n")
	fmt.Fprintf(stdio.Out, "webhook_secret=%s\n", signer.NewWebhookSecret())
	return nil
}
