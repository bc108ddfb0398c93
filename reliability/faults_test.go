package reliability

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posrelay/posrelay/api"
	"github.com/posrelay/posrelay/banksim"
	"github.com/posrelay/posrelay/banksim/est"
	"github.com/posrelay/posrelay/store"
)

// faultBank stands in front of the Halkbank simulator. Pages and the 3-D
// gate pass through; an API call whose kind is armed is first handed to
// the simulator (the bank acts on it) and then answered badly.
type faultBank struct {
	next http.Handler

	mu    sync.Mutex
	mode  string
	kinds map[string]bool
	hits  map[string]int // faulted calls by kind
}

// Fault modes. Each is applied after the bank has acted on the call.
const (
	faultSlow      = "slow"       // nothing comes back before the relay's deadline
	faultSlowBody  = "slow_body"  // headers and a few bytes, then nothing
	fault500       = "http_500"   // an HTML error page with status 500
	fault502       = "http_502"   // … 502 (a load balancer's)
	fault503       = "http_503"   // … 503
	faultHTML      = "html"       // 200 with a WAF page instead of XML
	faultTruncated = "truncated"  // 200, a well-framed but cut CC5Response
	faultShort     = "short_body" // Content-Length promises more than comes; the connection closes
	faultReset     = "reset"      // a few bytes of the answer, then TCP RST
	faultClosed    = "closed"     // the connection closes before the first byte of the answer
	faultEmpty     = "empty"      // 200 with an empty body
	faultHuge      = "huge"       // 200 with a 2 MB body (the relay reads at most 1 MB)
	faultTLSJunk   = "tls_junk"   // (TLS) after the request, bytes that are no TLS record
	faultTLSBroken = "tls_broken" // (TLS) the start of the answer, then bytes that are no TLS record
)

var typeElem = regexp.MustCompile(`<Type>([A-Za-z]+)</Type>`)

// apiKind names an API call the way the simulator counts it.
func apiKind(body []byte) string {
	switch {
	case bytes.Contains(body, []byte("<ORDERSTATUS>QUERY")):
		return "ORDERSTATUS"
	case bytes.Contains(body, []byte("<ORDERHISTORY>QUERY")):
		return "ORDERHISTORY"
	}
	if m := typeElem.FindSubmatch(body); m != nil {
		return string(m[1])
	}
	return ""
}

// arm makes the next calls of the given kinds fail with mode ("" = none).
func (f *faultBank) arm(mode string, kinds ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mode, f.kinds = mode, map[string]bool{}
	for _, k := range kinds {
		f.kinds[k] = true
	}
}

func (f *faultBank) faulted(kind string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[kind]
}

func (f *faultBank) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != est.APIPath {
		f.next.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	kind := apiKind(body)
	f.mu.Lock()
	mode := ""
	if f.kinds[kind] {
		mode = f.mode
		if f.hits == nil {
			f.hits = map[string]int{}
		}
		f.hits[kind]++
	}
	f.mu.Unlock()
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(bytes.NewReader(body))
	if mode == "" {
		f.next.ServeHTTP(w, r2)
		return
	}
	// The bank acts…
	rec := httptest.NewRecorder()
	f.next.ServeHTTP(rec, r2)
	answer := rec.Body.Bytes()
	// …and its answer is lost on the way.
	stall := func() {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		panic(http.ErrAbortHandler)
	}
	raw := func(b []byte, reset bool) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		_, _ = buf.Write(b)
		_ = buf.Flush()
		if tc, ok := conn.(*net.TCPConn); ok && reset {
			_ = tc.SetLinger(0)
		}
		if tc, ok := conn.(*tls.Conn); ok && reset {
			if nc, ok := tc.NetConn().(*net.TCPConn); ok {
				_ = nc.SetLinger(0)
			}
		}
		conn.Close()
	}
	head := func(n int) []byte {
		return []byte("HTTP/1.1 200 OK\r\nContent-Type: text/xml;charset=ISO-8859-9\r\nContent-Length: " + strconv.Itoa(n) + "\r\n\r\n")
	}
	switch mode {
	case faultSlow:
		stall()
	case faultSlowBody:
		w.Header().Set("Content-Type", "text/xml;charset=ISO-8859-9")
		w.Header().Set("Content-Length", strconv.Itoa(len(answer)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(answer[:20])
		_ = http.NewResponseController(w).Flush()
		stall()
	case fault500, fault502, fault503:
		code, _ := strconv.Atoi(strings.TrimPrefix(mode, "http_"))
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, "<html><body><h1>"+http.StatusText(code)+"</h1></body></html>")
	case faultHTML:
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write(banksim.WAFPage("1234567"))
	case faultTruncated:
		w.Header().Set("Content-Type", "text/xml;charset=ISO-8859-9")
		_, _ = w.Write(answer[:len(answer)*3/5])
	case faultShort:
		raw(append(head(len(answer)), answer[:len(answer)/2]...), false)
	case faultReset:
		raw(append(head(len(answer)), answer[:len(answer)/3]...), true)
	case faultClosed:
		raw(nil, false)
	case faultEmpty:
		w.Header().Set("Content-Type", "text/xml;charset=ISO-8859-9")
		w.WriteHeader(http.StatusOK)
	case faultHuge:
		w.Header().Set("Content-Type", "text/xml;charset=ISO-8859-9")
		pad := bytes.Repeat([]byte("<!-- padding padding padding padding -->\n"), 2<<20/41)
		_, _ = w.Write(append(append([]byte(nil), answer[:40]...), pad...))
	case faultTLSJunk, faultTLSBroken:
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		if mode == faultTLSBroken {
			_, _ = buf.Write(head(len(answer))[:30])
			_ = buf.Flush()
		}
		if tc, ok := conn.(*tls.Conn); ok {
			// A record with a content type TLS does not know, in the clear.
			_, _ = tc.NetConn().Write([]byte("\x63\x03\x03\x00\x05hello"))
		}
		conn.Close()
	default:
		panic("unknown fault " + mode)
	}
}

