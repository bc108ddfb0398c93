package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"

	"github.com/posrelay/posrelay/config"
	"github.com/posrelay/posrelay/proxy"
	"github.com/posrelay/posrelay/store"
)

func runServe(ctx context.Context, args []string, stdio Stdio) error {
	fs := newFlags("serve", stdio)
	path := fs.String("config", "/etc/posrelay/config.yaml", "configuration `file`")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return &ExitError{Code: 1, Err: err}
	}
	return serveConfig(ctx, cfg)
}

// gcTuning trades memory for CPU: the relay's live heap is small (tens of
// MB: the replay cache and connection buffers), so collecting less often
// costs little memory and saves a measurable share of CPU per request on
// small VPSes. A soft limit keeps the heap bounded. GOGC/GOMEMLIMIT in the
// environment win.
func gcTuning() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(512 << 20)
	}
}

// serveConfig runs the relay for a checked configuration until ctx is done.
func serveConfig(ctx context.Context, cfg *config.Config) error {
	gcTuning()
	log, err := proxy.NewLogger(cfg.LogLevel)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return fmt.Errorf("state_dir %s: %w; create it or fix its permissions", cfg.StateDir, err)
	}
	journal, err := store.OpenSQLite(filepath.Join(cfg.StateDir, "journal.db"), store.SQLiteOptions{})
	if err != nil {
		return err
	}
	defer journal.Close()
	relay, err := proxy.New(proxy.Options{Config: cfg, Journal: journal, Logger: log, Version: Version})
	if err != nil {
		return err
	}
	if cfg.TLS.Mode != config.TLSFiles {
		// Only tls.mode files reloads on SIGHUP; elsewhere a stray
		// `systemctl reload` must not stop the relay.
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer func() {
			signal.Stop(hup)
			close(hup) // ends the goroutine below
		}()
		go func() {
			for range hup {
				log.Info("SIGHUP ignored: nothing to reload in this tls.mode; restart to apply configuration changes")
			}
		}()
	}
	return relay.Run(ctx)
}
