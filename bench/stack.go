package main

// What the harness runs: the Halkbank simulator and the stand-in for the
// Wix site's webhook endpoint (in the harness process), the relay (the
// built binary, its own process) and nginx (its own processes).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/posrelay/posrelay/banksim/est"
	"github.com/posrelay/posrelay/signer"
)

// The simulated merchant account.
const (
	simClientID    = "190100000"
	simAPIUser     = "POSRELAYAPI"
	simAPIPassword = "bench-api-pw"
	siteOrigin     = "https://shop.example"
)

// env is everything the harness started that outlives one section.
type env struct {
	dir      string // temp dir: binaries, configs, logs, journals
	relayBin string
	storeKey string
	keyID    string
	secret   string
	whsec    string
	sim      *est.Sim
	simURL   string
	hookURL  string
	servers  []*http.Server
	nginx    *nginx       // nil: not installed or turned off
	relays   []*relayProc // running
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// serve runs h on a fresh loopback port and returns its base URL.
func (e *env) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	e.servers = append(e.servers, srv)
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

// startInProcess starts the simulator and the webhook receiver.
func (e *env) startInProcess() error {
	e.storeKey = "sk-" + signer.NewNonce()
	e.keyID, e.secret = signer.NewKeySecret()
	e.whsec = signer.NewWebhookSecret()
	e.sim = est.New(est.Config{ClientID: simClientID, StoreKey: e.storeKey, APIUser: simAPIUser, APIPassword: simAPIPassword})
	var err error
	if e.simURL, err = e.serve(e.sim.Handler()); err != nil {
		return err
	}
	// The Wix site's webhook endpoint: accepts everything at once.
	hook := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = bytes.NewBuffer(nil).ReadFrom(r.Body)
		w.WriteHeader(http.StatusNoContent)
	})
	base, err := e.serve(hook)
	e.hookURL = base + "/_functions/posrelay"
	return err
}

func (e *env) close() {
	for _, s := range e.servers {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = s.Shutdown(ctx)
		cancel()
	}
	if e.nginx != nil {
		e.nginx.stop()
	}
}

// ourPids are the processes of the relays and nginx now running.
func (e *env) ourPids() []int {
	var out []int
	for _, p := range e.relays {
		if !p.stopped {
			out = append(out, p.pid())
		}
	}
	if e.nginx != nil {
		out = append(out, e.nginx.pids()...)
	}
	return out
}

// relayProc is one running relay binary.
type relayProc struct {
	cmd       *exec.Cmd
	url       string // http://127.0.0.1:port
	admin     string // http://127.0.0.1:port (metrics, pprof)
	stateDir  string
	logPath   string
	startedIn time.Duration // exec to the first /readyz 200
	done      chan error
	stopped   bool
}

var relaySeq int

// startRelay writes a configuration (fresh state directory, TLS off,
// durable journal, logging at level to a file) and starts the relay binary
// on it, returning once /readyz answers 200.
func (e *env) startRelay(logLevel string) (*relayProc, error) {
	relaySeq++
	name := fmt.Sprintf("relay-%d", relaySeq)
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	admin, err := freePort()
	if err != nil {
		return nil, err
	}
	p := &relayProc{url: fmt.Sprintf("http://127.0.0.1:%d", port), admin: fmt.Sprintf("http://127.0.0.1:%d", admin),
		stateDir: filepath.Join(e.dir, name), logPath: filepath.Join(e.dir, name+".log"), done: make(chan error, 1)}
	if err := os.MkdirAll(p.stateDir, 0o700); err != nil {
		return nil, err
	}
	// The nonce cache must hold every request of a run: at tens of
	// thousands of signed calls a second the default (200,000) fills in
	// seconds, and the relay then answers 503 replay_cache_full.
	// status_reuse 0s: every refresh goes to the bank, which is the forward
	// path measured (with the default 5s the 16 payments' answers would be
	// reused and the simulator never asked).
	yaml := fmt.Sprintf(`tls: {mode: off}
server: {listen: "127.0.0.1:%d", public_url: %q, admin_listen: "127.0.0.1:%d", shutdown_timeout: 5s}
state_dir: %q
log: {level: %s}
auth: {nonce_capacity: 10000000}
payments: {status_reuse: 0s}
egress: {allow_ranges: ["127.0.0.0/8"], bank_timeout: 5s}
environments: {sim: {halkbank: %q}}
sites:
  - id: bench
    keys: [{id: %q, secret: "${BENCH_SECRET}"}]
    webhook: {url: %q, secret: "${BENCH_WHSEC}"}
    return_origins: [%q]
    accounts:
      - {bank: halkbank, environment: sim, model: 3d_pay_hosting, client_id: %q, api_user: %q, store_key: "${BENCH_STORE_KEY}", api_password: "${BENCH_API_PASSWORD}"}
`, port, p.url, admin, p.stateDir, logLevel, e.simURL, e.keyID, e.hookURL, siteOrigin, simClientID, simAPIUser)
	cfgPath := filepath.Join(e.dir, name+".yaml")
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(p.logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	p.cmd = exec.Command(e.relayBin, "serve", "--config", cfgPath)
	p.cmd.Env = append(os.Environ(), "BENCH_SECRET="+e.secret, "BENCH_WHSEC="+e.whsec,
		"BENCH_STORE_KEY="+e.storeKey, "BENCH_API_PASSWORD="+simAPIPassword)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.done <- p.cmd.Wait() }()
	if err := waitReady(p.url+"/readyz", p.done, 20*time.Second); err != nil {
		p.kill()
		return nil, fmt.Errorf("relay did not become ready: %w (log: %s)", err, p.logPath)
	}
	p.startedIn = time.Since(start)
	e.relays = append(e.relays, p)
	return p, nil
}

