package bank

import (
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// FreeTextHasCardNumber reports whether text a person typed (an operator's
// note) may hold a card number, however written: digits in any script
// (NFKC folds full-width ones), in groups of any size joined by up to
// three characters that are neither letters nor digits ("4355 0843 5508
// 4358", "4355.0843.5508.4358", "4355 - 0843 - …"). Any run of whole
// consecutive groups with 13–19 digits that passes the Luhn check counts.
// A word between two numbers keeps them apart ("RRN 123456789012 auth
// 123456"), and a single group is judged alone, so a 12-digit RRN or a
// long order number that fails Luhn passes.
func FreeTextHasCardNumber(text string) bool {
	var groups []string // digit groups of the current candidate
	var cur []byte
	gap := 0 // separators since the last digit
	flush := func() bool {
		if len(cur) > 0 {
			groups = append(groups, string(cur))
			cur = cur[:0]
		}
		found := luhnWindow(groups)
		groups = groups[:0]
		return found
	}
	for _, r := range norm.NFKC.String(text) {
		switch {
		case '0' <= r && r <= '9':
			if gap > 0 && len(cur) > 0 {
				groups = append(groups, string(cur))
				cur = cur[:0]
			}
			cur = append(cur, byte(r))
			gap = 0
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			// A letter (or a digit NFKC leaves alone) ends the number.
			if flush() {
				return true
			}
			gap = 0
		default:
			gap++
			if gap > 3 && flush() {
				return true
			}
		}
	}
	return flush()
}

// luhnWindow reports whether whole consecutive groups join to 13–19
// digits passing the Luhn check.
func luhnWindow(groups []string) bool {
	for a := range groups {
		d := ""
		for b := a; b < len(groups); b++ {
			d += groups[b]
			if len(d) > 19 {
				break
			}
			if len(d) >= 13 && Luhn(d) {
				return true
			}
		}
	}
	return false
}
