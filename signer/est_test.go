package signer

import (
	"errors"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
)

type estCallback struct {
	Name       string            `json:"name"`
	StoreKey   string            `json:"storeKey"`
	Fields     map[string]string `json:"fields"`
	SortedKeys []string          `json:"sortedKeys"`
	Hash       string            `json:"hash"`
}

func loadESTCallbacks(t testing.TB) []estCallback {
	t.Helper()
	var doc struct {
		Source    string        `json:"source"`
		Callbacks []estCallback `json:"callbacks"`
	}
	loadJSON(t, "est_callbacks.json", &doc)
	if len(doc.Callbacks) == 0 {
		t.Fatal("est_callbacks.json: no callbacks")
	}
	return doc.Callbacks
}

// TestVerifyESTv3Callbacks signs real callback field sets (EST-F3, F5, F9,
// with the dotted EXTRA.* names Payten posts) and checks that the signed map
// verifies and that every kind of tampering is caught.
func TestVerifyESTv3Callbacks(t *testing.T) {
	for _, cb := range loadESTCallbacks(t) {
		t.Run(cb.Name, func(t *testing.T) {
			if got := ESTv3SortedKeys(cb.Fields); !slices.Equal(got, cb.SortedKeys) {
				t.Fatalf("ESTv3SortedKeys =\n %q\nwant (independent lower-case sort)\n %q", got, cb.SortedKeys)
			}
			if got := ESTv3Hash(cb.Fields, cb.StoreKey); got != cb.Hash {
				t.Fatalf("ESTv3Hash = %s; want %s", got, cb.Hash)
			}
			signedFields := func() map[string]string {
				f := maps.Clone(cb.Fields)
				f["HASH"] = cb.Hash
				return f
			}
			firstExtra := ""
			for _, k := range cb.SortedKeys {
				if strings.HasPrefix(k, "EXTRA.") {
					firstExtra = k
					break
				}
			}
			tests := []struct {
				name     string
				edit     func(f map[string]string)
				storeKey string // "" = cb.StoreKey
				want     error  // nil = verifies
			}{
				{name: "signed callback verifies", edit: func(map[string]string) {}},
				{name: "lower-case hash field used when HASH is absent", edit: func(f map[string]string) {
					f["hash"] = f["HASH"]
					delete(f, "HASH")
				}},
				{name: "HASH wins over hash", edit: func(f map[string]string) { f["hash"] = "bogus" }},
				{name: "encoding and nationalidno do not count", edit: func(f map[string]string) {
					f["encoding"] = "UTF-8"
					f["NATIONALIDNO"] = "12345678901"
					f["NationalIdNo"] = "x"
				}},
				{name: "amount changed", want: ErrHashMismatch, edit: func(f map[string]string) { f["amount"] = "1001.00" }},
				{name: "value case changed", want: ErrHashMismatch, edit: func(f map[string]string) { f["storetype"] = strings.ToUpper(f["storetype"]) }},
				{name: "trailing space added", want: ErrHashMismatch, edit: func(f map[string]string) { f["oid"] += " " }},
				{name: "field added", want: ErrHashMismatch, edit: func(f map[string]string) { f["csrf_token"] = "abc" }},
				{name: "empty field added", want: ErrHashMismatch, edit: func(f map[string]string) { f["extra"] = "" }},
				{name: "field removed", want: ErrHashMismatch, edit: func(f map[string]string) { delete(f, "mdStatus") }},
				{name: "empty field removed", want: ErrHashMismatch, edit: func(f map[string]string) { delete(f, "taksit") }},
				{name: "pipe moved between fields", want: ErrHashMismatch, edit: func(f map[string]string) {
					f["oid"] += "|" + f["okUrl"]
					f["okUrl"] = ""
				}},
				{name: "dotted EXTRA name rewritten with underscore", want: ErrHashMismatch, edit: func(f map[string]string) {
					if firstExtra == "" {
						f["EXTRA_X"] = ""
						return
					}
					f["EXTRA_"+strings.TrimPrefix(firstExtra, "EXTRA.")] = f[firstExtra]
					delete(f, firstExtra)
				}},
				{name: "hash of another store key", want: ErrHashMismatch, storeKey: "123456", edit: func(map[string]string) {}},
				{name: "hash truncated", want: ErrHashMismatch, edit: func(f map[string]string) { f["HASH"] = f["HASH"][:87] }},
				{name: "HASH missing", want: ErrHashMissing, edit: func(f map[string]string) { delete(f, "HASH") }},
				{name: "HASH empty", want: ErrHashMissing, edit: func(f map[string]string) { f["HASH"] = "" }},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					f := signedFields()
					tc.edit(f)
					sk := tc.storeKey
					if sk == "" {
						sk = cb.StoreKey
					}
					err := VerifyESTv3(f, sk)
					if tc.want == nil {
						if err != nil {
							t.Fatalf("VerifyESTv3: %v", err)
						}
						return
					}
					if !errors.Is(err, tc.want) {
						t.Fatalf("VerifyESTv3 = %v; want %v", err, tc.want)
					}
					if strings.Contains(err.Error(), cb.StoreKey) || strings.Contains(err.Error(), cb.Hash) {
						t.Errorf("error %q leaks the store key or the hash", err)
					}
				})
			}
		})
	}
}

