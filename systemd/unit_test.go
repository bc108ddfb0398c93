// Package systemd holds the relay's systemd unit; its test checks the
// unit's sandboxing with systemd-analyze.
package systemd

import (
	"os/exec"
	"regexp"
	"strconv"
	"testing"

	"github.com/posrelay/posrelay/internal/requireall"
)

// TestSecurityExposure keeps `systemd-analyze security --offline=yes` at
// 2.0 or lower.
func TestSecurityExposure(t *testing.T) {
	bin := requireall.Tool(t, "systemd-analyze", "install Debian's systemd package")
	out, err := exec.Command(bin, "security", "--offline=yes", "posrelay.service").CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for posrelay\.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	level, _ := strconv.ParseFloat(string(m[1]), 64)
	t.Logf("exposure %.1f", level)
	if level > 2.0 {
		t.Errorf("exposure %.1f; want <= 2.0:\n%s", level, out)
	}
}