// faultCase is one way the bank's answers go wrong.
type faultCase struct {
	mode string
	tls  bool // the bank speaks HTTPS (with a certificate the relay trusts)
	// untrusted: the bank's certificate is not one the relay trusts, so no
	// call gets past the handshake; nothing reaches the bank.
	untrusted bool
}

// TestBankFaults: for every way a bank's answer can go wrong, provisioning
// after a 3-D callback, a refund and a status query each end in a clear
// result or unknown — never a crash, never "failed" where the request may
// have reached the bank — and the status query settles them once the bank
// answers again. No goroutine outlives the relay.
func TestBankFaults(t *testing.T) {
	cases := []faultCase{
		{mode: faultSlow}, {mode: faultSlowBody}, {mode: fault500}, {mode: fault502}, {mode: fault503},
		{mode: faultHTML}, {mode: faultTruncated}, {mode: faultShort}, {mode: faultReset}, {mode: faultClosed},
		{mode: faultEmpty}, {mode: faultHuge},
		{mode: faultSlow, tls: true}, {mode: faultReset, tls: true}, {mode: faultTruncated, tls: true},
		{mode: faultTLSJunk, tls: true}, {mode: faultTLSBroken, tls: true},
		{untrusted: true, tls: true},
	}
	for _, fc := range cases {
		name := fc.mode
		switch {
		case fc.untrusted:
			name = "untrusted_certificate"
		case fc.tls:
			name = "tls_" + name
		}
		t.Run(name, func(t *testing.T) {
			before := goroutines()
			runFaultCase(t, fc)
			checkGoroutines(t, before, 1)
		})
	}
}