// TestESTv3SortedKeysMatchesSort checks ESTv3SortedKeys against a plain
// insertion sort with StrNatCaseCmp (what PHP's zend_sort does for small
// arrays), tie-broken by byte order.
func TestESTv3SortedKeysMatchesSort(t *testing.T) {
	for _, cb := range loadESTCallbacks(t) {
		t.Run(cb.Name, func(t *testing.T) {
			var keys []string
			for k := range cb.Fields {
				if !estV3Excluded(k) {
					keys = append(keys, k)
				}
			}
			sort.Strings(keys)
			for i := 1; i < len(keys); i++ {
				for j := i; j > 0 && StrNatCaseCmp(keys[j-1], keys[j]) > 0; j-- {
					keys[j-1], keys[j] = keys[j], keys[j-1]
				}
			}
			if got := ESTv3SortedKeys(cb.Fields); !slices.Equal(got, keys) {
				t.Errorf("ESTv3SortedKeys =\n %q\nwant\n %q", got, keys)
			}
		})
	}
}

func TestVerifyESTv1(t *testing.T) {
	var doc struct {
		Source    string `json:"source"`
		Requests  []any  `json:"requests"`
		Callbacks []struct {
			Name     string            `json:"name"`
			StoreKey string            `json:"storeKey"`
			Fields   map[string]string `json:"fields"`
		} `json:"callbacks"`
	}
	loadJSON(t, "estv1_vectors.json", &doc)
	cb := doc.Callbacks[0]
	tests := []struct {
		name     string
		edit     func(f map[string]string)
		storeKey string
		want     error
	}{
		{name: "EST1-2 verifies", edit: func(map[string]string) {}},
		{name: "fields outside HASHPARAMS may change", edit: func(f map[string]string) { f["lang"] = "en" }},
		{name: "field named in HASHPARAMS changed", want: ErrHashParamsMismatch, edit: func(f map[string]string) { f["mdStatus"] = "1" }},
		{name: "field named in HASHPARAMS removed", want: ErrHashParamsMismatch, edit: func(f map[string]string) { delete(f, "rnd") }},
		{name: "absent named field counts as empty", edit: func(f map[string]string) { delete(f, "cavv") }},
		{name: "HASHPARAMSVAL changed", want: ErrHashParamsMismatch, edit: func(f map[string]string) { f["HASHPARAMSVAL"] += "0" }},
		{name: "HASHPARAMS reordered", want: ErrHashParamsMismatch, edit: func(f map[string]string) {
			f["HASHPARAMS"] = "oid:clientid:mdStatus:cavv:eci:md:rnd:"
		}},
		{name: "HASHPARAMS without trailing colon", edit: func(f map[string]string) {
			f["HASHPARAMS"] = strings.TrimSuffix(f["HASHPARAMS"], ":")
		}},
		{name: "field and HASHPARAMSVAL changed together", want: ErrHashMismatch, edit: func(f map[string]string) {
			f["mdStatus"] = "1"
			f["HASHPARAMSVAL"] = strings.Replace(f["HASHPARAMSVAL"], "1C440435508", "1C441435508", 1)
		}},
		{name: "HASH changed", want: ErrHashMismatch, edit: func(f map[string]string) { f["HASH"] = "A" + f["HASH"][1:] }},
		{name: "wrong store key", want: ErrHashMismatch, storeKey: "TRPS0201", edit: func(map[string]string) {}},
		{name: "HASH missing", want: ErrHashMissing, edit: func(f map[string]string) { delete(f, "HASH") }},
		{name: "HASHPARAMS missing", want: ErrHashMissing, edit: func(f map[string]string) { delete(f, "HASHPARAMS") }},
		{name: "HASHPARAMSVAL empty", want: ErrHashMissing, edit: func(f map[string]string) { f["HASHPARAMSVAL"] = "" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := maps.Clone(cb.Fields)
			tc.edit(f)
			sk := tc.storeKey
			if sk == "" {
				sk = cb.StoreKey
			}
			err := VerifyESTv1(f, sk)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("VerifyESTv1: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("VerifyESTv1 = %v; want %v", err, tc.want)
			}
			for _, other := range []error{ErrHashMissing, ErrHashMismatch, ErrHashParamsMismatch} {
				if other != tc.want && errors.Is(err, other) {
					t.Errorf("VerifyESTv1 error also matches %v", other)
				}
			}
			if strings.Contains(err.Error(), cb.StoreKey) {
				t.Errorf("error %q leaks the store key", err)
			}
		})
	}
}

