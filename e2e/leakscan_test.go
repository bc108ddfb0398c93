package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"testing"

	"github.com/posrelay/posrelay/banksim"
	"github.com/posrelay/posrelay/internal/leakscan"
)

// leaks scans everything the suite sees: every HTTP answer the harnesses'
// clients and scripted browsers receive (through http.DefaultTransport),
// every relay log and every webhook body. Each harness registers its
// secrets and its simulators' origins when it starts (watch). Any hit
// fails the run.
var leaks = leakscan.NewCollector()

func TestMain(m *testing.M) {
	for _, c := range banksim.TestCards {
		leaks.AddCards(leakscan.Card{PAN: c.PAN, CVV: testCard(c.PAN).CVV, Month: testCard(c.PAN).Month, Year: testCard(c.PAN).Year})
	}
	// TestVakifbankCardDataStaysInMemory types its own card.
	leaks.AddCards(leakscan.Card{PAN: "4355084355084358", CVV: "482", Month: "11", Year: "2037"})
	http.DefaultTransport = leaks.Transport(http.DefaultTransport)
	code := m.Run()
	fmt.Println(leaks)
	if hits := leaks.Hits(); len(hits) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: card data or secrets in logs, answers or webhooks:\n%s", leaks.Report())
		code = 1
	}
	os.Exit(code)
}

// watch registers a harness's secrets and the base URLs of its bank
// simulators with the leak scan. The simulators' origins are taken back by
// a cleanup of t: call watch after registering the cleanup that closes the
// simulators, so that the origins go first, while the simulators still
// hold their ports. A port a closed simulator freed is soon handed to
// another listener — a later test's relay — whose answers would otherwise
// be read as a bank's pages, and the card fields of its auto-post form to
// its own simulator reported as a leak.
func watch(t testing.TB, secrets []string, bankURLs ...string) {
	t.Helper()
	leaks.AddSecrets(secrets...)
	var origins []string
	for _, b := range bankURLs {
		if u, err := url.Parse(b); err == nil && u.Host != "" {
			origins = append(origins, u.Scheme+"://"+u.Host)
		}
	}
	leaks.AddBankOrigins(origins...)
	t.Cleanup(func() { leaks.RemoveBankOrigins(origins...) })
}

// checkLeaks scans a text (a relay's log, a webhook body) and fails t on a hit.
func checkLeaks(t *testing.T, source string, text []byte) {
	t.Helper()
	for _, h := range leaks.Check(source, text) {
		t.Errorf("leak: %s", h)
	}
}
