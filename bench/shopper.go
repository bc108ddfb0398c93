package main

// The shopper's steps, done by the harness before anything is timed:
// create a payment through the signed API, follow the pages (relay →
// simulator's hosted card page → 3-D challenge) up to the form that would
// post the bank's answer to /callback/…, and hand that form back.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/posrelay/posrelay/api"
	"github.com/posrelay/posrelay/banksim"
	"github.com/posrelay/posrelay/internal/browser"
	"github.com/posrelay/posrelay/relayclient"
)

// approvedCard is the simulator's approved Visa test card.
const approvedCard = "4355084355084358"

// cardField fills a form field the way a shopper would.
func cardField(name string) (string, bool) {
	switch strings.ToLower(name) {
	case "number", "pan", "cardnumber":
		return approvedCard, true
	case "exp_month", "ecom_payment_card_expdate_month", "expmonth", "month":
		return "12", true
	case "exp_year", "expyear", "year":
		return "2030", true
	case "ecom_payment_card_expdate_year":
		return "30", true
	case "cvv", "cv2", "cvv2", "cvc":
		return "000", true
	case "holder", "cardholdername", "name":
		return "Test Shopper", true
	case "code", "otp", "password":
		return banksim.ChallengeCode, true
	}
	return "", false
}

// pending is a created payment walked up to its callback.
type pending struct {
	payment *api.Payment
	action  string // the callback URL
	fields  url.Values
}

func client(e *env, relay *relayProc) *relayclient.Client {
	return &relayclient.Client{BaseURL: relay.url, KeyID: e.keyID, Secret: []byte(e.secret)}
}

var orderSeq atomic.Int64

// createAndWalk creates a payment and walks the shopper to its callback form.
func createAndWalk(ctx context.Context, rc *relayclient.Client) (*pending, error) {
	order := "W" + strconv.FormatInt(time.Now().UnixNano(), 36) + strconv.FormatInt(orderSeq.Add(1), 36)
	p, err := rc.CreatePayment(ctx, &api.CreatePayment{Bank: "halkbank", OrderID: order, Amount: 14990, Currency: "TRY",
		ReturnURLs:       api.ReturnURLs{Success: siteOrigin + "/ok?o=" + order, Error: siteOrigin + "/fail?o=" + order},
		Customer:         api.Customer{IP: "203.0.113.7", Email: "shopper@example.com", Name: "Test Shopper"},
		WixTransactionID: "wix-" + order}, "")
	if err != nil {
		return nil, fmt.Errorf("create payment: %w", err)
	}
	b := browser.New()
	page, err := b.Get(ctx, p.RedirectURL)
	if err != nil {
		return nil, err
	}
	for range 10 {
		f, err := page.Form("")
		if err != nil {
			return nil, fmt.Errorf("no form on the way to the callback: %w (history %v)", err, b.History)
		}
		if strings.HasPrefix(f.Action.Path, "/callback/") {
			return &pending{payment: p, action: f.Action.String(), fields: f.Values}, nil
		}
		set := map[string]string{}
		for _, n := range f.Names {
			if v, ok := cardField(n); ok && (f.Values.Get(n) == "" || n == "exp_month" || n == "exp_year") {
				set[n] = v
			}
		}
		if page, err = b.Submit(ctx, f, set); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("no callback form after 10 pages: %v", b.History)
}

// walkMany prepares n payments up to their callbacks, par at a time.
func walkMany(ctx context.Context, rc *relayclient.Client, n, par int) ([]*pending, error) {
	out := make([]*pending, n)
	var next atomic.Int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range par {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				p, err := createAndWalk(ctx, rc)
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					next.Store(int64(n)) // stop the others
					return
				}
				out[i] = p
			}
		})
	}
	wg.Wait()
	return out, first
}

// completeMany walks n payments and posts their callbacks (approved), so
// they are succeeded in the journal and sold at the simulator.
func completeMany(ctx context.Context, rc *relayclient.Client, n int) ([]*api.Payment, error) {
	ps, err := walkMany(ctx, rc, n, 4)
	if err != nil {
		return nil, err
	}
	// The callback answers 303 to the site's return page: not followed
	// (shop.example is not on loopback).
	hc := &http.Client{Timeout: 15 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	out := make([]*api.Payment, 0, n)
	for _, p := range ps {
		resp, err := hc.PostForm(p.action, p.fields)
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			return nil, fmt.Errorf("callback of %s answered %d; want 303", p.payment.ID, resp.StatusCode)
		}
		got, err := rc.GetPayment(ctx, p.payment.ID, false)
		if err != nil {
			return nil, err
		}
		if got.Status != "succeeded" {
			return nil, fmt.Errorf("payment %s is %s after its callback; want succeeded", got.ID, got.Status)
		}
		out = append(out, got)
	}
	if len(out) == 0 {
		return nil, errors.New("no payments")
	}
	return out, nil
}
