package allowlist

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// maxHostInput bounds the input NormalizeHost looks at; a host:port is at
// most 253 + 1 + 5 bytes in ASCII, and a Unicode host a few times that.
const maxHostInput = 1024

// NormalizeHost returns the canonical form of a host or host:port as it
// appears in a URL or a dial address, so that two spellings of one
// destination compare equal:
//
//   - names are lower-cased, lose one trailing dot, and internationalised
//     labels become punycode (xn--…) through golang.org/x/net/idna's Lookup
//     profile (UTS #46, non-transitional: ß stays ß); labels must then fit
//     DNS (1–63 characters, 253 in all);
//   - IP addresses are written canonically ("::1", "192.0.2.1"); an IPv6
//     address keeps its brackets if it had them ("[::1]", "[::1]:443");
//   - a port is written in decimal without leading zeros.
//
// It refuses an empty host, white space and control characters, user info
// (user@host), characters that are not part of a host name, IPv6 zones,
// ports outside 1–65535, and names whose last label is a number (what a
// browser would read as an IPv4 address, e.g. 2130706433 or 0x7f.1).
// NormalizeHost(NormalizeHost(h)) == NormalizeHost(h).
func NormalizeHost(host string) (string, error) {
	if host == "" {
		return "", fmt.Errorf("allowlist: host is empty; give a host name or an IP address")
	}
	if len(host) > maxHostInput {
		return "", fmt.Errorf("allowlist: host of %d bytes is too long; a host name has at most 253 characters", len(host))
	}
	if !utf8.ValidString(host) {
		return "", fmt.Errorf("allowlist: host %q is not valid UTF-8", host)
	}
	for _, r := range host {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return "", fmt.Errorf("allowlist: host %q contains white space or a control character (%U); remove it", host, r)
		}
	}
	if strings.Contains(host, "@") {
		return "", fmt.Errorf("allowlist: host %q contains user info (user@); remove the part up to the @", host)
	}

	h, port, hasPort, bracketed, err := splitHostPort(host)
	if err != nil {
		return "", fmt.Errorf("allowlist: host %q: %v", host, err)
	}
	if hasPort {
		if port, err = normalizePort(port); err != nil {
			return "", fmt.Errorf("allowlist: host %q: %v", host, err)
		}
	}
	if h == "" {
		return "", fmt.Errorf("allowlist: host %q has no host name; give a host name or an IP address", host)
	}

	var name string
	switch {
	case bracketed || strings.Contains(h, ":"):
		ip, err := netip.ParseAddr(h)
		if err != nil || !ip.Is6() {
			return "", fmt.Errorf("allowlist: host %q: %q is not an IPv6 address; write an IPv6 address as [2001:db8::1] and anything else without brackets or colons", host, h)
		}
		if ip.Zone() != "" {
			return "", fmt.Errorf("allowlist: host %q: IPv6 zones (%%%s) are not supported; give a global address", host, ip.Zone())
		}
		name = ip.String()
		if bracketed || hasPort {
			name = "[" + name + "]"
		}
	default:
		name, err = normalizeName(h)
		if err != nil {
			return "", fmt.Errorf("allowlist: host %q: %v", host, err)
		}
	}
	if hasPort {
		if name[0] == '[' {
			return name + ":" + port, nil
		}
		return net.JoinHostPort(name, port), nil
	}
	return name, nil
}

// splitHostPort splits "host", "host:port", "[v6]", "[v6]:port" and a bare
// IPv6 address ("::1", which cannot carry a port).
func splitHostPort(s string) (host, port string, hasPort, bracketed bool, err error) {
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", false, false, fmt.Errorf("missing ] after the IPv6 address")
		}
		host, rest := s[1:end], s[end+1:]
		switch {
		case rest == "":
			return host, "", false, true, nil
		case rest[0] == ':':
			return host, rest[1:], true, true, nil
		}
		return "", "", false, false, fmt.Errorf("unexpected %q after the IPv6 address; write [address]:port", rest)
	}
	if strings.ContainsAny(s, "[]") {
		return "", "", false, false, fmt.Errorf("brackets belong around an IPv6 address only, as in [2001:db8::1]:443")
	}
	switch strings.Count(s, ":") {
	case 0:
		return s, "", false, false, nil
	case 1:
		i := strings.IndexByte(s, ':')
		return s[:i], s[i+1:], true, false, nil
	}
	return s, "", false, false, nil // bare IPv6; checked by the caller
}

