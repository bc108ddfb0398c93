package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// options are the run's flags.
type options struct {
	duration  time.Duration
	warmup    time.Duration
	conns     int
	rate      float64
	sections  map[string]bool
	callbacks int
	payments  int
	startups  int
	memSteps  string
	nginxBin  string
	relayBin  string
	pprofDir  string
	logLevel  string
	keep      bool
	quick     bool
	waitQuiet time.Duration
	retries   int
}

var allSections = []string{"startup", "memory", "forward", "create", "callbacks"}

func parseOptions(args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time of each load phase")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured time before each load phase")
	fs.IntVar(&o.conns, "conns", 64, "connections of the load generator (closed loop: requests in flight)")
	fs.Float64Var(&o.rate, "rate", 0, "open-loop rate in requests/s for the latency figures (0: half the relay's measured saturation)")
	sections := fs.String("sections", strings.Join(allSections, ","), "sections to run: "+strings.Join(allSections, ","))
	fs.IntVar(&o.callbacks, "callbacks", 2000, "callbacks section: payments walked to their callback, then posted")
	fs.IntVar(&o.payments, "payments", 16, "forward section: succeeded payments the status calls cycle over")
	fs.IntVar(&o.startups, "startups", 5, "startup section: measured starts")
	fs.StringVar(&o.memSteps, "mem-conns", "1000,10000", "memory section: open keep-alive connection counts")
	fs.StringVar(&o.nginxBin, "nginx", "", `nginx binary ("" = look it up; "off" = skip nginx)`)
	fs.StringVar(&o.relayBin, "relay-bin", "", "posrelay binary to measure (default: build the module's main package)")
	fs.StringVar(&o.pprofDir, "pprof", "", "write the relay's CPU and allocation profiles of each load phase to this directory")
	fs.StringVar(&o.logLevel, "log-level", "info", "the relay's log level (its log goes to a file in the temp dir)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temp dir (configs, logs, journals)")
	fs.DurationVar(&o.waitQuiet, "wait-quiet", time.Minute, "before each load phase, wait up to this long for other processes to use under 0.05 cores")
	fs.IntVar(&o.retries, "retries", 2, "run a load phase again (up to this many times) when other processes were busy during it")
	fs.BoolVar(&o.quick, "quick", false, "short run (well under a minute): 0.5 s + 2 s phases, 400 callbacks, 3 starts, no waiting for a quiet machine")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.quick {
		if !set["duration"] {
			o.duration = 2 * time.Second
		}
		if !set["warmup"] {
			o.warmup = 500 * time.Millisecond
		}
		if !set["callbacks"] {
			o.callbacks = 400
		}
		if !set["startups"] {
			o.startups = 3
		}
		if !set["wait-quiet"] {
			o.waitQuiet = 0
		}
		if !set["retries"] {
			o.retries = 0
		}
	}
	o.sections = map[string]bool{}
	for s := range strings.SplitSeq(*sections, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !slices.Contains(allSections, s) {
			return nil, fmt.Errorf("-sections: unknown section %q; use %s", s, strings.Join(allSections, ","))
		}
		o.sections[s] = true
	}
	if o.conns < 1 || o.payments < 1 || o.callbacks < 1 || o.startups < 1 {
		return nil, errors.New("-conns, -payments, -callbacks and -startups must be at least 1")
	}
	return o, nil
}

// harness is one run.
type harness struct {
	o    *options
	e    *env
	self string // this binary, re-executed as the load generator
	out  io.Writer
	r    report
}

func runMain(args []string) int {
	o, err := parseOptions(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	raiseNoFile()
	h := &harness{o: o, out: os.Stdout}
	if err := h.run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	return 0
}

func (h *harness) logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "· "+format+"\n", a...)
}

