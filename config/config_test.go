package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testEnv is the environment the testdata configurations read secrets from.
var testEnv = map[string]string{
	"SHOP1_SECRET":          "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t-0001",
	"SHOP1_WHSEC":           "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw9qOyCmGz7pU=",
	"HB_STORE_KEY":          "store-key-0001",
	"HB_API_PASSWORD":       "api-password-0001",
	"CREDENTIALS_DIRECTORY": "",
}

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func parseFile(t *testing.T, path string, env map[string]string) (*Config, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return Parse(f, lookup(env))
}

func TestValidMinimal(t *testing.T) {
	c, err := parseFile(t, "testdata/valid_minimal.yaml", testEnv)
	if err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	s := c.Sites[0]
	if got, want := strings.Join(s.ReturnOrigins, " "), "https://www.example.com https://example.com"; got != want {
		t.Errorf("return origins = %q; want %q", got, want)
	}
	if got := s.Keys[0].Secret.Reveal(); got != testEnv["SHOP1_SECRET"] {
		t.Errorf("key secret not resolved from the environment")
	}
	a, ok := s.Account("halkbank")
	if !ok || a.Model != "3d_pay_hosting" || a.Endpoints == nil {
		t.Errorf("halkbank account = %+v; want default model and endpoints", a)
	}
	// The default models keep card data away from the relay (DESIGN §5).
	for bank, want := range map[string]string{"qnb": "3DHost", "vakifbank": "common_payment"} {
		if a, ok := s.Account(bank); !ok || a.Model != want {
			t.Errorf("%s account = %+v; want default model %s", bank, a, want)
		}
	}
	if c.Server.Listen != "127.0.0.1:8080" || c.Server.HTTPListen != "" {
		t.Errorf("tls off listeners = %q/%q; want 127.0.0.1:8080 and none", c.Server.Listen, c.Server.HTTPListen)
	}
	if c.Egress.BankTimeout != DefaultBankTimeout || c.Auth.Window != DefaultAuthWindow {
		t.Errorf("defaults not applied: %+v %+v", c.Egress, c.Auth)
	}
}

// TestInvalid loads every testdata/invalid/NAME.yaml and expects each line
// of NAME.want among the reported problems.
func TestInvalid(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.yaml")
	if len(files) == 0 {
		t.Fatal("no test cases")
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile(strings.TrimSuffix(f, ".yaml") + ".want")
			if err != nil {
				t.Fatal(err)
			}
			_, err = parseFile(t, f, testEnv)
			if err == nil {
				t.Fatal("invalid config accepted")
			}
			var ps *Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error %T is not *Problems", err)
			}
			for _, line := range strings.Split(strings.TrimSpace(string(want)), "\n") {
				if !strings.Contains(err.Error(), line) {
					t.Errorf("problems do not mention %q; got:\n%v", line, err)
				}
			}
		})
	}
}

