package proxy

import (
	"bytes"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestWipeCardForm: after wipeCardForm neither the request body nor the
// parsed form values hold the card's digits.
func TestWipeCardForm(t *testing.T) {
	for _, tt := range []struct {
		name string
		body string
	}{
		{"plain", "number=4355084355084358&exp_month=12&exp_year=2030&cvv=123&holder=Ay%C5%9Fe+Y%C4%B1lmaz"},
		{"grouped and escaped", "number=4355+0843+5508+4358&cvv=%31%32%33&holder=A"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var ctx fasthttp.RequestCtx
			ctx.Request.Header.SetMethod(fasthttp.MethodPost)
			ctx.Request.Header.SetContentType("application/x-www-form-urlencoded")
			ctx.Request.SetBodyString(tt.body)
			if len(ctx.PostArgs().Peek("number")) == 0 {
				t.Fatal("form not parsed")
			}
			args := ctx.PostArgs()
			number, cvv := args.Peek("number"), args.Peek("cvv") // views into fasthttp's buffers
			body := ctx.Request.Body()
			wipeCardForm(&ctx)
			for name, b := range map[string][]byte{"body": body, "number": number, "cvv": cvv} {
				if bytes.ContainsAny(b, "123456789") {
					t.Errorf("%s still holds digits after the wipe: %q", name, b)
				}
			}
		})
	}
}