func (h *harness) run() error {
	var err error
	if h.self, err = os.Executable(); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "posrelay-bench-")
	if err != nil {
		return err
	}
	if h.o.keep {
		h.logf("temp dir %s (kept)", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	h.e = &env{dir: dir}
	defer h.e.close()
	if h.o.pprofDir != "" {
		if err := os.MkdirAll(h.o.pprofDir, 0o755); err != nil {
			return err
		}
	}

	h.e.relayBin = h.o.relayBin
	if h.e.relayBin == "" {
		root, err := moduleRoot()
		if err != nil {
			return err
		}
		h.e.relayBin = filepath.Join(dir, "posrelay")
		h.logf("building the relay (go build -o %s .)", h.e.relayBin)
		cmd := exec.Command("go", "build", "-o", h.e.relayBin, ".")
		cmd.Dir, cmd.Stdout, cmd.Stderr = root, os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build: %w", err)
		}
	}
	if err := h.e.startInProcess(); err != nil {
		return err
	}
	h.r.started = time.Now()
	h.r.args = strings.Join(os.Args[1:], " ")
	h.r.o = h.o
	if h.o.sections["forward"] && h.o.nginxBin != "off" {
		bin := h.o.nginxBin
		if bin == "" {
			bin, _ = exec.LookPath("nginx")
			if bin == "" {
				if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
					bin = "/usr/sbin/nginx"
				}
			}
		}
		if bin == "" {
			h.r.nginxNote = "nginx is not installed (apt-get install -y nginx); its column is empty"
		} else if h.e.nginx, err = h.e.startNginx(bin); err != nil {
			h.r.nginxNote = "nginx did not start: " + err.Error()
			h.e.nginx = nil
		} else {
			h.r.nginxVersion = h.e.nginx.version
		}
		if h.r.nginxNote != "" {
			h.logf("%s", h.r.nginxNote)
		}
	}
	for _, s := range allSections {
		if !h.o.sections[s] {
			continue
		}
		h.logf("section %s", s)
		var err error
		switch s {
		case "startup":
			err = h.startup()
		case "memory":
			err = h.memory()
		case "forward":
			err = h.forward()
		case "create":
			err = h.create()
		case "callbacks":
			err = h.callbacks()
		}
		if err != nil {
			return fmt.Errorf("section %s: %w", s, err)
		}
	}
	h.r.print(h.out)
	return nil
}

// measured is a load result with the CPU each process spent on it.
type measured struct {
	*loadResult
	cpu map[string]time.Duration // relay, harness (simulator, receiver), nginx, load
}

// perRequest is CPU time per request sent (warm-up included), in µs.
func (m *measured) perRequest(who string) float64 {
	if m == nil || m.Total == 0 {
		return 0
	}
	return float64(m.cpu[who].Microseconds()) / float64(m.Total)
}

// load runs a load phase: it waits for the machine to be quiet
// (-wait-quiet), runs it, and runs it again (-retries) if other processes
// were busy meanwhile. A list phase (each callback once) is never re-run.
func (h *harness) load(relay *relayProc, name string, profile bool, args ...string) (*measured, error) {
	retries := h.o.retries
	if slices.Contains(args, "list") {
		retries = 0
	}
	for attempt := 0; ; attempt++ {
		h.waitQuiet(name)
		m, busy, err := h.loadOnce(relay, name, profile, args...)
		if err != nil || busy == "" {
			return m, err
		}
		if attempt < retries {
			h.logf("%s: other processes used %s; running it again", name, busy)
			continue
		}
		h.logf("warning: %s: other processes used %s: its figures are disturbed", name, busy)
		cores, _, _ := strings.Cut(busy, ":")
		h.r.disturbed = append(h.r.disturbed, name+" ("+cores+")")
		return m, nil
	}
}

// waitQuiet waits (at most -wait-quiet) until processes other than ours
// use less than 0.05 cores over a second.
func (h *harness) waitQuiet(name string) {
	deadline := time.Now().Add(h.o.waitQuiet)
	for said := false; time.Now().Before(deadline); {
		before := processCPU()
		time.Sleep(time.Second)
		busy, who := h.others(before, processCPU(), nil)
		if busy < 50*time.Millisecond {
			return
		}
		if !said {
			h.logf("%s: waiting for the machine to be quiet (%s)", name, strings.Join(who, ", "))
			said = true
		}
	}
}

