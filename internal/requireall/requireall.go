// Package requireall decides what a test does when a tool it needs (Node,
// Chromium, systemd-analyze, nginx…) is missing: on a developer laptop it
// skips with a message saying what to install; in CI, where
// POSRELAY_REQUIRE_ALL=1 is set, it fails, so nothing is silently skipped.
package requireall

import (
	"os"
	"os/exec"
	"testing"
)

// Enabled reports whether POSRELAY_REQUIRE_ALL=1 is set.
func Enabled() bool { return os.Getenv("POSRELAY_REQUIRE_ALL") == "1" }

// Tool returns the path of the named program, or skips (fails in CI) with
// the install hint.
func Tool(t testing.TB, name, install string) string {
	t.Helper()
	for _, n := range []string{name} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	Missing(t, name+" is not installed; "+install)
	return ""
}

// Missing skips the test, or fails it when POSRELAY_REQUIRE_ALL=1.
func Missing(t testing.TB, msg string) {
	t.Helper()
	if Enabled() {
		t.Fatalf("%s (POSRELAY_REQUIRE_ALL=1: required tools must be present)", msg)
	}
	t.Skip(msg)
}
