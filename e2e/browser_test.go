package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/posrelay/posrelay/demo"
	"github.com/posrelay/posrelay/internal/requireall"
)

// browserStep is one page of the shopper's walk: wait for the form, fill
// its fields (CSS selector → value), press its button.
type browserStep struct {
	name  string
	form  string
	fill  func(c card) map[string]string
	click string
}

// The bank simulators' 3-D Secure challenge page (EST, PayFor and VakıfBank
// ACS alike): the one-time code, then Submit.
var challengeStep = browserStep{
	name: "3-D challenge", form: "#challenge",
	fill:  func(c card) map[string]string { return map[string]string{"#code": c.Code} },
	click: `#challenge button[value="submit"]`,
}

// browserBanks says, per bank and payment model, which pages the shopper
// sees after the relay's page. A bank that lands in the demo gets a row.
var browserBanks = map[string]struct {
	model string
	steps []browserStep
}{
	// Halkbank 3d_pay_hosting: the relay's page posts to the bank's hosted
	// card page (banksim/est/pages.go).
	"halkbank": {"3d_pay_hosting", []browserStep{{
		name: "Halkbank card page", form: "#card",
		fill: func(c card) map[string]string {
			return map[string]string{"#pan": c.PAN, "#m": c.Month, "#y": c.Year[2:], "#cvv": c.CVV, "#holder": c.Holder}
		},
		click: `#card button[type="submit"]`,
	}, challengeStep}},
	// QNB 3DHost: the bank's hosted card page (banksim/payfor/pages.go).
	"qnb": {"3DHost", []browserStep{{
		name: "QNB card page", form: "#card",
		fill: func(c card) map[string]string {
			return map[string]string{"#pan": c.PAN, "#expiry": c.Month + c.Year[2:], "#cvv": c.CVV, "#holder": c.Holder}
		},
		click: `#card button[type="submit"]`,
	}, challengeStep}},
	// VakıfBank GET 7/24 MPI: the relay's own card page (proxy/pages.go),
	// then the issuer's ACS.
	"vakifbank": {"mpi", []browserStep{{
		name: "relay card page", form: "#cardform",
		fill: func(c card) map[string]string {
			return map[string]string{"#number": c.PAN, "#exp_month": c.Month, "#exp_year": c.Year, "#cvv": c.CVV, "#holder": c.Holder}
		},
		click: "#pay",
	}, challengeStep}},
}

// TestBrowserDemo walks the demo in headless Chromium: the shop's form, the
// relay's page, the bank's card and 3-D pages, and back to the shop, which
// shows the result and the relay's webhook.
func TestBrowserDemo(t *testing.T) {
	exe := requireall.Tool(t, "chromium", "install Chromium (apt-get install chromium)")
	s := startDemo(t, demo.Options{})

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var chromeOut syncBuffer
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1100, 1000),
		chromedp.CombinedOutput(&chromeOut),
	)
	defer cancelAlloc()
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("start Chromium: %v\n%s", err, chromeOut.String())
	}

	shots := &screenshots{}
	banks := make([]string, 0, len(s.Banks))
	for b := range s.Banks {
		banks = append(banks, b)
	}
	sort.Strings(banks)
	for _, bank := range banks {
		row, ok := browserBanks[bank]
		model := s.Banks[bank].Model
		if !ok || row.model != model {
			t.Errorf("no browser steps for bank %s with model %s: add a row to browserBanks", bank, model)
			continue
		}
		for _, tc := range []struct {
			name, pan, status, message string
		}{
			{"approved", "4355084355084358", "succeeded", ""},
			{"insufficient funds", "4000000000000515", "failed", "insufficient"},
		} {
			t.Run(bank+"/"+tc.name, func(t *testing.T) {
				tab := newTab(t, browserCtx, shots)
				status, msg := shopperPays(t, tab, s, bank, row.steps, testCard(tc.pan), false)
				if status != tc.status || !strings.Contains(strings.ToLower(msg), tc.message) {
					t.Fatalf("shop shows status %q, message %q; want %q with %q", status, msg, tc.status, tc.message)
				}
			})
		}
	}
	t.Run("halkbank/approved in an iframe", func(t *testing.T) {
		row, ok := browserBanks["halkbank"]
		if !ok || s.Banks["halkbank"].Model != row.model {
			t.Skip("Halkbank is not in the demo with its default model")
		}
		tab := newTab(t, browserCtx, shots)
		status, _ := shopperPays(t, tab, s, "halkbank", row.steps, testCard("4355084355084358"), true)
		if status != "succeeded" {
			t.Fatalf("shop shows status %q; want succeeded", status)
		}
	})
}

// newTab opens a tab whose screen is saved if the test fails.
func newTab(t *testing.T, browserCtx context.Context, shots *screenshots) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(browserCtx)
	t.Cleanup(cancel)
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			shots.save(t, tab)
		}
	})
	return tab
}

