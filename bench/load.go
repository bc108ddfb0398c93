package main

// The load generator. It always runs as its own process (`bench load …`,
// started by the harness) so that what it costs is not charged to the
// relay, the simulator or nginx, and so that none of them shares its
// garbage collector. It prints one JSON result on stdout.

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/posrelay/posrelay/signer"
)

// Environment of the load process: the request key is passed this way so
// that it never shows in a process listing.
const (
	envKeyID  = "BENCH_KEY_ID"
	envSecret = "BENCH_SECRET"
)

// loadResult is what one load run reports. Latencies are in milliseconds.
type loadResult struct {
	Mode     string           `json:"mode"`
	Target   string           `json:"target"`
	Conns    int              `json:"conns"`
	Rate     float64          `json:"rate,omitempty"` // open loop: offered requests/s
	Measured int64            `json:"measured"`       // requests answered with the wanted status in the measured window
	Total    int64            `json:"total"`          // every request sent, warm-up included
	Errors   int64            `json:"errors"`         // transport errors and unwanted statuses (whole run)
	Statuses map[string]int64 `json:"statuses"`
	FirstErr string           `json:"firstError,omitempty"`
	Seconds  float64          `json:"seconds"` // length of the measured window
	RPS      float64          `json:"rps"`
	P50      float64          `json:"p50"`
	P90      float64          `json:"p90"`
	P99      float64          `json:"p99"`
	P999     float64          `json:"p999"`
	Max      float64          `json:"max"`
	// Late counts open-loop requests that left more than 1 ms after their
	// planned time because every connection was busy: the generator, not
	// the server, was the limit for those.
	Late int64 `json:"late,omitempty"`
}

// maker fills request i. It is called from many goroutines.
type maker interface {
	fill(req *fasthttp.Request, i uint64)
	want() int
}

// staticMaker sends the same request with one of a few bodies (the
// simulator's status call, directly or through nginx).
type staticMaker struct {
	method, uri, contentType string
	bodies                   [][]byte
	status                   int
}

func (m *staticMaker) fill(req *fasthttp.Request, i uint64) {
	req.SetRequestURI(m.uri)
	req.Header.SetMethod(m.method)
	if m.contentType != "" {
		req.Header.SetContentType(m.contentType)
	}
	if len(m.bodies) > 0 {
		req.SetBodyRaw(m.bodies[i%uint64(len(m.bodies))])
	}
}

func (m *staticMaker) want() int { return m.status }

// signedMaker sends scheme v1 signed API calls: a refreshed payment read
// (GET, cycling over ids) or a payment creation (POST, a new order each).
type signedMaker struct {
	base   string // http://host:port
	keyID  string
	secret []byte
	ids    []string // status: payment ids to read
	create bool     // POST /v1/payments
	origin string   // create: the site's return origin
	prefix string   // create: order id prefix, unique per run
}

