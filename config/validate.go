package config

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/posrelay/posrelay/allowlist"
)

type validator struct {
	env      func(string) (string, bool)
	problems Problems
}

func (v *validator) add(path, format string, args ...any) {
	v.problems = append(v.problems, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) secret(path, ref, suggestEnv string) Secret {
	s, err := resolveSecret(ref, suggestEnv, v.env)
	if err != nil {
		v.add(path, "%v", err)
	}
	return s
}

var (
	siteIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	keyIDPattern  = regexp.MustCompile(`^[A-Za-z0-9_-]{3,64}$`)
	envNamePat    = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)
	upperSnake    = regexp.MustCompile(`[^A-Z0-9]+`)
)

// envName suggests an environment variable name for a secret.
func envName(parts ...string) string {
	s := strings.ToUpper(strings.Join(append([]string{"POSRELAY"}, parts...), "_"))
	return strings.Trim(upperSnake.ReplaceAllString(s, "_"), "_")
}

func dur(p *time.Duration, def time.Duration) time.Duration {
	if p == nil {
		return def
	}
	return *p
}

func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

func strOr(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}

func (v *validator) positive(path string, d time.Duration) {
	if d <= 0 {
		v.add(path, "must be a positive duration such as 10s")
	}
}

func (v *validator) config(fc *fileConfig) *Config {
	c := &Config{
		StateDir: fc.StateDir,
		LogLevel: fc.Log.Level,
	}
	if c.StateDir == "" {
		c.StateDir = DefaultStateDir
	}
	if !strings.HasPrefix(c.StateDir, "/") {
		v.add("state_dir", "%q is relative; use an absolute path such as %s", c.StateDir, DefaultStateDir)
	}
	switch c.LogLevel {
	case "":
		c.LogLevel = "info"
	case "debug", "info", "warn", "error":
	default:
		v.add("log.level", "%q is not a level; use debug, info, warn or error", c.LogLevel)
	}
	v.tls(&fc.TLS, &c.TLS)
	v.server(&fc.Server, c)
	v.egress(&fc.Egress, &c.Egress)

	c.Auth.Window = dur(fc.Auth.Window, DefaultAuthWindow)
	v.positive("auth.window", c.Auth.Window)
	c.Auth.NonceCapacity = intOr(fc.Auth.NonceCapacity, DefaultNonceCapacity)
	if c.Auth.NonceCapacity < 1000 {
		v.add("auth.nonce_capacity", "%d is too small; it must hold every request of one %v window (at least 1000)", c.Auth.NonceCapacity, 2*c.Auth.Window)
	}
	c.PaymentTTL = dur(fc.Payments.TTL, DefaultPaymentTTL)
	if c.PaymentTTL < time.Minute || c.PaymentTTL > 24*time.Hour {
		v.add("payments.ttl", "%v is out of range; use between 1m and 24h (default %v)", c.PaymentTTL, DefaultPaymentTTL)
	}
	c.BankStepGrace = dur(fc.Payments.BankStepGrace, DefaultBankStepGrace)
	if c.BankStepGrace < time.Minute || c.BankStepGrace > 24*time.Hour {
		v.add("payments.bank_step_grace", "%v is out of range; use between 1m and 24h (default %v): banks' 3-D sessions last up to about 15 minutes", c.BankStepGrace, DefaultBankStepGrace)
	}
	c.StatusGrace = dur(fc.Payments.StatusGrace, DefaultStatusGrace)
	if c.StatusGrace < 10*time.Second || c.StatusGrace > 24*time.Hour {
		v.add("payments.status_grace", "%v is out of range; use between 10s and 24h (default %v)", c.StatusGrace, DefaultStatusGrace)
	}
	c.StatusReuse = dur(fc.Payments.StatusReuse, DefaultStatusReuse)
	if c.StatusReuse < 0 || c.StatusReuse > time.Minute {
		v.add("payments.status_reuse", "%v is out of range; use between 0s (ask the bank every time) and 1m (default %v)", c.StatusReuse, DefaultStatusReuse)
	}
	c.Webhooks.Timeout = dur(fc.Webhooks.Timeout, DefaultWebhookTimeout)
	if c.Webhooks.Timeout <= 0 || c.Webhooks.Timeout > 14*time.Second {
		v.add("webhooks.timeout", "%v is out of range; use up to 14s, Wix's limit for an HTTP function", c.Webhooks.Timeout)
	}

	c.Environments = map[string]map[string]string{}
	for name, banks := range fc.Environments {
		path := "environments." + name
		if !envNamePat.MatchString(name) || name == "test" || name == "prod" {
			v.add(path, "invalid environment name; use lower-case letters, digits, - or _, and not test or prod (those are built in)")
			continue
		}
		c.Environments[name] = map[string]string{}
		for bank, base := range banks {
			if _, ok := bankModels[bank]; !ok {
				v.add(path+"."+bank, "unknown bank; use halkbank, qnb or vakifbank")
				continue
			}
			if _, err := allowlist.Custom(allowlist.Bank(bank), base); err != nil {
				v.add(path+"."+bank, "%v", err)
				continue
			}
			c.Environments[name][bank] = base
		}
	}

	if len(fc.Sites) == 0 {
		v.add("sites", "no site configured; add at least one site with its keys, webhook and bank accounts")
	}
	siteIDs := map[string]bool{}
	keyIDs := map[string]string{}
	for i := range fc.Sites {
		s := v.site(fmt.Sprintf("sites[%d]", i), &fc.Sites[i], c)
		if s.ID != "" {
			if siteIDs[s.ID] {
				v.add(fmt.Sprintf("sites[%d].id", i), "%q is used by another site; site ids must be unique", s.ID)
			}
			siteIDs[s.ID] = true
		}
		for j, k := range s.Keys {
			if other, dup := keyIDs[k.ID]; dup && k.ID != "" {
				v.add(fmt.Sprintf("sites[%d].keys[%d].id", i, j), "%q is also a key of site %q; key ids must be unique across sites (run posrelay keygen)", k.ID, other)
			}
			keyIDs[k.ID] = s.ID
		}
		c.Sites = append(c.Sites, s)
	}
	return c
}

