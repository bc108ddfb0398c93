package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"go.uber.org/zap"

	"github.com/posrelay/posrelay/config"
)

// Run opens the configured listeners, starts the background workers and
// serves until ctx is done; then it stops accepting, lets requests in
// flight finish (server.shutdown_timeout) and stops the workers.
func (r *Relay) Run(ctx context.Context) error {
	switch r.cfg.TLS.Mode {
	case config.TLSOff:
		ln, err := net.Listen("tcp", r.cfg.Server.Listen)
		if err != nil {
			return fmt.Errorf("listen on %s (server.listen): %w", r.cfg.Server.Listen, err)
		}
		return r.RunListener(ctx, ln)
	default:
		return fmt.Errorf("tls.mode %s: not available in this build yet; use tls.mode off behind a TLS terminator", r.cfg.TLS.Mode)
	}
}

// RunListener serves plain HTTP on ln (TLS off, or tests) with the
// background workers, until ctx is done.
func (r *Relay) RunListener(ctx context.Context, ln net.Listener) error {
	wctx, stopWorkers := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	r.startWorkers(wctx, &wg)
	r.log.Info("listening", zap.String("addr", ln.Addr().String()), zap.String("tls", r.cfg.TLS.Mode),
		zap.String("public_url", r.cfg.Server.PublicURL.String()), zap.String("version", r.version))
	r.SetReady(true)
	err := r.Serve(ctx, ln)
	stopWorkers()
	wg.Wait()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	r.log.Info("stopped")
	return nil
}

// startWorkers starts the relay's background loops; each returns when ctx
// is done and marks wg.
func (r *Relay) startWorkers(ctx context.Context, wg *sync.WaitGroup) {
	for _, loop := range []func(context.Context){r.outboxLoop, r.sweepLoop} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			loop(ctx)
		}()
	}
}
