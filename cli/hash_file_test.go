package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// estFields are the EV3-1 form fields (testdata/est_fields.json) whose
// hash with store key 123456 is estHash.
const estHash = "/uPxhEKWCEGi3NsDOOQ4u8Hu5g71v5GWspOid70WehTWEz97PqxG3IN1Jv5jsbOXOw3Z3Rr/0UtywzEgbqFfdA=="

// secretsInTestdata are the secrets the files under testdata/secrets hold;
// no command output or error may show them.
var secretsInTestdata = []string{"123456", "12345678", "line-one-SECRET"}

// runCLI runs one command line with stdin and returns its exit status,
// stdout and stderr.
func runCLI(t *testing.T, args []string, stdin string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	err := Run(context.Background(), args, Stdio{In: strings.NewReader(stdin), Out: &out, Err: &errb})
	return ExitCode(err, &errb), out.String(), errb.String()
}

// TestHashSecretFiles covers --store-key-file and --merchant-pass-file:
// they give the flag forms' results, and their errors name the flag and
// the file but never the secret.
func TestHashSecretFiles(t *testing.T) {
	fields, err := os.ReadFile("testdata/est_fields.json")
	if err != nil {
		t.Fatal(err)
	}
	// A CRLF file is written here: a checkout may rewrite line ends.
	crlf := filepath.Join(t.TempDir(), "est-store-key-crlf")
	if err := os.WriteFile(crlf, []byte("123456\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const (
		pfRequest  = `{"MbrId":"5","OrderId":"2020110828BC","PurchAmount":"100.01","OkUrl":"http://localhost/finansbank-payfor/3d/response.php","FailUrl":"http://localhost/finansbank-payfor/3d/response.php","TxnType":"Auth","InstallmentCount":"0","Rnd":"0.43625700 1604831630"}`
		pfResponse = `{"OrderId":"20221031CFD0","AuthCode":"","ProcReturnCode":"V033","3DStatus":"1","ResponseRnd":"PF638028524588902912","HashType":"Sha1","ResponseHash":"6OWhNzqTEXUGkY6HN90QKHdP53c="}`
		pfIDs      = "--merchant-id=085300000009704 --user-code=QNB_API_KULLANICI_3DPAY"
	)
	cases := []struct {
		name   string
		args   string // split on spaces
		stdin  string
		flags  string // the same command with the secret as a flag value: stdout must match
		exit   int
		last   string   // stdout's last line, when set
		stderr []string // what stderr must say
	}{
		{name: "store key file gives the flag form's hash",
			args: "hash est --store-key-file testdata/secrets/est-store-key", stdin: string(fields),
			flags: "hash est --store-key 123456", last: estHash},
		{name: "store key file without a trailing newline",
			args: "hash est --store-key-file=testdata/secrets/est-store-key-no-newline", stdin: string(fields),
			flags: "hash est --store-key 123456", last: estHash},
		{name: "store key file with CRLF",
			args: "hash est --store-key-file " + crlf, stdin: string(fields),
			flags: "hash est --store-key 123456", last: estHash},
		{name: "store key file with explain masks the key",
			args: "hash est --explain --store-key-file testdata/secrets/est-store-key", stdin: string(fields),
			flags: "hash est --explain --store-key 123456", last: estHash},
		{name: "verify est with a store key file",
			args: "verify est --store-key-file testdata/secrets/est-store-key", stdin: strings.Replace(string(fields), "{", `{"HASH":"`+estHash+`",`, 1),
			flags: "verify est --store-key 123456", last: "ver3 (SHA-512): verifies"},
		{name: "store key from stdin, fields from --fields",
			args: "hash est --store-key-file - --fields testdata/est_fields.json", stdin: "123456\n",
			last: estHash},
		{name: "merchant pass file gives the flag form's request hash",
			args: "hash payfor-request --merchant-pass-file testdata/secrets/qnb-merchant-pass", stdin: pfRequest,
			flags: "hash payfor-request --merchant-pass 12345678", last: "zmSUxYPhmCj7QOzqpk/28LuE1Oc="},
		{name: "merchant pass file in verify payfor",
			args: "verify payfor --merchant-pass-file testdata/secrets/qnb-merchant-pass " + pfIDs, stdin: pfResponse,
			flags: "verify payfor --merchant-pass 12345678 " + pfIDs, last: "ResponseHash (sha1): verifies"},

		{name: "store key as flag and file is a usage error",
			args: "hash est --store-key 123456 --store-key-file testdata/secrets/est-store-key", stdin: string(fields),
			exit: 2, stderr: []string{"both --store-key and --store-key-file given", "keep only --store-key-file"}},
		{name: "merchant pass as flag and file is a usage error",
			args: "verify payfor --merchant-pass-file testdata/secrets/qnb-merchant-pass --merchant-pass 12345678 " + pfIDs, stdin: pfResponse,
			exit: 2, stderr: []string{"both --merchant-pass and --merchant-pass-file given"}},
		{name: "missing store key file",
			args: "hash est --store-key-file testdata/secrets/does-not-exist", stdin: string(fields),
			exit: 1, stderr: []string{"--store-key-file", "testdata/secrets/does-not-exist", "no such file", "give the file that holds the EST store key"}},
		{name: "missing merchant pass file",
			args: "hash payfor-request --merchant-pass-file testdata/secrets/does-not-exist", stdin: pfRequest,
			exit: 1, stderr: []string{"--merchant-pass-file", "testdata/secrets/does-not-exist"}},
		{name: "empty store key file",
			args: "hash est --store-key-file testdata/secrets/empty", stdin: string(fields),
			exit: 1, stderr: []string{"--store-key-file testdata/secrets/empty is empty", "write the EST store key"}},
		{name: "store key file holding only a newline",
			args: "verify est --store-key-file testdata/secrets/newline-only", stdin: string(fields),
			exit: 1, stderr: []string{"--store-key-file testdata/secrets/newline-only is empty"}},
		{name: "store key file of two lines",
			args: "hash est --store-key-file testdata/secrets/two-lines", stdin: string(fields),
			exit: 1, stderr: []string{"--store-key-file testdata/secrets/two-lines holds more than one line"}},
		{name: "store key file without a name",
			args: "hash est --store-key-file=", stdin: string(fields),
			exit: 2, stderr: []string{"--store-key-file needs a file name"}},
		{name: "stdin already carries the fields",
			args: "hash est --store-key-file -", stdin: string(fields),
			exit: 2, stderr: []string{"--store-key-file -: stdin already carries the JSON form fields", "--fields FILE"}},
		{name: "both secrets from stdin",
			args: "hash est --store-key-file - --merchant-pass-file - --fields testdata/est_fields.json", stdin: "123456\n",
			exit: 2, stderr: []string{"stdin can carry only one of them"}},
		{name: "missing fields file",
			args: "hash est --store-key-file testdata/secrets/est-store-key --fields testdata/nope.json",
			exit: 1, stderr: []string{"--fields", "testdata/nope.json"}},
		{name: "no store key names the file form",
			args: "hash est", stdin: string(fields),
			exit: 2, stderr: []string{"--store-key-file FILE"}},
		{name: "no merchant pass names the file form",
			args: "verify payfor " + pfIDs, stdin: pfResponse,
			exit: 2, stderr: []string{"--merchant-pass-file FILE"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, strings.Fields(tc.args), tc.stdin)
			if code != tc.exit {
				t.Fatalf("exit %d; want %d\nstdout:\n%s\nstderr:\n%s", code, tc.exit, out, errOut)
			}
			if tc.last != "" {
				lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
				if got := lines[len(lines)-1]; got != tc.last {
					t.Errorf("last line %q; want %q", got, tc.last)
				}
			}
			if tc.flags != "" {
				wantCode, want, _ := runCLI(t, strings.Fields(tc.flags), tc.stdin)
				if wantCode != code || want != out {
					t.Errorf("file form: exit %d, stdout\n%s\nflag form: exit %d, stdout\n%s", code, out, wantCode, want)
				}
			}
			for _, s := range tc.stderr {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr lacks %q:\n%s", s, errOut)
				}
			}
			for _, s := range secretsInTestdata {
				if strings.Contains(errOut, s) {
					t.Errorf("stderr shows a secret (%d bytes):\n%s", len(s), strings.ReplaceAll(errOut, s, "<SECRET>"))
				}
				if strings.Contains(out, s) {
					t.Errorf("stdout shows a secret (%d bytes):\n%s", len(s), strings.ReplaceAll(out, s, "<SECRET>"))
				}
			}
		})
	}
}