func (v *validator) tls(f *fileTLS, t *TLS) {
	t.Mode = f.Mode
	if t.Mode == "" {
		t.Mode = TLSACME
	}
	t.Email, t.CertFile, t.KeyFile = f.Email, f.CertFile, f.KeyFile
	t.CARoots = f.CARoots
	for i, d := range f.Domains {
		h, err := allowlist.NormalizeHost(d)
		if err != nil || strings.Contains(h, ":") || net.ParseIP(h) != nil {
			v.add(fmt.Sprintf("tls.domains[%d]", i), "%q is not a DNS name; give the name that points at this server, e.g. pay.example.com", d)
			continue
		}
		t.Domains = append(t.Domains, h)
	}
	switch t.Mode {
	case TLSACME:
		if len(t.Domains) == 0 {
			v.add("tls.domains", "empty; tls.mode acme needs the relay's DNS name(s), e.g. [pay.example.com]")
		}
		switch f.CA {
		case "", "letsencrypt":
			t.CA = DefaultACMECA
		case "letsencrypt-staging":
			t.CA = StagingACMECA
		default:
			u, err := url.Parse(f.CA)
			if err != nil || u.Scheme != "https" || u.Host == "" {
				v.add("tls.ca", "%q is not an ACME directory URL; use letsencrypt, letsencrypt-staging or https://…/directory", f.CA)
			}
			t.CA = f.CA
		}
		for i, p := range f.CARoots {
			if !strings.HasPrefix(p, "/") {
				v.add(fmt.Sprintf("tls.ca_roots[%d]", i), "%q: use an absolute path to a PEM file", p)
			}
		}
		if t.CertFile != "" || t.KeyFile != "" {
			v.add("tls.cert_file", "only used with tls.mode files; remove cert_file/key_file or set mode: files")
		}
	case TLSFiles:
		if t.CertFile == "" || t.KeyFile == "" {
			v.add("tls.cert_file", "tls.mode files needs cert_file and key_file (PEM paths)")
		}
	case TLSOff:
	default:
		v.add("tls.mode", "%q is not a mode; use acme, files or off", t.Mode)
	}
}

