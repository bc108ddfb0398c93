package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/posrelay/posrelay/allowlist"
	"github.com/posrelay/posrelay/bank"
)

// maxBankBody bounds a bank's answer; real ones are a few KB (a QNB 3-D
// page a few tens of KB).
const maxBankBody = 1 << 20

// upstream sends bank requests: only to allowlisted hosts, through the
// guarded dialer (resolve once, refuse internal addresses, bind to the
// egress address), never retried by the client, always under a deadline.
type upstream struct {
	client  *fasthttp.Client
	timeout time.Duration
}

func newUpstream(d *allowlist.Dialer, timeout time.Duration, roots *x509.CertPool) *upstream {
	return &upstream{
		timeout: timeout,
		client: &fasthttp.Client{
			Name:        "posrelay",
			DialTimeout: d.DialTimeout,
			TLSConfig:   &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots},
			// Connecting (and the TLS handshake) is done by connect, so that
			// a failure there is known to have sent nothing.
			ConfigureClient: func(hc *fasthttp.HostClient) error {
				hc.DialTimeout = connect(hc.DialTimeout, hc.IsTLS, hc.TLSConfig, timeout)
				return nil
			},
			ReadTimeout:         timeout,
			WriteTimeout:        timeout,
			MaxIdleConnDuration: 30 * time.Second,
			MaxConnsPerHost:     256,
			// Above 256 calls in flight to one bank, wait for a connection
			// (within the call's deadline) rather than fail at once: a
			// provisioning refused for lack of a connection would end
			// unknown and then failed, though the bank never saw it.
			MaxConnWaitTimeout:            timeout,
			MaxResponseBodySize:           maxBankBody,
			MaxIdemponentCallAttempts:     1, // a payment is never sent twice by the transport
			RetryIfErr:                    func(*fasthttp.Request, int, error) (bool, bool) { return false, false },
			DisableHeaderNamesNormalizing: false,
			NoDefaultUserAgentHeader:      false,
		},
	}
}

// accountDoer is one merchant account's view of the shared client: it may
// reach only that account's bank endpoints, so a gateway (or a redirect it
// follows) can never talk to another site's bank host.
type accountDoer struct {
	u    *upstream
	list *allowlist.List
}

func (a accountDoer) Do(ctx context.Context, r *bank.Request) (*bank.Response, error) {
	return a.u.do(ctx, r, a.list)
}

func (u *upstream) do(ctx context.Context, r *bank.Request, list *allowlist.List) (*bank.Response, error) {
	// Network deadlines run on the real clock, never the relay's injected
	// one: a test's clock moved ahead must not lift the bank timeout, nor
	// one behind real time make every call time out before it is sent.
	deadline := time.Now().Add(u.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	method := r.Method
	if method == "" {
		method = fasthttp.MethodPost
	}
	target, body, contentType := r.URL, r.Body, r.ContentType
	for hop := 0; ; hop++ {
		if err := list.CheckURL(target); err != nil {
			return nil, &bank.TransportError{Op: "bank call", Err: err}
		}
		status, respType, respBody, location, err := u.once(method, target, contentType, r.Accept, body, deadline, r.Sensitive)
		if err != nil {
			return nil, err
		}
		if status >= 300 && status < 400 && location != "" && hop < r.FollowRedirects {
			next, err := resolveRef(target, location)
			if err != nil {
				return nil, &bank.TransportError{Op: "bank redirect", Sent: true, Err: err}
			}
			target = next
			if status != fasthttp.StatusTemporaryRedirect && status != fasthttp.StatusPermanentRedirect {
				method, body, contentType = fasthttp.MethodGet, nil, ""
			}
			continue
		}
		return &bank.Response{Status: status, ContentType: respType, Body: respBody, URL: target}, nil
	}
}

func (u *upstream) once(method, target, contentType, accept string, body []byte, deadline time.Time, sensitive bool) (int, string, []byte, string, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	if sensitive {
		// Card data must not linger in the pool's buffers for the next request.
		defer func() { clear(req.Body()) }()
	}
	req.SetRequestURI(target)
	req.Header.SetMethod(method)
	if contentType != "" {
		req.Header.SetContentType(contentType)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if body != nil {
		req.SetBody(body)
	}
	if err := u.client.DoDeadline(req, resp, deadline); err != nil {
		return 0, "", nil, "", classify(err)
	}
	return resp.StatusCode(), string(resp.Header.ContentType()), append([]byte(nil), resp.Body()...),
		string(resp.Header.Peek("Location")), nil
}

// connectError is a failure to connect to the bank, TLS handshake
// included: the request was not sent.
type connectError struct{ err error }

func (e *connectError) Error() string { return e.err.Error() }
func (e *connectError) Unwrap() error { return e.err }

// connect wraps a HostClient's dial: it connects and, for HTTPS, completes
// the TLS handshake (fasthttp uses a connection that has done its
// handshake as it is). Any error here is a connectError. A TLS error
// after it — an alert or a broken record while the answer is read — comes
// after the request was written and is not one.
func connect(dial fasthttp.DialFuncWithTimeout, isTLS bool, base *tls.Config, handshakeTimeout time.Duration) fasthttp.DialFuncWithTimeout {
	return func(addr string, timeout time.Duration) (net.Conn, error) {
		conn, err := dial(addr, timeout)
		if err != nil {
			return nil, &connectError{err}
		}
		if !isTLS {
			return conn, nil
		}
		cfg := base.Clone()
		if cfg.ServerName == "" {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				conn.Close()
				return nil, &connectError{err}
			}
			cfg.ServerName = host
		}
		tc := tls.Client(conn, cfg)
		d := handshakeTimeout
		if timeout > 0 && timeout < d {
			d = timeout
		}
		_ = tc.SetDeadline(time.Now().Add(d))
		if err := tc.Handshake(); err != nil {
			conn.Close()
			return nil, &connectError{err}
		}
		_ = tc.SetDeadline(time.Time{})
		return tc, nil
	}
}

// classify turns a transport error into a bank.TransportError that says
// whether the request may have reached the bank.
func classify(err error) error {
	te := &bank.TransportError{Op: "bank call", Err: err}
	var netErr net.Error
	var connErr *connectError
	switch {
	case errors.Is(err, allowlist.ErrDenied):
	case errors.As(err, &connErr):
		// Not connected, or the TLS handshake failed: nothing was sent. A
		// timeout stays open (as it always was) until a status query.
		te.Timeout = errors.Is(err, fasthttp.ErrDialTimeout) || errors.As(err, &netErr) && netErr.Timeout()
	case errors.Is(err, fasthttp.ErrDialTimeout):
		te.Timeout = true
	case errors.Is(err, fasthttp.ErrNoFreeConns):
	case errors.Is(err, fasthttp.ErrTimeout), errors.As(err, &netErr) && netErr.Timeout():
		te.Timeout, te.Sent = true, true
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		te.Sent, te.Err = true, fmt.Errorf("%w: answer larger than %d bytes", bank.ErrMalformed, maxBankBody)
	default:
		te.Sent = true // broken mid-answer: the bank may have acted
	}
	return te
}

func resolveRef(base, ref string) (string, error) {
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	r, err := url.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("bad redirect location %q", ref)
	}
	return b.ResolveReference(r).String(), nil
}
