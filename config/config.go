// Package config reads the relay's YAML configuration. The file is decoded
// strictly (an unknown key is an error) and then checked and turned into a
// Config, a plain struct the rest of the relay reads. Every problem is
// reported with the key's path and the fix, all at once.
//
// Secrets are never written in the file: a secret value is ${ENV_VAR},
// file:/absolute/path (mode 0600) or credential:NAME (systemd's
// LoadCredential=, read from $CREDENTIALS_DIRECTORY).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/posrelay/posrelay/allowlist"
)

// Defaults for values the file leaves out.
const (
	DefaultListen          = ":443"
	DefaultHTTPListen      = ":80"
	DefaultAdminListen     = "127.0.0.1:9090"
	DefaultReadTimeout     = 10 * time.Second
	DefaultWriteTimeout    = 15 * time.Second
	DefaultIdleTimeout     = 60 * time.Second
	DefaultShutdownTimeout = 20 * time.Second
	DefaultMaxBodyBytes    = 64 << 10 // API bodies and bank callbacks are a few KB
	DefaultMaxHeaderBytes  = 8 << 10
	DefaultConcurrency     = 10000 // simultaneous requests being served
	DefaultDialTimeout     = 5 * time.Second
	DefaultBankTimeout     = 8 * time.Second // well inside Wix's 14 s per call
	DefaultAuthWindow      = 300 * time.Second
	DefaultNonceCapacity   = 200000
	DefaultPaymentTTL      = 30 * time.Minute
	DefaultBankStepGrace   = 20 * time.Minute
	DefaultStatusGrace     = 10 * time.Minute
	DefaultStatusReuse     = 5 * time.Second
	DefaultWebhookTimeout  = 10 * time.Second
	DefaultMaxInstallments = 12
	DefaultStateDir        = "/var/lib/posrelay"
	DefaultACMECA          = "https://acme-v02.api.letsencrypt.org/directory"
	StagingACMECA          = "https://acme-staging-v02.api.letsencrypt.org/directory"
)

// Config is the checked configuration.
type Config struct {
	Server     Server
	TLS        TLS
	StateDir   string
	Egress     Egress
	LogLevel   string // debug, info, warn, error
	Auth       Auth
	PaymentTTL time.Duration
	// BankStepGrace is how long past its expiry a payment whose shopper
	// reached the bank stays open (the bank's 3-D session may still approve).
	BankStepGrace time.Duration
	// StatusGrace is how long after the last bank call "no such
	// transaction" from a status query is not yet believed for a payment in
	// status unknown; refunds, voids and captures wait six times as long.
	StatusGrace time.Duration
	// StatusReuse is how long the bank's status answer for an unchanged
	// payment serves further refreshes; 0 asks the bank every time.
	StatusReuse  time.Duration
	Webhooks     Webhooks
	Environments map[string]map[string]string // custom environment → bank → base URL
	Sites        []*Site
}

// Server is the relay's listeners and limits.
type Server struct {
	Listen          string   // HTTPS listener, or the only listener when TLS is off
	HTTPListen      string   // plain listener for ACME HTTP-01 and redirects; "" = none
	AdminListen     string   // loopback metrics listener; "" = none
	PublicURL       *url.URL // base of /pay and /callback links
	ReadTimeout     time.Duration
	WriteTimeout    time.Duration
	IdleTimeout     time.Duration
	ShutdownTimeout time.Duration
	MaxBodyBytes    int
	MaxHeaderBytes  int
	Concurrency     int
	TrustedProxies  []netip.Prefix // X-Forwarded-For/-Proto honoured only from these (TLS mode off)
}

// TLS modes.
const (
	TLSACME  = "acme"
	TLSFiles = "files"
	TLSOff   = "off"
)

// TLS is how the relay gets its certificate.
type TLS struct {
	Mode     string
	Domains  []string
	Email    string
	CA       string   // ACME directory URL
	CARoots  []string // extra PEM files trusted when talking to the CA
	CertFile string
	KeyFile  string
}

// Egress is how the relay reaches the banks and the sites.
type Egress struct {
	SourceIP      netip.Addr // zero = the OS picks
	AdvertisedIPs []string   // what /v1/whoami tells the site to whitelist
	AllowRanges   []netip.Prefix
	DialTimeout   time.Duration
	BankTimeout   time.Duration
}

// Auth tunes request authentication.
type Auth struct {
	Window        time.Duration
	NonceCapacity int // per key
}

