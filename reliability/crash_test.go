package reliability

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/posrelay/posrelay/api"
	"github.com/posrelay/posrelay/banksim"
	"github.com/posrelay/posrelay/banksim/est"
	"github.com/posrelay/posrelay/internal/browser"
	"github.com/posrelay/posrelay/internal/requireall"
	"github.com/posrelay/posrelay/relayclient"
	"github.com/posrelay/posrelay/signer"
	"github.com/posrelay/posrelay/store"
)

// crashPayments is how many payments the crash test runs.
const crashPayments = 1000

// crashCards is the mix of cards the shoppers use, in turn: approvals, the
// issuer's declines, a failed 3-D authentication, and the two cards whose
// sale the bank records while its answer to the provisioning call never
// comes or is unreadable.
var crashCards = []string{
	"4355084355084358", // approve
	"5400000000000005", // approve
	"9792000000000003", // approve
	"4000000000000515", // 51
	"4355084355084358", // approve
	"4000000000000549", // 54
	"4000000000000143", // 14
	"4000000000003006", // 3-D fails: no provisioning
	"4000000000009904", // provisioning answer hangs past bank_timeout (sale recorded)
	"4000000000009805", // provisioning answer is a WAF page (sale recorded)
}

// buildRelay builds the posrelay binary into a temporary directory.
func buildRelay(t *testing.T) string {
	t.Helper()
	goTool := requireall.Tool(t, "go", "install Go (https://go.dev/dl/) to build the relay")
	out, err := exec.Command(goTool, "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bin := filepath.Join(t.TempDir(), "posrelay")
	cmd := exec.Command(goTool, "build", "-o", bin, ".")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return bin
}

// child is the relay running as a separate process.
type child struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// crashShop is one payment of the crash test as the shop and the shopper
// see it.
type crashShop struct {
	p        *api.Payment
	pan      string
	success  string
	failure  string
	callback *browser.Form
	answer   atomic.Pointer[answer] // the definitive answer, once one came
	tries    atomic.Int32
}

func (c *crashShop) definitive(a *answer) bool {
	return a != nil && a.status == http.StatusSeeOther && (a.location == c.success || a.location == c.failure)
}

// TestCrashKill9 runs the real binary, kills it with SIGKILL while a
// thousand 3-D callbacks (and their provisioning calls) are under way,
// starts it again on the same state, lets the shoppers' browsers retry,
// and checks that nothing was lost or done twice: every sale the bank
// approved is succeeded with one provisioning call, every other payment
// failed, every final state told to the site by exactly one webhook.
func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	start := time.Now()
	bin := buildRelay(t)
	t.Logf("built the binary in %v", time.Since(start).Round(time.Millisecond))

	bank := newBankAccount(t)
	simURL := bank.serve(t)
	keyID, secret := signer.NewKeySecret()
	whsec := signer.NewWebhookSecret()
	recv := newReceiver(t, whsec)
	leaks.AddSecrets(secret, whsec, strings.TrimPrefix(whsec, "whsec_"), bank.storeKey, bank.apiPassword)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	cfgPath := filepath.Join(dir, "posrelay.yaml")
	const bankTimeout = time.Second
	yaml := relayYAML(addr, stateDir, simURL, keyID, recv.srv.URL+"/_functions/posrelay", bankTimeout.String(), "", "")
	yaml = strings.Replace(yaml, "log: {level: debug}", "log: {level: info}", 1)
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "relay.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	env := append(os.Environ(), "SECRET="+secret, "WHSEC="+whsec, "STORE_KEY="+bank.storeKey, "API_PASSWORD="+bank.apiPassword)
	base := "http://" + addr
	probe := &http.Client{Timeout: time.Second}
	run := func() *child {
		cmd := exec.Command(bin, "serve", "--config", cfgPath)
		cmd.Env, cmd.Stdout, cmd.Stderr = env, logFile, logFile
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		c := &child{cmd: cmd, done: make(chan struct{})}
		go func() { c.err = cmd.Wait(); close(c.done) }()
		deadline := time.Now().Add(20 * time.Second)
		for {
			select {
			case <-c.done:
				t.Fatalf("the relay exited at start: %v", c.err)
			default:
			}
			if resp, err := probe.Get(base + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return c
				}
			}
			if time.Now().After(deadline) {
				_ = cmd.Process.Kill()
				t.Fatal("the relay is not ready after 20 s")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	relay := run()
	t.Cleanup(func() {
		if relay.cmd.ProcessState == nil {
			_ = relay.cmd.Process.Kill()
			<-relay.done
		}
	})

	// Many connections at once: a transport that keeps them.
	tr := &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 0, IdleConnTimeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: leaks.Transport(tr), Timeout: 15 * time.Second}
	client := &relayclient.Client{BaseURL: base, KeyID: keyID, Secret: []byte(secret), HTTP: hc}
	ctx := context.Background()

	// 1. The shop starts a thousand payments; 2. each shopper walks to the
	// bank's callback form (relay card page, bank gate, 3-D challenge).
	shops := make([]*crashShop, crashPayments)
	phase := time.Now()
	parallel(t, crashPayments, 16, func(i int) error {
		req := createRequest("h3d", int64(1000+i*7))
		p, err := client.CreatePayment(ctx, req, "")
		if err != nil {
			return fmt.Errorf("create %d: %w", i, err)
		}
		shops[i] = &crashShop{p: p, pan: crashCards[i%len(crashCards)], success: req.ReturnURLs.Success, failure: req.ReturnURLs.Error}
		f, err := walkToCallback(ctx, hc, p.RedirectURL, shops[i].pan)
		if err != nil {
			return fmt.Errorf("walk %d: %w", i, err)
		}
		shops[i].callback = f
		return nil
	})
	t.Logf("created %d payments and walked them to their callbacks in %v", crashPayments, time.Since(phase).Round(time.Millisecond))

	// 3. The callbacks arrive at once, in random order; the relay is
	// killed with SIGKILL part-way.
	order := rand.Perm(crashPayments)
	var answered atomic.Int32
	killAt := int32(crashPayments * 2 / 5)
	var killOnce sync.Once
	killed := make(chan struct{})
	post := func(c *crashShop) {
		c.tries.Add(1)
		a, err := postForm(ctx, hc, c.callback.Action.String(), c.callback.Values)
		if err != nil {
			return // the connection broke: the browser will retry
		}
		if c.definitive(a) {
			c.answer.Store(a)
		}
	}
	phase = time.Now()
	parallel(t, crashPayments, 32, func(i int) error {
		post(shops[order[i]])
		if answered.Add(1) >= killAt {
			killOnce.Do(func() {
				_ = relay.cmd.Process.Signal(syscall.SIGKILL)
				<-relay.done
				close(killed)
			})
		}
		return nil
	})
	<-killed
	before := countDefinitive(shops)
	t.Logf("posted the callbacks; SIGKILL after %d answers; %d definitive answers before the crash (%v)", killAt, before, time.Since(phase).Round(time.Millisecond))

	// The journal as the crash left it (WAL included) holds no card data.
	scanJournalFiles(t, stateDir, "after SIGKILL")
	dbPath := filepath.Join(stateDir, "journal.db")
	t.Logf("at the kill: %d payments mid-provisioning (stage callback), %d unknown, %d still at the bank step",
		fingerprintQuery(t, dbPath, `SELECT count(*) FROM payments WHERE status = 'pending' AND stage = 'callback'`),
		fingerprintQuery(t, dbPath, `SELECT count(*) FROM payments WHERE status = 'unknown'`),
		fingerprintQuery(t, dbPath, `SELECT count(*) FROM payments WHERE status = 'pending' AND stage = 'bankstep'`))

	// 4. Start again on the same state and port; the shoppers' browsers
	// retry every callback that got no definitive answer, until it does
	// (the sweeper settles the provisioning the crash cut off, by status
	// query, after 2 × bank_timeout).
	phase = time.Now()
	relay = run()
	deadline := time.Now().Add(40 * time.Second)
	rounds := 0
	for {
		var open []*crashShop
		for _, c := range shops {
			if c.answer.Load() == nil {
				open = append(open, c)
			}
		}
		if len(open) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d callbacks still without a definitive answer 40 s after the restart", len(open))
		}
		rounds++
		parallel(t, len(open), 32, func(i int) error { post(open[i]); return nil })
		if countDefinitive(shops) < crashPayments {
			time.Sleep(200 * time.Millisecond) // a browser's retry interval, not a wait for a condition
		}
	}
	t.Logf("every callback answered definitively after the restart in %v (%d retry rounds)", time.Since(phase).Round(time.Millisecond), rounds)

	// 5. Every final state reaches the site.
	waitUntil(t, 30*time.Second, "a webhook for every payment", func() bool {
		for _, c := range shops {
			if len(recv.idsFor(c.p.ID)) == 0 {
				return false
			}
		}
		return true
	})
	// The outbox is empty: nothing else is on its way.
	waitUntil(t, 20*time.Second, "an empty outbox", func() bool {
		return pendingWebhooks(t, dbPath) == 0
	})
	scanJournalFiles(t, stateDir, "running")

	// 6. Stop it (SIGTERM) and read the journal.
	_ = relay.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-relay.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the relay did not stop within 30 s of SIGTERM")
	}
	scanJournalFiles(t, stateDir, "stopped")
	logs, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range leaks.Check("relay log (child)", logs) {
		t.Errorf("leak: %s", h)
	}

	j, err := store.OpenSQLite(dbPath, store.SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	checkCrashOutcome(t, j, bank.sim, recv, shops)
	_, deliveries, invalid := recv.counts()
	t.Logf("webhooks: %d deliveries for %d payments (%d with a bad signature); total %v", deliveries, crashPayments, invalid, time.Since(start).Round(time.Millisecond))
}