// TestExample keeps config.example.yaml loadable: every key documented there
// must be one the code knows.
func TestExample(t *testing.T) {
	// The example reads its secrets as systemd credentials; give it a
	// credentials directory holding each one the unit file loads.
	dir := t.TempDir()
	unit, err := os.ReadFile("../systemd/posrelay.service")
	if err != nil {
		t.Fatal(err)
	}
	loaded := 0
	for _, line := range strings.Split(string(unit), "\n") {
		name, ok := strings.CutPrefix(line, "LoadCredential=")
		if !ok {
			continue
		}
		name, _, _ = strings.Cut(name, ":")
		v := "example-secret-value-that-is-long-enough-0001"
		if strings.HasSuffix(name, "whsec") {
			v = testEnv["SHOP1_WHSEC"]
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
		loaded++
	}
	if loaded == 0 {
		t.Fatal("systemd/posrelay.service loads no credentials")
	}
	c, err := parseFile(t, "../config.example.yaml", map[string]string{"CREDENTIALS_DIRECTORY": dir})
	if err != nil {
		t.Fatalf("config.example.yaml: %v", err)
	}
	if c.TLS.Mode != TLSACME || len(c.Sites[0].Accounts) != 3 {
		t.Errorf("example parsed as mode %q with %d accounts; want acme and 3", c.TLS.Mode, len(c.Sites[0].Accounts))
	}
	if c.Server.PublicURL.String() != "https://pay.example.com" {
		t.Errorf("public url = %v", c.Server.PublicURL)
	}
}

func TestSecretSources(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	loose := filepath.Join(dir, "loose")
	empty := filepath.Join(dir, "empty")
	os.WriteFile(good, []byte("from-file\n"), 0o600)
	os.WriteFile(loose, []byte("x"), 0o644)
	os.WriteFile(empty, []byte("\n"), 0o600)
	os.Chmod(loose, 0o644)
	credDir := t.TempDir()
	os.WriteFile(filepath.Join(credDir, "shop1-secret"), []byte("from-credential"), 0o600)

	tests := []struct {
		name, ref string
		env       map[string]string
		want      string // value, or the error substring prefixed with "!"
	}{
		{"env var", "${A}", map[string]string{"A": "from-env"}, "from-env"},
		{"env var unset", "${A}", nil, "!${A} is not set or empty"},
		{"env var bad name", "${A-B}", nil, "!not a valid environment variable name"},
		{"file", "file:" + good, nil, "from-file"},
		{"file relative", "file:good", nil, "!use an absolute path"},
		{"file readable by others", "file:" + loose, nil, "!readable by group or others"},
		{"file empty", "file:" + empty, nil, "!is empty"},
		{"file missing", "file:" + filepath.Join(dir, "nope"), nil, "!no such file"},
		{"credential", "credential:shop1-secret", map[string]string{"CREDENTIALS_DIRECTORY": credDir}, "from-credential"},
		{"credential outside systemd", "credential:shop1-secret", nil, "!CREDENTIALS_DIRECTORY is not set"},
		{"credential path escape", "credential:../etc/passwd", map[string]string{"CREDENTIALS_DIRECTORY": credDir}, "!invalid"},
		{"inline", "plain-text", nil, "!inline secrets are not allowed"},
		{"empty", "", nil, "!empty; set POSRELAY_X"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := resolveSecret(tt.ref, "POSRELAY_X", lookup(tt.env))
			if strings.HasPrefix(tt.want, "!") {
				if err == nil || !strings.Contains(err.Error(), tt.want[1:]) {
					t.Fatalf("err = %v; want it to contain %q", err, tt.want[1:])
				}
				return
			}
			if err != nil || s.Reveal() != tt.want {
				t.Fatalf("got %q, %v; want %q", s.Reveal(), err, tt.want)
			}
		})
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := NewSecret("do-not-print-me")
	j, _ := json.Marshal(struct{ S Secret }{s})
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s", s, s, s, s), string(j)} {
		if strings.Contains(out, "do-not-print-me") {
			t.Errorf("secret printed: %s", out)
		}
	}
}

func TestNormalizeOrigin(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://www.example.com", "https://www.example.com"},
		{"https://WWW.Example.com:443/", "https://www.example.com"},
		{"https://shop.example.com:8443", "https://shop.example.com:8443"},
		{"http://localhost:3000", "http://localhost:3000"},
		{"http://127.0.0.1:3000", "http://127.0.0.1:3000"},
		{"https://bücher.example", "https://xn--bcher-kva.example"},
		{"http://example.com", "!must use https"},
		{"https://example.com/path", "!not an origin"},
		{"https://user@example.com", "!not an origin"},
		{"javascript:alert(1)", "!not an origin"},
		{"https://example.com:99999", "!"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := NormalizeOrigin(tt.in)
			if strings.HasPrefix(tt.want, "!") {
				if err == nil || !strings.Contains(err.Error(), tt.want[1:]) {
					t.Fatalf("NormalizeOrigin(%q) = %q, %v; want error %q", tt.in, got, err, tt.want[1:])
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("NormalizeOrigin(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}