// shopperPays does what a shopper does on the demo shop and returns what
// the shop's return page shows: #status's data-status and #message.
func shopperPays(t *testing.T, tab context.Context, s *stack, bank string, steps []browserStep, c card, framed bool) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 60*time.Second)
	defer cancel()
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			loc, _ := chromedp.Run(tab, chromedp.Location())
			t.Fatalf("%s: %v (page %s)", what, err, loc)
		}
	}

	step("open the shop", chromedp.Navigate(s.Shop))
	if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!document.querySelector('#pay')`)); err != nil || !ok {
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(-300) : ''`))
		t.Fatalf("the shop's page has no Pay button (#pay) (%v); its template may have failed. The page ends with:\n%s", err, text)
	}
	step("choose the bank", chromedp.SetValue(chromedp.CSS("#bank"), bank), chromedp.SetValue(chromedp.CSS("#lang"), "en"))
	if framed {
		step("tick the iframe box", chromedp.Click(chromedp.CSS("#iframe")))
	}
	step("click Pay", chromedp.Click(chromedp.CSS("#pay")))

	if framed {
		// The shop shows the relay's page in #payframe; framed, the page
		// does not post to the bank by itself but offers a button whose
		// form targets the top window.
		step("wait for the iframe", chromedp.WaitVisible(chromedp.CSS("#payframe")))
		pressInFrame(t, ctx, "#payframe", "#continue")
	}

	for _, st := range steps {
		step("wait for the "+st.name, chromedp.WaitVisible(chromedp.CSS(st.form)))
		for sel, v := range st.fill(c) {
			step(fmt.Sprintf("fill %s on the %s", sel, st.name), chromedp.SetValue(chromedp.CSS(sel), v))
		}
		step("submit the "+st.name, chromedp.Click(chromedp.CSS(st.click)))
	}

	// Back on the shop: it shows the payment as the relay has it, and
	// reloads until the relay's webhook has arrived.
	step("wait for the shop's return page", chromedp.WaitVisible(chromedp.CSS("#status")))
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.HasPrefix(loc, s.Shop+"/return") {
		t.Fatalf("the shopper ended on %s (%v), not the shop's return page", loc, err)
	}
	step("wait for the webhook on the return page", chromedp.WaitVisible(chromedp.CSS("#webhooks")))
	attr, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("#status"), "data-status"))
	if err != nil || !attr.Exists {
		t.Fatalf("read #status data-status: %v", err)
	}
	msg := ""
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector('#message')||{}).textContent||''`)); err == nil {
		msg = n
	}
	return attr.Value, msg
}

// pressInFrame clicks an element inside the iframe frameSel once the
// frame's document has loaded. A node of the iframe taken before that
// points at its first, empty document, so the query is retried with a
// fresh node until the deadline.
func pressInFrame(t *testing.T, ctx context.Context, frameSel, sel string) {
	t.Helper()
	// The parent's Resource Timing gets the iframe's entry when the
	// frame's document has loaded (cross-origin frames included).
	loaded := `performance.getEntriesByType('resource').some(function (e) { return e.initiatorType === 'iframe'; })`
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](loaded, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("the iframe did not load: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		nodes, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS(frameSel)))
		if err != nil || len(nodes) == 0 {
			t.Fatalf("find %s: %v", frameSel, err)
		}
		try, cancel := context.WithTimeout(ctx, 3*time.Second)
		err = chromedp.Do(try,
			chromedp.WaitVisible(chromedp.CSS(sel), chromedp.FromNode(nodes[0])),
			chromedp.Click(chromedp.CSS(sel), chromedp.FromNode(nodes[0])))
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("press %s inside %s: %v", sel, frameSel, err)
		}
	}
}

// screenshots saves full-page PNGs (and the page's HTML) of failed tests in
// one directory under the system's temporary directory.
type screenshots struct {
	mu  sync.Mutex
	dir string
}

func (s *screenshots) save(t *testing.T, tab context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dir == "" {
		dir, err := os.MkdirTemp(os.TempDir(), "posrelay-browser-")
		if err != nil {
			t.Logf("no screenshot: %v", err)
			return
		}
		s.dir = dir
	}
	ctx, cancel := context.WithTimeout(tab, 15*time.Second)
	defer cancel()
	name := strings.NewReplacer("/", "_", " ", "-").Replace(t.Name())
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("no screenshot: %v", err)
		return
	}
	path := filepath.Join(s.dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Logf("no screenshot: %v", err)
		return
	}
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	_ = os.WriteFile(filepath.Join(s.dir, name+".html"), bytes.Join([][]byte{[]byte("<!-- " + loc + " -->\n"), []byte(html)}, nil), 0o644)
	t.Logf("screenshot of %s: %s", loc, path)
}