// others sums the CPU time processes other than ours (this one, its
// parent, the relays and nginx we started, and extra) used between two
// processCPU snapshots, and names the busiest. Kernel threads are left
// out: they also move our own packets.
func (h *harness) others(before, after map[int]time.Duration, extra []int) (time.Duration, []string) {
	ours := map[int]bool{os.Getpid(): true, os.Getppid(): true}
	for _, p := range extra {
		ours[p] = true
	}
	for _, p := range h.e.ourPids() {
		ours[p] = true
	}
	var sum time.Duration
	var busiest []string
	for pid, a := range after {
		d := a - before[pid]
		if ours[pid] || d <= 0 || isKernelThread(pid) {
			continue
		}
		sum += d
		if d >= 50*time.Millisecond {
			comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			busiest = append(busiest, fmt.Sprintf("%s (pid %d) %.1f s", strings.TrimSpace(string(comm)), pid, d.Seconds()))
		}
	}
	return sum, busiest
}

// loadOnce runs the load generator with args and measures everyone's CPU.
// With -pprof and profile set, the relay's CPU and allocation profiles are
// written as name.cpu.pprof and name.allocs.pprof. busy says how much
// other processes used meanwhile, if that was more than 0.05 cores.
func (h *harness) loadOnce(relay *relayProc, name string, profile bool, args ...string) (*measured, string, error) {
	cmd := exec.Command(h.self, append([]string{"load"}, args...)...)
	cmd.Env = append(os.Environ(), envKeyID+"="+h.e.keyID, envSecret+"="+h.e.secret)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	pids := map[string][]int{"harness": {os.Getpid()}}
	if relay != nil {
		pids["relay"] = []int{relay.pid()}
	}
	if h.e.nginx != nil {
		pids["nginx"] = h.e.nginx.pids()
	}
	before := map[string]time.Duration{}
	for who, ps := range pids {
		for _, p := range ps {
			before[who] += cpuTime(p)
		}
	}
	var profWG sync.WaitGroup
	profile = profile && relay != nil && h.o.pprofDir != ""
	if profile {
		secs := int((h.o.warmup + h.o.duration).Seconds())
		profWG.Go(func() {
			fetch(relay.admin+"/debug/pprof/profile?seconds="+strconv.Itoa(max(secs, 1)), filepath.Join(h.o.pprofDir, name+".cpu.pprof"))
		})
	}
	othersBefore := processCPU()
	if err := cmd.Run(); err != nil {
		return nil, "", fmt.Errorf("load %s: %w", strings.Join(args, " "), err)
	}
	othersAfter := processCPU()
	profWG.Wait()
	if profile {
		fetch(relay.admin+"/debug/pprof/allocs", filepath.Join(h.o.pprofDir, name+".allocs.pprof"))
	}
	m := &measured{loadResult: &loadResult{}, cpu: map[string]time.Duration{}}
	for who, ps := range pids {
		for _, p := range ps {
			m.cpu[who] += cpuTime(p)
		}
		m.cpu[who] -= before[who]
	}
	m.cpu["load"] = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	var busiest []string
	m.cpu["others"], busiest = h.others(othersBefore, othersAfter, []int{cmd.Process.Pid})
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), m.loadResult); err != nil {
		return nil, "", fmt.Errorf("load result: %w: %q", err, out.String())
	}
	if m.Errors > 0 {
		h.logf("%s: %d errors of %d requests (first: %s)", name, m.Errors, m.Total, m.FirstErr)
	}
	span := (h.o.warmup + h.o.duration).Seconds()
	if m.Mode == "list" {
		span = m.Seconds
	}
	if busy := m.cpu["others"].Seconds() / span; busy > 0.05 {
		return m, fmt.Sprintf("%.2f cores: %s", busy, strings.Join(busiest, ", ")), nil
	}
	return m, "", nil
}

