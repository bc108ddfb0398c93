package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/posrelay/posrelay/api"
	"github.com/posrelay/posrelay/internal/browser"
)

// card is what the shopper types.
type card struct {
	PAN, Month, Year, CVV, Holder, Code string
}

func testCard(pan string) card {
	return card{PAN: pan, Month: "12", Year: "2030", CVV: "000", Holder: "Test Shopper", Code: "123456"}
}

// fieldValue fills a form field the way a shopper would, for the relay's
// card page and the simulators' pages alike.
func (c card) fieldValue(name string) (string, bool) {
	switch strings.ToLower(name) {
	case "number", "pan", "cardnumber":
		return c.PAN, true
	case "exp_month", "ecom_payment_card_expdate_month", "expiremonth", "month", "expmonth":
		return c.Month, true
	case "exp_year", "expyear", "year", "expireyear":
		return c.Year, true
	case "ecom_payment_card_expdate_year":
		return c.Year[2:], true
	case "expiry":
		return c.Month + c.Year[2:], true
	case "cvv", "cv2", "cvv2", "cvc":
		return c.CVV, true
	case "holder", "cardholdername", "cardholdersname", "name":
		return c.Holder, true
	case "code", "otp", "password", "smscode":
		return c.Code, true
	}
	return "", false
}

// journey is one shopper's walk.
type journey struct {
	payment *api.Payment
	final   *browser.Page
	history []string
}

// createPayment starts a payment through the signed API.
func (s *stack) createPayment(t *testing.T, bank string, amount int64, mut func(*api.CreatePayment)) *api.Payment {
	t.Helper()
	order := "T" + strconv.FormatInt(time.Now().UnixNano(), 36)
	ret := func(r string) string { return s.Shop + "/return?order=" + order + "&result=" + r }
	req := &api.CreatePayment{Bank: bank, OrderID: order, Amount: amount, Currency: "TRY",
		ReturnURLs:       api.ReturnURLs{Success: ret("success"), Error: ret("error"), Cancel: ret("cancel")},
		Customer:         api.Customer{IP: "203.0.113.7", Email: "shopper@example.com", Name: "Test Shopper"},
		WixTransactionID: "wix-" + order}
	if mut != nil {
		mut(req)
	}
	p, err := s.client.CreatePayment(context.Background(), req, "")
	if err != nil {
		t.Fatalf("create payment: %v", err)
	}
	return p
}

// walk follows the shopper's pages from url until the browser lands on a
// page outside the relay and the simulators (the site's return page), or
// on a page without a form.
func (s *stack) walk(t *testing.T, b *browser.Browser, url string, c card) *browser.Page {
	t.Helper()
	ctx := context.Background()
	page, err := b.Get(ctx, url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	for i := 0; i < 20; i++ {
		if strings.HasPrefix(page.URL.String(), s.Shop) {
			return page
		}
		var form *browser.Form
		for _, f := range page.Forms() {
			if strings.HasSuffix(f.Action.Path, "/cancel") {
				continue
			}
			form = f
			break
		}
		if form == nil {
			return page
		}
		set := map[string]string{}
		for _, name := range form.Names {
			if v, ok := c.fieldValue(name); ok && (form.Values.Get(name) == "" || name == "exp_month" || name == "exp_year") {
				set[name] = v
			}
		}
		if page, err = b.Submit(ctx, form, set); err != nil {
			t.Fatalf("submit form on %s: %v (history %v)", form.Action, err, b.History)
		}
	}
	t.Fatalf("no end after 20 pages: %v", b.History)
	return nil
}

// pay creates a payment and walks it.
func (s *stack) pay(t *testing.T, bank string, amount int64, c card, mut func(*api.CreatePayment)) *journey {
	t.Helper()
	p := s.createPayment(t, bank, amount, mut)
	b := browser.New()
	final := s.walk(t, b, p.RedirectURL, c)
	return &journey{payment: p, final: final, history: b.History}
}

// payment reads a payment back from the relay.
func (s *stack) payment(t *testing.T, id string) *api.Payment {
	t.Helper()
	p, err := s.client.GetPayment(context.Background(), id, false)
	if err != nil {
		t.Fatalf("get payment %s: %v", id, err)
	}
	return p
}

type shopEvent struct {
	ID    string    `json:"id"`
	Event api.Event `json:"event"`
}

// webhooks waits until the shop received n webhooks for the payment.
func (s *stack) webhooks(t *testing.T, paymentID string, n int) []shopEvent {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(s.Shop + "/webhooks.json")
		if err != nil {
			t.Fatal(err)
		}
		var all []shopEvent
		_ = json.NewDecoder(resp.Body).Decode(&all)
		resp.Body.Close()
		var out []shopEvent
		for _, e := range all {
			if e.Event.Data.PaymentID == paymentID {
				out = append(out, e)
			}
		}
		if len(out) >= n || time.Now().After(deadline) {
			if len(out) < n {
				t.Fatalf("payment %s: %d webhooks after 10 s; want %d", paymentID, len(out), n)
			}
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
}