func TestVerifyPayForResponseErrors(t *testing.T) {
	const mid, pass, user = "085300000009704", "12345678", "QNB_API_KULLANICI_3DPAY"
	valid := map[string]string{
		"OrderId": "20221031FD04", "AuthCode": "", "ProcReturnCode": "V033", "3DStatus": "1",
		"ResponseRnd": "PF638028511007418219", "ResponseHash": "rVcKoOOl3jKukGLHcQaVM6ZuznU=",
	}
	tests := []struct {
		name string
		edit func(f map[string]string)
		pass string
		want error
	}{
		{name: "PF-2 verifies", edit: func(map[string]string) {}},
		{name: "HashType Sha1 in lower case", edit: func(f map[string]string) { f["HashType"] = "sha1" }},
		{name: "ResponseHash missing", want: ErrHashMissing, edit: func(f map[string]string) { delete(f, "ResponseHash") }},
		{name: "ResponseHash empty", want: ErrHashMissing, edit: func(f map[string]string) { f["ResponseHash"] = "" }},
		{name: "OrderId changed", want: ErrHashMismatch, edit: func(f map[string]string) { f["OrderId"] = "20221031FD05" }},
		{name: "ProcReturnCode forged to approved", want: ErrHashMismatch, edit: func(f map[string]string) { f["ProcReturnCode"] = "00" }},
		{name: "AuthCode added", want: ErrHashMismatch, edit: func(f map[string]string) { f["AuthCode"] = "123456" }},
		{name: "wrong merchant password", want: ErrHashMismatch, pass: "87654321", edit: func(map[string]string) {}},
		{name: "HashType Sha256 with a SHA-1 hash", want: ErrHashMismatch, edit: func(f map[string]string) {
			f["HashType"] = "Sha256"
			f["ResponseHash"] += "xxxxxxxxxxxxxxxx" // 44 chars: length no longer says SHA-1
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := maps.Clone(valid)
			tc.edit(f)
			p := tc.pass
			if p == "" {
				p = pass
			}
			err := VerifyPayForResponse(f, mid, p, user)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("VerifyPayForResponse: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("VerifyPayForResponse = %v; want %v", err, tc.want)
			}
			if strings.Contains(err.Error(), p) || strings.Contains(err.Error(), valid["ResponseHash"]) {
				t.Errorf("error %q leaks the merchant password or the hash", err)
			}
		})
	}
}

func TestPayForResponseHashAlg(t *testing.T) {
	const plain = "abc"
	tests := []struct {
		alg     string
		wantLen int
	}{
		{PayForSHA1, 28}, {"SHA1", 28}, {PayForSHA256, 44}, {"Sha256", 44}, {"md5", 0}, {"", 0},
	}
	for _, tc := range tests {
		t.Run("alg "+tc.alg, func(t *testing.T) {
			if got := PayForResponseHash(tc.alg, plain); len(got) != tc.wantLen {
				t.Errorf("PayForResponseHash(%q) = %q; want %d chars", tc.alg, got, tc.wantLen)
			}
		})
	}
}
