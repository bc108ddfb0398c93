// Command posrelay is a fixed-IP payment relay between Wix sites and
// Turkish banks (Halkbank, QNB Finansbank, VakıfBank). See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/posrelay/posrelay/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.Run(ctx, os.Args[1:], cli.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(cli.ExitCode(err, os.Stderr))
}
