package signer

import (
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// loadJSON decodes testdata/name into v, refusing unknown fields so a typo in
// a vector file cannot silently drop a check.
func loadJSON(t testing.TB, name string, v any) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("testdata/%s: %v", name, err)
	}
}

type estV3Vector struct {
	Name       string            `json:"name"`
	StoreKey   string            `json:"storeKey"`
	Fields     map[string]string `json:"fields"`
	SortedKeys []string          `json:"sortedKeys"`
	Plaintext  string            `json:"plaintext"`
	Hash       string            `json:"hash"`
}

func TestESTv3Vectors(t *testing.T) {
	for _, file := range []string{"estv3_vectors.json", "estv3_derived.json"} {
		var doc struct {
			Source  string        `json:"source"`
			Vectors []estV3Vector `json:"vectors"`
		}
		loadJSON(t, file, &doc)
		if len(doc.Vectors) == 0 {
			t.Fatalf("%s: no vectors", file)
		}
		for _, v := range doc.Vectors {
			t.Run(v.Name, func(t *testing.T) {
				if v.SortedKeys != nil {
					if got := ESTv3SortedKeys(v.Fields); !slices.Equal(got, v.SortedKeys) {
						t.Errorf("ESTv3SortedKeys = %q; want %q", got, v.SortedKeys)
					}
				}
				if got := ESTv3Plaintext(v.Fields, v.StoreKey); got != v.Plaintext {
					t.Errorf("ESTv3Plaintext =\n %s\nwant\n %s", got, v.Plaintext)
				}
				if got := ESTv3Hash(v.Fields, v.StoreKey); got != v.Hash {
					t.Errorf("ESTv3Hash = %s; want %s", got, v.Hash)
				}
				// The same map, as a callback carrying the hash, verifies.
				cb := maps.Clone(v.Fields)
				cb["HASH"] = v.Hash
				if err := VerifyESTv3(cb, v.StoreKey); err != nil {
					t.Errorf("VerifyESTv3 of the vector as a callback: %v", err)
				}
			})
		}
	}
}

func TestESTv1Vectors(t *testing.T) {
	var doc struct {
		Source   string `json:"source"`
		Requests []struct {
			Name, ClientID, OID, Amount, OKURL, FailURL, Islemtipi, Taksit, Rnd, StoreKey, Hash string
		} `json:"requests"`
		Callbacks []struct {
			Name     string            `json:"name"`
			StoreKey string            `json:"storeKey"`
			Fields   map[string]string `json:"fields"`
		} `json:"callbacks"`
	}
	loadJSON(t, "estv1_vectors.json", &doc)
	for _, v := range doc.Requests {
		t.Run(v.Name, func(t *testing.T) {
			got := ESTv1RequestHash(v.ClientID, v.OID, v.Amount, v.OKURL, v.FailURL, v.Islemtipi, v.Taksit, v.Rnd, v.StoreKey)
			if got != v.Hash {
				t.Errorf("ESTv1RequestHash = %s; want %s", got, v.Hash)
			}
		})
	}
	for _, v := range doc.Callbacks {
		t.Run(v.Name, func(t *testing.T) {
			if err := VerifyESTv1(v.Fields, v.StoreKey); err != nil {
				t.Errorf("VerifyESTv1: %v", err)
			}
			if err := VerifyESTv1(v.Fields, v.StoreKey+"x"); !errors.Is(err, ErrHashMismatch) {
				t.Errorf("VerifyESTv1 with a wrong store key = %v; want ErrHashMismatch", err)
			}
		})
	}
	if len(doc.Requests) == 0 || len(doc.Callbacks) == 0 {
		t.Fatal("estv1_vectors.json: no vectors")
	}
}

type payForResponseVector struct {
	Name         string            `json:"name"`
	MerchantID   string            `json:"merchantId"`
	MerchantPass string            `json:"merchantPass"`
	UserCode     string            `json:"userCode"`
	Fields       map[string]string `json:"fields"`
	Plaintext    string            `json:"plaintext"`
	Valid        bool              `json:"valid"`
	Alg          string            `json:"alg"`
}

func TestPayForVectors(t *testing.T) {
	var doc struct {
		Source   string `json:"source"`
		Requests []struct {
			Name, MbrID, OrderID, PurchAmount, OkURL, FailURL, TxnType, InstallmentCount, Rnd, MerchantPass, Hash string
		} `json:"requests"`
		Responses []payForResponseVector `json:"responses"`
	}
	loadJSON(t, "payfor_vectors.json", &doc)
	var derived struct {
		Source    string                 `json:"source"`
		Responses []payForResponseVector `json:"responses"`
	}
	loadJSON(t, "payfor_derived.json", &derived)

	for _, v := range doc.Requests {
		t.Run(v.Name, func(t *testing.T) {
			got := PayForRequestHash(v.MbrID, v.OrderID, v.PurchAmount, v.OkURL, v.FailURL, v.TxnType, v.InstallmentCount, v.Rnd, v.MerchantPass)
			if got != v.Hash {
				t.Errorf("PayForRequestHash = %s; want %s", got, v.Hash)
			}
		})
	}
	for _, v := range append(doc.Responses, derived.Responses...) {
		t.Run(v.Name, func(t *testing.T) {
			f := v.Fields
			plain := PayForResponsePlaintext(v.MerchantID, v.MerchantPass, f["OrderId"], f["AuthCode"], f["ProcReturnCode"], f["3DStatus"], f["ResponseRnd"], v.UserCode)
			if plain != v.Plaintext {
				t.Errorf("PayForResponsePlaintext =\n %s\nwant\n %s", plain, v.Plaintext)
			}
			if v.Valid {
				alg := v.Alg
				if alg == "" {
					alg = PayForSHA1
				}
				if got := PayForResponseHash(alg, plain); got != f["ResponseHash"] {
					t.Errorf("PayForResponseHash(%s) = %s; want %s", alg, got, f["ResponseHash"])
				}
			}
			err := VerifyPayForResponse(f, v.MerchantID, v.MerchantPass, v.UserCode)
			switch {
			case v.Valid && err != nil:
				t.Errorf("VerifyPayForResponse: %v", err)
			case !v.Valid && !errors.Is(err, ErrHashMismatch):
				t.Errorf("VerifyPayForResponse = %v; want ErrHashMismatch", err)
			}
		})
	}
	if len(doc.Requests) == 0 || len(doc.Responses) == 0 || len(derived.Responses) == 0 {
		t.Fatal("payfor vectors: no vectors")
	}
}