// checkCrashOutcome compares the journal with the bank's ledger, the
// bank's call counters, the shoppers' answers and the site's webhooks.
func checkCrashOutcome(t *testing.T, j *store.SQLite, sim *est.Sim, recv *receiver, shops []*crashShop) {
	ctx := context.Background()
	calls := sim.Calls()
	all, err := j.ListWebhooks(ctx, store.WebhookFilter{})
	if err != nil {
		t.Fatal(err)
	}
	outbox := map[string][]*store.Webhook{}
	for _, w := range all {
		outbox[w.PaymentID] = append(outbox[w.PaymentID], w)
	}
	tally := map[string]int{}
	bad := 0
	fail := func(format string, args ...any) {
		if bad++; bad <= 20 {
			t.Errorf(format, args...)
		}
	}
	for _, c := range shops {
		p, err := j.GetPayment(ctx, c.p.ID)
		if err != nil {
			t.Fatal(err)
		}
		o, inLedger := sim.Order(p.BankOrderID)
		approved := inLedger && o.State == banksim.StateApproved
		provisions := calls.Provisions(p.BankOrderID)
		outcome := banksim.CardOutcome(c.pan)
		switch {
		case approved && p.Status != store.StatusSucceeded:
			fail("payment %s (%s): the bank approved it; the journal says %s", p.ID, outcome, p.Status)
		case !approved && p.Status != store.StatusFailed:
			fail("payment %s (%s): the bank has no approved sale (ledger %v %s); the journal says %s", p.ID, outcome, inLedger, o.State, p.Status)
		}
		if approved && provisions != 1 {
			fail("payment %s: %d provisioning calls; want exactly 1", p.ID, provisions)
		}
		if provisions > 1 {
			fail("payment %s: provisioned %d times", p.ID, provisions)
		}
		if outcome == banksim.ThreeDSFail && provisions != 0 {
			fail("payment %s: a failed 3-D authentication was provisioned", p.ID)
		}
		a := c.answer.Load()
		want := c.failure
		if p.Status == store.StatusSucceeded {
			want = c.success
		}
		if a == nil || a.location != want {
			fail("payment %s (%s): the shopper was sent to %v; want %s", p.ID, p.Status, a, want)
		}
		ids := recv.idsFor(p.ID)
		wantType := map[store.PaymentStatus]string{store.StatusSucceeded: api.EventPaymentSucceeded, store.StatusFailed: api.EventPaymentFailed}[p.Status]
		if len(ids) != 1 {
			fail("payment %s: %d different webhook messages %v; want exactly 1", p.ID, len(ids), ids)
		} else if ev := recv.event(ids[0]); ev.Type != wantType || ev.Data.Status != string(p.Status) {
			fail("payment %s: webhook %s says %s/%s; want %s", p.ID, ids[0], ev.Type, ev.Data.Status, wantType)
		}
		if ws := outbox[p.ID]; len(ws) != 1 || ws[0].Status != store.WebhookDelivered {
			fail("payment %s: %d outbox messages; want 1, delivered", p.ID, len(ws))
		}
		key := string(p.Status)
		if p.Result != nil {
			key += " " + p.Result.Code
			if strings.Contains(p.Result.BankMessage, "status query") || strings.Contains(p.Result.BankMessage, "no transaction") {
				key += " (settled by status query)"
			}
		}
		tally[key]++
	}
	t.Logf("outcomes: %v", tally)
	if n, _ := j.ListPayments(ctx, store.PaymentFilter{}); len(n) != len(shops) {
		t.Errorf("%d payments in the journal; want %d", len(n), len(shops))
	}
}

func countDefinitive(shops []*crashShop) int {
	n := 0
	for _, c := range shops {
		if c.answer.Load() != nil {
			n++
		}
	}
	return n
}

// pendingWebhooks counts the outbox messages not yet delivered.
func pendingWebhooks(t testing.TB, dbPath string) int {
	f := fingerprintQuery(t, dbPath, `SELECT count(*) FROM webhooks WHERE status != 'delivered'`)
	return int(f)
}

// scanJournalFiles scans the journal, its WAL and shared-memory files for
// card data and secrets.
func scanJournalFiles(t *testing.T, stateDir, when string) {
	t.Helper()
	for _, name := range []string{"journal.db", "journal.db-wal", "journal.db-shm"} {
		b, err := os.ReadFile(filepath.Join(stateDir, name))
		if err != nil {
			continue // no WAL after a clean stop
		}
		for _, h := range leaks.Check(name+" ("+when+")", b) {
			t.Errorf("leak: %s", h)
		}
	}
}

// parallel runs fn(0…n-1) on workers goroutines and fails t on the first
// error.
func parallel(t *testing.T, n, workers int, fn func(i int) error) {
	t.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					errs <- err
					next.Store(int64(n)) // stop the others
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}
