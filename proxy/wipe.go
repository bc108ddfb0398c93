package proxy

import "github.com/valyala/fasthttp"

// wipeCardForm zeroes the card form's bytes in the request's buffers: the
// raw body and the parsed form values. fasthttp pools both, so without
// this a card number would sit in memory until another request happens to
// overwrite the buffer. It is best effort: the strings the card was copied
// into (bank.Card) cannot be overwritten in Go and are left to the
// collector, and the connection's read buffer is fasthttp's own.
func wipeCardForm(ctx *fasthttp.RequestCtx) {
	for _, v := range ctx.PostArgs().All() {
		clear(v)
	}
	clear(ctx.Request.Body())
}
