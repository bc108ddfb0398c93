// Package demo runs posrelay on embedded defaults for a newcomer: the relay,
// simulators of the three banks and a stand-in shop that plays the Wix
// site, all on loopback, with freshly generated secrets written to
// demo.json so scripts can drive it.
package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/posrelay/posrelay/config"
	"github.com/posrelay/posrelay/proxy"
	"github.com/posrelay/posrelay/signer"
	"github.com/posrelay/posrelay/store"
)

// Options configure a demo run.
type Options struct {
	Addr       string            // relay listen address; default 127.0.0.1:8080
	StateDir   string            // where demo.json and the journal go; default a new temp dir
	WebhookURL string            // where the relay sends webhooks; default the stand-in shop
	BankURLs   map[string]string // bank → base URL of another simulator (halkbank, qnb, vakifbank)
	Models     map[string]string // bank → payment model instead of the default (e.g. halkbank=3d)
	// Now is the relay's clock; nil = time.Now. Tests inject one to move
	// past expiries and through the webhook retry schedule.
	Now func() time.Time
	// SimClock is the bank simulators' clock (end-of-day settlement); nil =
	// time.Now. Tests move it forward to settle sales.
	SimClock func() time.Time
	Out      io.Writer   // where the greeting goes
	Logger   *zap.Logger // relay logs; nil = JSON to stderr at info
	// NoKit keeps the shop on its Go client even when Node is installed.
	// By default the shop's backend is the Velo kit (wix/) under Node, the
	// code a Wix site runs.
	NoKit bool
	// Ready, if set, receives the demo's Info once everything listens.
	Ready func(Info)
	// Relay, if set, receives the relay before it serves (for tests that
	// drive its sweeper or outbox directly).
	Relay func(*proxy.Relay)
}

// Info is what demo.json holds.
type Info struct {
	Relay         string `json:"relay"`
	Site          string `json:"site"`
	KeyID         string `json:"keyId"`
	Secret        string `json:"secret"`
	WebhookSecret string `json:"webhookSecret"`
	WebhookURL    string `json:"webhookUrl"`
	Shop          string `json:"shop,omitempty"`
	// Kit is the Velo kit's stand-in Wix backend, when Node runs it.
	Kit      string              `json:"kit,omitempty"`
	Banks    map[string]BankInfo `json:"banks"`
	StateDir string              `json:"stateDir"`
}

// BankInfo describes a demo bank account and the simulator behind it.
type BankInfo struct {
	Endpoint string            `json:"endpoint"` // base URL of the simulator
	Model    string            `json:"model"`
	Fields   map[string]string `json:"-"`
	Extra    map[string]string `json:"-"`
	// Now is the simulator's clock (set by the demo; not in demo.json).
	Now func() time.Time `json:"-"`
}

// MarshalJSON flattens Fields (the account's credentials) into the object.
func (b BankInfo) MarshalJSON() ([]byte, error) {
	m := map[string]string{"endpoint": b.Endpoint, "model": b.Model}
	for k, v := range b.Fields {
		m[k] = v
	}
	for k, v := range b.Extra {
		m[k] = v
	}
	return json.Marshal(m)
}

const siteID = "demo"

