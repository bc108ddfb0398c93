package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestHashCommands runs the cases of testdata/hash_cases.json through the
// real command dispatch: arguments, stdin, exit status, last line.
func TestHashCommands(t *testing.T) {
	raw, err := os.ReadFile("testdata/hash_cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Name     string          `json:"name"`
		Args     []string        `json:"args"`
		Stdin    json.RawMessage `json:"stdin"`
		StdinRaw string          `json:"stdin_raw"`
		Exit     int             `json:"exit"`
		Last     string          `json:"last"`
		Contains []string        `json:"contains"`
		Absent   []string        `json:"absent"`
	}
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			in := string(tc.Stdin)
			if tc.StdinRaw != "" {
				in = tc.StdinRaw
			}
			var out, errb bytes.Buffer
			err := Run(context.Background(), tc.Args, Stdio{In: strings.NewReader(in), Out: &out, Err: &errb})
			if code := ExitCode(err, &errb); code != tc.Exit {
				t.Fatalf("exit %d; want %d\nstdout:\n%s\nstderr:\n%s", code, tc.Exit, out.String(), errb.String())
			}
			lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
			if tc.Last != "" && lines[len(lines)-1] != tc.Last {
				t.Errorf("last line %q; want %q", lines[len(lines)-1], tc.Last)
			}
			for _, s := range tc.Contains {
				if !strings.Contains(out.String(), s) {
					t.Errorf("output lacks %q:\n%s", s, out.String())
				}
			}
			for _, s := range tc.Absent {
				if strings.Contains(out.String(), s) {
					t.Errorf("output must not contain %q:\n%s", s, out.String())
				}
			}
		})
	}
}
