package banksim

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// What the simulators share beyond the bank protocols: holding answers
// back on purpose, forgetting old in-flight state, counters, request and
// answer plumbing and random values.

// Hold keeps back the answers that hang on purpose (the "timeout" card)
// until the client goes away, a time passes or Release is called. The zero
// value is ready to use.
type Hold struct {
	init, release sync.Once
	done          chan struct{}
}

func (h *Hold) ch() chan struct{} {
	h.init.Do(func() { h.done = make(chan struct{}) })
	return h.done
}

// Release ends every hang, current and future.
func (h *Hold) Release() {
	ch := h.ch()
	h.release.Do(func() { close(ch) })
}

// Hang waits until the client goes away (ctx ends), max passes or Release
// is called. The handler then drops the connection without an answer.
func (h *Hold) Hang(ctx context.Context, max time.Duration) {
	t := time.NewTimer(max)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-h.ch():
	}
}

// SetDefault sets *v to d when it is the zero value.
func SetDefault[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}

// DefaultTiming fills in the settings every simulator has: its clock
// (default time.Now) and how long the "timeout" card's answer hangs
// (default, and for a negative value, 30 s).
func DefaultTiming(now *func() time.Time, hangFor *time.Duration) {
	if *now == nil {
		*now = time.Now
	}
	if *hangFor <= 0 {
		*hangFor = 30 * time.Second
	}
}

// Sweep counts one new in-flight entry (an attempt, a session) in *n and
// reports whether it is time to forget the old ones: every 1024th entry.
func Sweep(n *int) bool {
	if *n++; *n < 1024 {
		return false
	}
	*n = 0
	return true
}

// Stale reports whether in-flight state created at t is old enough to
// forget at now: two hours.
func Stale(created, now time.Time) bool { return now.Sub(created) > 2*time.Hour }

// CountIn adds one to m[key][kind], making the inner map if needed.
func CountIn(m map[string]map[string]int, key, kind string) {
	in := m[key]
	if in == nil {
		in = map[string]int{}
		m[key] = in
	}
	in[kind]++
}

// CloneCounts copies counters by key, then kind.
func CloneCounts(m map[string]map[string]int) map[string]map[string]int {
	c := make(map[string]map[string]int, len(m))
	for k, v := range m {
		c[k] = maps.Clone(v)
	}
	return c
}

// IsFormPost reports whether a request's Content-Type is absent or
// application/x-www-form-urlencoded.
func IsFormPost(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return true
	}
	mt, _, _ := mime.ParseMediaType(ct)
	return mt == "application/x-www-form-urlencoded"
}

// ReadBody reads a request body of at most limit bytes.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	return io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
}

// WriteBody serves body with status 200.
func WriteBody(w http.ResponseWriter, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// UsableURL reports whether u is an absolute http(s) URL a bank would
// send the shopper back to.
func UsableURL(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "http" || p.Scheme == "https") && p.Host != "" && !strings.ContainsAny(u, " \t\r\n\"<>")
}

// ValidInstallments: "" for a single payment, else 2–12 written plainly.
func ValidInstallments(v string) bool {
	if v == "" {
		return true
	}
	n, err := strconv.Atoi(v)
	return err == nil && n >= 2 && n <= 12 && strconv.Itoa(n) == v
}

// ECI is the electronic commerce indicator of a fully authenticated (full)
// or attempted 3-D authentication: 02 / 01 for Mastercard, 05 / 06 for the
// other schemes.
func ECI(mastercard, full bool) string {
	switch {
	case mastercard && full:
		return "02"
	case mastercard:
		return "01"
	case full:
		return "05"
	}
	return "06"
}

// RandCAVV is a random 20-byte CAVV starting with prefix, in base64.
func RandCAVV(prefix ...byte) string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	copy(b, prefix)
	return base64.StdEncoding.EncodeToString(b)
}

// RandB64 returns n random bytes in base64.
func RandB64(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// RandInt returns a random number in [0, n).
func RandInt[T ~int | ~int64](n T) T {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	var v uint64
	for _, x := range b {
		v = v<<8 | uint64(x)
	}
	return T(v % uint64(n))
}
