package proxy

import (
	"context"
	"crypto/tls"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/posrelay/posrelay/allowlist"
	"github.com/posrelay/posrelay/config"
	"github.com/posrelay/posrelay/signer"
	"github.com/posrelay/posrelay/store"
)

// retrySchedule is the wait after each failed delivery attempt (DESIGN.md
// §3: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h);
// after the last attempt fails the message is dead-lettered.
var retrySchedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour,
	10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour,
}

// MaxWebhookAttempts is how many times a message is tried before it is dead.
var MaxWebhookAttempts = len(retrySchedule) + 1

// webhookSender posts signed webhooks to the sites.
type webhookSender struct {
	client  *fasthttp.Client
	timeout time.Duration
	now     func() time.Time
	keys    map[string][]byte // site id → whsec key
}

func newWebhookSender(cfg *config.Config, now func() time.Time) *webhookSender {
	d := &allowlist.Dialer{AllowRanges: cfg.Egress.AllowRanges, SourceIP: cfg.Egress.SourceIP, ConnectTimeout: cfg.Egress.DialTimeout}
	w := &webhookSender{
		timeout: cfg.Webhooks.Timeout, now: now, keys: map[string][]byte{},
		client: &fasthttp.Client{
			Name: "posrelay-webhooks", DialTimeout: d.DialTimeout,
			TLSConfig:   &tls.Config{MinVersion: tls.VersionTLS12},
			ReadTimeout: cfg.Webhooks.Timeout, WriteTimeout: cfg.Webhooks.Timeout,
			MaxResponseBodySize: 64 << 10, MaxIdemponentCallAttempts: 1,
			RetryIfErr: func(*fasthttp.Request, int, error) (bool, bool) { return false, false },
		},
	}
	for _, s := range cfg.Sites {
		if k, err := signer.ParseWebhookSecret(s.WebhookSecret.Reveal()); err == nil {
			w.keys[s.ID] = k
		}
	}
	return w
}

// send makes one delivery attempt. It returns the receiver's status (0 if
// none) and how long it asked to wait before retrying.
func (w *webhookSender) send(url string, m *store.Webhook) (int, time.Duration, error) {
	key, ok := w.keys[m.SiteID]
	if !ok {
		return 0, 0, fmt.Errorf("no webhook secret for site %s", m.SiteID)
	}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	ts := w.now().Unix()
	req.SetRequestURI(url)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.Header.Set("webhook-id", m.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", signer.SignWebhook(key, m.ID, ts, m.Body))
	req.SetBody(m.Body)
	if err := w.client.DoTimeout(req, resp, w.timeout); err != nil {
		return 0, 0, err
	}
	status := resp.StatusCode()
	var after time.Duration
	if s, err := strconv.Atoi(string(resp.Header.Peek("Retry-After"))); err == nil && s > 0 {
		after = time.Duration(s) * time.Second
	}
	if status < 200 || status > 299 {
		return status, after, fmt.Errorf("receiver answered %d", status)
	}
	return status, 0, nil
}

// DeliverDue makes one delivery attempt for every message that is due,
// and returns how many it attempted. The outbox worker calls it; tests
// with an injected clock call it directly.
func (r *Relay) DeliverDue(ctx context.Context) (int, error) {
	msgs, err := r.journal.DueWebhooks(ctx, r.now(), 64)
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, m := range msgs {
		wg.Add(1)
		sem <- struct{}{}
		go func(m *store.Webhook) {
			defer wg.Done()
			defer func() { <-sem }()
			if r.survive("webhook", func() { r.attempt(ctx, m) }) {
				// Put the message back with a delay rather than retry it
				// in a tight loop; it is not lost.
				m.Attempts = min(m.Attempts+1, MaxWebhookAttempts)
				m.NextAttemptAt, m.LastError = r.now().UTC().Add(retrySchedule[min(m.Attempts, len(retrySchedule))-1]), "internal error"
				if m.Attempts == MaxWebhookAttempts {
					m.Status = store.WebhookDead
				}
				if err := r.journal.RecordAttempt(ctx, m); err != nil {
					r.log.Error("could not record a webhook attempt", zap.String("webhook_id", m.ID), zap.Error(err))
				}
			}
		}(m)
	}
	wg.Wait()
	return len(msgs), nil
}

func (r *Relay) attempt(ctx context.Context, m *store.Webhook) {
	site := r.siteByID[m.SiteID]
	var status int
	var after time.Duration
	err := fmt.Errorf("site %s is no longer configured", m.SiteID)
	if site != nil {
		status, after, err = r.webhooks.send(site.WebhookURL.String(), m)
	}
	now := r.now().UTC()
	m.Attempts++
	m.LastStatus = status
	log := r.log.With(zap.String("webhook_id", m.ID), zap.String(logPayment, m.PaymentID), zap.String("event", m.EventType),
		zap.Int("attempt", m.Attempts), zap.Int(logStatus, status))
	result := "delivered"
	defer func() { r.metrics.inc("posrelay_webhook_attempts_total", "result", result) }()
	switch {
	case err == nil:
		m.Status, m.DeliveredAt, m.LastError = store.WebhookDelivered, now, ""
		log.Info("webhook delivered")
	case status == fasthttp.StatusGone || m.Attempts >= MaxWebhookAttempts:
		m.Status, m.LastError, result = store.WebhookDead, shortErr(err), "dead"
		log.Error("webhook dead-lettered; redeliver with: posrelay webhooks redeliver "+m.ID, zap.String(logCause, m.LastError))
	default:
		wait := retrySchedule[m.Attempts-1]
		if after > wait {
			wait = min(after, 24*time.Hour)
		}
		m.NextAttemptAt, m.LastError, result = now.Add(wait), shortErr(err), "retry"
		log.Warn("webhook delivery failed; will retry", zap.String(logCause, m.LastError), zap.Time("next_attempt", m.NextAttemptAt))
	}
	if err := r.journal.RecordAttempt(ctx, m); err != nil {
		r.log.Error("could not record a webhook attempt", zap.String("webhook_id", m.ID), zap.Error(err))
	}
}

func shortErr(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// outboxLoop delivers webhooks until ctx is done: at once when a payment
// ends, and at least every second for retries that fall due.
func (r *Relay) outboxLoop(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.kick:
		case <-t.C:
		}
		r.survive("outbox", func() {
			for {
				n, err := r.DeliverDue(ctx)
				if err != nil {
					if ctx.Err() == nil {
						r.log.Error("outbox", zap.Error(err))
					}
					return
				}
				if n == 0 {
					return
				}
			}
		})
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(time.Second)
	}
}
