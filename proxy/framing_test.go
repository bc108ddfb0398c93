package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestAmbiguousFraming: a request with both Content-Length and chunked
// Transfer-Encoding is refused and its connection closed (RFC 9112 §6.3),
// so nothing after it on the connection is read as another request.
func TestAmbiguousFraming(t *testing.T) {
	tr := newTestRelay(t, "tls: {mode: off}\nserver: {public_url: \"https://relay.example\"}\n")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr.start(t, func(ctx context.Context) error { return tr.RunListener(ctx, ln) })
	smuggled := "GET /readyz HTTP/1.1\r\nHost: relay.example\r\n\r\n"
	for _, tt := range []struct {
		name      string
		head      string
		body      string
		status    int
		closed    bool // the connection is closed after the answer
		wantInErr string
	}{
		{"content-length and chunked", "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n", "2\r\n{}\r\n0\r\n\r\n" + smuggled, 400, true, "bad_request"},
		{"chunked first, lower-case length", "Transfer-Encoding: chunked\r\ncontent-length: 40\r\n", "2\r\n{}\r\n0\r\n\r\n" + smuggled, 400, true, "bad_request"},
		{"chunked alone", "Transfer-Encoding: chunked\r\n", "2\r\n{}\r\n0\r\n\r\n", 401, false, "missing_header"},
		{"content-length alone", "Content-Length: 2\r\n", "{}", 401, false, "missing_header"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			req := "POST /v1/payments HTTP/1.1\r\nHost: relay.example\r\nContent-Type: application/json\r\n" + tt.head + "\r\n" + tt.body
			if _, err := io.WriteString(c, req); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			var resp fasthttp.Response
			if err := resp.Read(br); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode() != tt.status || !strings.Contains(string(resp.Body()), tt.wantInErr) {
				t.Fatalf("answer %d %s; want %d %s", resp.StatusCode(), resp.Body(), tt.status, tt.wantInErr)
			}
			if !tt.closed {
				return
			}
			if !resp.ConnectionClose() {
				t.Error("the answer does not say Connection: close")
			}
			if rest, err := io.ReadAll(br); err != nil || len(rest) > 0 {
				t.Fatalf("after the refusal the connection gave %q (%v); want it closed with nothing more (the smuggled request unanswered)", rest, err)
			}
		})
	}
}
