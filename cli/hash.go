package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/posrelay/posrelay/signer"
)

// readFields reads a JSON object of form fields from r. Strings are taken
// as they are, numbers and booleans as their JSON text, null as "".
func readFields(r io.Reader) (map[string]string, error) {
	data, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("stdin: want a JSON object of form fields, e.g. {\"oid\":\"order1\",\"amount\":\"1.00\"}: %v", err)
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
			return nil, fmt.Errorf("stdin: field %q is a JSON %T; form fields are strings", k, v)
		}
	}
	return out, nil
}

// hashCmd is hash or verify for one scheme: the bank credentials as flags
// (the command adds its own to fs), then the JSON fields on stdin.
type hashCmd struct {
	name                                         string // "hash est", "verify payfor"…
	fs                                           *flag.FlagSet
	storeKey, merchantPass, merchantID, userCode *string
}

func newHashCmd(name string, stdio Stdio) *hashCmd {
	fs := newFlags(name, stdio)
	return &hashCmd{
		name:         name,
		fs:           fs,
		storeKey:     fs.String("store-key", "", "EST store key (3-D secret)"),
		merchantPass: fs.String("merchant-pass", "", "PayFor merchant pass (3-D key)"),
		merchantID:   fs.String("merchant-id", "", "PayFor merchant id"),
		userCode:     fs.String("user-code", "", "PayFor user code"),
	}
}

// fields parses args and reads the form fields from in.
func (c *hashCmd) fields(args []string, in io.Reader) (map[string]string, error) {
	if _, err := parseFlags(c.fs, args); err != nil {
		return nil, err
	}
	return readFields(in)
}

// needPayFor is the usage error for missing PayFor response credentials,
// or nil.
func (c *hashCmd) needPayFor() error {
	if *c.merchantPass == "" || *c.merchantID == "" || *c.userCode == "" {
		return usagef("%s needs --merchant-pass, --merchant-id and --user-code", c.name)
	}
	return nil
}

// payForPlain is the text a PayFor ResponseHash is computed over.
func (c *hashCmd) payForPlain(fields map[string]string) string {
	return signer.PayForResponsePlaintext(*c.merchantID, *c.merchantPass, fields["OrderId"], fields["AuthCode"],
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
		if *cmd.storeKey == "" {
			return usagef("%s needs --store-key", cmd.name)
		}
		if *explain {
			explainEST(out, fields, *cmd.storeKey)
		}
		fmt.Fprintln(out, signer.ESTv3Hash(fields, *cmd.storeKey))
	case "payfor-request":
		if *cmd.merchantPass == "" {
			return usagef("hash payfor-request needs --merchant-pass")
		}
		plain := fields["MbrId"] + fields["OrderId"] + fields["PurchAmount"] + fields["OkUrl"] + fields["FailUrl"] +
			fields["TxnType"] + fields["InstallmentCount"] + fields["Rnd"]
		if *explain {
			fmt.Fprintf(out, "hashed text (MbrId+OrderId+PurchAmount+OkUrl+FailUrl+TxnType+InstallmentCount+Rnd+merchant pass):\n%s%s\n", plain, mask(*cmd.merchantPass))
		}
		fmt.Fprintln(out, signer.PayForRequestHash(fields["MbrId"], fields["OrderId"], fields["PurchAmount"], fields["OkUrl"],
			fields["FailUrl"], fields["TxnType"], fields["InstallmentCount"], fields["Rnd"], *cmd.merchantPass))
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
				a, strings.Replace(plain, *cmd.merchantPass, mask(*cmd.merchantPass), 1))
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
	out, storeKey := stdio.Out, cmd.storeKey
	switch args[0] {
	case "est":
		if *cmd.storeKey == "" {
			return usagef("%s needs --store-key", cmd.name)
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
		if err := signer.VerifyPayForResponse(fields, *cmd.merchantID, *cmd.merchantPass, *cmd.userCode); err != nil {
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