// Run starts everything and blocks until ctx is done.
func Run(ctx context.Context, o Options) error {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:8080"
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.StateDir == "" {
		dir, err := os.MkdirTemp("", "posrelay-demo-")
		if err != nil {
			return err
		}
		o.StateDir = dir
	}
	abs, err := filepath.Abs(o.StateDir)
	if err != nil {
		return err
	}
	o.StateDir = abs
	if err := os.MkdirAll(o.StateDir, 0o700); err != nil {
		return fmt.Errorf("demo state dir: %w", err)
	}
	for b := range o.BankURLs {
		if _, ok := bankDefaults[b]; !ok {
			return fmt.Errorf("--bank-url %s=…: unknown bank; use halkbank, qnb or vakifbank", b)
		}
	}
	for b := range o.Models {
		if _, ok := bankDefaults[b]; !ok {
			return fmt.Errorf("--model %s=…: unknown bank; use halkbank, qnb or vakifbank", b)
		}
	}
	log := o.Logger
	if log == nil {
		if log, err = proxy.NewLogger("info"); err != nil {
			return err
		}
	}

	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w; pick another with --addr", o.Addr, err)
	}
	relayURL := "http://" + ln.Addr().String()

	keyID, secret := signer.NewKeySecret()
	whsec := signer.NewWebhookSecret()
	info := Info{Relay: relayURL, Site: siteID, KeyID: keyID, Secret: secret, WebhookSecret: whsec,
		Banks: map[string]BankInfo{}, StateDir: o.StateDir}

	var wg sync.WaitGroup
	bg, stopBG := context.WithCancel(context.Background())
	defer func() { stopBG(); wg.Wait() }()

	// Bank simulators, unless pointed elsewhere.
	egressIP := relayEgressIP()
	var bankDay *dayClock
	if o.SimClock == nil {
		// The shop's "close the banks' day" button moves this clock.
		bankDay = &dayClock{}
		o.SimClock = bankDay.Now
	}
	sims, err := startSimulators(bg, &wg, o.BankURLs, o.Models, egressIP, o.SimClock)
	if err != nil {
		ln.Close()
		return err
	}
	for bank, b := range sims {
		info.Banks[bank] = b
	}

	// The stand-in shop.
	shop, shopURL, err := startShop(bg, &wg, &info)
	if err != nil {
		ln.Close()
		return err
	}
	shop.bankDay = bankDay
	info.Shop = shopURL
	info.WebhookURL = o.WebhookURL
	if info.WebhookURL == "" {
		info.WebhookURL = shopURL + "/webhook"
	}
	infoPath := filepath.Join(o.StateDir, "demo.json")
	if err := writeInfo(infoPath, &info); err != nil {
		ln.Close()
		return err
	}
	// The shop's backend: the Velo kit under Node where it can run.
	if !o.NoKit {
		kit, err := startKit(bg, &wg, filepath.Join(o.StateDir, "wix-kit"), infoPath)
		switch {
		case err != nil:
			fmt.Fprintf(o.Out, "  (the Velo kit could not start under node: %v; the shop uses its Go client)\n", err)
		case kit != nil:
			info.Kit = kit.URL
			shop.useKit(kit)
			if o.WebhookURL == "" {
				info.WebhookURL = kit.URL + "/_functions/posrelay"
			}
		}
	}

	cfg, err := demoConfig(relayURL, o.StateDir, &info, egressIP)
	if err != nil {
		ln.Close()
		return err
	}
	journal, err := store.OpenSQLite(filepath.Join(o.StateDir, "journal.db"), store.SQLiteOptions{})
	if err != nil {
		ln.Close()
		return err
	}
	defer journal.Close()
	relay, err := proxy.New(proxy.Options{Config: cfg, Journal: journal, Logger: log, Version: "demo", Now: o.Now})
	if err != nil {
		ln.Close()
		return err
	}
	if err := writeInfo(infoPath, &info); err != nil {
		ln.Close()
		return err
	}
	greet(o.Out, &info)
	if o.Relay != nil {
		o.Relay(relay)
	}
	if o.Ready != nil {
		o.Ready(info)
	}
	return relay.RunListener(ctx, ln)
}

