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

// watchBanks registers bank simulators' base URLs with the leak scan until
// t's cleanups reach the one it adds: call it after registering the
// cleanup that closes the simulators, so that their origins are taken back
// while the simulators still hold their ports. A port a closed simulator
// freed may go to a later test's relay, whose pages would otherwise be read
// as a bank's (and the card fields of its form to its own bank reported).
func watchBanks(t testing.TB, urls ...string) {
	leaks.AddBankOrigins(urls...)
	t.Cleanup(func() { leaks.RemoveBankOrigins(urls...) })
}

// What the tests' shopper types besides the card number.
const (
	typedCVV   = "000"
	typedMonth = "12"
	typedYear  = "2030"
	holder     = "Test Shopper"
)
