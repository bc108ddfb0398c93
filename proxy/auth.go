package proxy

import (
	"errors"

	"github.com/valyala/fasthttp"

	"github.com/posrelay/posrelay/config"
	"github.com/posrelay/posrelay/signer"
)

// authenticate checks the scheme v1 headers against the raw request
// (method, request target exactly as sent, body bytes) and returns the
// calling site.
func (r *Relay) authenticate(ctx *fasthttp.RequestCtx, rs *reqState) (*config.Site, error) {
	h := &ctx.Request.Header
	// An auth header sent twice is ambiguous (a proxy in front may read the
	// other value): refused, whichever value comes first.
	for _, name := range [...]string{signer.HeaderKey, signer.HeaderTimestamp, signer.HeaderNonce, signer.HeaderSignature} {
		if len(h.PeekAll(name)) > 1 {
			rs.decision = "auth_refused"
			return nil, &apiError{Status: fasthttp.StatusUnauthorized, Code: signer.CodeMalformedHeader,
				Message: "the " + name + " header appears more than once; send each of the four auth headers exactly once"}
		}
	}
	key, err := r.verifier.Verify(signer.Request{
		Method:    string(ctx.Method()),
		Target:    string(ctx.RequestURI()),
		Body:      ctx.PostBody(),
		KeyID:     string(h.Peek(signer.HeaderKey)),
		Timestamp: string(h.Peek(signer.HeaderTimestamp)),
		Nonce:     string(h.Peek(signer.HeaderNonce)),
		Signature: string(h.Peek(signer.HeaderSignature)),
	})
	if err != nil {
		var ae *signer.AuthError
		if !errors.As(err, &ae) {
			return nil, internalError(err)
		}
		rs.decision = "auth_refused"
		status := fasthttp.StatusUnauthorized
		if ae.Code == signer.CodeReplayCacheFull {
			status = fasthttp.StatusServiceUnavailable
		}
		if ae.Code != signer.CodeUnknownKey {
			rs.keyID = key.ID
		}
		return nil, &apiError{Status: status, Code: ae.Code, Message: ae.Message}
	}
	rs.keyID, rs.site = key.ID, key.SiteID
	rs.decision = "authenticated"
	return r.sites[key.ID], nil
}
