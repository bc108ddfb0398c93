package banksim

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ParseAmount reads a decimal amount as the banks accept it ("100.25",
// "1,01", "5", ".5") into minor units. At most two decimals, no sign, no
// thousands separators. The simulators keep their own parser so that a bug
// in the relay's cannot hide behind a shared one.
func ParseAmount(s string) (int64, error) {
	if s == "" {
		return 0, errors.New("empty amount")
	}
	whole, frac, _ := strings.Cut(strings.Replace(s, ",", ".", 1), ".")
	if len(frac) > 2 || len(whole) > 13 || (whole == "" && frac == "") || !digits(whole) || !digits(frac) {
		return 0, fmt.Errorf("amount %q is not a decimal with at most two decimals", s)
	}
	var w, f int64
	if whole != "" {
		w, _ = strconv.ParseInt(whole, 10, 64)
	}
	if frac != "" {
		f, _ = strconv.ParseInt(frac, 10, 64)
		if len(frac) == 1 {
			f *= 10
		}
	}
	return w*100 + f, nil
}

// FormatAmount writes minor units with a '.' and two decimals: 101 → "1.01".
func FormatAmount(minor int64) string {
	return fmt.Sprintf("%d.%02d", minor/100, minor%100)
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// CurrencyAlpha returns the alphabetic code of a supported ISO 4217 numeric
// currency code ("949" → "TRY"), or "" when the simulators do not support it.
func CurrencyAlpha(numeric string) string {
	switch numeric {
	case "949":
		return "TRY"
	case "840":
		return "USD"
	case "978":
		return "EUR"
	case "826":
		return "GBP"
	}
	return ""
}