// waitReady polls url every millisecond until it answers 200.
func waitReady(url string, exited <-chan error, limit time.Duration) error {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("exited: %v", err)
		default:
		}
		if resp, err := c.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(time.Millisecond)
	}
	return errors.New("timed out")
}

func (p *relayProc) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM and waits (SIGKILL after 10 s).
func (p *relayProc) stop() {
	p.stopped = true
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.kill()
	}
}

func (p *relayProc) kill() {
	p.stopped = true
	_ = p.cmd.Process.Kill()
	<-p.done
}

// nginx is a running nginx forwarding to the simulator.
type nginx struct {
	cmd     *exec.Cmd
	url     string
	version string
	done    chan error
}

// startNginx writes nginx.conf (proxy_pass to the simulator with upstream
// keep-alive, worker_processes auto, access_log off) and runs nginx in the
// foreground.
func (e *env) startNginx(bin string) (*nginx, error) {
	dir := filepath.Join(e.dir, "nginx")
	for _, d := range []string{dir, filepath.Join(dir, "body"), filepath.Join(dir, "proxy"), filepath.Join(dir, "logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	sim := strings.TrimPrefix(e.simURL, "http://")
	user := ""
	if os.Geteuid() == 0 {
		user = "user root root;\n" // workers read the temp dirs below
	}
	conf := fmt.Sprintf(`# Generated by posrelay bench: forwards to the Halkbank simulator.
%sworker_processes auto;
worker_rlimit_nofile 20000;
pid %s/nginx.pid;
error_log %s/logs/error.log warn;
events {
    worker_connections 10000;
}
http {
    access_log off;
    client_body_temp_path %s/body;
    proxy_temp_path %s/proxy;
    upstream sim {
        server %s;
        keepalive 256;
    }
    server {
        listen 127.0.0.1:%d;
        location / {
            proxy_pass http://sim;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
`, user, dir, dir, dir, dir, sim, port)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	n := &nginx{url: fmt.Sprintf("http://127.0.0.1:%d", port), done: make(chan error, 1)}
	if out, err := exec.Command(bin, "-v").CombinedOutput(); err == nil {
		n.version = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(string(out)), "nginx version: "), "nginx/")
	}
	n.cmd = exec.Command(bin, "-p", dir, "-c", confPath, "-e", filepath.Join(dir, "logs", "error.log"), "-g", "daemon off;")
	n.cmd.Stdout, n.cmd.Stderr = os.Stderr, os.Stderr
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := n.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { n.done <- n.cmd.Wait() }()
	// Ready when a status call goes through to the simulator.
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Post(n.url+est.APIPath, "text/xml", strings.NewReader(statusXML("bench-probe")))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return n, nil
			}
		}
		select {
		case err := <-n.done:
			return nil, fmt.Errorf("nginx exited: %v (see %s)", err, filepath.Join(dir, "logs", "error.log"))
		default:
		}
		if time.Now().After(deadline) {
			n.stop()
			return nil, fmt.Errorf("nginx did not answer on %s", n.url)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pids returns the master's and the workers' process ids.
func (n *nginx) pids() []int {
	master := n.cmd.Process.Pid
	out := []int{master}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", master, master))
	if err != nil {
		return out
	}
	for f := range strings.FieldsSeq(string(raw)) {
		if pid, err := strconv.Atoi(f); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

func (n *nginx) stop() {
	_ = n.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.done
	}
}

// statusXML is the ORDERSTATUS query the relay sends for an order (bank/est
// query, §1.7.6), byte for byte.
func statusXML(orderID string) string {
	return `<?xml version="1.0" encoding="ISO-8859-9"?>` + "\n<CC5Request><Name>" + simAPIUser + "</Name><Password>" + simAPIPassword +
		"</Password><ClientId>" + simClientID + "</ClientId><OrderId>" + orderID + "</OrderId><Extra><ORDERSTATUS>QUERY</ORDERSTATUS></Extra></CC5Request>"
}

// rss reads a process's resident set (VmRSS) in bytes.
func rss(pid int) (int64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for l := range strings.Lines(string(raw)) {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			f := strings.Fields(v)
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS")
}

// cpuTime is a process's user+system CPU time so far.
func cpuTime(pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(raw)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+2:]
	}
	f := strings.Fields(s)
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const hz = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / hz
}

// processCPU is the CPU time so far of every process on the machine.
func processCPU() map[int]time.Duration {
	out := map[int]time.Duration{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			out[pid] = cpuTime(pid)
		}
	}
	return out
}

// isKernelThread reports whether pid is a kernel thread (no command line).
func isKernelThread(pid int) bool {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && len(raw) == 0
}
