package proxy

import (
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestSurvive checks that a panic in a background worker is logged,
// counted and contained, and that a clean run reports none.
func TestSurvive(t *testing.T) {
	tests := []struct {
		name     string
		fn       func()
		panicked bool
	}{
		{"clean", func() {}, false},
		{"panic with a value", func() { panic("boom") }, true},
		{"runtime error", func() {
			var p *Relay
			_ = p.cfg // nil pointer dereference
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zap.ErrorLevel)
			r := &Relay{log: zap.New(core)}
			if got := r.survive("sweep", tt.fn); got != tt.panicked {
				t.Fatalf("survive = %v, want %v", got, tt.panicked)
			}
			var b strings.Builder
			r.metrics.write(&b)
			counted := strings.Contains(b.String(), `posrelay_panics_total{worker="sweep"} 1`)
			if counted != tt.panicked || (logs.Len() == 1) != tt.panicked {
				t.Fatalf("metric counted %v, %d error lines; want both only on a panic\n%s", counted, logs.Len(), b.String())
			}
			if tt.panicked {
				e := logs.All()[0]
				if e.ContextMap()["worker"] != "sweep" || e.ContextMap()["stack"] == "" {
					t.Errorf("log line lacks worker or stack: %v", e.ContextMap())
				}
			}
		})
	}
}