func fetch(url, path string) {
	resp, err := http.Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: profile:", err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: profile:", err)
		return
	}
	defer f.Close()
	_, _ = io.Copy(f, resp.Body)
}

func (h *harness) durArgs() []string {
	return []string{"-warmup", h.o.warmup.String(), "-duration", h.o.duration.String()}
}

// startup: exec to the first /readyz 200, fresh state directory each time.
func (h *harness) startup() error {
	h.waitQuiet("startup")
	var times []time.Duration
	for i := 0; i <= h.o.startups; i++ {
		p, err := h.e.startRelay(h.o.logLevel)
		if err != nil {
			return err
		}
		p.stop()
		if i > 0 { // the first start warms the page cache
			times = append(times, p.startedIn)
		}
	}
	slices.Sort(times)
	h.r.startup = times
	return nil
}

// memory: VmRSS idle, then with N keep-alive connections open.
func (h *harness) memory() error {
	h.waitQuiet("memory")
	p, err := h.e.startRelay(h.o.logLevel)
	if err != nil {
		return err
	}
	defer p.stop()
	time.Sleep(time.Second)
	idle, err := rss(p.pid())
	if err != nil {
		return err
	}
	h.r.mem = append(h.r.mem, memPoint{conns: 0, rss: idle})
	cmd := exec.Command(h.self, "load", "-mode", "conns", "-url", p.url, "-steps", h.o.memSteps)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var open, failed int
		if _, err := fmt.Sscanf(sc.Text(), "open %d failed %d", &open, &failed); err != nil {
			continue
		}
		if failed > 0 {
			h.logf("memory: %s", sc.Text())
		}
		time.Sleep(time.Second)
		r, err := rss(p.pid())
		if err != nil {
			return err
		}
		h.r.mem = append(h.r.mem, memPoint{conns: open, failed: failed, rss: r})
		if _, err := io.WriteString(stdin, "next\n"); err != nil {
			break
		}
	}
	stdin.Close()
	return cmd.Wait()
}

// forward: the status call through the relay, directly, and through nginx.
func (h *harness) forward() error {
	p, err := h.e.startRelay(h.o.logLevel)
	if err != nil {
		return err
	}
	defer p.stop()
	h.logf("forward: preparing %d succeeded payments", h.o.payments)
	ps, err := completeMany(context.Background(), client(h.e, p), h.o.payments)
	if err != nil {
		return err
	}
	time.Sleep(300 * time.Millisecond) // let their webhooks go out
	var ids []string
	var bodies strings.Builder
	for _, pay := range ps {
		ids = append(ids, pay.ID)
		bodies.WriteString(strings.ReplaceAll(statusXML(pay.BankOrderID), "\n", `\n`) + "\n")
	}
	bodyFile := filepath.Join(h.e.dir, "status-bodies.txt")
	if err := os.WriteFile(bodyFile, []byte(bodies.String()), 0o600); err != nil {
		return err
	}
	type target struct {
		name string
		args []string
	}
	targets := []target{{"direct", []string{"-kind", "static", "-url", h.e.simURL, "-bodies", bodyFile}}}
	if h.e.nginx != nil {
		targets = append(targets, target{"nginx", []string{"-kind", "static", "-url", h.e.nginx.url, "-bodies", bodyFile}})
	}
	targets = append(targets, target{"relay", []string{"-kind", "status", "-url", p.url, "-ids", strings.Join(ids, ",")}})
	f := &forwardResult{closed: map[string]*measured{}, open: map[string]*measured{}}
	h.r.forward = f
	conns := strconv.Itoa(h.o.conns)
	for _, t := range targets {
		h.logf("forward: %s, closed loop, %d connections", t.name, h.o.conns)
		args := append(append([]string{"-mode", "closed", "-conns", conns}, t.args...), h.durArgs()...)
		m, err := h.load(p, "forward-"+t.name+"-closed", true, args...)
		if err != nil {
			return err
		}
		f.closed[t.name] = m
		f.order = append(f.order, t.name)
	}
	f.rate = h.o.rate
	if f.rate == 0 {
		f.rate = max(float64(int(f.closed["relay"].RPS/2/100))*100, 100)
	}
	for _, t := range targets {
		h.logf("forward: %s, open loop, %.0f requests/s", t.name, f.rate)
		args := append(append([]string{"-mode", "open", "-conns", conns, "-rate", strconv.FormatFloat(f.rate, 'f', 0, 64)}, t.args...), h.durArgs()...)
		var logFrom int64 // where this phase's lines start in the relay's log
		if fi, err := os.Stat(p.logPath); err == nil && t.name == "relay" {
			logFrom = fi.Size()
		}
		m, err := h.load(p, "forward-"+t.name+"-open", false, args...) // no profile: it would disturb the latencies
		if err != nil {
			return err
		}
		f.open[t.name] = m
		if t.name == "relay" {
			f.inside = handlerTimes(p.logPath, logFrom, "/v1/payments/{id}", h.o.warmup, h.o.duration)
		}
	}
	if r, err := rss(p.pid()); err == nil {
		f.relayRSSAfter = r
	}
	return nil
}