func (v *validator) server(f *fileServer, c *Config) {
	s := &c.Server
	s.Listen = f.Listen
	if s.Listen == "" {
		s.Listen = DefaultListen
		if c.TLS.Mode == TLSOff {
			s.Listen = "127.0.0.1:8080"
		}
	}
	v.listenAddr("server.listen", s.Listen)
	def := DefaultHTTPListen
	if c.TLS.Mode == TLSOff {
		def = ""
	}
	s.HTTPListen = strOr(f.HTTPListen, def)
	if s.HTTPListen != "" {
		v.listenAddr("server.http_listen", s.HTTPListen)
	}
	s.AdminListen = strOr(f.AdminListen, DefaultAdminListen)
	if s.AdminListen != "" {
		host, _, err := net.SplitHostPort(s.AdminListen)
		ip, perr := netip.ParseAddr(host)
		if err != nil || perr != nil || !ip.IsLoopback() {
			v.add("server.admin_listen", "%q must be a loopback address such as 127.0.0.1:9090 (metrics are not public); use \"\" to turn it off", s.AdminListen)
		}
	}
	switch {
	case f.PublicURL != "":
		u, err := url.Parse(f.PublicURL)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.Fragment != "" || strings.Trim(u.Path, "/") != "" {
			v.add("server.public_url", "%q must be the relay's base URL such as https://pay.example.com (no path or query)", f.PublicURL)
			break
		}
		if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
			v.add("server.public_url", "%q uses http; banks post 3-D callbacks only to https addresses, so use https:// (http is allowed only for localhost)", f.PublicURL)
		}
		u.Path = ""
		s.PublicURL = u
	case len(c.TLS.Domains) > 0:
		s.PublicURL = &url.URL{Scheme: "https", Host: c.TLS.Domains[0]}
	default:
		v.add("server.public_url", "empty; set the relay's base URL, e.g. https://pay.example.com (the address shoppers and banks reach)")
	}
	s.ReadTimeout = dur(f.ReadTimeout, DefaultReadTimeout)
	s.WriteTimeout = dur(f.WriteTimeout, DefaultWriteTimeout)
	s.IdleTimeout = dur(f.IdleTimeout, DefaultIdleTimeout)
	s.ShutdownTimeout = dur(f.ShutdownTimeout, DefaultShutdownTimeout)
	v.positive("server.read_timeout", s.ReadTimeout)
	v.positive("server.write_timeout", s.WriteTimeout)
	v.positive("server.idle_timeout", s.IdleTimeout)
	v.positive("server.shutdown_timeout", s.ShutdownTimeout)
	s.MaxBodyBytes = intOr(f.MaxBodyBytes, DefaultMaxBodyBytes)
	if s.MaxBodyBytes < 4<<10 || s.MaxBodyBytes > 4<<20 {
		v.add("server.max_body_bytes", "%d is out of range; use 4096 to 4194304 (default %d)", s.MaxBodyBytes, DefaultMaxBodyBytes)
	}
	s.MaxHeaderBytes = intOr(f.MaxHeaderBytes, DefaultMaxHeaderBytes)
	if s.MaxHeaderBytes < 2<<10 || s.MaxHeaderBytes > 64<<10 {
		v.add("server.max_header_bytes", "%d is out of range; use 2048 to 65536 (default %d)", s.MaxHeaderBytes, DefaultMaxHeaderBytes)
	}
	s.Concurrency = intOr(f.Concurrency, DefaultConcurrency)
	if s.Concurrency < 1 {
		v.add("server.concurrency", "must be at least 1 (default %d)", DefaultConcurrency)
	}
	for i, p := range f.TrustedProxies {
		pfx, err := parsePrefix(p)
		if err != nil {
			v.add(fmt.Sprintf("server.trusted_proxies[%d]", i), "%q: %v; use an address or CIDR such as 10.0.0.5 or 10.0.0.0/24", p, err)
			continue
		}
		s.TrustedProxies = append(s.TrustedProxies, pfx)
	}
	if len(s.TrustedProxies) > 0 && c.TLS.Mode != TLSOff {
		v.add("server.trusted_proxies", "only used with tls.mode off (behind a TLS terminator); remove it or set tls.mode: off")
	}
}

