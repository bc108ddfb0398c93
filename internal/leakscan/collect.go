package leakscan

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// MaxBody is the most of one HTTP answer a Transport reads and scans.
const MaxBody = 32 << 20

// Collector scans everything a test suite sees (HTTP answers through its
// Transport, logs and webhook bodies through Check) and keeps the hits.
type Collector struct {
	*Scanner

	mu          sync.Mutex
	hits        []Hit
	bankOrigins []string
	bankRefs    map[string]int // how many registrations each bank origin has
	texts       int
	bytes       int64
}

// NewCollector returns an empty collector.
func NewCollector() *Collector { return &Collector{Scanner: New()} }

// AddBankOrigins registers the origins (scheme://host:port) of bank
// simulators. A relay page's form that posts to one of them may carry card
// fields (the card's one trip to the bank in the models where the relay's
// page takes it); a bank's own page may echo the expiry back in its
// callback form, as the real gateways do.
//
// An origin stays registered until RemoveBankOrigins takes it back: do that
// before the simulator's listener closes, or a later listener that gets the
// same port (a relay) is taken for a bank, and its pages' card fields to the
// bank are reported.
func (c *Collector) AddBankOrigins(origins ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bankRefs == nil {
		c.bankRefs = map[string]int{}
	}
	for _, o := range origins {
		o = strings.TrimRight(o, "/")
		if o == "" {
			continue
		}
		if c.bankRefs[o]++; c.bankRefs[o] == 1 {
			c.bankOrigins = append(c.bankOrigins, o)
		}
	}
}

// RemoveBankOrigins takes back registrations made by AddBankOrigins; an
// origin registered more than once stays until its last registration is
// taken back.
func (c *Collector) RemoveBankOrigins(origins ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range origins {
		o = strings.TrimRight(o, "/")
		if c.bankRefs[o] == 0 {
			continue
		}
		if c.bankRefs[o]--; c.bankRefs[o] == 0 {
			delete(c.bankRefs, o)
			c.bankOrigins = slices.DeleteFunc(c.bankOrigins, func(x string) bool { return x == o })
		}
	}
}

// Check scans text, records its hits and returns them.
func (c *Collector) Check(source string, text []byte) []Hit {
	return c.record(text, c.Scan(source, text))
}

func (c *Collector) record(text []byte, hits []Hit) []Hit {
	c.mu.Lock()
	c.texts++
	c.bytes += int64(len(text))
	c.hits = append(c.hits, hits...)
	c.mu.Unlock()
	return hits
}

// Hits returns every hit so far.
func (c *Collector) Hits() []Hit {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Hit(nil), c.hits...)
}

// Stats reports how many texts and bytes were scanned.
func (c *Collector) Stats() (texts int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.texts, c.bytes
}

// Report lists the hits, one a line ("" when there are none).
func (c *Collector) Report() string {
	var b strings.Builder
	for _, h := range c.Hits() {
		b.WriteString(h.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func (c *Collector) origins() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.bankOrigins...)
}

// CheckResponse scans an HTTP answer's body from origin (scheme://host:port)
// under the rules of AddBankOrigins.
func (c *Collector) CheckResponse(source, origin string, body []byte) []Hit {
	banks := c.origins()
	fromBank := slices.Contains(banks, origin)
	if fromBank {
		body = StripFormInputs(body, []string{""}, ExpiryField)
	} else {
		body = StripFormInputs(body, banks, nil)
	}
	hits := c.Scan(source, body)
	if len(hits) > 0 {
		// Say where the page's forms post and whether that is a known
		// bank, so a hit on a bank-bound form is told from a real leak;
		// and whether the answer itself was read as a bank's page (only
		// its expiry fields are let through).
		var actions []string
		for _, f := range findTags(asciiLower(body), "form") {
			a := tagAttrs(body[f.from:f.to])["action"]
			known := slices.ContainsFunc(banks, func(p string) bool { return onOrigin(a, p) })
			actions = append(actions, fmt.Sprintf("%q (registered bank: %t)", RedactPath(a), known))
		}
		for i := range hits {
			hits[i].What += fmt.Sprintf("; the answer's forms post to %v; the answer's origin is a registered bank: %t; %d bank origins registered",
				actions, fromBank, len(banks))
		}
	}
	return c.record(body, hits)
}

var expiryField = regexp.MustCompile(`(?i)^(` + expiryNames + `)$`)

// ExpiryField reports whether a form field's name says it holds an expiry.
func ExpiryField(name string) bool { return expiryField.MatchString(name) }

// Transport returns a RoundTripper that sends through next and scans every
// answer's body (read in full, up to MaxBody, before it is handed on).
func (c *Collector) Transport(next http.RoundTripper) http.RoundTripper {
	return &transport{c: c, next: next}
}

type transport struct {
	c    *Collector
	next http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp.Body == nil {
		return resp, err
	}
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	resp.Body.Close()
	origin := req.URL.Scheme + "://" + req.URL.Host
	t.c.CheckResponse(req.Method+" "+origin+RedactPath(req.URL.Path), origin, body)
	resp.Body = &replayBody{r: bytes.NewReader(body), err: rerr}
	return resp, nil
}

// replayBody gives back a body read in advance, then the error the read
// ended with (nil: io.EOF).
type replayBody struct {
	r   *bytes.Reader
	err error
}

func (b *replayBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF && b.err != nil {
		return n, b.err
	}
	return n, err
}

func (b *replayBody) Close() error { return nil }

// RedactPath replaces path segments that look like tokens (16 characters
// or more) with {token}, so reports do not carry live page tokens.
func RedactPath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if len(s) >= 16 {
			segs[i] = "{token}"
		}
	}
	return strings.Join(segs, "/")
}

// String describes the collector's work, e.g. for a test's log.
func (c *Collector) String() string {
	n, b := c.Stats()
	return fmt.Sprintf("leakscan: %d texts, %d bytes scanned, %d hits", n, b, len(c.Hits()))
}

// CloseIdleConnections closes the idle connections of the wrapped
// transport, as http.Client.CloseIdleConnections expects.
func (t *transport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