// create: durable POST /v1/payments, closed loop.
func (h *harness) create() error {
	p, err := h.e.startRelay(h.o.logLevel)
	if err != nil {
		return err
	}
	defer p.stop()
	args := append([]string{"-mode", "closed", "-kind", "create", "-conns", strconv.Itoa(h.o.conns), "-url", p.url, "-origin", siteOrigin}, h.durArgs()...)
	m, err := h.load(p, "create", true, args...)
	if err != nil {
		return err
	}
	h.r.create = m
	return nil
}

// callbacks: walk payments to their callback forms, then post them all.
func (h *harness) callbacks() error {
	p, err := h.e.startRelay(h.o.logLevel)
	if err != nil {
		return err
	}
	defer p.stop()
	h.logf("callbacks: walking %d payments to their callback forms", h.o.callbacks)
	start := time.Now()
	ps, err := walkMany(context.Background(), client(h.e, p), h.o.callbacks, runtime.NumCPU()*2)
	if err != nil {
		return err
	}
	h.logf("callbacks: walked in %v; posting them", time.Since(start).Round(time.Millisecond))
	var list strings.Builder
	for _, c := range ps {
		list.WriteString(c.action + "\t" + c.fields.Encode() + "\n")
	}
	listFile := filepath.Join(h.e.dir, "callbacks.txt")
	if err := os.WriteFile(listFile, []byte(list.String()), 0o600); err != nil {
		return err
	}
	m, err := h.load(p, "callbacks", true, "-mode", "list", "-conns", strconv.Itoa(h.o.conns), "-bodies", listFile)
	if err != nil {
		return err
	}
	h.r.callbacks = m
	return nil
}

// handlerTimes reads the relay's canonical log lines of route written
// after offset from (the last phase), drops the warm-up's share, and
// returns the p50/p99 of the relay's own duration_ms and of its bank_ms.
func handlerTimes(path string, from int64, route string, warmup, dur time.Duration) *insideTimes {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return nil
	}
	var total, bank []float64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var l struct {
			Route    string  `json:"route"`
			Duration float64 `json:"duration_ms"`
			Bank     float64 `json:"bank_ms"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.Route != route {
			continue
		}
		total = append(total, l.Duration)
		bank = append(bank, l.Bank)
	}
	skip := int(float64(len(total)) * warmup.Seconds() / (warmup + dur).Seconds())
	total, bank = total[skip:], bank[skip:]
	if len(total) == 0 {
		return nil
	}
	q := func(v []float64, p float64) float64 {
		v = slices.Clone(v)
		slices.Sort(v)
		return v[int(p*float64(len(v)-1))]
	}
	return &insideTimes{n: len(total), p50: q(total, 0.5), p99: q(total, 0.99), bankP50: q(bank, 0.5), bankP99: q(bank, 0.99)}
}