func (v *validator) listenAddr(path, addr string) {
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		v.add(path, "%q is not host:port; write e.g. :443 or 127.0.0.1:8080", addr)
	}
}

func (v *validator) egress(f *fileEgress, e *Egress) {
	if f.SourceIP != "" {
		ip, err := netip.ParseAddr(f.SourceIP)
		if err != nil || ip.IsUnspecified() {
			v.add("egress.source_ip", "%q is not an IP address of this server; give the address the bank whitelisted, e.g. 203.0.113.10", f.SourceIP)
		}
		e.SourceIP = ip
	}
	for i, a := range f.AdvertisedIPs {
		if _, err := netip.ParseAddr(a); err != nil {
			v.add(fmt.Sprintf("egress.advertised_ips[%d]", i), "%q is not an IP address", a)
		}
	}
	e.AdvertisedIPs = f.AdvertisedIPs
	if len(e.AdvertisedIPs) == 0 && e.SourceIP.IsValid() {
		e.AdvertisedIPs = []string{e.SourceIP.String()}
	}
	for i, r := range f.AllowRanges {
		p, err := parsePrefix(r)
		if err != nil {
			v.add(fmt.Sprintf("egress.allow_ranges[%d]", i), "%q: %v; use a CIDR such as 127.0.0.0/8", r, err)
			continue
		}
		e.AllowRanges = append(e.AllowRanges, p)
	}
	e.DialTimeout = dur(f.DialTimeout, DefaultDialTimeout)
	e.BankTimeout = dur(f.BankTimeout, DefaultBankTimeout)
	v.positive("egress.dial_timeout", e.DialTimeout)
	if e.BankTimeout <= 0 || e.BankTimeout > 10*time.Second {
		v.add("egress.bank_timeout", "%v is out of range; use up to 10s so the relay answers inside Wix's 14 s limit", e.BankTimeout)
	}
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, fmt.Errorf("not a CIDR")
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("not an IP address")
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.IsLoopback()
}

func (v *validator) site(path string, f *fileSite, c *Config) *Site {
	s := &Site{ID: f.ID, AllowHalfSecure: f.AllowHalfSecure}
	if !siteIDPattern.MatchString(s.ID) {
		v.add(path+".id", "%q is not a site id; use 1–63 lower-case letters, digits, - or _, e.g. shop1", s.ID)
	}
	idForEnv := s.ID
	if idForEnv == "" {
		idForEnv = strings.TrimPrefix(strings.TrimSuffix(path, "]"), "sites[")
	}
	if len(f.Keys) == 0 {
		v.add(path+".keys", "empty; add a request key (run posrelay keygen to make one)")
	}
	for i, k := range f.Keys {
		kp := fmt.Sprintf("%s.keys[%d]", path, i)
		if !keyIDPattern.MatchString(k.ID) {
			v.add(kp+".id", "%q is not a key id; use 3–64 letters, digits, - or _ (run posrelay keygen)", k.ID)
		}
		sec := v.secret(kp+".secret", k.Secret, envName(idForEnv, "SECRET"))
		if !sec.IsZero() && len(sec.Reveal()) < 32 {
			v.add(kp+".secret", "too short (%d characters); use at least 32 random characters (run posrelay keygen)", len(sec.Reveal()))
		}
		s.Keys = append(s.Keys, Key{ID: k.ID, Secret: sec})
	}

	if f.Webhook.URL == "" {
		v.add(path+".webhook.url", "empty; set the site's HTTP function URL, e.g. https://www.example.com/_functions/posrelay")
	} else if u, err := url.Parse(f.Webhook.URL); err != nil || u.Host == "" || u.User != nil || u.Fragment != "" ||
		!(u.Scheme == "https" || u.Scheme == "http" && isLoopbackHost(u.Hostname())) {
		v.add(path+".webhook.url", "%q is not an https URL; Wix HTTP functions are https://<site>/_functions/<name>", f.Webhook.URL)
	} else {
		s.WebhookURL = u
	}
	s.WebhookSecret = v.secret(path+".webhook.secret", f.Webhook.Secret, envName(idForEnv, "WHSEC"))
	if !s.WebhookSecret.IsZero() {
		if err := checkWebhookSecret(s.WebhookSecret.Reveal()); err != nil {
			v.add(path+".webhook.secret", "%v (run posrelay keygen for a fresh one)", err)
		}
	}

	if len(f.ReturnOrigins) == 0 {
		v.add(path+".return_origins", "empty; list the site's origins the shopper may be sent back to, e.g. [https://www.example.com]")
	}
	for i, o := range f.ReturnOrigins {
		norm, err := NormalizeOrigin(o)
		if err != nil {
			v.add(fmt.Sprintf("%s.return_origins[%d]", path, i), "%v", err)
			continue
		}
		s.ReturnOrigins = append(s.ReturnOrigins, norm)
	}
	s.MaxInstallments = intOr(f.MaxInstallments, DefaultMaxInstallments)
	if s.MaxInstallments < 1 || s.MaxInstallments > 12 {
		v.add(path+".max_installments", "%d is out of range; use 1 (single payments only) to 12", s.MaxInstallments)
	}

	if len(f.Accounts) == 0 {
		v.add(path+".accounts", "empty; add the site's merchant account at halkbank, qnb or vakifbank")
	}
	names := map[string]bool{}
	for i := range f.Accounts {
		a := v.account(fmt.Sprintf("%s.accounts[%d]", path, i), idForEnv, &f.Accounts[i], c)
		if a.Name != "" && names[a.Name] {
			v.add(fmt.Sprintf("%s.accounts[%d].name", path, i), "%q is used twice; give each account of a bank its own name", a.Name)
		}
		names[a.Name] = true
		s.Accounts = append(s.Accounts, a)
	}
	return s
}

