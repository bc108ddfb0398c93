package proxy

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// metrics is a small Prometheus text-format registry of counters: the
// relay needs a handful, so a dependency would cost more than it saves.
type metrics struct {
	m sync.Map // series key → *atomic.Int64

	// byLabels finds a counter from its name and labels as passed, so
	// that counting on every request's path builds no string: the series
	// key (with its escaping) is built once per counter.
	mu       sync.RWMutex
	byLabels map[labelKey]*atomic.Int64
}

// labelKey is a counter's name and up to two label pairs, in call order.
type labelKey struct {
	name   string
	n      int
	labels [4]string
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// series builds a counter key: name{label="value",…} with labels sorted.
func series(name string, labels ...string) string {
	if len(labels) == 0 {
		return name
	}
	pairs := make([]string, 0, len(labels)/2)
	for i := 0; i+1 < len(labels); i += 2 {
		pairs = append(pairs, labels[i]+`="`+labelEscaper.Replace(labels[i+1])+`"`)
	}
	sort.Strings(pairs)
	return name + "{" + strings.Join(pairs, ",") + "}"
}

func (m *metrics) add(n int64, name string, labels ...string) {
	if len(labels) > len(labelKey{}.labels) {
		m.counter(series(name, labels...)).Add(n)
		return
	}
	k := labelKey{name: name, n: len(labels)}
	copy(k.labels[:], labels)
	m.mu.RLock()
	c := m.byLabels[k]
	m.mu.RUnlock()
	if c == nil {
		c = m.counter(series(name, labels...))
		m.mu.Lock()
		if m.byLabels == nil {
			m.byLabels = map[labelKey]*atomic.Int64{}
		}
		m.byLabels[k] = c
		m.mu.Unlock()
	}
	c.Add(n)
}

// counter returns the counter of a series key, made on first use.
func (m *metrics) counter(key string) *atomic.Int64 {
	c, ok := m.m.Load(key)
	if !ok {
		c, _ = m.m.LoadOrStore(key, new(atomic.Int64))
	}
	return c.(*atomic.Int64)
}

func (m *metrics) inc(name string, labels ...string) { m.add(1, name, labels...) }

var metricHelp = map[string]string{
	"posrelay_requests_total":                "Requests answered, by route and status class.",
	"posrelay_request_duration_ms_total":     "Total time spent answering requests, by route, in milliseconds.",
	"posrelay_payments_total":                "Payments that reached a status, by bank and status.",
	"posrelay_callbacks_rejected_total":      "Bank callbacks refused (forged, tampered, replayed, malformed), by code.",
	"posrelay_bank_calls_total":              "Calls to the banks from request handling, by bank and outcome.",
	"posrelay_webhook_attempts_total":        "Webhook delivery attempts, by result.",
	"posrelay_operations_total":              "Refunds, voids and captures that reached a status, by kind and status.",
	"posrelay_late_approvals_total":          "Bank approvals of payments the relay had already closed as failed, expired or canceled, by bank (void or refund them).",
	"posrelay_operation_disagreements_total": "Bank answers for refunds, voids and captures already settled the other way (by an operator, or failed after the grace period), by kind: check them with the bank.",
	"posrelay_panics_total":                  "Panics recovered in background workers, by worker (each is logged with its stack).",
}

// write renders the counters in the Prometheus text format.
func (m *metrics) write(w *strings.Builder) {
	byName := map[string][]string{}
	m.m.Range(func(k, _ any) bool {
		key := k.(string)
		name, _, _ := strings.Cut(key, "{")
		byName[name] = append(byName[name], key)
		return true
	})
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if h := metricHelp[n]; h != "" {
			fmt.Fprintf(w, "# HELP %s %s\n", n, h)
		}
		fmt.Fprintf(w, "# TYPE %s counter\n", n)
		keys := byName[n]
		sort.Strings(keys)
		for _, k := range keys {
			c, _ := m.m.Load(k)
			fmt.Fprintf(w, "%s %d\n", k, c.(*atomic.Int64).Load())
		}
	}
}

// MetricsHandler serves /metrics, /healthz and /debug/pprof/ for the
// loopback admin listener.
func (r *Relay) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		var b strings.Builder
		r.metrics.write(&b)
		fmt.Fprintf(&b, "# HELP posrelay_ready Whether the relay reports ready.\n# TYPE posrelay_ready gauge\nposrelay_ready %d\n", btoi(r.ready.Load()))
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_, _ = w.Write([]byte(b.String()))
	})
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	return mux
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// startAdmin serves MetricsHandler on server.admin_listen until ctx is done.
func (r *Relay) startAdmin(ctx context.Context, wg *sync.WaitGroup) {
	addr := r.cfg.Server.AdminListen
	if addr == "" {
		return
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		r.log.Error("admin listener (metrics) not started; the relay runs without it", zap.String("addr", addr), zap.Error(err))
		return
	}
	srv := &http.Server{Handler: r.MetricsHandler(), ReadHeaderTimeout: 5 * time.Second}
	wg.Add(2)
	go func() {
		defer wg.Done()
		_ = srv.Serve(ln)
	}()
	go func() {
		defer wg.Done()
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
}
