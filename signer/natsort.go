package signer

// StrNatCaseCmp compares a and b the way PHP's strnatcasecmp does (and so
// ksort with SORT_NATURAL|SORT_FLAG_CASE): bytes, not runes; runs of digits
// compare as numbers; ASCII letters are folded to upper case, so "_" (0x5F)
// sorts after every letter. It returns -1, 0 or +1.
//
// It is a port of strnatcmp_ex in php-src ext/standard/strnatcmp.c (PHP 8),
// with the C locale's isdigit, isspace and toupper:
//
//   - an empty string sorts before any other;
//   - leading zeros followed by a digit are skipped, at the start of a string
//     only ("007" compares as "7");
//   - whitespace (space, \t, \n, \v, \f, \r) is skipped wherever a comparison
//     step starts, but a string that still has bytes left after the other has
//     ended is the greater one ("a " > "a");
//   - when both sides are at a digit and either digit is '0', the two digit
//     runs compare left-aligned, digit by digit, the shorter run being smaller
//     ("a01" < "a1"); otherwise they compare as integers: the longer run
//     wins, else the first differing digit ("item2" < "item10").
//
// Distinct strings can compare equal ("ab" and "a b", "Email" and "email").
func StrNatCaseCmp(a, b string) int {
	if len(a) == 0 || len(b) == 0 {
		switch {
		case len(a) == len(b):
			return 0
		case len(a) > len(b):
			return 1
		default:
			return -1
		}
	}
	// byteAt is C's view of a NUL-terminated string: the byte at len is 0.
	byteAt := func(s string, i int) byte {
		if i < len(s) {
			return s[i]
		}
		return 0
	}
	ai, bi := 0, 0
	ca, cb := a[0], b[0]

	// Skip over leading zeros, at the start only.
	for ca == '0' && ai+1 < len(a) && isDigit(a[ai+1]) {
		ai++
		ca = a[ai]
	}
	for cb == '0' && bi+1 < len(b) && isDigit(b[bi+1]) {
		bi++
		cb = b[bi]
	}

	for {
		// Skip consecutive whitespace.
		for isCSpace(ca) {
			ai++
			ca = byteAt(a, ai)
		}
		for isCSpace(cb) {
			bi++
			cb = byteAt(b, bi)
		}

		// Process a run of digits.
		if isDigit(ca) && isDigit(cb) {
			var result int
			if ca == '0' || cb == '0' {
				result, ai, bi = natCompareLeft(a, ai, b, bi)
			} else {
				result, ai, bi = natCompareRight(a, ai, b, bi)
			}
			switch {
			case result != 0:
				return result
			case ai == len(a) && bi == len(b):
				return 0
			case ai == len(a):
				return -1
			case bi == len(b):
				return 1
			}
			ca, cb = a[ai], b[bi]
		}

		ca, cb = asciiToUpper(ca), asciiToUpper(cb)
		if ca < cb {
			return -1
		}
		if ca > cb {
			return 1
		}

		ai++
		bi++
		switch {
		case ai >= len(a) && bi >= len(b):
			return 0
		case ai >= len(a):
			return -1
		case bi >= len(b):
			return 1
		}
		ca, cb = a[ai], b[bi]
	}
}

// natCompareRight compares two right-aligned numbers starting at a[ai] and
// b[bi]: the longest run of digits wins; for runs of equal length the first
// differing digit decides. It returns the result and the positions where the
// runs ended (meaningful only when the result is 0).
func natCompareRight(a string, ai int, b string, bi int) (int, int, int) {
	bias := 0
	for ; ; ai, bi = ai+1, bi+1 {
		aEnd := ai == len(a) || !isDigit(a[ai])
		bEnd := bi == len(b) || !isDigit(b[bi])
		switch {
		case aEnd && bEnd:
			return bias, ai, bi
		case aEnd:
			return -1, ai, bi
		case bEnd:
			return 1, ai, bi
		case a[ai] < b[bi]:
			if bias == 0 {
				bias = -1
			}
		case a[ai] > b[bi]:
			if bias == 0 {
				bias = 1
			}
		}
	}
}

// natCompareLeft compares two left-aligned ("fractional") digit runs: the
// first differing digit decides, and a run that ends first is smaller.
func natCompareLeft(a string, ai int, b string, bi int) (int, int, int) {
	for ; ; ai, bi = ai+1, bi+1 {
		aEnd := ai == len(a) || !isDigit(a[ai])
		bEnd := bi == len(b) || !isDigit(b[bi])
		switch {
		case aEnd && bEnd:
			return 0, ai, bi
		case aEnd:
			return -1, ai, bi
		case bEnd:
			return 1, ai, bi
		case a[ai] < b[bi]:
			return -1, ai, bi
		case a[ai] > b[bi]:
			return 1, ai, bi
		}
	}
}

// isCSpace is isspace in the C locale.
func isCSpace(c byte) bool {
	return c == ' ' || ('\t' <= c && c <= '\r')
}

func asciiToUpper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}
