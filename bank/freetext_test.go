package bank

import (
	"testing"

	"github.com/posrelay/posrelay/internal/leakscan"
)

var freeTextCases = []struct {
	name string
	text string
	want bool
}{
	{"plain", "card 4355084355084358 refunded", true},
	{"groups of four", "4355 0843 5508 4358", true},
	{"hyphens", "4355-0843-5508-4358", true},
	{"spaced hyphens", "4355 - 0843 - 5508 - 4358", true},
	{"dots", "4355.0843.5508.4358", true},
	{"slashes", "4355/0843/5508/4358", true},
	{"double spaces", "4355  0843  5508  4358", true},
	{"full-width digits", "４３５５０８４３５５０８４３５８", true},
	{"Amex groups", "3782 822463 10005", true},
	{"touching a word", "pan4355084355084358x", true},
	{"after a date", "2026-11-22 4355 0843 5508 4358", true},
	{"RRN and auth code apart", "RRN 123456789012 auth 123456", false},
	{"RRN alone", "seen in the panel, RRN 123456789012", false},
	{"date and order", "order 2024-05-01 12345", false},
	{"long order number failing Luhn", "order 4355084355084359", false},
	{"far apart by punctuation", "4355 0843 ..... 5508 4358", false},
	{"empty", "", false},
	{"Turkish text", "iade şubede görüldü", false},
}

func TestFreeTextHasCardNumber(t *testing.T) {
	for _, tc := range freeTextCases {
		t.Run(tc.name, func(t *testing.T) {
			if got := FreeTextHasCardNumber(tc.text); got != tc.want {
				t.Errorf("FreeTextHasCardNumber(%q) = %v; want %v", tc.text, got, tc.want)
			}
		})
	}
}

// FuzzFreeTextHasCardNumber: the gate for typed notes is at least as
// strict as the scanner that checks the logs; whatever leakscan would
// call a card number, the gate refuses.
func FuzzFreeTextHasCardNumber(f *testing.F) {
	for _, tc := range freeTextCases {
		f.Add(tc.text)
	}
	f.Fuzz(func(t *testing.T, text string) {
		got := FreeTextHasCardNumber(text)
		if pans := leakscan.FindPANs([]byte(text)); len(pans) > 0 && !got {
			t.Fatalf("leakscan finds %s… in %q, the gate lets it pass", pans[0].Digits[:6], text)
		}
	})
}