// checkWebhookSecret checks a Standard Webhooks secret: whsec_ + base64 of
// 24 to 64 bytes.
func checkWebhookSecret(s string) error {
	rest, ok := strings.CutPrefix(s, "whsec_")
	if !ok {
		return fmt.Errorf("must start with whsec_")
	}
	b, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return fmt.Errorf("the part after whsec_ is not standard base64")
	}
	if len(b) < 24 || len(b) > 64 {
		return fmt.Errorf("decodes to %d bytes; want 24 to 64", len(b))
	}
	return nil
}

// NormalizeOrigin checks and normalises an origin: scheme://host[:port],
// https only (http for localhost), no path, default ports dropped.
func NormalizeOrigin(o string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(o))
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Trim(u.Path, "/") != "" {
		return "", fmt.Errorf("%q is not an origin; write scheme and host only, e.g. https://www.example.com", o)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackHost(u.Hostname())) {
		return "", fmt.Errorf("%q must use https (http only for localhost)", o)
	}
	host, err := allowlist.NormalizeHost(u.Hostname())
	if err != nil {
		return "", fmt.Errorf("%q: %v", o, err)
	}
	port := u.Port()
	if port == "443" && u.Scheme == "https" || port == "80" && u.Scheme == "http" {
		port = ""
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("%q has an invalid port", o)
		}
		host = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return u.Scheme + "://" + host, nil
}

// accountKeys lists which bank-specific keys each bank uses.
var accountKeys = map[string][]string{
	Halkbank:  {"client_id", "store_key", "api_user", "api_password"},
	QNB:       {"mbr_id", "merchant_id", "user_code", "user_pass", "merchant_pass"},
	VakifBank: {"merchant_id", "terminal_no", "password", "merchant_type", "sub_merchant_id", "host_set"},
}

