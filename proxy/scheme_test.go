package proxy

import (
	"net"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestSecureScheme: X-Forwarded-Proto counts only from a trusted proxy,
// and then only the nearest proxy's value (the last), so a client's own
// header ahead of the proxy's cannot claim HTTPS.
func TestSecureScheme(t *testing.T) {
	tr := newTestRelay(t, "tls: {mode: off}\nserver: {public_url: \"https://relay.example\", trusted_proxies: [\"10.0.0.1\"], admin_listen: \"\"}\n")
	for _, tt := range []struct {
		name  string
		peer  string
		lines []string // X-Forwarded-Proto lines, in order
		want  bool
	}{
		{"trusted proxy says https", "10.0.0.1", []string{"https"}, true},
		{"trusted proxy says http", "10.0.0.1", []string{"http"}, false},
		{"no header", "10.0.0.1", nil, false},
		{"client's https line, proxy's http line", "10.0.0.1", []string{"https", "http"}, false},
		{"client's http line, proxy's https line", "10.0.0.1", []string{"http", "https"}, true},
		{"appended in one line", "10.0.0.1", []string{"https, http"}, false},
		{"upper case from the proxy", "10.0.0.1", []string{"HTTPS"}, true},
		{"untrusted peer says https", "192.0.2.9", []string{"https"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var req fasthttp.Request
			req.SetRequestURI("/pay/x")
			for _, l := range tt.lines {
				req.Header.Add("X-Forwarded-Proto", l)
			}
			var ctx fasthttp.RequestCtx
			ctx.Init(&req, &net.TCPAddr{IP: net.ParseIP(tt.peer), Port: 40000}, nil)
			if got := tr.secureScheme(&ctx); got != tt.want {
				t.Errorf("secureScheme = %v; want %v", got, tt.want)
			}
		})
	}
}
