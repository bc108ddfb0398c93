package allowlist

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// startFasthttp serves "ok" on a loopback port and returns the port.
func startFasthttp(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") }}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Shutdown()
		<-done
	})
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

func fasthttpGet(hc *fasthttp.HostClient, url string) (int, string, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	if err := hc.DoTimeout(req, resp, 5*time.Second); err != nil {
		return 0, "", err
	}
	return resp.StatusCode(), string(resp.Body()), nil
}

func TestFasthttpHostClientThroughDialer(t *testing.T) {
	port := startFasthttp(t)
	addr := "localhost:" + port
	url := "http://" + addr + "/"
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	listed, _ := NewList(url)
	other, _ := NewList("http://localhost:1/")

	tests := []struct {
		name   string
		dialer *Dialer
		denied bool
	}{
		{"loopback in AllowRanges reaches the server", &Dialer{AllowRanges: loopback}, false},
		{"listed host with loopback allowed reaches the server", &Dialer{List: listed, AllowRanges: loopback}, false},
		{"loopback not in AllowRanges is refused", &Dialer{}, true},
		{"host not on the list is refused although loopback is allowed", &Dialer{List: other, AllowRanges: loopback}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// localhost answers ::1 first: refused by the ranges, so the
			// dialer must move on to 127.0.0.1, where the server listens.
			res := static("::1", "127.0.0.1")
			tt.dialer.Resolver = res
			hc := &fasthttp.HostClient{
				Addr:                      addr,
				DialTimeout:               tt.dialer.DialTimeout,
				MaxIdemponentCallAttempts: 1,
				ReadTimeout:               5 * time.Second,
				WriteTimeout:              5 * time.Second,
			}
			status, body, err := fasthttpGet(hc, url)
			if tt.denied {
				if !errors.Is(err, ErrDenied) {
					t.Fatalf("got %d %q %v, want ErrDenied", status, body, err)
				}
				return
			}
			if err != nil || status != 200 || body != "ok" {
				t.Fatalf("got %d %q %v, want 200 ok", status, body, err)
			}
			if n := res.calls.Load(); n != 1 {
				t.Errorf("resolver called %d times for one connection", n)
			}
		})
	}
}

// TestFasthttpTLSVerifiesTheHostName shows the split the relay relies on:
// the dialer connects to the IP it checked, and fasthttp still verifies the
// certificate against the host name in HostClient.Addr.
func TestFasthttpTLSVerifiesTheHostName(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the mismatch case fails the handshake on purpose
	srv.StartTLS()
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate()) // valid for example.com, 127.0.0.1 and ::1

	tests := []struct {
		name, host string
		wantErr    string
	}{
		{"certificate name matches", "example.com", ""},
		{"certificate name does not match although the IP does", "bank.test", "certificate is valid for"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &Dialer{Resolver: static("127.0.0.1"), AllowRanges: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
			hc := &fasthttp.HostClient{
				Addr:                      tt.host + ":" + port,
				IsTLS:                     true,
				TLSConfig:                 &tls.Config{RootCAs: roots},
				DialTimeout:               d.DialTimeout,
				MaxIdemponentCallAttempts: 1,
				ReadTimeout:               5 * time.Second,
				WriteTimeout:              5 * time.Second,
			}
			status, body, err := fasthttpGet(hc, "https://"+tt.host+":"+port+"/")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %d %q %v, want an error containing %q", status, body, err, tt.wantErr)
				}
				return
			}
			if err != nil || status != 200 || body != "ok" {
				t.Fatalf("got %d %q %v, want 200 ok", status, body, err)
			}
		})
	}
}