// normalizePort checks a decimal port and drops leading zeros.
func normalizePort(p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("the port after : is empty; give a port number or drop the colon")
	}
	if len(p) > 5 || strings.Trim(p, "0123456789") != "" {
		return "", fmt.Errorf("port %q is not a number from 1 to 65535", p)
	}
	n, _ := strconv.Atoi(p)
	if n < 1 || n > 65535 {
		return "", fmt.Errorf("port %s is out of range; use 1 to 65535", p)
	}
	return strconv.Itoa(n), nil
}

// normalizeName handles a host that is not an IPv6 literal: an IPv4 address
// or a DNS name.
func normalizeName(h string) (string, error) {
	// Name the offending character for the usual mistakes; idna's message
	// ("disallowed rune U+005F") is less helpful.
	for i := 0; i < len(h); i++ {
		if c := h[i]; c < utf8.RuneSelf && !isLDH(c) && c != '.' {
			return "", fmt.Errorf("%q contains %q; a host name has only letters, digits, hyphens and dots", h, c)
		}
	}
	// UTS #46 Lookup: lower-case, map compatibility forms and the
	// ideographic full stops, convert Unicode labels to punycode, check
	// xn-- labels, hyphens and bidi rules.
	a, err := idna.Lookup.ToASCII(h)
	if err == nil {
		// x/net/idna checks the bidi rule on the label as given, not as
		// mapped: "ℸa" passes (U+2138 is left-to-right) and maps to the
		// Hebrew dalet, giving xn--a-5hc, which it then refuses. Checking
		// the result as well refuses the name either way it is written.
		_, err = idna.Lookup.ToASCII(a)
	}
	if err != nil {
		return "", fmt.Errorf("not a valid host name (%v); a label is letters and digits joined by hyphens, with no hyphen at either end, and an internationalised label may be written in Unicode or in its xn-- form", err)
	}
	a = strings.TrimSuffix(a, ".")
	if a == "" {
		return "", fmt.Errorf("a host name cannot be only a dot")
	}
	if ip, err := netip.ParseAddr(a); err == nil && ip.Is4() {
		return ip.String(), nil
	}
	// The Lookup profile does not check DNS lengths or empty labels.
	labels := strings.Split(a, ".")
	for _, label := range labels {
		switch {
		case label == "":
			return "", fmt.Errorf("empty label in %q (two dots in a row, or a leading dot); remove the extra dot", a)
		case len(label) > 63:
			return "", fmt.Errorf("label %q is %d characters long; DNS allows at most 63", label, len(label))
		}
		for i := 0; i < len(label); i++ {
			if !isLDH(label[i]) || 'A' <= label[i] && label[i] <= 'Z' { // unreachable with STD3 rules
				return "", fmt.Errorf("label %q contains %q after IDNA mapping", label, label[i])
			}
		}
	}
	if last := labels[len(labels)-1]; looksNumeric(last) {
		return "", fmt.Errorf("the last label %q is a number, which browsers read as an IPv4 address; write an IPv4 address as four decimal numbers (192.0.2.1)", last)
	}
	if len(a) > 253 {
		return "", fmt.Errorf("host name is %d characters long; DNS allows at most 253", len(a))
	}
	return a, nil
}

func isLDH(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-'
}

// looksNumeric reports whether label is all decimal digits or 0x followed by
// hex digits: the WHATWG URL standard's "ends in a number" test.
func looksNumeric(label string) bool {
	if strings.HasPrefix(label, "0x") {
		return strings.Trim(label[2:], "0123456789abcdef") == ""
	}
	return strings.Trim(label, "0123456789") == ""
}
