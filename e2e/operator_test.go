package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posrelay/posrelay/cli"
)

// TestOperatorCommands runs the operator's commands next to a serving relay.
func TestOperatorCommands(t *testing.T) {
	s := newRelayStack(t, "3d_pay_hosting")
	ok := s.create(t, 4200)
	cb := walkToCallback(t, ok.RedirectURL, testCard("4355084355084358"))
	postCallback(t, cb.Action.String(), cb.Values)
	bad := s.create(t, 4300)
	cb = walkToCallback(t, bad.RedirectURL, testCard("4000000000000515"))
	postCallback(t, cb.Action.String(), cb.Values)
	waitFor(t, func() bool { return len(s.recv.events()) == 2 })

	cfgFile, run := operatorCLI(t, s.yaml, s.env)
	day := time.Now().In(time.FixedZone("TR", 3*3600)).Format("2006-01-02")
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"payments list", []string{"payments", "list", "--state", s.stateDir, "--date", day}, 0, []string{ok.ID, bad.ID, "succeeded", "insufficient_funds"}},
		{"payments show", []string{"payments", "show", ok.ID, "--state", s.stateDir}, 0, []string{"status succeeded", "bank_step", "payment.succeeded", "delivered"}},
		{"payments show unknown", []string{"payments", "show", "pay_nope", "--state", s.stateDir}, 1, []string{"not found"}},
		{"webhooks list", []string{"webhooks", "list", "--state", s.stateDir}, 0, []string{"payment.succeeded", "payment.failed", "delivered"}},
		{"webhooks list dead", []string{"webhooks", "list", "--state", s.stateDir, "--status", "dead"}, 0, nil},
		{"report daily with bank check", []string{"report", "daily", "--config", cfgFile, "--date", day, "--check-bank"}, 0, []string{ok.ID, `"checked": 2`}},
		{"report daily csv", []string{"report", "daily", "--config", cfgFile, "--date", day, "--csv"}, 0, []string{"record,id,payment_id", "payment," + ok.ID}},
		{"report bad date", []string{"report", "daily", "--config", cfgFile, "--date", "22.11.2026"}, 1, []string{"YYYY-MM-DD"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code := run(tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d; want %d\n%s", code, tt.code, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			p := s.payment(t, ok.ID)
			for _, secret := range []string{p.PayToken, p.CallbackToken, s.secret, s.storeKey} {
				if strings.Contains(out, secret) {
					t.Errorf("output shows a token or secret")
				}
			}
		})
	}
}

// operatorCLI writes the relay's configuration to a file, puts its secrets
// in the environment as the systemd unit would, and returns the file and a
// way to run an operator command: its output (stdout, then stderr with the
// error) and exit status.
func operatorCLI(t *testing.T, yaml string, env map[string]string) (string, func(args ...string) (string, int)) {
	t.Helper()
	cfgFile := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	return cfgFile, func(args ...string) (string, int) {
		var out, errb bytes.Buffer
		err := cli.Run(context.Background(), args, cli.Stdio{In: strings.NewReader(""), Out: &out, Err: &errb})
		code := cli.ExitCode(err, &errb) // prints the error to errb
		return out.String() + errb.String(), code
	}
}
