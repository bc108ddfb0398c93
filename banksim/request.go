package banksim

import (
	"crypto/rand"
	"encoding/hex"
	"math/big"
	"net"
	"net/http"
	"net/netip"
)

// ClientAddr is the address a request came from, as the bank's firewall
// sees it: the TCP peer (the simulators face their clients directly, so no
// forwarding header is believed).
func ClientAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// AddrAllowed reports whether a is inside one of the prefixes, the way a
// bank checks the merchant's registered server addresses. An empty list
// allows every address.
func AddrAllowed(a netip.Addr, allowed []netip.Prefix) bool {
	if len(allowed) == 0 {
		return true
	}
	for _, p := range allowed {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// BaseURL is the scheme and host a request came to, so a simulator's pages
// link back to it wherever it listens (X-Forwarded-Proto is honoured for a
// TLS-terminating proxy in front).
func BaseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// ReadForm reads an application/x-www-form-urlencoded body of at most
// MaxFormBytes.
func ReadForm(w http.ResponseWriter, r *http.Request) (Form, error) {
	b, err := ReadBody(w, r, MaxFormBytes)
	if err != nil {
		return nil, err
	}
	return ParseForm(b)
}

// RandHex returns n random bytes as lower-case hex.
func RandHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// RandDigits returns n random decimal digits.
func RandDigits(n int) string {
	b := make([]byte, n)
	for i := range b {
		d, _ := rand.Int(rand.Reader, big.NewInt(10))
		b[i] = byte('0' + d.Int64())
	}
	return string(b)
}
