package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/posrelay/posrelay/config"
)

// Run opens the configured listeners, starts the background workers and
// serves until ctx is done; then it stops accepting, lets requests in
// flight finish (server.shutdown_timeout) and stops the workers.
//
//   - tls.mode off: plain HTTP on server.listen (behind a TLS terminator).
//   - tls.mode files: HTTPS on server.listen with tls.cert_file/key_file,
//     checked at start and reloaded on SIGHUP (a bad new pair is logged and
//     the old one kept); server.http_listen (if set) redirects to HTTPS.
//   - tls.mode acme: HTTPS on server.listen with certificates certmagic
//     obtains and renews for tls.domains; server.http_listen answers
//     HTTP-01 and redirects the rest, server.listen answers TLS-ALPN-01.
//     Start-up does not wait for the CA: /readyz turns 200 once every
//     domain has a certificate.
//
// HTTPS is TLS 1.2+ with ECDHE AEAD suites and X25519/P-256 only.
func (r *Relay) Run(ctx context.Context) error {
	switch r.cfg.TLS.Mode {
	case config.TLSOff:
		ln, err := listen("server.listen", r.cfg.Server.Listen)
		if err != nil {
			return err
		}
		return r.RunListener(ctx, ln)
	case config.TLSFiles, config.TLSACME:
		ln, err := listen("server.listen", r.cfg.Server.Listen)
		if err != nil {
			return err
		}
		var plain net.Listener
		if r.cfg.Server.HTTPListen != "" {
			if plain, err = listen("server.http_listen", r.cfg.Server.HTTPListen); err != nil {
				ln.Close()
				return err
			}
		}
		return r.runTLS(ctx, ln, plain, tlsTuning{})
	default:
		return fmt.Errorf("tls.mode %q: use acme, files or off", r.cfg.TLS.Mode)
	}
}

// RunListener serves plain HTTP on ln (TLS off, or tests) with the
// background workers, until ctx is done.
func (r *Relay) RunListener(ctx context.Context, ln net.Listener) error {
	return r.run(ctx, ln, nil, nil)
}

// runTLS serves HTTPS on tlsLn with the mode's certificates, and the plain
// listener (nil = none) for HTTP-01 and redirects, until ctx is done.
func (r *Relay) runTLS(ctx context.Context, tlsLn, plainLn net.Listener, tun tlsTuning) error {
	closeAll := func() {
		tlsLn.Close()
		if plainLn != nil {
			plainLn.Close()
		}
	}
	var (
		src *certSource
		err error
	)
	switch r.cfg.TLS.Mode {
	case config.TLSFiles:
		src, _, err = r.newFileCerts()
	case config.TLSACME:
		src, _, err = r.newACME(tlsLn, plainLn, tun)
	default:
		err = fmt.Errorf("tls.mode %q does not serve HTTPS", r.cfg.TLS.Mode)
	}
	if err != nil {
		closeAll()
		return err
	}
	ln := newHandshakeListener(tlsLn, serverTLSConfig(src.base), r.cfg.Server.ReadTimeout, r.log.Named("tls"))
	return r.run(ctx, ln, plainLn, src)
}

// run is Run's common part: workers, the main server on ln, the plain
// server on plainLn (if any) and the certificates of src (nil = plain
// HTTP, ready at once).
func (r *Relay) run(ctx context.Context, ln, plainLn net.Listener, src *certSource) error {
	wctx, stopWorkers := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	r.startWorkers(wctx, &wg)
	fields := []zap.Field{zap.String("addr", ln.Addr().String()), zap.String("tls", r.cfg.TLS.Mode),
		zap.String("public_url", r.cfg.Server.PublicURL.String()), zap.String("version", r.version)}
	if plainLn != nil {
		fields = append(fields, zap.String("http_addr", plainLn.Addr().String()))
	}
	r.log.Info("listening", fields...)

	// sctx ends with ctx, or early if the plain listener dies: without it
	// HTTP-01 and the redirects would be silently gone.
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	var plainDone chan error
	if plainLn != nil {
		var challenge fasthttp.RequestHandler
		if src != nil {
			challenge = src.challenge
		}
		plain := r.newPlainServer(challenge)
		plainDone = make(chan error, 1)
		go func() {
			plainDone <- plain.Serve(plainLn)
			stop()
		}()
		defer func() {
			shutCtx, cancel := context.WithTimeout(context.Background(), r.cfg.Server.ShutdownTimeout)
			defer cancel()
			_ = plain.ShutdownWithContext(shutCtx)
		}()
	}
	var certsDone chan struct{}
	if src == nil {
		r.SetReady(true)
	} else {
		certsDone = make(chan struct{})
		go func() {
			defer close(certsDone)
			src.run(sctx, func(ok bool) {
				if sctx.Err() == nil {
					r.SetReady(ok)
				}
			})
		}()
	}

	err := r.Serve(sctx, ln)
	stop()
	if certsDone != nil {
		<-certsDone
		r.SetReady(false)
		src.stop()
	}
	stopWorkers()
	wg.Wait()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	if plainDone != nil && ctx.Err() == nil {
		select {
		case perr := <-plainDone:
			if perr == nil {
				perr = errors.New("stopped serving")
			}
			return fmt.Errorf("plain HTTP listener %s (server.http_listen): %w", plainLn.Addr(), perr)
		default:
		}
	}
	r.log.Info("stopped")
	return nil
}

// startWorkers starts the relay's background loops; each returns when ctx
// is done and marks wg.
func (r *Relay) startWorkers(ctx context.Context, wg *sync.WaitGroup) {
	r.startAdmin(ctx, wg)
	for _, loop := range []func(context.Context){r.outboxLoop, r.sweepLoop} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			loop(ctx)
		}()
	}
}
