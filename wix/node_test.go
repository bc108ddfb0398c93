// This Go test runs the Velo kit's Node tests against a real relay and the
// bank simulators.
package wix_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/posrelay/posrelay/banksim"
	"github.com/posrelay/posrelay/demo"
	"github.com/posrelay/posrelay/internal/leakscan"
	"github.com/posrelay/posrelay/internal/requireall"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestNodeKit starts the demo (relay + bank simulators) with its webhooks
// pointed at a loopback port where the Node tests serve the kit's
// post_posrelay, then runs `node --test test/` against it.
func TestNodeKit(t *testing.T) {
	node := requireall.Tool(t, "node", "install Node.js 18.19+ (apt-get install nodejs)")
	checkNodeVersion(t, node)

	// The Node side listens here for the relay's webhooks.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	logs := &lockedBuffer{}
	logger := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(logs), zapcore.InfoLevel))
	state := t.TempDir()
	ready := make(chan demo.Info, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- demo.Run(ctx, demo.Options{
			Addr: "127.0.0.1:0", StateDir: state, Logger: logger,
			WebhookURL: fmt.Sprintf("http://127.0.0.1:%d/_functions/posrelay", port),
			Ready:      func(i demo.Info) { ready <- i },
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("demo stopped with %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("demo did not stop in 30 s")
		}
	})
	var info demo.Info
	select {
	case info = <-ready:
	case err := <-done:
		t.Fatalf("demo did not start: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("demo did not start in 20 s")
	}
	banks := make([]string, 0, len(info.Banks))
	for b := range info.Banks {
		banks = append(banks, b)
	}
	t.Logf("relay %s, banks %v, webhooks to port %d", info.Relay, banks, port)

	runCtx, stop := context.WithTimeout(context.Background(), 4*time.Minute)
	defer stop()
	// Only flow.test.mjs listens on the port, so the files may run in
	// parallel. TAP is asked for by name: newer Node prints "spec" by default.
	cmd := exec.CommandContext(runCtx, node, "--test", "--test-reporter=tap", "test/")
	cmd.Env = append(os.Environ(),
		"POSRELAY_DEMO_JSON="+filepath.Join(state, "demo.json"),
		"POSRELAY_WEBHOOK_PORT="+strconv.Itoa(port),
		"NODE_NO_WARNINGS=1",
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	elapsed := time.Since(start).Round(10 * time.Millisecond)
	summary := tapSummary(out.String())
	if err != nil {
		t.Fatalf("node --test failed after %v (%v): %s\n\n%s\n\nrelay logs (last 40 lines):\n%s", elapsed, err, summary, out.String(), lastLines(logs.String(), 40))
	}
	if !strings.Contains(summary, "pass ") {
		t.Fatalf("node --test ran no test:\n%s", out.String())
	}
	t.Logf("node --test passed in %v: %s", elapsed, summary)
	// Against a live relay nothing has a reason to skip: a skip here is a
	// test that stopped testing (a route gone, a precondition broken).
	for _, skip := range skipRe.FindAllString(out.String(), -1) {
		t.Errorf("node test skipped against the live relay: %s", strings.TrimSpace(skip))
	}
	// The relay's log and everything the kit and its tests printed hold no
	// secret and no card number.
	scan := leakscan.New(info.Secret, info.WebhookSecret, strings.TrimPrefix(info.WebhookSecret, "whsec_"))
	for _, b := range info.Banks {
		for k, v := range b.Fields {
			switch k {
			case "storeKey", "apiPassword", "merchantPass", "userPass", "password":
				scan.AddSecrets(v)
			}
		}
	}
	for _, c := range banksim.TestCards {
		scan.AddCards(leakscan.Card{PAN: c.PAN})
	}
	for source, text := range map[string]string{"relay log": logs.String(), "node output": out.String()} {
		hits := scan.Scan(source, []byte(text))
		for _, h := range hits {
			t.Errorf("leak: %s", h)
		}
		t.Logf("leak scan: %s, %d bytes, %d hits", source, len(text), len(hits))
	}
	if info.Secret == "" || info.WebhookSecret == "" {
		t.Error("the demo reported no secrets to scan for")
	}
	for _, m := range diagRe.FindAllStringSubmatch(out.String(), -1) {
		t.Logf("node: %s", m[1])
	}
}

var (
	summaryRe = regexp.MustCompile(`(?m)^# (tests|pass|fail|cancelled|skipped) (\d+)$`)
	skipRe    = regexp.MustCompile(`(?m)^\s*ok \d+ - .*# SKIP.*$`)
	diagRe    = regexp.MustCompile(`(?m)^\s*# posrelay-test: (.*)$`)
)

func tapSummary(out string) string {
	var parts []string
	for _, m := range summaryRe.FindAllStringSubmatch(out, -1) {
		parts = append(parts, m[1]+" "+m[2])
	}
	return strings.Join(parts, ", ")
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// checkNodeVersion requires the module.register() hooks (Node 18.19+, 20.6+).
func checkNodeVersion(t *testing.T, node string) {
	t.Helper()
	out, err := exec.Command(node, "-p", "typeof require('node:module').register").Output()
	if err != nil || strings.TrimSpace(string(out)) != "function" {
		v, _ := exec.Command(node, "--version").Output()
		requireall.Missing(t, fmt.Sprintf("node %s has no module.register(); install Node.js 18.19+ or 20.6+", strings.TrimSpace(string(v))))
	}
}
