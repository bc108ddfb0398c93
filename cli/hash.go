package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/posrelay/posrelay/signer"
)

// readFields reads a JSON object of form fields from r, named src in
// errors. Strings are taken as they are, numbers and booleans as their
// JSON text, null as "".
func readFields(r io.Reader, src string) (map[string]string, error) {
	data, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%s: want a JSON object of form fields, e.g. {\"oid\":\"order1\",\"amount\":\"1.00\"}: %v", src, err)
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		switch x := v.(type) {
		case nil:
			out[k] = ""
		case string:
			out[k] = x
		case json.Number:
			out[k] = x.String()
		case bool:
			out[k] = fmt.Sprint(x)
		default:
			return nil, fmt.Errorf("%s: field %q is a JSON %T; form fields are strings", src, k, v)
		}
	}
	return out, nil
}

// hashCmd is hash or verify for one scheme: the bank credentials as flags
// (the command adds its own to fs), then the JSON fields on stdin or in
// the --fields file.
type hashCmd struct {
	name                   string // "hash est", "verify payfor"…
	fs                     *flag.FlagSet
	storeKey, merchantPass *secretFlag
	merchantID, userCode   *string
	fieldsFile             *string
}

func newHashCmd(name string, stdio Stdio) *hashCmd {
	fs := newFlags(name, stdio)
	return &hashCmd{
		name:         name,
		fs:           fs,
		storeKey:     newSecretFlag(fs, "store-key", "EST store key (3-D secret)"),
		merchantPass: newSecretFlag(fs, "merchant-pass", "PayFor merchant pass (3-D key)"),
		merchantID:   fs.String("merchant-id", "", "PayFor merchant id"),
		userCode:     fs.String("user-code", "", "PayFor user code"),
		fieldsFile:   fs.String("fields", "", "read the JSON form fields from `FILE` instead of stdin"),
	}
}

// fields parses args, reads the secrets given as files and then the form
// fields, from the --fields file or from in.
func (c *hashCmd) fields(args []string, in io.Reader) (map[string]string, error) {
	if _, err := parseFlags(c.fs, args); err != nil {
		return nil, err
	}
	set := map[string]bool{}
	c.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	fieldsFromStdin := *c.fieldsFile == "" || *c.fieldsFile == "-"
	if !fieldsFromStdin && *c.storeKey.file == "-" && *c.merchantPass.file == "-" {
		return nil, usagef("--store-key-file - and --merchant-pass-file -: stdin can carry only one of them; put the other in a file")
	}
	for _, s := range []*secretFlag{c.storeKey, c.merchantPass} {
		if err := s.resolve(set, in, !fieldsFromStdin); err != nil {
			return nil, err
		}
	}
	if fieldsFromStdin {
		return readFields(in, "stdin")
	}
	f, err := os.Open(*c.fieldsFile)
	if err != nil {
		return nil, fmt.Errorf("--fields: %w; give the file holding the JSON form fields", err)
	}
	defer f.Close()
	return readFields(f, "--fields "+*c.fieldsFile)
}

// secretFlag is a bank secret given as --NAME-file FILE or, kept for
// existing scripts, as --NAME VALUE (which shows in shell history and ps).
type secretFlag struct {
	name, what  string // "store-key", "EST store key (3-D secret)"
	value, file *string
}

func newSecretFlag(fs *flag.FlagSet, name, what string) *secretFlag {
	return &secretFlag{
		name: name, what: what,
		file: fs.String(name+"-file", "", "read the "+what+" from `FILE` (one trailing newline is dropped); "+
			"- reads it from stdin when --fields names the fields file. Use this rather than --"+name),
		value: fs.String(name, "", "the "+what+" as a `value`, which shows in shell history and ps: prefer --"+name+"-file"),
	}
}

// missing is the usage error for a command that needs this secret.
func (s *secretFlag) missing(cmdName string) error {
	return usagef("%s needs the %s: --%s-file FILE (or --%s, which shows in shell history and ps)", cmdName, s.what, s.name, s.name)
}

// maxSecretFile bounds what a secret file may hold: a bank secret is a
// few dozen bytes, a bigger file is the wrong file.
const maxSecretFile = 4 << 10