func runFaultCase(t *testing.T, fc faultCase) {
	ctx := context.Background()
	bank := newBankAccount(t)
	fb := &faultBank{next: bank.sim.Handler()}
	var srv *httptest.Server
	var o stackOptions
	o.bankTimeout = "400ms"
	if fc.tls {
		srv = httptest.NewTLSServer(fb)
		// The shopper's browser trusts the bank's certificate; the relay
		// does too unless the case says otherwise.
		o.http = &http.Client{Transport: leaks.Transport(srv.Client().Transport), Timeout: 15 * time.Second}
		if !fc.untrusted {
			o.roots = x509.NewCertPool()
			o.roots.AddCert(srv.Certificate())
		}
	} else {
		srv = httptest.NewServer(fb)
	}
	leaks.AddBankOrigins(srv.URL)
	s := newStack(t, bank, srv.URL, o)
	reached := !fc.untrusted // does a call reach the bank?

	// 1. Provisioning after the 3-D callback.
	p1 := s.create(t, "h3d", 14990)
	cb, err := walkToCallback(ctx, s.http, p1.RedirectURL, "4355084355084358")
	if err != nil {
		t.Fatal(err)
	}
	fb.arm(fc.mode, "Auth")
	a, err := postForm(ctx, s.http, cb.Action.String(), cb.Values)
	if err != nil {
		t.Fatalf("callback: %v", err)
	}
	if a.status != http.StatusOK || a.location != "" {
		t.Errorf("callback answered %d %q; want 200 and the in-progress page (no verdict yet)", a.status, a.location)
	}
	got := s.payment(t, p1.ID)
	if got.Status != store.StatusUnknown {
		t.Fatalf("after a lost provisioning answer the payment is %s; want unknown", got.Status)
	}
	oid := got.BankOrderID
	if n := bank.sim.Calls().Provisions(oid); reached && n != 1 || !reached && n != 0 {
		t.Fatalf("%d provisioning calls reached the bank (result %+v)", n, got.Result)
	}

	// 2. The status query fails the same way: nothing changes.
	fb.arm(fc.mode, "ORDERSTATUS", "ORDERHISTORY")
	_, err = s.client.GetPayment(ctx, p1.ID, true)
	if e := apiError(err); e == nil || e.Status != http.StatusBadGateway || e.Code != "bank_unavailable" {
		t.Errorf("refresh while the status API fails: %v; want 502 bank_unavailable", err)
	}
	s.clock.Advance(time.Minute)
	if err := s.relay.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.payment(t, p1.ID); got.Status != store.StatusUnknown {
		t.Fatalf("a sweep whose status query failed left the payment %s; want unknown", got.Status)
	}

	// 3. The bank answers again: the status query settles it.
	fb.arm("")
	s.clock.Advance(time.Minute)
	if err := s.relay.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	got = s.payment(t, p1.ID)
	switch {
	case reached && got.Status != store.StatusSucceeded:
		t.Fatalf("the bank approved the sale; after the status query the payment is %s", got.Status)
	case !reached && got.Status != store.StatusUnknown:
		t.Fatalf("the bank is still unreachable; the payment is %s, want unknown", got.Status)
	}
	if n := bank.sim.Calls().Provisions(oid); n > 1 {
		t.Fatalf("provisioned %d times", n)
	}

	// 4. A refund whose answer is lost.
	p2 := s.create(t, "hosted", 20000)
	if a := s.payThrough(t, p2, "5400000000000005"); a.status != http.StatusSeeOther || !strings.HasPrefix(a.location, "https://shop.example/ok") {
		t.Fatalf("hosted payment: %d %q; want 303 to the success page", a.status, a.location)
	}
	bank.clock.Advance(26 * time.Hour) // the sale settles: refunds are possible
	fb.arm(fc.mode, "Credit")
	op, err := s.client.Refund(ctx, p2.ID, &api.Refund{Amount: 5000, WixRefundID: "wr-" + p2.ID}, "")
	if err != nil {
		t.Fatalf("refund: %v", err)
	}
	credits := bank.sim.Calls().API["Credit"]
	switch {
	case reached && op.Status != string(store.OpUnknown):
		t.Fatalf("refund whose answer was lost: %s %+v; want unknown (the bank may have refunded)", op.Status, op.Result)
	case !reached && (op.Status != string(store.OpFailed) || op.Result == nil || op.Result.Code != "bank_error"):
		t.Fatalf("refund that never reached the bank: %s %+v; want failed bank_error", op.Status, op.Result)
	case !reached && credits != 0:
		t.Fatalf("%d refunds reached an untrusted bank", credits)
	}
	fb.arm("")
	s.clock.Advance(time.Minute)
	if err := s.relay.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	fresh, err := s.client.GetPayment(ctx, p2.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(fresh.Operations) != 1 {
		t.Fatalf("%d operations; want 1", len(fresh.Operations))
	}
	if reached {
		if fresh.Operations[0].Status != string(store.OpSucceeded) || fresh.Refunded != 5000 {
			for _, l := range strings.Split(string(s.logs.Bytes()), "\n") {
				if strings.Contains(l, "peration") || strings.Contains(l, "refund") {
					t.Log(l)
				}
			}
			t.Fatalf("after the status query: refund %s, refunded %d; want succeeded, 5000", fresh.Operations[0].Status, fresh.Refunded)
		}
		if o, _ := bank.sim.Order(fresh.BankOrderID); o.Refunded != 5000 {
			t.Fatalf("the bank refunded %d; want 5000 (once)", o.Refunded)
		}
	}

	// 5. Every final state reaches the site once; the relay is alive.
	want := map[string]int{p2.ID: 2}
	if reached {
		want[p1.ID] = 1
	}
	waitUntil(t, 10*time.Second, "the webhooks", func() bool {
		for id, n := range want {
			if len(s.recv.idsFor(id)) < n {
				return false
			}
		}
		return true
	})
	for id, n := range want {
		if ids := s.recv.idsFor(id); len(ids) != n {
			t.Errorf("payment %s: %d webhook messages; want %d", id, len(ids), n)
		}
	}
	if !s.healthy() {
		t.Fatal("the relay does not answer /healthz")
	}
	if reached && fb.faulted("Auth")+fb.faulted("Credit")+fb.faulted("ORDERSTATUS") < 3 {
		t.Fatalf("the fault was not applied: %d/%d/%d", fb.faulted("Auth"), fb.faulted("Credit"), fb.faulted("ORDERSTATUS"))
	}

	// Everything this case started stops.
	s.stop()
	leaks.RemoveBankOrigins(srv.URL) // before its port is free again: see watchBanks
	srv.Close()
	s.recv.srv.Close()
	bank.sim.Close()
	srv.Client().CloseIdleConnections()
	s.http.CloseIdleConnections()
}
