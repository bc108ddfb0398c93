package allowlist

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode"
)

// List is an immutable set of allowed destinations, built from endpoint
// URLs. The dialer asks it about host:port; CheckURL also requires the
// scheme to match, so https://bank:443 on the list does not admit
// http://bank:443. Ports default from the scheme (https 443, http 80).
//
// A List is safe for concurrent use. A nil *List allows nothing (the
// Dialer's nil List field means something else: any host).
type List struct {
	hostports map[string]struct{} // "bank.example:443"
	origins   map[string]struct{} // "https://bank.example:443"
	sorted    []string            // hostports, sorted
}

// NewList returns the list of the hosts and ports of urls, each an http or
// https URL (paths, queries and fragments are ignored). It fails on the
// first URL that is not usable and names it. An empty list allows nothing.
func NewList(urls ...string) (*List, error) {
	l := &List{hostports: map[string]struct{}{}, origins: map[string]struct{}{}}
	for _, raw := range urls {
		scheme, hp, err := parseOrigin(raw)
		if err != nil {
			return nil, fmt.Errorf("allowlist: endpoint %q: %v", raw, err)
		}
		l.hostports[hp] = struct{}{}
		l.origins[scheme+"://"+hp] = struct{}{}
	}
	for hp := range l.hostports {
		l.sorted = append(l.sorted, hp)
	}
	slices.Sort(l.sorted)
	return l, nil
}

// Allows reports whether hostport (host:port, normalised as by
// NormalizeHost) is on the list. A hostport without a port is never allowed.
func (l *List) Allows(hostport string) bool {
	if l == nil {
		return false
	}
	hp, err := NormalizeHost(hostport)
	if err != nil || !hasPort(hp) {
		return false
	}
	_, ok := l.hostports[hp]
	return ok
}

// CheckURL checks a URL the relay is about to use or to send a shopper to
// (for example the payment-page URL a bank returns): the scheme must be http
// or https, and its scheme, host and port must be on the list. Anything else,
// including a URL that does not parse, is a refusal wrapping ErrDenied. The
// error names the host, never the whole URL, which may carry a token.
func (l *List) CheckURL(rawURL string) error {
	scheme, hp, err := parseOrigin(rawURL)
	if err != nil {
		return &DeniedError{Target: "URL", Reason: err.Error(), Fix: "only the configured bank endpoints may be used"}
	}
	if l != nil {
		if _, ok := l.origins[scheme+"://"+hp]; ok {
			return nil
		}
	}
	return &DeniedError{
		Target: scheme + "://" + hp,
		Reason: "not on the allowlist (allowed: " + l.summary() + ")",
		Fix:    "if the bank moved this endpoint, configure a custom environment with its new base URL",
	}
}

// HostPorts returns the allowed host:port pairs, sorted, for logs and whoami.
func (l *List) HostPorts() []string {
	if l == nil {
		return nil
	}
	return slices.Clone(l.sorted)
}

// summary lists a few allowed destinations for an error message.
func (l *List) summary() string {
	if l == nil || len(l.sorted) == 0 {
		return "nothing"
	}
	const max = 6
	if len(l.sorted) <= max {
		return strings.Join(l.sorted, ", ")
	}
	return strings.Join(l.sorted[:max], ", ") + fmt.Sprintf(" and %d more", len(l.sorted)-max)
}

// parseOrigin returns the scheme and normalised host:port of an http(s) URL.
func parseOrigin(raw string) (scheme, hostport string, err error) {
	if err := checkURLChars(raw); err != nil {
		return "", "", err
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URL
		}
		return "", "", fmt.Errorf("not a valid URL: %v", err)
	}
	switch u.Scheme {
	case "https", "http":
	case "":
		return "", "", errors.New("not an absolute URL; write it as https://host/path")
	default:
		return "", "", fmt.Errorf("scheme %q is not allowed; use https (or http for a local simulator)", u.Scheme)
	}
	if u.Opaque != "" || u.Host == "" {
		return "", "", fmt.Errorf("no host; write it as %s://host/path", u.Scheme)
	}
	if u.User != nil {
		return "", "", errors.New("the URL contains user info (user@host); remove it")
	}
	hp, err := NormalizeHost(u.Host)
	if err != nil {
		return "", "", err
	}
	if !hasPort(hp) {
		port := "443"
		if u.Scheme == "http" {
			port = "80"
		}
		if strings.Contains(hp, ":") && hp[0] != '[' {
			hp = "[" + hp + "]"
		}
		hp += ":" + port
	}
	return u.Scheme, hp, nil
}

// checkURLChars refuses characters that browsers and Go's URL parser treat
// differently: a backslash (a path separator to a browser, part of the
// user info to Go), white space and control characters (which browsers
// strip). Refusing them keeps "the host Go checked" and "the host a browser
// visits" the same.
func checkURLChars(raw string) error {
	for _, r := range raw {
		if r == '\\' || unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("the URL contains %q, which browsers and Go read differently; remove it", r)
		}
	}
	return nil
}

// hasPort reports whether a NormalizeHost result carries a port.
func hasPort(hp string) bool {
	if hp[0] == '[' {
		return !strings.HasSuffix(hp, "]")
	}
	return strings.Count(hp, ":") == 1
}
