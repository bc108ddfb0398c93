// Package e2e runs the relay end to end in-process on loopback: the real
// demo wiring (relay, bank simulators, stand-in shop) driven over HTTP.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/posrelay/posrelay/demo"
	"github.com/posrelay/posrelay/internal/leakscan"
	"github.com/posrelay/posrelay/relayclient"
)

// stack is a running demo.
type stack struct {
	demo.Info
	client *relayclient.Client
	logs   *syncBuffer
	stop   func()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startDemo runs the demo on a free port with logs captured.
func startDemo(t *testing.T, o demo.Options) *stack {
	t.Helper()
	logs := &syncBuffer{}
	enc := zap.NewProductionEncoderConfig()
	o.Logger = zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(logs), zapcore.DebugLevel))
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if !o.NoKit && !kitTest(t) {
		// These tests read the shop's own webhook log; the browser test
		// runs the shop on the Velo kit.
		o.NoKit = true
	}
	if o.StateDir == "" {
		o.StateDir = t.TempDir()
	}
	ready := make(chan demo.Info, 1)
	o.Ready = func(i demo.Info) { ready <- i }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- demo.Run(ctx, o) }()
	var info demo.Info
	select {
	case info = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("demo did not start: %v", err)
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("demo did not start in 20 s")
	}
	s := &stack{Info: info, logs: logs,
		client: &relayclient.Client{BaseURL: info.Relay, KeyID: info.KeyID, Secret: []byte(info.Secret)}}
	s.stop = func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("demo stopped with %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("demo did not stop in 30 s")
		}
	}
	t.Cleanup(func() {
		if s.Shop != "" { // every webhook the shop got passes the leak scan on the way
			if resp, err := http.Get(s.Shop + "/webhooks.json"); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
		s.stop()
		s.scanLogs(t)
		checkLeaks(t, "demo relay log", []byte(s.logs.String()))
	})
	// After the cleanup that stops the demo (and its simulators): see watch.
	bankURLs := []string{}
	for _, b := range info.Banks {
		bankURLs = append(bankURLs, b.Endpoint)
	}
	watch(t, s.secrets(), bankURLs...)
	// demo.json must be there once Ready fired.
	raw, err := os.ReadFile(filepath.Join(o.StateDir, "demo.json"))
	if err != nil {
		t.Fatalf("demo.json: %v", err)
	}
	var fromFile demo.Info
	if err := json.Unmarshal(raw, &fromFile); err != nil || fromFile.Relay != info.Relay || fromFile.Secret != info.Secret {
		t.Fatalf("demo.json does not describe the running demo: %v", err)
	}
	return s
}

// secrets lists every secret of the stack, for the leak scan.
func (s *stack) secrets() []string {
	out := []string{s.Secret, s.WebhookSecret, strings.TrimPrefix(s.WebhookSecret, "whsec_")}
	for _, b := range s.Banks {
		for k, v := range b.Fields {
			switch k {
			case "storeKey", "apiPassword", "merchantPass", "userPass", "password":
				out = append(out, v)
			}
		}
	}
	return out
}

// scanLogs fails the test if a log line holds a secret or a card number.
func (s *stack) scanLogs(t *testing.T) {
	t.Helper()
	logs := s.logs.String()
	for _, sec := range s.secrets() {
		if sec != "" && strings.Contains(logs, sec) {
			t.Errorf("a configured secret appears in the logs")
		}
	}
	for _, pan := range findPANs(logs) {
		t.Errorf("a card number appears in the logs: %s…", pan[:6])
	}
}

// findPANs returns the card numbers in s as the leak scan finds them:
// Luhn-valid runs of 13–19 digits that are not part of an identifier. (A
// bare digit-run search took identifiers for cards: about one key id in
// 2,000 — key_ and 16 hex digits, logged with every signed request — holds
// a Luhn-valid run of 13 or more decimal digits.)
func findPANs(s string) []string {
	var out []string
	for _, p := range leakscan.FindPANs([]byte(s)) {
		out = append(out, p.Digits)
	}
	return out
}

// kitTest reports whether the test runs the demo shop on the Velo kit.
func kitTest(t *testing.T) bool { return strings.HasPrefix(t.Name(), "TestBrowserDemo") }