func (m *signedMaker) fill(req *fasthttp.Request, i uint64) {
	var method, target string
	var body []byte
	if m.create {
		method, target = fasthttp.MethodPost, "/v1/payments"
		order := m.prefix + strconv.FormatUint(i, 36)
		body = fmt.Appendf(nil, `{"bank":"halkbank","orderId":%q,"amount":%d,"currency":"TRY","installments":1,`+
			`"returnUrls":{"success":"%s/ok?o=%s","error":"%s/fail?o=%s"},`+
			`"customer":{"ip":"203.0.113.7","email":"shopper@example.com","name":"Test Shopper"},"wixTransactionId":"wix-%s"}`,
			order, 1000+i%9000, m.origin, order, m.origin, order, order)
		req.Header.SetContentType("application/json")
		req.SetBodyRaw(body)
	} else {
		method, target = fasthttp.MethodGet, "/v1/payments/"+m.ids[i%uint64(len(m.ids))]+"?refresh=true"
	}
	req.SetRequestURI(m.base + target)
	req.Header.SetMethod(method)
	ts := time.Now().Unix()
	nonce := signer.NewNonce()
	h := &req.Header
	h.Set(signer.HeaderKey, m.keyID)
	h.Set(signer.HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(signer.HeaderNonce, nonce)
	h.Set(signer.HeaderSignature, signer.Sign(m.secret, m.keyID, ts, nonce, method, target, body))
}

func (m *signedMaker) want() int {
	if m.create {
		return fasthttp.StatusCreated
	}
	return fasthttp.StatusOK
}

// listMaker posts prepared form bodies, each once (the bank callbacks).
type listMaker struct {
	urls   []string
	bodies [][]byte
}

func (m *listMaker) fill(req *fasthttp.Request, i uint64) {
	req.SetRequestURI(m.urls[i])
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/x-www-form-urlencoded")
	req.SetBodyRaw(m.bodies[i])
}

func (m *listMaker) want() int { return fasthttp.StatusSeeOther }

// recorder collects latencies and outcomes of one worker.
type recorder struct {
	lat      []int64 // ns, measured window only
	measured int64
	total    int64
	errors   int64
	statuses map[int]int64
	firstErr string
}

func newRecorder() *recorder {
	return &recorder{lat: make([]int64, 0, 1<<14), statuses: map[int]int64{}}
}

func (r *recorder) note(status int, err error, want int, lat time.Duration, measured bool) {
	r.total++
	switch {
	case err != nil:
		r.errors++
		r.statuses[0]++
		if r.firstErr == "" {
			r.firstErr = err.Error()
		}
		return
	case status != want:
		r.errors++
		if r.firstErr == "" {
			r.firstErr = "HTTP " + strconv.Itoa(status)
		}
	}
	r.statuses[status]++
	if measured && status == want {
		r.measured++
		r.lat = append(r.lat, int64(lat))
	}
}

func merge(mode, target string, conns int, window time.Duration, recs []*recorder) *loadResult {
	res := &loadResult{Mode: mode, Target: target, Conns: conns, Statuses: map[string]int64{}, Seconds: window.Seconds()}
	var lat []int64
	for _, r := range recs {
		res.Measured += r.measured
		res.Total += r.total
		res.Errors += r.errors
		for s, n := range r.statuses {
			res.Statuses[strconv.Itoa(s)] += n
		}
		if res.FirstErr == "" {
			res.FirstErr = r.firstErr
		}
		lat = append(lat, r.lat...)
	}
	if window > 0 {
		res.RPS = float64(res.Measured) / window.Seconds()
	}
	slices.Sort(lat)
	q := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		i := int(p * float64(len(lat)-1))
		return float64(lat[i]) / 1e6
	}
	res.P50, res.P90, res.P99, res.P999, res.Max = q(0.50), q(0.90), q(0.99), q(0.999), q(1)
	return res
}

func newHostClient(addr string, conns int) *fasthttp.HostClient {
	return &fasthttp.HostClient{
		Addr:                      addr,
		MaxConns:                  conns,
		ReadTimeout:               30 * time.Second,
		WriteTimeout:              30 * time.Second,
		MaxIdleConnDuration:       5 * time.Minute,
		MaxConnWaitTimeout:        30 * time.Second,
		NoDefaultUserAgentHeader:  true,
		MaxIdemponentCallAttempts: 1,
		RetryIfErr:                func(*fasthttp.Request, int, error) (bool, bool) { return false, false },
	}
}

// closedLoop keeps conns requests in flight for warmup+dur and records
// those started after the warm-up.
func closedLoop(hc *fasthttp.HostClient, mk maker, conns int, warmup, dur time.Duration) []*recorder {
	var seq atomic.Uint64
	start := time.Now()
	from, end := start.Add(warmup), start.Add(warmup+dur)
	recs := make([]*recorder, conns)
	var wg sync.WaitGroup
	for w := range conns {
		rec := newRecorder()
		recs[w] = rec
		wg.Go(func() {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			want := mk.want()
			for {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				req.Reset()
				mk.fill(req, seq.Add(1)-1)
				err := hc.Do(req, resp)
				rec.note(resp.StatusCode(), err, want, time.Since(t0), !t0.Before(from))
				resp.Reset()
			}
		})
	}
	wg.Wait()
	return recs
}

