package reliability

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posrelay/posrelay/banksim/payfor"
	"github.com/posrelay/posrelay/banksim/vakif"
	"github.com/posrelay/posrelay/config"
	"github.com/posrelay/posrelay/internal/browser"
	"github.com/posrelay/posrelay/signer"
)

// The relay's accounts on the QNB (PayFor) and VakıfBank simulators, by the
// name a payment's "bank" field uses.
const (
	acctQNB3DHost  = "q3dhost"
	acctQNB3DModel = "q3dmodel"
	acctVakifMPI   = "vmpi"
	acctVakifCP    = "vcp"
)

// banksStack is an in-process relay (injected, frozen clock) in front of a
// QNB and a VakıfBank simulator the test holds: their counters are read
// directly.
type banksStack struct {
	*stack
	qnb      *payfor.Sim
	qnbCfg   payfor.Config
	vakif    *vakif.Sim
	vakifCfg vakif.Config
}

func newBanksStack(t *testing.T) *banksStack {
	t.Helper()
	b := &banksStack{}
	b.qnbCfg = payfor.Config{MbrID: "5", MerchantID: "085300000001907", UserCode: "POSRELAY_API",
		UserPass: "up-" + signer.NewNonce(), MerchantPass: "mp-" + signer.NewNonce(), HangFor: 5 * time.Second}
	b.qnb = payfor.New(b.qnbCfg)
	qsrv := httptest.NewServer(b.qnb.Handler())
	t.Cleanup(func() { b.qnb.Close(); qsrv.Close() })
	b.vakifCfg = vakif.Config{MerchantID: "000100000013506", TerminalNo: "VP000579", Password: "pw-" + signer.NewNonce(), HangFor: 5 * time.Second}
	b.vakif = vakif.New(b.vakifCfg)
	vsrv := httptest.NewServer(b.vakif.Handler())
	t.Cleanup(func() { b.vakif.Close(); vsrv.Close() })
	watchBanks(t, qsrv.URL, vsrv.URL) // after the simulators' cleanups: see watchBanks

	s := &stack{t: t, clock: newFakeClock(), logs: &syncBuffer{}, http: &http.Client{Timeout: 15 * time.Second}}
	b.stack = s
	s.keyID, s.secret = signer.NewKeySecret()
	s.whsec = signer.NewWebhookSecret()
	s.recv = newReceiver(t, s.whsec)
	leaks.AddSecrets(s.secret, s.whsec, strings.TrimPrefix(s.whsec, "whsec_"), b.qnbCfg.UserPass, b.qnbCfg.MerchantPass, b.vakifCfg.Password)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	s.url = "http://" + addr
	dir := t.TempDir()
	s.dbPath = filepath.Join(dir, "journal.db")
	qnbAcct := func(name, model string) string {
		return fmt.Sprintf(`      - {name: %s, bank: qnb, environment: sim, model: %s, mbr_id: "5", merchant_id: %q, user_code: %q, user_pass: "${QNB_USER_PASS}", merchant_pass: "${QNB_MERCHANT_PASS}"}
`, name, model, b.qnbCfg.MerchantID, b.qnbCfg.UserCode)
	}
	vakifAcct := func(name, model string) string {
		return fmt.Sprintf(`      - {name: %s, bank: vakifbank, environment: sim, model: %s, merchant_id: %q, terminal_no: %q, password: "${VAKIF_PASSWORD}"}
`, name, model, b.vakifCfg.MerchantID, b.vakifCfg.TerminalNo)
	}
	yaml := fmt.Sprintf(`tls: {mode: off}
server: {listen: %q, public_url: "http://%s", admin_listen: ""}
state_dir: %q
egress: {allow_ranges: ["127.0.0.0/8"], bank_timeout: 5s, dial_timeout: 2s}
log: {level: debug}
environments: {sim: {qnb: %q, vakifbank: %q}}
sites:
  - id: shop
    keys: [{id: %q, secret: "${SECRET}"}]
    webhook: {url: %q, secret: "${WHSEC}"}
    return_origins: ["https://shop.example"]
    max_installments: 6
    accounts:
%s%s%s%s`, addr, addr, dir, qsrv.URL, vsrv.URL, s.keyID, s.recv.srv.URL+"/_functions/posrelay",
		qnbAcct(acctQNB3DHost, "3DHost"), qnbAcct(acctQNB3DModel, "3DModel"), vakifAcct(acctVakifMPI, "mpi"), vakifAcct(acctVakifCP, "common_payment"))
	env := map[string]string{"SECRET": s.secret, "WHSEC": s.whsec, "QNB_USER_PASS": b.qnbCfg.UserPass,
		"QNB_MERCHANT_PASS": b.qnbCfg.MerchantPass, "VAKIF_PASSWORD": b.vakifCfg.Password}
	cfg, err := config.Parse(strings.NewReader(yaml), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	s.start(t, cfg, ln, nil)
	return b
}

// bankReturn is a bank's answer as the shopper's browser brings it to the
// relay: a form post (QNB, VakıfBank MPI) or a GET with a query (VakıfBank
// Common Payment), fields in order.
type bankReturn struct {
	method string
	action *url.URL // the relay's callback URL, without a query
	fields []field
}

func (r bankReturn) token() string { return strings.TrimPrefix(r.action.Path, "/callback/") }

func (r bankReturn) get(name string) string {
	for _, f := range r.fields {
		if f.name == name {
			return f.value
		}
	}
	return ""
}

// shopperValue fills a field of the relay's or a simulator's card, expiry
// or challenge inputs the way the shopper would.
func shopperValue(name, pan string) (string, bool) {
	switch strings.ToLower(name) {
	case "cardnumber":
		return pan, true
	case "expiry":
		return typedMonth + typedYear[2:], true
	case "expiremonth":
		return typedMonth, true
	case "expireyear":
		return typedYear, true
	case "cvv2":
		return typedCVV, true
	case "cardholdername", "cardholdersname":
		return holder, true
	case "password", "smscode":
		return "123456", true
	}
	return fieldValue(name, pan)
}

// walkToReturn follows the shopper's pages from payURL until the bank sends
// the browser back to the relay, and returns that return unsent.
func walkToReturn(ctx context.Context, payURL, pan string) (bankReturn, error) {
	hc := &http.Client{Timeout: 15 * time.Second, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.Path, "/callback/") {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	b := &browser.Browser{HTTP: hc}
	page, err := b.Get(ctx, payURL)
	if err != nil {
		return bankReturn{}, err
	}
	for i := 0; i < 12; i++ {
		if page.Status >= 300 && page.Status < 400 {
			u, err := page.URL.Parse(page.Header.Get("Location"))
			if err != nil || !strings.HasPrefix(u.Path, "/callback/") {
				return bankReturn{}, fmt.Errorf("sent to %q (history %v)", page.Header.Get("Location"), b.History)
			}
			var fs []field
			for _, kv := range strings.Split(u.RawQuery, "&") {
				k, v, _ := strings.Cut(kv, "=")
				k, _ = url.QueryUnescape(k)
				v, _ = url.QueryUnescape(v)
				if k != "" {
					fs = append(fs, field{k, v})
				}
			}
			u.RawQuery = ""
			return bankReturn{method: http.MethodGet, action: u, fields: fs}, nil
		}
		var f *browser.Form
		for _, x := range page.Forms() {
			if !strings.HasSuffix(x.Action.Path, "/cancel") {
				f = x
				break
			}
		}
		if f == nil {
			return bankReturn{}, fmt.Errorf("no form on %s (status %d; history %v)\n%.500s", page.URL, page.Status, b.History, page.Body)
		}
		if strings.HasPrefix(f.Action.Path, "/callback/") {
			r := bankReturn{method: http.MethodPost, action: f.Action}
			seen := map[string]int{}
			for _, n := range f.Names {
				vs := f.Values[n]
				if seen[n] < len(vs) {
					r.fields = append(r.fields, field{n, vs[seen[n]]})
				}
				seen[n]++
			}
			return r, nil
		}
		if page, err = b.Submit(ctx, f, typedFields(f, pan, shopperValue)); err != nil {
			return bankReturn{}, err
		}
	}
	return bankReturn{}, fmt.Errorf("no return to the relay after 12 pages: %v", b.History)
}
