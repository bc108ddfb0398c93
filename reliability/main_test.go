// Package reliability holds the relay's crash, fault, bad-input and leak
// tests: the real binary killed with SIGKILL mid-load, a bank that answers
// badly in every way a network can, a corpus of hostile requests, and a
// scan of everything the relay wrote or answered for card data and
// secrets. The package has no non-test code.
package reliability

import (
	"fmt"
	"net/http"
	"os"
	"testing"

	"github.com/posrelay/posrelay/banksim"
	"github.com/posrelay/posrelay/internal/leakscan"
)

// leaks scans every HTTP answer the tests' clients receive (through
// http.DefaultTransport), the relays' logs, webhook bodies and journal
// files. Any hit fails the run.
var leaks = leakscan.NewCollector()

func TestMain(m *testing.M) {
	for _, c := range banksim.TestCards {
		leaks.AddCards(leakscan.Card{PAN: c.PAN, CVV: typedCVV, Month: typedMonth, Year: typedYear})
	}
	http.DefaultTransport = leaks.Transport(http.DefaultTransport)
	code := m.Run()
	if testing.Verbose() || len(leaks.Hits()) > 0 {
		fmt.Println(leaks)
	}
	if len(leaks.Hits()) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: card data or secrets in logs, answers, webhooks or journal files:\n%s", leaks.Report())
		code = 1
	}
	os.Exit(code)
}

// What the tests' shopper types besides the card number.
const (
	typedCVV   = "000"
	typedMonth = "12"
	typedYear  = "2030"
	holder     = "Test Shopper"
)
