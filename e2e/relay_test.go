package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/posrelay/posrelay/api"
	"github.com/posrelay/posrelay/banksim/est"
	"github.com/posrelay/posrelay/config"
	"github.com/posrelay/posrelay/proxy"
	"github.com/posrelay/posrelay/relayclient"
	"github.com/posrelay/posrelay/signer"
	"github.com/posrelay/posrelay/store"
)

// fakeClock is the relay's injected clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// receiver plays the Wix site's webhook endpoint; it can be taken down.
type receiver struct {
	srv  *httptest.Server
	key  []byte
	mu   sync.Mutex
	down bool
	got  []received
	now  func() time.Time
}

type received struct {
	ID    string
	Event api.Event
	Valid bool
}

func newReceiver(t *testing.T, whsec string, now func() time.Time) *receiver {
	key, err := signer.ParseWebhookSecret(whsec)
	if err != nil {
		t.Fatal(err)
	}
	rc := &receiver{key: key, now: now}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		leaks.Check("webhook body", body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if rc.down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		id := r.Header.Get("webhook-id")
		err := signer.VerifyWebhook(rc.key, id, r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature"), body, rc.now(), 5*time.Minute)
		var ev api.Event
		_ = json.Unmarshal(body, &ev)
		rc.got = append(rc.got, received{ID: id, Event: ev, Valid: err == nil})
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) setDown(d bool) { rc.mu.Lock(); rc.down = d; rc.mu.Unlock() }

func (rc *receiver) events() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// relayStack is a relay on a fixed address and state directory that a
// test can stop and start again, with a Halkbank simulator and a receiver.
type relayStack struct {
	t        *testing.T
	addr     string
	stateDir string
	yaml     string
	env      map[string]string
	clock    *fakeClock
	sim      *est.Sim
	simURL   string
	recv     *receiver
	client   *relayclient.Client
	logs     *syncBuffer
	relay    *proxy.Relay
	journal  store.Journal
	stop     func()
	secret   string
	storeKey string
	simClock *simClock
}

func newRelayStack(t *testing.T, model string) *relayStack {
	t.Helper()
	return newRelayStackWith(t, model, nil)
}

// newRelayStackWith builds the stack with the simulator's handler wrapped
// (a faulty network between the relay and the bank); the simulator's clock
// is s.simClock.
func newRelayStackWith(t *testing.T, model string, wrap func(http.Handler) http.Handler) *relayStack {
	t.Helper()
	s := &relayStack{t: t, stateDir: t.TempDir(), clock: &fakeClock{t: time.Now().UTC().Truncate(time.Second)}, logs: &syncBuffer{}, simClock: &simClock{}}
	s.storeKey = "sk-" + signer.NewNonce()
	s.sim = est.New(est.Config{ClientID: "190100000", StoreKey: s.storeKey, APIUser: "API", APIPassword: "pw-123", Now: s.simClock.Now})
	var h http.Handler = s.sim.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	simSrv := httptest.NewServer(h)
	t.Cleanup(simSrv.Close)
	s.simURL = simSrv.URL
	keyID, secret := signer.NewKeySecret()
	s.secret = secret
	whsec := signer.NewWebhookSecret()
	s.recv = newReceiver(t, whsec, s.clock.Now)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	ln.Close()
	s.env = map[string]string{"SECRET": secret, "WHSEC": whsec, "STORE_KEY": s.storeKey, "API_PASSWORD": "pw-123"}
	s.yaml = fmt.Sprintf(`tls: {mode: off}
server: {listen: %q, public_url: "http://%s", admin_listen: ""}
state_dir: %q
egress: {allow_ranges: ["127.0.0.0/8"], bank_timeout: 2s}
environments: {sim: {halkbank: %q}}
sites:
  - id: shop
    keys: [{id: %q, secret: "${SECRET}"}]
    webhook: {url: %q, secret: "${WHSEC}"}
    return_origins: ["https://shop.example"]
    accounts:
      - {bank: halkbank, environment: sim, model: %s, client_id: "190100000", api_user: API, store_key: "${STORE_KEY}", api_password: "${API_PASSWORD}"}
`, s.addr, s.addr, s.stateDir, s.simURL, keyID, s.recv.srv.URL+"/_functions/posrelay", model)
	s.client = &relayclient.Client{BaseURL: "http://" + s.addr, KeyID: keyID, Secret: []byte(secret), Now: s.clock.Now}
	watch(t, []string{secret, whsec, s.storeKey, "pw-123"}, s.simURL) // after simSrv.Close's cleanup: see watch
	s.start()
	t.Cleanup(func() {
		if s.stop != nil {
			s.stop()
		}
		for _, sec := range []string{secret, whsec, s.storeKey, "pw-123"} {
			if strings.Contains(s.logs.String(), sec) {
				t.Error("a secret appears in the relay's logs")
			}
		}
		for _, pan := range findPANs(s.logs.String()) {
			t.Errorf("a card number appears in the logs: %s…", pan[:6])
		}
		checkLeaks(t, "relay log", []byte(s.logs.String()))
	})
	return s
}

func (s *relayStack) start() {
	t := s.t
	cfg, err := config.Parse(strings.NewReader(s.yaml), func(k string) (string, bool) { v, ok := s.env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	j, err := store.OpenSQLite(filepath.Join(s.stateDir, "journal.db"), store.SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(s.logs), zapcore.DebugLevel))
	r, err := proxy.New(proxy.Options{Config: cfg, Journal: j, Logger: log, Now: s.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	for i := 0; i < 50; i++ { // the port was just released by the previous run
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.RunListener(ctx, ln) }()
	s.relay, s.journal = r, j
	s.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("relay: %v", err)
		}
		j.Close()
		s.stop = nil
	}
}

// restart stops the relay and starts a new one on the same state.
func (s *relayStack) restart() {
	s.stop()
	s.start()
}

// create starts a payment.
func (s *relayStack) create(t *testing.T, amount int64) *api.Payment {
	t.Helper()
	order := "R" + strconv.FormatInt(time.Now().UnixNano(), 36)
	p, err := s.client.CreatePayment(context.Background(), &api.CreatePayment{Bank: "halkbank", OrderID: order, Amount: amount, Currency: "TRY",
		ReturnURLs:       api.ReturnURLs{Success: "https://shop.example/ok?o=" + order, Error: "https://shop.example/fail?o=" + order},
		WixTransactionID: "wix-" + order}, "")
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return p
}

// payment reads a payment from the journal directly.
func (s *relayStack) payment(t *testing.T, id string) *store.Payment {
	t.Helper()
	p, err := s.journal.GetPayment(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
