// Package relayclient is a Go client for the relay's API: it signs every
// request with scheme v1 and decodes answers and errors. The demo shop,
// the tests and the benchmark harness use it; Wix sites use wix/backend/posrelay.js.
package relayclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/posrelay/posrelay/api"
	"github.com/posrelay/posrelay/signer"
)

// Client calls one relay as one site key.
type Client struct {
	BaseURL string // e.g. https://pay.example.com
	KeyID   string
	Secret  []byte
	HTTP    *http.Client     // nil = a client with a 10 s timeout
	Now     func() time.Time // nil = time.Now
}

// Error is an error answer from the relay.
type Error struct {
	Status int
	api.ErrorDetail
}

func (e *Error) Error() string {
	return fmt.Sprintf("relay: %d %s: %s (request %s)", e.Status, e.Code, e.Message, e.RequestID)
}

var defaultHTTP = &http.Client{Timeout: 10 * time.Second}

// Do sends a signed request. in (if not nil) is sent as JSON; out (if not
// nil) receives the JSON answer. headers are extra request headers.
func (c *Client) Do(ctx context.Context, method, target string, in, out any, headers map[string]string) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	status, raw, err := c.DoRaw(ctx, method, target, body, headers)
	if err != nil {
		return err
	}
	if status >= 300 {
		var e api.Error
		if json.Unmarshal(raw, &e) != nil || e.Error.Code == "" {
			return &Error{Status: status, ErrorDetail: api.ErrorDetail{Code: "http_" + strconv.Itoa(status), Message: strings.TrimSpace(string(raw))}}
		}
		return &Error{Status: status, ErrorDetail: e.Error}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("relay: decode %s %s answer: %w", method, target, err)
		}
	}
	return nil
}

// DoRaw sends a signed request with a raw body and returns status and body.
func (c *Client) DoRaw(ctx context.Context, method, target string, body []byte, headers map[string]string) (int, []byte, error) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+target, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	ts := now().Unix()
	nonce := signer.NewNonce()
	req.Header.Set(signer.HeaderKey, c.KeyID)
	req.Header.Set(signer.HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(signer.HeaderNonce, nonce)
	req.Header.Set(signer.HeaderSignature, signer.Sign(c.Secret, c.KeyID, ts, nonce, method, target, body))
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, raw, err
}

// CreatePayment starts a payment. idemKey may be "".
func (c *Client) CreatePayment(ctx context.Context, p *api.CreatePayment, idemKey string) (*api.Payment, error) {
	var out api.Payment
	var h map[string]string
	if idemKey != "" {
		h = map[string]string{"Idempotency-Key": idemKey}
	}
	return &out, c.Do(ctx, http.MethodPost, "/v1/payments", p, &out, h)
}

// GetPayment reads a payment; refresh asks the bank's status API too.
func (c *Client) GetPayment(ctx context.Context, id string, refresh bool) (*api.Payment, error) {
	var out api.Payment
	target := "/v1/payments/" + id
	if refresh {
		target += "?refresh=true"
	}
	return &out, c.Do(ctx, http.MethodGet, target, nil, &out, nil)
}

// Refund refunds all (amount 0) or part of a payment.
func (c *Client) Refund(ctx context.Context, id string, r *api.Refund, idemKey string) (*api.Operation, error) {
	var out api.Operation
	return &out, c.Do(ctx, http.MethodPost, "/v1/payments/"+id+"/refunds", r, &out, idem(idemKey))
}

// Void cancels a payment the same day.
func (c *Client) Void(ctx context.Context, id, idemKey string) (*api.Operation, error) {
	var out api.Operation
	return &out, c.Do(ctx, http.MethodPost, "/v1/payments/"+id+"/void", struct{}{}, &out, idem(idemKey))
}

// Capture captures a pre-authorisation.
func (c *Client) Capture(ctx context.Context, id string, r *api.Capture, idemKey string) (*api.Operation, error) {
	var out api.Operation
	return &out, c.Do(ctx, http.MethodPost, "/v1/payments/"+id+"/capture", r, &out, idem(idemKey))
}

func idem(k string) map[string]string {
	if k == "" {
		return nil
	}
	return map[string]string{"Idempotency-Key": k}
}
