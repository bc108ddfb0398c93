package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// Targets for a 2-core machine.
const (
	targetOverheadP99 = 1.0  // ms, relay p99 − direct p99 at half the relay's saturation
	targetCreates     = 2000 // durable creations per second
	targetIdleRSS     = 40e6 // bytes (40 MB) resident when idle
)

type memPoint struct {
	conns  int
	failed int
	rss    int64
}

type forwardResult struct {
	order         []string // targets in the order run
	closed, open  map[string]*measured
	rate          float64
	relayRSSAfter int64
	inside        *insideTimes // the relay's own view of the open-loop phase
}

// insideTimes are the relay's canonical log line figures (ms) of a phase:
// its whole handling (duration_ms) and the bank call's part (bank_ms).
type insideTimes struct {
	n                          int
	p50, p99, bankP50, bankP99 float64
}

// report is everything a run measured.
type report struct {
	o            *options
	started      time.Time
	args         string
	nginxVersion string
	nginxNote    string
	startup      []time.Duration
	mem          []memPoint
	forward      *forwardResult
	create       *measured
	callbacks    *measured
	disturbed    []string // phases during which other processes were busy
}

func cpuModel() string {
	raw, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "?"
	}
	for l := range strings.Lines(string(raw)) {
		if v, ok := strings.CutPrefix(l, "model name"); ok {
			return strings.TrimSpace(strings.TrimLeft(v, "\t :"))
		}
	}
	return "?"
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "\nposrelay bench — %s, %d CPUs (%s), %s", r.started.UTC().Format(time.RFC3339), runtime.NumCPU(), cpuModel(), runtime.Version())
	if r.nginxVersion != "" {
		fmt.Fprintf(w, ", nginx %s", r.nginxVersion)
	}
	fmt.Fprintf(w, "\ncommand: go run ./bench %s\n", r.args)
	fmt.Fprintf(w, "phases: %v warm-up + %v measured, %d connections\n", r.o.warmup, r.o.duration, r.o.conns)
	if r.nginxNote != "" {
		fmt.Fprintf(w, "note: %s\n", r.nginxNote)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	line := func(cells ...string) { fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t") }
	var targets []string

	if f := r.forward; f != nil {
		fmt.Fprintf(w, "\nFORWARD PATH — relay: signed GET /v1/payments/{id}?refresh=true (→ simulator /fim/api);\n"+
			"               direct: POST /fim/api ORDERSTATUS to the simulator; nginx: the same POST through nginx\n")
		head := append([]string{""}, f.order...)
		line(head...)
		row := func(label string, get func(m *measured) string, set map[string]*measured) {
			cells := []string{label}
			for _, t := range f.order {
				if m := set[t]; m != nil {
					cells = append(cells, get(m))
				} else {
					cells = append(cells, "—")
				}
			}
			line(cells...)
		}
		rps := func(m *measured) string { return fmt.Sprintf("%.0f", m.RPS) }
		ms := func(v float64) string { return fmt.Sprintf("%.2f ms", v) }
		row(fmt.Sprintf("closed loop, %d conns: req/s", r.o.conns), rps, f.closed)
		row("  p50", func(m *measured) string { return ms(m.P50) }, f.closed)
		row("  p99", func(m *measured) string { return ms(m.P99) }, f.closed)
		row("  errors", func(m *measured) string { return fmt.Sprint(m.Errors) }, f.closed)
		row("  CPU/request: relay", func(m *measured) string { return fmt.Sprintf("%.0f µs", m.perRequest("relay")) }, f.closed)
		row("  simulator+harness", func(m *measured) string { return fmt.Sprintf("%.0f µs", m.perRequest("harness")) }, f.closed)
		if r.nginxVersion != "" {
			row("  nginx", func(m *measured) string { return fmt.Sprintf("%.0f µs", m.perRequest("nginx")) }, f.closed)
		}
		row("  load generator", func(m *measured) string { return fmt.Sprintf("%.0f µs", m.perRequest("load")) }, f.closed)
		row(fmt.Sprintf("open loop, %.0f req/s: p50", f.rate), func(m *measured) string { return ms(m.P50) }, f.open)
		row("  p90", func(m *measured) string { return ms(m.P90) }, f.open)
		row("  p99", func(m *measured) string { return ms(m.P99) }, f.open)
		row("  p99.9", func(m *measured) string { return ms(m.P999) }, f.open)
		row("  achieved req/s", rps, f.open)
		row("  errors / late sends", func(m *measured) string { return fmt.Sprintf("%d / %d", m.Errors, m.Late) }, f.open)
		row("  CPU/request: relay", func(m *measured) string { return fmt.Sprintf("%.0f µs", m.perRequest("relay")) }, f.open)
		row("  simulator+harness", func(m *measured) string { return fmt.Sprintf("%.0f µs", m.perRequest("harness")) }, f.open)
		if r.nginxVersion != "" {
			row("  nginx", func(m *measured) string { return fmt.Sprintf("%.0f µs", m.perRequest("nginx")) }, f.open)
		}
		row("  load generator", func(m *measured) string { return fmt.Sprintf("%.0f µs", m.perRequest("load")) }, f.open)
		tw.Flush()
		relay, direct, ngx := f.closed["relay"], f.closed["direct"], f.closed["nginx"]
		fmt.Fprintf(w, "relay overhead: throughput %.2f× direct", relay.RPS/direct.RPS)
		if ngx != nil {
			fmt.Fprintf(w, ", %.2f× nginx", relay.RPS/ngx.RPS)
		}
		ro, do, no := f.open["relay"], f.open["direct"], f.open["nginx"]
		fmt.Fprintf(w, "; at %.0f req/s p50 %+.2f ms, p99 %+.2f ms vs direct", f.rate, ro.P50-do.P50, ro.P99-do.P99)
		if no != nil {
			fmt.Fprintf(w, ", p99 %+.2f ms vs nginx", ro.P99-no.P99)
		}
		if in := f.inside; in != nil {
			fmt.Fprintf(w, "\nrelay's own log, open loop (%d lines): handling p50 %.2f ms, p99 %.2f ms; of which the bank call p50 %.2f ms, p99 %.2f ms",
				in.n, in.p50, in.p99, in.bankP50, in.bankP99)
		}
		fmt.Fprintf(w, "\nrelay RSS after the forward phases: %s\n", mb(f.relayRSSAfter))
		if ngx != nil {
			targets = append(targets, fmt.Sprintf("forward throughput ≥ nginx's\t%.0f req/s vs nginx %.0f\t%s", relay.RPS, ngx.RPS, verdict(relay.RPS >= ngx.RPS)))
		} else {
			targets = append(targets, "forward throughput ≥ nginx's\tnginx not run\tn/a")
		}
		over := ro.P99 - do.P99
		targets = append(targets, fmt.Sprintf("relay p99 overhead < %.0f ms at %.0f req/s\t%+.2f ms (relay %.2f, direct %.2f)\t%s", targetOverheadP99, f.rate, over, ro.P99, do.P99, verdict(over < targetOverheadP99)))
	}

	if c := r.create; c != nil {
		fmt.Fprintf(w, "\nPAYMENT CREATION — signed POST /v1/payments, durable (SQLite WAL, synchronous=FULL), closed loop, %d conns\n", r.o.conns)
		fmt.Fprintf(w, "  %.0f creations/s, p50 %.2f ms, p99 %.2f ms, errors %d; CPU/creation: relay %.0f µs, load generator %.0f µs\n",
			c.RPS, c.P50, c.P99, c.Errors, c.perRequest("relay"), c.perRequest("load"))
		targets = append(targets, fmt.Sprintf("%d durable creations/s\t%.0f/s\t%s", targetCreates, c.RPS, verdict(c.RPS >= targetCreates)))
	}

	if c := r.callbacks; c != nil {
		fmt.Fprintf(w, "\nCALLBACKS — %d bank callbacks (3d_pay_hosting, approved) posted once each, %d conns\n", c.Total, r.o.conns)
		fmt.Fprintf(w, "  %.0f callbacks/s (%d in %.2f s), p50 %.2f ms, p99 %.2f ms, errors %d; CPU/callback: relay %.0f µs\n",
			c.RPS, c.Measured, c.Seconds, c.P50, c.P99, c.Errors, c.perRequest("relay"))
	}

	if len(r.mem) > 0 {
		fmt.Fprintf(w, "\nMEMORY — relay VmRSS\n")
		for _, p := range r.mem {
			label := "idle (1 s after ready)"
			if p.conns > 0 {
				label = fmt.Sprintf("%d keep-alive conns", p.conns)
				if p.failed > 0 {
					label += fmt.Sprintf(" (%d refused)", p.failed)
				}
			}
			fmt.Fprintf(w, "  %-28s %s\n", label, mb(p.rss))
		}
		targets = append(targets, fmt.Sprintf("idle RSS ≤ %s\t%s\t%s", mb(int64(targetIdleRSS)), mb(r.mem[0].rss), verdict(float64(r.mem[0].rss) <= targetIdleRSS)))
	}

	if len(r.startup) > 0 {
		fmt.Fprintf(w, "\nSTART-UP — exec to /readyz 200, fresh journal, %d starts\n", len(r.startup))
		fmt.Fprintf(w, "  median %v, min %v, max %v\n", r.startup[len(r.startup)/2].Round(100*time.Microsecond),
			r.startup[0].Round(100*time.Microsecond), r.startup[len(r.startup)-1].Round(100*time.Microsecond))
	}

	if len(r.disturbed) > 0 {
		fmt.Fprintf(w, "\nWARNING — other processes on this machine were busy during: %s. Those figures are not the relay's alone; run again on a quiet machine.\n",
			strings.Join(r.disturbed, "; "))
	}

	if len(targets) > 0 {
		fmt.Fprintf(w, "\nTARGETS (2-core machine; printed, never asserted)\n")
		tw = tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
		for _, t := range targets {
			fmt.Fprintln(tw, "  "+t)
		}
		tw.Flush()
	}
}
