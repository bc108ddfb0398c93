package config

import "time"

// The YAML wire format. Every field is optional in the file; defaults and
// checks are applied when it is turned into a Config. Pointers mark values
// whose zero is meaningful and must be told apart from "not set".

type fileConfig struct {
	Server       fileServer                   `yaml:"server"`
	TLS          fileTLS                      `yaml:"tls"`
	StateDir     string                       `yaml:"state_dir"`
	Egress       fileEgress                   `yaml:"egress"`
	Log          fileLog                      `yaml:"log"`
	Auth         fileAuth                     `yaml:"auth"`
	Payments     filePayments                 `yaml:"payments"`
	Webhooks     fileWebhooks                 `yaml:"webhooks"`
	Environments map[string]map[string]string `yaml:"environments"`
	Sites        []fileSite                   `yaml:"sites"`
}

type fileServer struct {
	Listen          string         `yaml:"listen"`
	HTTPListen      *string        `yaml:"http_listen"`
	AdminListen     *string        `yaml:"admin_listen"`
	PublicURL       string         `yaml:"public_url"`
	ReadTimeout     *time.Duration `yaml:"read_timeout"`
	WriteTimeout    *time.Duration `yaml:"write_timeout"`
	IdleTimeout     *time.Duration `yaml:"idle_timeout"`
	ShutdownTimeout *time.Duration `yaml:"shutdown_timeout"`
	MaxBodyBytes    *int           `yaml:"max_body_bytes"`
	MaxHeaderBytes  *int           `yaml:"max_header_bytes"`
	Concurrency     *int           `yaml:"concurrency"`
	TrustedProxies  []string       `yaml:"trusted_proxies"`
}

type fileTLS struct {
	Mode     string   `yaml:"mode"`
	Domains  []string `yaml:"domains"`
	Email    string   `yaml:"email"`
	CA       string   `yaml:"ca"`
	CARoots  []string `yaml:"ca_roots"`
	CertFile string   `yaml:"cert_file"`
	KeyFile  string   `yaml:"key_file"`
}

type fileEgress struct {
	SourceIP      string         `yaml:"source_ip"`
	AdvertisedIPs []string       `yaml:"advertised_ips"`
	AllowRanges   []string       `yaml:"allow_ranges"`
	DialTimeout   *time.Duration `yaml:"dial_timeout"`
	BankTimeout   *time.Duration `yaml:"bank_timeout"`
}

type fileLog struct {
	Level string `yaml:"level"`
}

type fileAuth struct {
	Window        *time.Duration `yaml:"window"`
	NonceCapacity *int           `yaml:"nonce_capacity"`
}

type filePayments struct {
	TTL           *time.Duration `yaml:"ttl"`
	BankStepGrace *time.Duration `yaml:"bank_step_grace"`
	StatusGrace   *time.Duration `yaml:"status_grace"`
	StatusReuse   *time.Duration `yaml:"status_reuse"`
}

type fileWebhooks struct {
	Timeout *time.Duration `yaml:"timeout"`
}

type fileSite struct {
	ID              string        `yaml:"id"`
	Keys            []fileKey     `yaml:"keys"`
	Webhook         fileWebhook   `yaml:"webhook"`
	ReturnOrigins   []string      `yaml:"return_origins"`
	MaxInstallments *int          `yaml:"max_installments"`
	AllowHalfSecure bool          `yaml:"allow_half_secure"`
	Accounts        []fileAccount `yaml:"accounts"`
}

type fileKey struct {
	ID     string `yaml:"id"`
	Secret string `yaml:"secret"`
}

type fileWebhook struct {
	URL    string `yaml:"url"`
	Secret string `yaml:"secret"`
}

// fileAccount holds the keys of every bank; validation refuses keys the
// account's bank does not use.
type fileAccount struct {
	Name        string `yaml:"name"`
	Bank        string `yaml:"bank"`
	Environment string `yaml:"environment"`
	Model       string `yaml:"model"`
	HostSet     string `yaml:"host_set"`

	// Halkbank (EST)
	ClientID    string `yaml:"client_id"`
	StoreKey    string `yaml:"store_key"`
	APIUser     string `yaml:"api_user"`
	APIPassword string `yaml:"api_password"`

	// QNB Finansbank (PayFor)
	MbrID        string `yaml:"mbr_id"`
	MerchantID   string `yaml:"merchant_id"`
	UserCode     string `yaml:"user_code"`
	UserPass     string `yaml:"user_pass"`
	MerchantPass string `yaml:"merchant_pass"`

	// VakıfBank (also uses merchant_id)
	TerminalNo    string `yaml:"terminal_no"`
	Password      string `yaml:"password"`
	MerchantType  *int   `yaml:"merchant_type"`
	SubMerchantID string `yaml:"sub_merchant_id"`
}
