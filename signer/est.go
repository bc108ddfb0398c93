package signer

import (
	"crypto/sha1"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Errors of the bank hash verifiers; the returned errors wrap one of them.
var (
	// ErrHashMissing: the message carries no hash (or no hash parameters) to
	// check.
	ErrHashMissing = errors.New("bank hash missing")
	// ErrHashMismatch: the hash does not match the message and the
	// configured secret.
	ErrHashMismatch = errors.New("bank hash mismatch")
	// ErrHashParamsMismatch (EST ver1): the values of the fields named in
	// HASHPARAMS do not concatenate to HASHPARAMSVAL.
	ErrHashParamsMismatch = errors.New("bank hash parameters mismatch")
)

// estV3Escaper escapes a ver3 value: "\" becomes "\\", then "|" becomes "\|".
// One pass gives the same result as the two replacements in that order.
var estV3Escaper = strings.NewReplacer(`\`, `\\`, `|`, `\|`)

// estV3Excluded reports whether a field never takes part in a ver3 hash.
func estV3Excluded(name string) bool {
	return strings.EqualFold(name, "hash") || strings.EqualFold(name, "encoding") || strings.EqualFold(name, "nationalidno")
}

// ESTv3SortedKeys returns the names of the fields that a Payten EST ver3 hash
// covers, in hash order: every name except hash, encoding and nationalidno
// (in any case), sorted with [StrNatCaseCmp]. The sort is stable over names
// first sorted bytewise, so names that compare equal (such as "Email" and
// "email") come out in byte order and the result never depends on map order.
func ESTv3SortedKeys(fields map[string]string) []string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		if !estV3Excluded(k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	slices.SortStableFunc(keys, StrNatCaseCmp)
	return keys
}

// ESTv3Plaintext returns the string an EST ver3 hash is computed over: the
// values of [ESTv3SortedKeys] followed by the store key, each with "\"
// escaped to "\\" and then "|" to "\|", joined by "|".
func ESTv3Plaintext(fields map[string]string, storeKey string) string {
	keys := ESTv3SortedKeys(fields)
	var b strings.Builder
	for _, k := range keys {
		_, _ = estV3Escaper.WriteString(&b, fields[k])
		b.WriteByte('|')
	}
	_, _ = estV3Escaper.WriteString(&b, storeKey)
	return b.String()
}

// ESTv3Hash returns the EST ver3 hash of fields: base64 (standard, padded) of
// the SHA-512 of [ESTv3Plaintext]. The relay puts it in the "hash" form field.
func ESTv3Hash(fields map[string]string, storeKey string) string {
	sum := sha512.Sum512([]byte(ESTv3Plaintext(fields, storeKey)))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// VerifyESTv3 checks the hash of an EST ver3 callback. fields are all the
// form fields as received (raw names, dotted EXTRA.* names included, values
// percent-decoded but not transcoded); the hash is recomputed over all of
// them and compared in constant time with the "HASH" field, or "hash" when
// there is no "HASH". The error wraps ErrHashMissing or ErrHashMismatch.
func VerifyESTv3(fields map[string]string, storeKey string) error {
	name := "HASH"
	got, ok := fields[name]
	if !ok {
		name = "hash"
		got = fields[name]
	}
	if got == "" {
		return fmt.Errorf("est ver3 callback: %w: no HASH field; check the store type sends hashAlgorithm=ver3 and that nothing strips form fields", ErrHashMissing)
	}
	if !constantTimeEqual(got, ESTv3Hash(fields, storeKey)) {
		return fmt.Errorf("est ver3 callback: %w: %s does not match the fields; check the store key and that no field was added, renamed or altered in transit", ErrHashMismatch, name)
	}
	return nil
}

// ESTv1RequestHash returns the legacy EST ver1 request hash:
// base64(SHA-1(clientid + oid + amount + okUrl + failUrl + islemtipi + taksit
// + rnd + storeKey)).
func ESTv1RequestHash(clientID, oid, amount, okURL, failURL, txType, installment, rnd, storeKey string) string {
	return sha1Base64(clientID + oid + amount + okURL + failURL + txType + installment + rnd + storeKey)
}

// VerifyESTv1 checks the hash of a legacy EST ver1 callback. HASHPARAMS lists
// field names separated by ":" (empty names, as after a trailing ":", are
// skipped; a named field that is absent counts as ""); their values
// concatenated must equal HASHPARAMSVAL (else ErrHashParamsMismatch), and
// HASH must equal base64(SHA-1(HASHPARAMSVAL + storeKey)), compared in
// constant time (else ErrHashMismatch). A missing HASH, HASHPARAMS or
// HASHPARAMSVAL is ErrHashMissing.
func VerifyESTv1(fields map[string]string, storeKey string) error {
	for _, f := range [...]string{"HASH", "HASHPARAMS", "HASHPARAMSVAL"} {
		if fields[f] == "" {
			return fmt.Errorf("est ver1 callback: %w: no %s field; a ver1 callback carries HASH, HASHPARAMS and HASHPARAMSVAL", ErrHashMissing, f)
		}
	}
	var concat strings.Builder
	for _, name := range strings.Split(fields["HASHPARAMS"], ":") {
		if name != "" {
			concat.WriteString(fields[name])
		}
	}
	paramsVal := fields["HASHPARAMSVAL"]
	if concat.String() != paramsVal {
		return fmt.Errorf("est ver1 callback: %w: the fields named in HASHPARAMS do not concatenate to HASHPARAMSVAL; a field was altered in transit", ErrHashParamsMismatch)
	}
	if !constantTimeEqual(fields["HASH"], sha1Base64(paramsVal+storeKey)) {
		return fmt.Errorf("est ver1 callback: %w: HASH does not match HASHPARAMSVAL; check the store key", ErrHashMismatch)
	}
	return nil
}

func sha1Base64(s string) string {
	sum := sha1.Sum([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// constantTimeEqual compares two strings in time that depends only on their
// lengths.
func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
