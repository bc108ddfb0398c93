package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Secret is a credential read from the environment, a file or a systemd
// credential. It never prints: fmt, zap and encoding/json all see
// "[REDACTED]". Use Reveal where the value itself is needed.
type Secret struct{ v string }

// NewSecret wraps a value the program generated itself (demo, tests).
func NewSecret(v string) Secret { return Secret{v} }

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return s.v }

// Bytes returns the secret's value as bytes.
func (s Secret) Bytes() []byte { return []byte(s.v) }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.v == "" }

func (s Secret) String() string   { return "[REDACTED]" }
func (s Secret) GoString() string { return "[REDACTED]" }

// MarshalJSON keeps secrets out of JSON dumps.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"[REDACTED]"`), nil }

// MarshalText keeps secrets out of text encodings (and zap's reflection).
func (s Secret) MarshalText() ([]byte, error) { return []byte("[REDACTED]"), nil }

// secretSources says, for error messages, how a secret may be given.
const secretSources = "use ${ENV_VAR}, file:/path or credential:NAME (systemd LoadCredential=)"

// resolveSecret reads a secret reference. suggestEnv is the environment
// variable name the error message proposes.
func resolveSecret(ref, suggestEnv string, env func(string) (string, bool)) (Secret, error) {
	ref = strings.TrimSpace(ref)
	switch {
	case ref == "":
		return Secret{}, fmt.Errorf("empty; set %s and write ${%s}, or %s", suggestEnv, suggestEnv, secretSources)
	case strings.HasPrefix(ref, "${") && strings.HasSuffix(ref, "}"):
		name := ref[2 : len(ref)-1]
		if !validEnvName(name) {
			return Secret{}, fmt.Errorf("%q is not a valid environment variable name; use letters, digits and _", name)
		}
		v, ok := env(name)
		if !ok || v == "" {
			return Secret{}, fmt.Errorf("${%s} is not set or empty; export %s before starting, or %s", name, name, secretSources)
		}
		return Secret{v}, nil
	case strings.HasPrefix(ref, "file:"):
		return readSecretFile(ref[len("file:"):])
	case strings.HasPrefix(ref, "credential:"):
		name := ref[len("credential:"):]
		if name == "" || strings.ContainsAny(name, "/\\") || name == "." || name == ".." {
			return Secret{}, fmt.Errorf("credential name %q is invalid; use the name given to LoadCredential=", name)
		}
		dir, ok := env("CREDENTIALS_DIRECTORY")
		if !ok || dir == "" {
			return Secret{}, fmt.Errorf("credential:%s needs systemd's LoadCredential=%s:… (CREDENTIALS_DIRECTORY is not set); outside systemd use ${ENV_VAR} or file:/path", name, name)
		}
		return readSecretFile(filepath.Join(dir, name))
	}
	return Secret{}, fmt.Errorf("inline secrets are not allowed; set %s and write ${%s}, or %s", suggestEnv, suggestEnv, secretSources)
}

func readSecretFile(path string) (Secret, error) {
	if !filepath.IsAbs(path) {
		return Secret{}, fmt.Errorf("file:%s: use an absolute path", path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return Secret{}, fmt.Errorf("file:%s: %v", path, unwrapPathError(err))
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return Secret{}, fmt.Errorf("file:%s is readable by group or others (%v); run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Secret{}, fmt.Errorf("file:%s: %v", path, unwrapPathError(err))
	}
	v := strings.TrimRight(string(b), "\r\n")
	if v == "" {
		return Secret{}, fmt.Errorf("file:%s is empty; write the secret into it", path)
	}
	return Secret{v}, nil
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9' {
			continue
		}
		return false
	}
	return true
}