// Webhooks tunes delivery to the sites.
type Webhooks struct {
	Timeout time.Duration
}

// Site is one Wix site the relay serves.
type Site struct {
	ID              string
	Keys            []Key
	WebhookURL      *url.URL
	WebhookSecret   Secret // "whsec_…"
	ReturnOrigins   []string
	MaxInstallments int
	AllowHalfSecure bool
	Accounts        []*Account
}

// Key is one request-signing key of a site.
type Key struct {
	ID     string
	Secret Secret
}

// Account returns the site's account for a bank ("" = the first account).
func (s *Site) Account(bank string) (*Account, bool) {
	for _, a := range s.Accounts {
		if bank == "" || a.Bank == bank || a.Name == bank {
			return a, true
		}
	}
	return nil, false
}

// Banks names.
const (
	Halkbank  = "halkbank"
	QNB       = "qnb"
	VakifBank = "vakifbank"
)

// Account is a merchant account at one bank.
type Account struct {
	Name        string // defaults to the bank's name
	Bank        string
	Environment string // "test", "prod" or a custom environment
	Model       string
	HostSet     string // VakıfBank only: "classic" or "apigw"
	Endpoints   allowlist.Endpoints

	ClientID    string // Halkbank
	StoreKey    Secret
	APIUser     string
	APIPassword Secret

	MbrID        string // QNB
	MerchantID   string // QNB and VakıfBank
	UserCode     string
	UserPass     Secret
	MerchantPass Secret

	TerminalNo    string // VakıfBank
	Password      Secret
	MerchantType  int
	SubMerchantID string
}

// Production reports whether the account talks to the bank's production system.
func (a *Account) Production() bool { return a.Environment == "prod" }

// Models per bank; the first is the default.
var bankModels = map[string][]string{
	Halkbank:  {"3d_pay_hosting", "3d_pay", "3d"},
	QNB:       {"3DHost", "3DPay", "3DModel"},
	VakifBank: {"common_payment", "mpi"},
}

// Models lists the payment models of a bank, the default first.
func Models(bank string) []string { return slices.Clone(bankModels[bank]) }

// Load reads and checks a configuration file.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	return Parse(f, os.LookupEnv)
}

// Parse reads and checks a configuration. env looks up environment
// variables (os.LookupEnv outside tests).
func Parse(r io.Reader, env func(string) (string, bool)) (*Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("config: read: %w", err)
	}
	var fc fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&fc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Problems{{Path: "(file)", Msg: "empty; start from config.example.yaml"}}
		}
		// Unknown keys are named by their path when the document parses.
		var doc yaml.Node
		if yaml.Unmarshal(data, &doc) == nil {
			if ps := unknownKeys(&doc); len(ps) > 0 {
				return nil, &ps
			}
		}
		msg := yamlMessage(err)
		if strings.Contains(msg, "did not find expected") && bytes.Contains(data, []byte("${")) {
			msg += `; inside {…} or […] write secret references in quotes: "${NAME}"`
		}
		return nil, &Problems{{Path: "(file)", Msg: msg}}
	}
	v := &validator{env: env}
	cfg := v.config(&fc)
	if len(v.problems) > 0 {
		return nil, &v.problems
	}
	return cfg, nil
}

// yamlMessage turns the YAML decoder's error into a line that names the
// fix; unknown keys are the common case.
func yamlMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.ReplaceAll(msg, "unmarshal errors:\n  ", "")
	if strings.Contains(msg, "not found in type") {
		msg = strings.ReplaceAll(msg, " not found in type config.", " is not a known key (in ")
		msg += "); check the spelling against config.example.yaml"
		msg = strings.ReplaceAll(msg, "file", "")
	}
	return msg
}

// Problem is one thing wrong with the configuration.
type Problem struct {
	Path string // e.g. "sites[1].keys[0].secret"
	Msg  string // what is wrong and how to fix it
}

func (p Problem) String() string { return p.Path + ": " + p.Msg }

// Problems is every problem found; it is the error Parse returns.
type Problems []Problem

func (ps *Problems) Error() string {
	var b strings.Builder
	if len(*ps) == 1 {
		b.WriteString("config: ")
		b.WriteString((*ps)[0].String())
		return b.String()
	}
	fmt.Fprintf(&b, "config: %d problems:", len(*ps))
	for _, p := range *ps {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}
