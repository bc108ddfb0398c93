package banksim

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ValidPAN reports whether s looks like a card number to a bank's card
// page: 12 to 19 digits that pass the Luhn check.
func ValidPAN(s string) bool { return luhn(s) }

// Brand names the card scheme the way the banks print it: "VISA",
// "MASTERCARD", "TROY", "AMEX" or "".
func Brand(pan string) string {
	switch {
	case strings.HasPrefix(pan, "34"), strings.HasPrefix(pan, "37"):
		return "AMEX"
	case strings.HasPrefix(pan, "4"):
		return "VISA"
	case strings.HasPrefix(pan, "5"), strings.HasPrefix(pan, "2"):
		return "MASTERCARD"
	case strings.HasPrefix(pan, "9"), strings.HasPrefix(pan, "65"):
		return "TROY"
	}
	return ""
}

// MaskGrouped masks a card number in groups of four, first six and last
// four digits shown: "4355 08** **** 4358".
func MaskGrouped(pan string) string {
	if len(pan) < 12 {
		return strings.Repeat("*", len(pan))
	}
	m := pan[:6] + strings.Repeat("*", len(pan)-10) + pan[len(pan)-4:]
	var b strings.Builder
	for i := 0; i < len(m); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(m[i:min(i+4, len(m))])
	}
	return b.String()
}

// MaskShort masks a card number with three stars between the first six and
// the last four digits: "435508***4358".
func MaskShort(pan string) string {
	if len(pan) < 12 {
		return strings.Repeat("*", len(pan))
	}
	return pan[:6] + "***" + pan[len(pan)-4:]
}

// ParseExpiry reads a card expiry month ("1"–"12", "01"–"12") and a two- or
// four-digit year.
func ParseExpiry(month, year string) (m, y int, err error) {
	m, err = strconv.Atoi(month)
	if err != nil || len(month) > 2 || m < 1 || m > 12 {
		return 0, 0, fmt.Errorf("expiry month %q", month)
	}
	y, err = strconv.Atoi(year)
	switch {
	case err != nil || y < 0:
		return 0, 0, fmt.Errorf("expiry year %q", year)
	case len(year) == 2:
		y += 2000
	case len(year) != 4:
		return 0, 0, fmt.Errorf("expiry year %q", year)
	}
	return m, y, nil
}

// Expired reports whether a card valid through month m of year y has
// expired at now (it is valid until the end of that month, Türkiye time).
func Expired(m, y int, now time.Time) bool {
	end := time.Date(y, time.Month(m)+1, 1, 0, 0, 0, 0, Turkey)
	return !now.Before(end)
}

// ValidCVV reports whether s is a three- or four-digit security code.
func ValidCVV(s string) bool {
	if len(s) < 3 || len(s) > 4 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