// demoConfig builds the relay's configuration through the same parser and
// checks as a real config file, with the generated secrets as environment.
func demoConfig(relayURL, stateDir string, info *Info, egressIP netip.Addr) (*config.Config, error) {
	env := map[string]string{"DEMO_SECRET": info.Secret, "DEMO_WHSEC": info.WebhookSecret}
	var b strings.Builder
	fmt.Fprintf(&b, "tls: {mode: off}\nserver: {public_url: %q, admin_listen: \"\"}\nstate_dir: %q\n", relayURL, stateDir)
	b.WriteString("egress: {allow_ranges: [\"127.0.0.0/8\", \"::1/128\"], bank_timeout: 5s")
	if egressIP.IsValid() {
		fmt.Fprintf(&b, ", source_ip: %q", egressIP.String())
	}
	b.WriteString("}\n")
	b.WriteString("environments:\n  sim:\n")
	banks := make([]string, 0, len(info.Banks))
	for bank := range info.Banks {
		banks = append(banks, bank)
	}
	sort.Strings(banks)
	for _, bank := range banks {
		fmt.Fprintf(&b, "    %s: %q\n", bank, info.Banks[bank].Endpoint)
	}
	shop, _ := url.Parse(info.Shop)
	fmt.Fprintf(&b, "sites:\n  - id: %s\n    keys: [{id: %q, secret: \"${DEMO_SECRET}\"}]\n", siteID, info.KeyID)
	fmt.Fprintf(&b, "    webhook: {url: %q, secret: \"${DEMO_WHSEC}\"}\n", info.WebhookURL)
	fmt.Fprintf(&b, "    return_origins: [%q]\n    accounts:\n", shop.Scheme+"://"+shop.Host)
	for _, bank := range banks {
		bi := info.Banks[bank]
		fmt.Fprintf(&b, "      - {bank: %s, environment: sim, model: %s", bank, bi.Model)
		keys := make([]string, 0, len(bi.Fields))
		for k := range bi.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			yamlKey := bankFieldKeys[k]
			if yamlKey == "" {
				continue
			}
			if secretFields[k] {
				envKey := strings.ToUpper("DEMO_" + bank + "_" + yamlKey)
				env[envKey] = bi.Fields[k]
				fmt.Fprintf(&b, ", %s: \"${%s}\"", yamlKey, envKey)
			} else {
				fmt.Fprintf(&b, ", %s: %q", yamlKey, bi.Fields[k])
			}
		}
		b.WriteString("}\n")
	}
	cfg, err := config.Parse(strings.NewReader(b.String()), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		return nil, fmt.Errorf("demo configuration: %w", err)
	}
	return cfg, nil
}

// dayClock is the simulators' clock in the demo: real time plus whole days
// skipped by closing the banks' day, so today's sales settle and can be
// refunded (banks refuse refunds before their end-of-day batch).
type dayClock struct{ offset atomic.Int64 }

func (c *dayClock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// closeDay moves the clock just past the next midnight in Türkiye.
func (c *dayClock) closeDay() time.Time {
	tr := time.FixedZone("UTC+3", 3*60*60)
	now := c.Now().In(tr)
	next := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 1, 0, 0, tr)
	c.offset.Add(int64(next.Sub(now)))
	return next
}

// bankFieldKeys maps demo.json credential names to configuration keys.
var bankFieldKeys = map[string]string{
	"clientId": "client_id", "storeKey": "store_key", "apiUser": "api_user", "apiPassword": "api_password",
	"mbrId": "mbr_id", "merchantId": "merchant_id", "merchantPass": "merchant_pass", "userCode": "user_code", "userPass": "user_pass",
	"terminalNo": "terminal_no", "password": "password",
}

var secretFields = map[string]bool{"storeKey": true, "apiPassword": true, "merchantPass": true, "userPass": true, "password": true}

func writeInfo(path string, info *Info) error {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	return os.Rename(tmp, path)
}

func greet(w io.Writer, info *Info) {
	fmt.Fprintf(w, "\nposrelay demo is running.\n\n")
	if info.Shop != "" {
		fmt.Fprintf(w, "  Open the shop:   %s\n", info.Shop)
	}
	fmt.Fprintf(w, "  Relay:           %s   (site %q)\n", info.Relay, info.Site)
	fmt.Fprintf(w, "  Credentials:     %s\n", filepath.Join(info.StateDir, "demo.json"))
	fmt.Fprintf(w, "  Webhooks go to:  %s\n", info.WebhookURL)
	if info.Kit != "" {
		fmt.Fprintf(w, "  Shop backend:    the Velo kit (wix/) under Node at %s — the code a Wix site runs\n", info.Kit)
	}
	fmt.Fprintln(w)
	if len(info.Banks) > 0 {
		fmt.Fprintf(w, "  Test cards (any future expiry, any CVV, 3-D code %s):\n", challengeCode)
		for _, line := range cardLines() {
			fmt.Fprintf(w, "    %s\n", line)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  Try the API:     curl %s/healthz\n", info.Relay)
	fmt.Fprintf(w, "  Stop with Ctrl-C.\n\n")
}