// openLoop sends rate requests per second on schedule, whatever the
// answers' pace, over at most conns connections. A request's latency runs
// from the moment the scheduler releases it, so time spent waiting for a
// free connection counts (no coordinated omission). The scheduler itself
// wakes at best every millisecond (Go's timers on an idle P), so requests
// are released in small bursts; its own lateness is not counted against
// the server, but releases more than 1 ms late are reported as Late.
func openLoop(hc *fasthttp.HostClient, mk maker, conns int, rate float64, warmup, dur time.Duration) ([]*recorder, int64) {
	type job struct {
		i    uint64
		sent time.Time
	}
	jobs := make(chan job, 1<<16)
	start := time.Now()
	from, end := start.Add(warmup), start.Add(warmup+dur)
	recs := make([]*recorder, conns)
	var late atomic.Int64
	var wg sync.WaitGroup
	for w := range conns {
		rec := newRecorder()
		recs[w] = rec
		wg.Go(func() {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			want := mk.want()
			for j := range jobs {
				req.Reset()
				mk.fill(req, j.i)
				err := hc.Do(req, resp)
				rec.note(resp.StatusCode(), err, want, time.Since(j.sent), !j.sent.Before(from))
				resp.Reset()
			}
		})
	}
	interval := time.Duration(float64(time.Second) / rate)
	for i := uint64(0); ; i++ {
		plan := start.Add(time.Duration(i) * interval)
		if !plan.Before(end) {
			break
		}
		now := time.Now()
		if d := plan.Sub(now); d > 0 {
			time.Sleep(d)
			now = time.Now()
		}
		if now.Sub(plan) > time.Millisecond {
			late.Add(1)
		}
		jobs <- job{i, now}
	}
	close(jobs)
	wg.Wait()
	return recs, late.Load()
}

// listLoop sends every request of a list once over conns connections.
func listLoop(hc *fasthttp.HostClient, mk *listMaker, conns int) ([]*recorder, time.Duration) {
	var next atomic.Uint64
	n := uint64(len(mk.urls))
	recs := make([]*recorder, conns)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range conns {
		rec := newRecorder()
		recs[w] = rec
		wg.Go(func() {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			for {
				i := next.Add(1) - 1
				if i >= n {
					return
				}
				req.Reset()
				mk.fill(req, i)
				t0 := time.Now()
				err := hc.Do(req, resp)
				rec.note(resp.StatusCode(), err, mk.want(), time.Since(t0), true)
				resp.Reset()
			}
		})
	}
	wg.Wait()
	return recs, time.Since(start)
}

// raiseNoFile lifts the soft open-files limit to the hard one.
func raiseNoFile() {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
}