// resolve reads the secret from its file, if one was given, into value.
// set holds the flags given on the command line; stdinFree says whether
// stdin is free for "-" (the fields come from a file). Errors name the
// flag and the file, never the secret.
func (s *secretFlag) resolve(set map[string]bool, stdin io.Reader, stdinFree bool) error {
	flagName := "--" + s.name + "-file"
	if !set[s.name+"-file"] {
		return nil
	}
	if set[s.name] {
		return usagef("both --%s and %s given; keep only %s", s.name, flagName, flagName)
	}
	path := *s.file
	var r io.Reader
	switch path {
	case "":
		return usagef("%s needs a file name: the file that holds the %s", flagName, s.what)
	case "-":
		if !stdinFree {
			return usagef("%s -: stdin already carries the JSON form fields; give the fields with --fields FILE, or the %s in a file", flagName, s.what)
		}
		r, path = stdin, "(stdin)"
	default:
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("%s: %w; give the file that holds the %s", flagName, err, s.what)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxSecretFile+1))
	if err != nil {
		return fmt.Errorf("%s %s: %w", flagName, path, err)
	}
	if len(data) > maxSecretFile {
		return fmt.Errorf("%s %s: larger than %d bytes; the file must hold only the %s", flagName, path, maxSecretFile, s.what)
	}
	secret := string(data)
	if t, ok := strings.CutSuffix(secret, "\r\n"); ok {
		secret = t
	} else {
		secret = strings.TrimSuffix(secret, "\n")
	}
	switch {
	case secret == "":
		return fmt.Errorf("%s %s is empty; write the %s into it", flagName, path, s.what)
	case strings.ContainsAny(secret, "\r\n"):
		return fmt.Errorf("%s %s holds more than one line; it must hold only the %s (one trailing newline is allowed)", flagName, path, s.what)
	}
	*s.value = secret
	return nil
}

// needPayFor is the usage error for missing PayFor response credentials,
// or nil.
func (c *hashCmd) needPayFor() error {
	if *c.merchantPass.value == "" || *c.merchantID == "" || *c.userCode == "" {
		return usagef("%s needs --merchant-pass-file FILE (or --merchant-pass, which shows in shell history and ps), --merchant-id and --user-code", c.name)
	}
	return nil
}

// payForPlain is the text a PayFor ResponseHash is computed over.
func (c *hashCmd) payForPlain(fields map[string]string) string {
	return signer.PayForResponsePlaintext(*c.merchantID, *c.merchantPass.value, fields["OrderId"], fields["AuthCode"],
		fields["ProcReturnCode"], fields["3DStatus"], fields["ResponseRnd"], *c.userCode)
}

func runHash(_ context.Context, args []string, stdio Stdio) error {
	if len(args) == 0 {
		return usagef("hash needs a scheme: est, payfor-request or payfor-response")
	}
	cmd := newHashCmd("hash "+args[0], stdio)
	explain := cmd.fs.Bool("explain", false, "print the sorted keys and the hashed text (store key masked) first")
	alg := cmd.fs.String("alg", "", "payfor-response digest: sha1 or sha256 (default: from HashType and the hash length)")
	fields, err := cmd.fields(args[1:], stdio.In)
	if err != nil {
		return err
	}
	out := stdio.Out
	switch args[0] {
	case "est":
		if *cmd.storeKey.value == "" {
			return cmd.storeKey.missing(cmd.name)
		}
		if *explain {
			explainEST(out, fields, *cmd.storeKey.value)
		}
		fmt.Fprintln(out, signer.ESTv3Hash(fields, *cmd.storeKey.value))
	case "payfor-request":
		if *cmd.merchantPass.value == "" {
			return cmd.merchantPass.missing(cmd.name)
		}
		plain := fields["MbrId"] + fields["OrderId"] + fields["PurchAmount"] + fields["OkUrl"] + fields["FailUrl"] +
			fields["TxnType"] + fields["InstallmentCount"] + fields["Rnd"]
		if *explain {
			fmt.Fprintf(out, "hashed text (MbrId+OrderId+PurchAmount+OkUrl+FailUrl+TxnType+InstallmentCount+Rnd+merchant pass):\n%s%s\n", plain, mask(*cmd.merchantPass.value))
		}
		fmt.Fprintln(out, signer.PayForRequestHash(fields["MbrId"], fields["OrderId"], fields["PurchAmount"], fields["OkUrl"],
			fields["FailUrl"], fields["TxnType"], fields["InstallmentCount"], fields["Rnd"], *cmd.merchantPass.value))
	case "payfor-response":
		if err := cmd.needPayFor(); err != nil {
			return err
		}
		a := strings.ToLower(*alg)
		if a == "" {
			a = signer.PayForResponseAlg(fields["HashType"], fields["ResponseHash"])
		}
		if a != signer.PayForSHA1 && a != signer.PayForSHA256 {
			return usagef("--alg %q: use sha1 or sha256", *alg)
		}
		plain := cmd.payForPlain(fields)
		if *explain {
			fmt.Fprintf(out, "digest: %s\nhashed text (MerchantId+MerchantPass+OrderId+AuthCode+ProcReturnCode+3DStatus+ResponseRnd+UserCode):\n%s\n",
				a, strings.Replace(plain, *cmd.merchantPass.value, mask(*cmd.merchantPass.value), 1))
		}
		fmt.Fprintln(out, signer.PayForResponseHash(a, plain))
	default:
		return usagef("unknown hash scheme %q; use est, payfor-request or payfor-response", args[0])
	}
	return nil
}