func (v *validator) account(path, siteID string, f *fileAccount, c *Config) *Account {
	a := &Account{Bank: f.Bank, Name: f.Name, Environment: f.Environment, Model: f.Model}
	models, ok := bankModels[a.Bank]
	if !ok {
		v.add(path+".bank", "%q is not a bank the relay speaks; use halkbank, qnb or vakifbank", a.Bank)
		return a
	}
	if a.Name == "" {
		a.Name = a.Bank
	}
	if a.Model == "" {
		a.Model = models[0]
	} else if !slices.Contains(models, a.Model) {
		v.add(path+".model", "%q is not a %s model; use one of %s (default %s)", a.Model, a.Bank, strings.Join(models, ", "), models[0])
	}
	set := map[string]string{
		"client_id": f.ClientID, "store_key": f.StoreKey, "api_user": f.APIUser, "api_password": f.APIPassword,
		"mbr_id": f.MbrID, "merchant_id": f.MerchantID, "user_code": f.UserCode, "user_pass": f.UserPass,
		"merchant_pass": f.MerchantPass, "terminal_no": f.TerminalNo, "password": f.Password,
		"sub_merchant_id": f.SubMerchantID, "host_set": f.HostSet,
	}
	if f.MerchantType != nil {
		set["merchant_type"] = strconv.Itoa(*f.MerchantType)
	}
	for key, val := range set {
		if val != "" && !slices.Contains(accountKeys[a.Bank], key) {
			v.add(path+"."+key, "not used by %s accounts; remove it (it belongs to another bank's account)", a.Bank)
		}
	}
	need := func(key, val, example string) string {
		if val == "" {
			v.add(path+"."+key, "empty; set the %s given by the bank, e.g. %s", strings.ReplaceAll(key, "_", " "), example)
		}
		return val
	}
	env := func(name string) string { return envName(siteID, a.Name, name) }
	switch a.Bank {
	case Halkbank:
		a.ClientID = need("client_id", f.ClientID, "190100000")
		a.StoreKey = v.secret(path+".store_key", f.StoreKey, env("STORE_KEY"))
		a.APIUser = need("api_user", f.APIUser, "the API user created in the merchant panel")
		a.APIPassword = v.secret(path+".api_password", f.APIPassword, env("API_PASSWORD"))
	case QNB:
		a.MbrID = f.MbrID
		if a.MbrID == "" {
			a.MbrID = "5" // QNB Finansbank; 12 is Ziraat Katılım on the same platform
		}
		a.MerchantID = need("merchant_id", f.MerchantID, "085300000009704")
		a.UserCode = need("user_code", f.UserCode, "QNB_API_KULLANICI_3DPAY")
		a.UserPass = v.secret(path+".user_pass", f.UserPass, env("USER_PASS"))
		a.MerchantPass = v.secret(path+".merchant_pass", f.MerchantPass, env("MERCHANT_PASS"))
	case VakifBank:
		a.MerchantID = need("merchant_id", f.MerchantID, "000100000013506")
		a.TerminalNo = need("terminal_no", f.TerminalNo, "VP000579")
		a.Password = v.secret(path+".password", f.Password, env("PASSWORD"))
		a.MerchantType = intOr(f.MerchantType, 0)
		if a.MerchantType < 0 || a.MerchantType > 2 {
			v.add(path+".merchant_type", "%d is not a merchant type; use 0 (standard), 1 (main dealer) or 2 (sub dealer)", a.MerchantType)
		}
		a.SubMerchantID = f.SubMerchantID
		if a.MerchantType == 2 && a.SubMerchantID == "" {
			v.add(path+".sub_merchant_id", "empty; merchant_type 2 (sub dealer) needs the sub merchant id")
		}
		a.HostSet = f.HostSet
		if a.HostSet == "" {
			a.HostSet = "classic"
		}
		if a.HostSet != "classic" && a.HostSet != "apigw" {
			v.add(path+".host_set", "%q is not a VakıfBank host set; use classic (the :4443 hosts) or apigw (the 2026 API-gateway hosts) as the bank told you", a.HostSet)
		}
	}

	switch a.Environment {
	case "":
		v.add(path+".environment", "empty; use test (the bank's sandbox) or prod")
	case "test", "prod":
		eps, err := allowlist.Lookup(allowlist.Bank(a.Bank), a.Environment, a.HostSet)
		if err != nil {
			v.add(path+".environment", "%v", err)
		}
		a.Endpoints = eps
	default:
		base, ok := c.Environments[a.Environment][a.Bank]
		if !ok {
			v.add(path+".environment", "%q is neither test, prod nor an entry of environments with a %s URL; add environments.%s.%s: https://…", a.Environment, a.Bank, a.Environment, a.Bank)
			break
		}
		eps, err := allowlist.Custom(allowlist.Bank(a.Bank), base)
		if err != nil {
			v.add(path+".environment", "%v", err)
		}
		a.Endpoints = eps
	}
	return a
}