// loadMain is `bench load`.
func loadMain(args []string) int {
	fs := flag.NewFlagSet("bench load", flag.ContinueOnError)
	mode := fs.String("mode", "closed", "closed, open, list or conns")
	kind := fs.String("kind", "static", "static (the simulator's status call), status (signed refresh), create (signed creation)")
	url := fs.String("url", "", "base URL of the server (http://host:port)")
	path := fs.String("path", "/fim/api", "static: request path")
	bodyFile := fs.String("bodies", "", "static: file of request bodies, one per line; list: file of URL<TAB>body lines")
	ids := fs.String("ids", "", "status: comma-separated payment ids")
	origin := fs.String("origin", "https://shop.example", "create: return URL origin")
	conns := fs.Int("conns", 64, "connections (closed loop: requests in flight)")
	rate := fs.Float64("rate", 1000, "open: requests per second")
	warmup := fs.Duration("warmup", 2*time.Second, "time before measuring")
	dur := fs.Duration("duration", 10*time.Second, "measured time")
	steps := fs.String("steps", "1000,10000", "conns: connection counts to open in turn")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	raiseNoFile()
	if *mode == "conns" {
		if err := holdConns(*url, *steps, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "bench load:", err)
			return 1
		}
		return 0
	}
	host := strings.TrimPrefix(*url, "http://")
	var mk maker
	switch {
	case *mode == "list":
		lm, err := readList(*bodyFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench load:", err)
			return 1
		}
		if len(lm.urls) > 0 {
			host = strings.SplitN(strings.TrimPrefix(lm.urls[0], "http://"), "/", 2)[0]
		}
		mk = lm
	case *kind == "static":
		sm := &staticMaker{method: fasthttp.MethodPost, uri: *url + *path, contentType: "text/xml; charset=ISO-8859-9", status: fasthttp.StatusOK}
		raw, err := os.ReadFile(*bodyFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench load:", err)
			return 1
		}
		for l := range strings.Lines(string(raw)) {
			if l = strings.TrimRight(l, "\n"); l != "" {
				sm.bodies = append(sm.bodies, []byte(strings.ReplaceAll(l, `\n`, "\n")))
			}
		}
		mk = sm
	case *kind == "status" || *kind == "create":
		sm := &signedMaker{base: *url, keyID: os.Getenv(envKeyID), secret: []byte(os.Getenv(envSecret)),
			create: *kind == "create", origin: *origin, prefix: "B" + strconv.FormatInt(time.Now().UnixNano(), 36) + "x"}
		if sm.keyID == "" || len(sm.secret) == 0 {
			fmt.Fprintf(os.Stderr, "bench load: %s and %s must be set\n", envKeyID, envSecret)
			return 2
		}
		if !sm.create {
			sm.ids = strings.Split(*ids, ",")
		}
		mk = sm
	default:
		fmt.Fprintf(os.Stderr, "bench load: unknown kind %q\n", *kind)
		return 2
	}
	hc := newHostClient(host, *conns)
	var res *loadResult
	switch *mode {
	case "closed":
		res = merge(*mode, *url, *conns, *dur, closedLoop(hc, mk, *conns, *warmup, *dur))
	case "open":
		recs, late := openLoop(hc, mk, *conns, *rate, *warmup, *dur)
		res = merge(*mode, *url, *conns, *dur, recs)
		res.Rate, res.Late = *rate, late
	case "list":
		recs, took := listLoop(hc, mk.(*listMaker), *conns)
		res = merge(*mode, host, *conns, took, recs)
	default:
		fmt.Fprintf(os.Stderr, "bench load: unknown mode %q\n", *mode)
		return 2
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		return 1
	}
	return 0
}

func readList(path string) (*listMaker, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lm := &listMaker{}
	for l := range strings.Lines(string(raw)) {
		u, b, ok := strings.Cut(strings.TrimRight(l, "\n"), "\t")
		if !ok {
			continue
		}
		lm.urls = append(lm.urls, u)
		lm.bodies = append(lm.bodies, []byte(b))
	}
	if len(lm.urls) == 0 {
		return nil, fmt.Errorf("%s: no URL<TAB>body lines", path)
	}
	return lm, nil
}

// holdConns opens keep-alive connections in steps (e.g. 1000, then up to
// 10000), each with one answered GET /healthz, says "open N" after each
// step and waits for a line on in before the next; at the end (or EOF) it
// closes them all.
func holdConns(base, steps string, in io.Reader, out io.Writer) error {
	addr := strings.TrimPrefix(base, "http://")
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	lines := bufio.NewScanner(in)
	for s := range strings.SplitSeq(steps, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("steps: %w", err)
		}
		need := n - len(held)
		if need < 0 {
			continue
		}
		opened := make([]net.Conn, need)
		errs := make([]error, need)
		var next atomic.Int64
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				for {
					i := int(next.Add(1) - 1)
					if i >= need {
						return
					}
					opened[i], errs[i] = openOne(addr)
				}
			})
		}
		wg.Wait()
		failed := 0
		var first error
		for i, c := range opened {
			if errs[i] != nil {
				failed++
				if first == nil {
					first = errs[i]
				}
				continue
			}
			held = append(held, c)
		}
		fmt.Fprintf(out, "open %d failed %d", len(held), failed)
		if first != nil {
			fmt.Fprintf(out, " first error: %v", first)
		}
		fmt.Fprintln(out)
		if !lines.Scan() {
			return nil
		}
	}
	return nil
}

// openOne dials and sends one keep-alive request, reading the answer.
func openOne(addr string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n"); err != nil {
		c.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(c, 512), nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		c.Close()
		return nil, errors.New("healthz: " + resp.Status)
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}
