package proxy

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/valyala/fasthttp"
)

// apiError is an error answered to an API client. Message is client-safe
// and names the field and the fix; Cause is for the log only.
type apiError struct {
	Status  int
	Code    string
	Message string
	Field   string
	Cause   error
}

func (e *apiError) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Cause)
	}
	return e.Code + ": " + e.Message
}

func (e *apiError) Unwrap() error { return e.Cause }

func errBadRequest(code, field, format string, args ...any) *apiError {
	return &apiError{Status: fasthttp.StatusBadRequest, Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

func errInvalid(field, format string, args ...any) *apiError {
	return &apiError{Status: fasthttp.StatusUnprocessableEntity, Code: "invalid_" + field, Field: field, Message: fmt.Sprintf(format, args...)}
}

var (
	errNotFound = &apiError{Status: fasthttp.StatusNotFound, Code: "not_found", Message: "No such resource; check the path and the id."}
	errMethod   = &apiError{Status: fasthttp.StatusMethodNotAllowed, Code: "method_not_allowed", Message: "This path does not take that method."}
)

// internalError hides cause from the client.
func internalError(cause error) *apiError {
	return &apiError{Status: fasthttp.StatusInternalServerError, Code: "internal_error",
		Message: "The relay could not complete the request; it has been logged. Retry with the same Idempotency-Key.", Cause: cause}
}

// asAPIError maps any error to what the client sees: one place decides
// the status for every error.
func asAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	return internalError(err)
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Field     string `json:"field,omitempty"`
	RequestID string `json:"requestId"`
}

// writeError answers err as {"error":{"code","message","field","requestId"}}.
func writeError(ctx *fasthttp.RequestCtx, rs *reqState, err error) {
	ae := asAPIError(err)
	rs.code = ae.Code
	if ae.Cause != nil {
		rs.cause = ae.Cause
	}
	if ae.Status == fasthttp.StatusServiceUnavailable || ae.Status == fasthttp.StatusTooManyRequests {
		ctx.Response.Header.Set("Retry-After", "1")
	}
	writeJSON(ctx, ae.Status, errorBody{errorDetail{Code: ae.Code, Message: ae.Message, Field: ae.Field, RequestID: rs.id}})
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = fasthttp.StatusInternalServerError, []byte(`{"error":{"code":"internal_error","message":"could not encode the answer"}}`)
	}
	ctx.Response.Header.SetContentType("application/json; charset=utf-8")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetStatusCode(status)
	ctx.SetBody(append(b, '\n'))
}
