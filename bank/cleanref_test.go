package bank

import (
	"strconv"
	"strings"
	"testing"
)

// TestCleanRef: references from callbacks are outside input; only what a
// reference can be is kept.
func TestCleanRef(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   Ref
		want Ref
	}{
		{"typical EST", Ref{AuthCode: "P12345", HostRef: "412345678901", TransID: "24135Kp3G12345", MaskedPAN: "435508***4358"},
			Ref{AuthCode: "P12345", HostRef: "412345678901", TransID: "24135Kp3G12345", MaskedPAN: "435508***4358"}},
		{"VakıfBank GUID and grouped mask", Ref{TransID: "z2d71cc5-d242-4b01-8479-d56eb8f74d7", MaskedPAN: "4355 08** **** 4358"},
			Ref{TransID: "z2d71cc5-d242-4b01-8479-d56eb8f74d7", MaskedPAN: "4355 08** **** 4358"}},
		{"X mask, 8-digit BIN", Ref{MaskedPAN: "43550843XXXX4358"}, Ref{MaskedPAN: "43550843XXXX4358"}},
		{"full card number as the mask is masked", Ref{MaskedPAN: "4355084355084358"}, Ref{MaskedPAN: MaskPAN("4355084355084358")}},
		{"card number with a star appended is dropped", Ref{MaskedPAN: "5400000000000005*"}, Ref{}},
		{"too many trailing digits", Ref{MaskedPAN: "4355******084358"}, Ref{}},
		{"8 and 4 of a 16-digit number", Ref{MaskedPAN: "49384601****4205"}, Ref{MaskedPAN: "49384601****4205"}},
		{"8 and 4 of a 13-digit number give it away", Ref{MaskedPAN: "43550843*4358"}, Ref{}},
		{"6 and 4 of a 13-digit number", Ref{MaskedPAN: "435508***4358"}, Ref{MaskedPAN: "435508***4358"}},
		{"padded with spaces", Ref{MaskedPAN: "4355" + strings.Repeat(" ", 40) + "08******4358"}, Ref{}},
		{"markup in the mask", Ref{MaskedPAN: "<script>alert(1)</script>"}, Ref{}},
		{"no mask at all", Ref{MaskedPAN: "4355"}, Ref{}},
		{"card number as the RRN", Ref{HostRef: "4355084355084358"}, Ref{}},
		{"card number inside the auth code", Ref{AuthCode: "A4355084355084358"}, Ref{}},
		{"CRLF in the RRN", Ref{HostRef: "4123\r\nX-Injected: 1"}, Ref{}},
		{"oversized id", Ref{HostRef: string(make([]byte, 3000))}, Ref{}},
		{"long numeric transaction id kept", Ref{TransID: "4355084355084358"}, Ref{TransID: "4355084355084358"}},
		{"20-digit run is not a card number", Ref{HostRef: "43550843550843580000"}, Ref{HostRef: "43550843550843580000"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := CleanRef(tt.in); got != tt.want {
				t.Errorf("CleanRef(%+v) = %+v; want %+v", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzCleanRef: whatever goes in, what comes out is a subset of the input
// holding no card number and no character outside the id set.
func FuzzCleanRef(f *testing.F) {
	f.Add("P12345", "412345678901", "24135Kp3G12345", "435508***4358")
	f.Add("", "4355084355084358", "", "5400000000000005*")
	f.Fuzz(func(t *testing.T, auth, host, trans, masked string) {
		out := CleanRef(Ref{AuthCode: auth, HostRef: host, TransID: trans, MaskedPAN: masked})
		for _, v := range []string{out.AuthCode, out.HostRef, out.MaskedPAN} {
			if hasCardNumber(v) {
				t.Fatalf("%q holds a card number", v)
			}
		}
		for _, v := range []string{out.AuthCode, out.HostRef, out.TransID} {
			if len(v) > 64 {
				t.Fatalf("%q is longer than 64 bytes", v)
			}
			for i := 0; i < len(v); i++ {
				if v[i] < '!' || v[i] > '~' {
					t.Fatalf("%q holds byte %#x", v, v[i])
				}
			}
		}
		if out.MaskedPAN != "" && out.MaskedPAN != masked && out.MaskedPAN != MaskPAN(strings.ReplaceAll(masked, " ", "")) {
			t.Fatalf("mask %q became %q", masked, out.MaskedPAN)
		}
	})
}

func TestParseInstallments(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"", 0, true}, {"0", 1, true}, {"1", 1, true}, {"3", 3, true}, {"12", 12, true},
		{"-1", 0, false}, {"3 ", 0, false}, {"123", 0, false}, {"x", 0, false}, {"٣", 0, false},
	} {
		t.Run("InstallmentCount "+strconv.Quote(tt.in), func(t *testing.T) {
			if got, ok := ParseInstallments(tt.in); got != tt.want || ok != tt.ok {
				t.Errorf("ParseInstallments(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}