func TestVakifCPVectors(t *testing.T) {
	var doc struct {
		Source  string `json:"source"`
		Vectors []struct {
			Name, HostMerchantID, AmountCode, Amount, MerchantPassword, Hash string
		} `json:"vectors"`
	}
	loadJSON(t, "vakifcp_vectors.json", &doc)
	if len(doc.Vectors) == 0 {
		t.Fatal("vakifcp_vectors.json: no vectors")
	}
	for _, v := range doc.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			if got := VakifCPHash(v.HostMerchantID, v.AmountCode, v.Amount, v.MerchantPassword); got != v.Hash {
				t.Errorf("VakifCPHash = %s; want %s", got, v.Hash)
			}
		})
	}
}

func TestWebhookVectors(t *testing.T) {
	var doc struct {
		Source  string `json:"source"`
		Vectors []struct {
			Name, Secret, ID string
			Timestamp        int64
			Body, Signature  string
		} `json:"vectors"`
	}
	loadJSON(t, "webhook_vectors.json", &doc)
	if len(doc.Vectors) == 0 {
		t.Fatal("webhook_vectors.json: no vectors")
	}
	for _, v := range doc.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			key, err := ParseWebhookSecret(v.Secret)
			if err != nil {
				t.Fatal(err)
			}
			if got := SignWebhook(key, v.ID, v.Timestamp, []byte(v.Body)); got != v.Signature {
				t.Errorf("SignWebhook = %s; want %s", got, v.Signature)
			}
			now := time.Unix(v.Timestamp, 0)
			if err := VerifyWebhook(key, v.ID, itoa(v.Timestamp), v.Signature, []byte(v.Body), now, 0); err != nil {
				t.Errorf("VerifyWebhook: %v", err)
			}
		})
	}
}

func TestAuthVectors(t *testing.T) {
	var doc struct {
		Source  string `json:"source"`
		Vectors []struct {
			Name, Secret, KeyID                                  string
			Timestamp                                            int64
			Nonce, Method, Target, Body, StringToSign, Signature string
		} `json:"vectors"`
	}
	loadJSON(t, "auth_vectors.json", &doc)
	if len(doc.Vectors) == 0 {
		t.Fatal("auth_vectors.json: no vectors")
	}
	for _, v := range doc.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			if got := StringToSign(v.KeyID, itoa(v.Timestamp), v.Nonce, v.Method, v.Target, []byte(v.Body)); got != v.StringToSign {
				t.Errorf("StringToSign =\n%s\nwant\n%s", got, v.StringToSign)
			}
			if got := Sign([]byte(v.Secret), v.KeyID, v.Timestamp, v.Nonce, v.Method, v.Target, []byte(v.Body)); got != v.Signature {
				t.Errorf("Sign = %s; want %s", got, v.Signature)
			}
			ver, err := NewVerifier([]Key{{ID: v.KeyID, SiteID: "site", Secret: []byte(v.Secret)}},
				VerifierOptions{Now: func() time.Time { return time.Unix(v.Timestamp, 0) }})
			if err != nil {
				t.Fatal(err)
			}
			r := Request{Method: v.Method, Target: v.Target, Body: []byte(v.Body),
				KeyID: v.KeyID, Timestamp: itoa(v.Timestamp), Nonce: v.Nonce, Signature: v.Signature}
			if _, err := ver.Verify(r); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

func TestStrNatCaseCmpCases(t *testing.T) {
	var doc struct {
		Source string `json:"source"`
		Cases  []struct {
			A    string `json:"a"`
			B    string `json:"b"`
			Want int    `json:"want"`
			Why  string `json:"why"`
		} `json:"cases"`
	}
	loadJSON(t, "strnatcasecmp.json", &doc)
	if len(doc.Cases) == 0 {
		t.Fatal("strnatcasecmp.json: no cases")
	}
	for _, c := range doc.Cases {
		t.Run(c.Why, func(t *testing.T) {
			if got := StrNatCaseCmp(c.A, c.B); got != c.Want {
				t.Errorf("StrNatCaseCmp(%q, %q) = %d; want %d", c.A, c.B, got, c.Want)
			}
			if got := StrNatCaseCmp(c.B, c.A); got != -c.Want {
				t.Errorf("StrNatCaseCmp(%q, %q) = %d; want %d", c.B, c.A, got, -c.Want)
			}
		})
	}
}