func mask(s string) string { return "<" + strings.Repeat("*", len(s)) + ">" }

// explainEST prints what EST v3 hashes: the sorted keys and the text with
// the store key masked.
func explainEST(w io.Writer, fields map[string]string, storeKey string) {
	keys := signer.ESTv3SortedKeys(fields)
	fmt.Fprintf(w, "hashed keys (PHP strnatcasecmp order; hash, encoding and nationalidno excluded):\n  %s\n", strings.Join(keys, ", "))
	var excluded []string
	for k := range fields {
		switch strings.ToLower(k) {
		case "hash", "encoding", "nationalidno":
			excluded = append(excluded, k)
		}
	}
	sort.Strings(excluded)
	if len(excluded) > 0 {
		fmt.Fprintf(w, "excluded: %s\n", strings.Join(excluded, ", "))
	}
	plain := signer.ESTv3Plaintext(fields, storeKey)
	esc := strings.NewReplacer(`\`, `\\`, `|`, `\|`).Replace(storeKey)
	fmt.Fprintf(w, "hashed text (store key masked):\n%s%s\n", strings.TrimSuffix(plain, esc), mask(storeKey))
}

func runVerify(_ context.Context, args []string, stdio Stdio) error {
	if len(args) == 0 {
		return usagef("verify needs a scheme: est or payfor")
	}
	cmd := newHashCmd("verify "+args[0], stdio)
	fields, err := cmd.fields(args[1:], stdio.In)
	if err != nil {
		return err
	}
	out, storeKey := stdio.Out, cmd.storeKey.value
	switch args[0] {
	case "est":
		if *cmd.storeKey.value == "" {
			return cmd.storeKey.missing(cmd.name)
		}
		if fields["HASHPARAMS"] != "" && !strings.EqualFold(fields["hashAlgorithm"], "ver3") {
			if err := signer.VerifyESTv1(fields, *storeKey); err != nil {
				fmt.Fprintf(out, "ver1 (legacy SHA-1, HASHPARAMS %q): does not verify: %v\n", fields["HASHPARAMS"], err)
				return &ExitError{Code: 1}
			}
			fmt.Fprintf(out, "ver1 (legacy SHA-1, HASHPARAMS %q): verifies\n", fields["HASHPARAMS"])
			return nil
		}
		if err := signer.VerifyESTv3(fields, *storeKey); err != nil {
			fmt.Fprintf(out, "ver3: does not verify: %v\n", err)
			if !errors.Is(err, signer.ErrHashMissing) {
				got := fields["HASH"]
				if got == "" {
					got = fields["hash"]
				}
				fmt.Fprintf(out, "  received HASH: %s\n  computed:      %s\n", got, signer.ESTv3Hash(fields, *storeKey))
				explainEST(out, fields, *storeKey)
				fmt.Fprintln(out, "Check the store key and that no field was added, renamed, trimmed or re-encoded on the way (dots in EXTRA.* names must stay dots).")
			}
			return &ExitError{Code: 1}
		}
		fmt.Fprintln(out, "ver3 (SHA-512): verifies")
	case "payfor":
		if err := cmd.needPayFor(); err != nil {
			return err
		}
		alg := signer.PayForResponseAlg(fields["HashType"], fields["ResponseHash"])
		if err := signer.VerifyPayForResponse(fields, *cmd.merchantID, *cmd.merchantPass.value, *cmd.userCode); err != nil {
			fmt.Fprintf(out, "ResponseHash (%s): does not verify: %v\n", alg, err)
			if !errors.Is(err, signer.ErrHashMissing) {
				fmt.Fprintf(out, "  received: %s\n  computed: %s\n", fields["ResponseHash"], signer.PayForResponseHash(alg, cmd.payForPlain(fields)))
			}
			return &ExitError{Code: 1}
		}
		fmt.Fprintf(out, "ResponseHash (%s): verifies\n", alg)
	default:
		return usagef("unknown verify scheme %q; use est or payfor", args[0])
	}
	return nil
}
