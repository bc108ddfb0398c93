package payfor

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/posrelay/posrelay/banksim"
)

// Config describes the simulated merchant account.
type Config struct {
	// MbrID, MerchantID, UserCode, UserPass and MerchantPass are the
	// merchant's credentials. Empty ones default to the library's sandbox
	// account of §2.1 (5 / 085300000009704 / QNB_API_KULLANICI_3DPAY /
	// UcBN0 / 12345678).
	MbrID, MerchantID, UserCode, UserPass, MerchantPass string
	// RelayIPs are the merchant's registered server addresses: only they
	// may post Default.aspx and XMLGate.aspx (M047 otherwise). Empty = any.
	RelayIPs []netip.Prefix
	// Now is the simulator's clock (default time.Now). Settlement (end of
	// day, Türkiye time, UTC+3) and every date the bank prints follow it.
	Now func() time.Time
	// HangFor is how long the "timeout" card's XMLGate answer hangs at most
	// (default 30 s). The handler also returns when the client goes away or
	// the simulator is closed; it then drops the connection unanswered.
	HangFor time.Duration
	// Logf, if set, receives one line per notable event (never card data).
	Logf func(format string, args ...any)
	// MerchantName is the callback's MrcName (default "POSRELAY TEST ISYERI").
	MerchantName string
	// ResponseHashSHA256 signs callbacks with SHA-256 and leaves HashType
	// out, like the 2024 callback PF-F7; by default SHA-1 with HashType Sha1.
	ResponseHashSHA256 bool
	// MalformedXML makes the "malformed" card's XMLGate answer a truncated
	// PayforResponse; by default it is a WAF rejection page in HTML.
	MalformedXML bool
}

// The library's sandbox account (protocol document §2.1).
const (
	SandboxMbrID        = "5"
	SandboxMerchantID   = "085300000009704"
	SandboxUserCode     = "QNB_API_KULLANICI_3DPAY"
	SandboxUserPass     = "UcBN0"
	SandboxMerchantPass = "12345678"
)

// Paths the simulator serves (matched without regard to case).
const (
	GatePath = "/Gateway/Default.aspx"
	HostPath = "/Gateway/3DHost.aspx"
	APIPath  = "/Gateway/XMLGate.aspx"
	// CardPagePrefix + attempt id: the 3DHost card page (GET shows it, POST
	// submits it).
	CardPagePrefix = "/Gateway/3DHostCard/"
	// ChallengePagePrefix + attempt id: the simulated ACS challenge (GET
	// shows it, POST submits the code).
	ChallengePagePrefix = "/Gateway/ACS/"
	// CallsPath and OrderPathPrefix + OrderId serve the counters and the
	// ledger as JSON, for tests that reach the simulator only over HTTP.
	CallsPath       = "/_sim/calls"
	OrderPathPrefix = "/_sim/orders/"
)

// Order is a snapshot of one order in the simulator's ledger.
type Order = banksim.Order

// Calls counts what the simulator was asked to do.
type Calls struct {
	// FormPosts counts posts to Default.aspx and 3DHost.aspx by SecureType
	// as posted ("" when the form is unreadable), refused ones included.
	FormPosts map[string]int `json:"formPosts"`
	// Refusals counts refused forms and XMLGate calls by PayFor code
	// (M047, M030, 101310…).
	Refusals map[string]int `json:"refusals"`
	// Callbacks counts callback pages sent to the shopper's browser.
	Callbacks int `json:"callbacks"`
	// XML counts XMLGate calls by kind: the TxnType ("Auth", "PreAuth",
	// "PostAuth", "Void", "Refund", "OrderInquiry", "TxnHistory"), or
	// "3DModelPayment" for the SecureType of that name; "" when the kind
	// cannot be told.
	XML map[string]int `json:"xml"`
	// XMLByOrder counts XMLGate calls by OrderId (OrgOrderId for the calls
	// that name the order so), then kind.
	XMLByOrder map[string]map[string]int `json:"xmlByOrder"`
}

// Count returns the XMLGate calls of kind (e.g. "3DModelPayment") for an
// order.
func (c Calls) Count(orderID, kind string) int { return c.XMLByOrder[orderID][kind] }

// Sim is a simulated PayFor gateway for one merchant.
type Sim struct {
	cfg    Config
	ledger *banksim.Ledger
	hold   banksim.Hold
	seq    atomic.Uint64

	mu       sync.Mutex
	attempts map[string]*attempt // by attempt id
	byGUID   map[string]*attempt // by RequestGuid
	orders   []string            // order ids in the ledger, oldest first (TxnHistory by date)
	known    map[string]bool
	sales    map[string]sale // by OrderId
	created  int             // attempts created since the last prune
	calls    Calls
}

// New returns a simulator for cfg.
func New(cfg Config) *Sim {
	banksim.SetDefault(&cfg.MbrID, SandboxMbrID)
	banksim.SetDefault(&cfg.MerchantID, SandboxMerchantID)
	banksim.SetDefault(&cfg.UserCode, SandboxUserCode)
	banksim.SetDefault(&cfg.UserPass, SandboxUserPass)
	banksim.SetDefault(&cfg.MerchantPass, SandboxMerchantPass)
	banksim.SetDefault(&cfg.MerchantName, "POSRELAY TEST ISYERI")
	banksim.DefaultTiming(&cfg.Now, &cfg.HangFor)
	s := &Sim{
		cfg:      cfg,
		ledger:   banksim.NewLedger(),
		attempts: map[string]*attempt{},
		byGUID:   map[string]*attempt{},
		known:    map[string]bool{},
		sales:    map[string]sale{},
		calls: Calls{
			FormPosts:  map[string]int{},
			Refusals:   map[string]int{},
			XML:        map[string]int{},
			XMLByOrder: map[string]map[string]int{},
		},
	}
	s.seq.Store(uint64(100000 + banksim.RandInt(800000)))
	return s
}

// Handler serves the gate, the hosted page, the card and challenge pages,
// XMLGate and the JSON views of the counters and the ledger.
func (s *Sim) Handler() http.Handler { return http.HandlerFunc(s.route) }

// route dispatches like IIS: paths are matched without regard to case.
func (s *Sim) route(w http.ResponseWriter, r *http.Request) {
	p := strings.ToLower(r.URL.Path)
	post, get := r.Method == http.MethodPost, r.Method == http.MethodGet || r.Method == http.MethodHead
	id := func(prefix string) string { return r.URL.Path[len(prefix):] }
	switch {
	case p == strings.ToLower(GatePath) && post:
		s.handleGate(w, r, true)
	case p == strings.ToLower(HostPath) && post:
		s.handleGate(w, r, false)
	case p == strings.ToLower(APIPath) && post:
		s.handleAPI(w, r)
	case strings.HasPrefix(p, strings.ToLower(CardPagePrefix)) && get:
		s.handleCardPage(w, r, strings.ToLower(id(CardPagePrefix)))
	case strings.HasPrefix(p, strings.ToLower(CardPagePrefix)) && post:
		s.handleCardSubmit(w, r, strings.ToLower(id(CardPagePrefix)))
	case strings.HasPrefix(p, strings.ToLower(ChallengePagePrefix)) && get:
		s.handleChallengePage(w, r, strings.ToLower(id(ChallengePagePrefix)))
	case strings.HasPrefix(p, strings.ToLower(ChallengePagePrefix)) && post:
		s.handleChallengeSubmit(w, r, strings.ToLower(id(ChallengePagePrefix)))
	case p == CallsPath && get:
		writeJSON(w, s.Calls())
	case strings.HasPrefix(p, OrderPathPrefix) && get:
		o, ok := s.Order(id(OrderPathPrefix))
		if !ok {
			http.Error(w, "no such order", http.StatusNotFound)
			return
		}
		writeJSON(w, o)
	case p == strings.ToLower(GatePath), p == strings.ToLower(HostPath), p == strings.ToLower(APIPath):
		w.Header().Set("Allow", http.MethodPost)
		banksim.WriteHTML(w, http.StatusMethodNotAllowed, banksim.ErrorPage("405", "Method not allowed"))
	default:
		banksim.WriteHTML(w, http.StatusNotFound, banksim.ErrorPage("404", "Sayfa bulunamadı / Page not found"))
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
}

// Calls returns a copy of the counters.
func (s *Sim) Calls() Calls {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls
	c.FormPosts = maps.Clone(s.calls.FormPosts)
	c.Refusals = maps.Clone(s.calls.Refusals)
	c.XML = maps.Clone(s.calls.XML)
	c.XMLByOrder = banksim.CloneCounts(s.calls.XMLByOrder)
	return c
}

// Order returns a snapshot of the simulator's ledger entry for an order:
// only orders that reached authorisation (approved or declined) have one.
func (s *Sim) Order(oid string) (Order, bool) { return s.ledger.Order(oid, s.now()) }

// Close releases XMLGate calls that are hanging on purpose (the "timeout"
// card); they drop their connections. The simulator keeps serving.
func (s *Sim) Close() { s.hold.Release() }

func (s *Sim) now() time.Time { return s.cfg.Now() }

func (s *Sim) logf(format string, args ...any) {
	if s.cfg.Logf != nil {
		s.cfg.Logf("banksim/payfor: "+format, args...)
	}
}

func (s *Sim) countForm(secureType string) {
	s.mu.Lock()
	s.calls.FormPosts[secureType]++
	s.mu.Unlock()
}

func (s *Sim) countRefusal(code string) {
	s.mu.Lock()
	s.calls.Refusals[code]++
	s.mu.Unlock()
}

func (s *Sim) countXML(kind, oid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls.XML[kind]++
	if oid != "" {
		banksim.CountIn(s.calls.XMLByOrder, oid, kind)
	}
}

// record runs fn on an order's ledger history and remembers the order for
// TxnHistory by date.
func (s *Sim) record(oid string, fn func(h *banksim.History) error) error {
	err := s.ledger.Do(oid, fn)
	if _, ok := s.ledger.Order(oid, s.now()); ok {
		s.mu.Lock()
		if !s.known[oid] {
			s.known[oid] = true
			s.orders = append(s.orders, oid)
		}
		s.mu.Unlock()
	}
	return err
}

// allowed reports whether a request comes from a registered server address.
func (s *Sim) allowed(r *http.Request) bool {
	return banksim.AddrAllowed(banksim.ClientAddr(r), s.cfg.RelayIPs)
}

// clientIP is the caller's address as the bank prints it (RequestIp).
func clientIP(r *http.Request) string { return banksim.ClientAddr(r).String() }

// Identifiers and dates in PayFor's formats.

func (s *Sim) next() uint64 { return s.seq.Add(1) }

// newGUID looks like "1000000081255931".
func (s *Sim) newGUID() string { return fmt.Sprintf("10000000%08d", s.next()%100000000) }

// newResponseRnd looks like "PF638028524588902912".
func newResponseRnd() string { return fmt.Sprintf("PF%018d", banksim.RandInt(int64(1e18))) }

// newHostRef returns a 12-digit RRN ("230422098249") and its stan (F11).
func (s *Sim) newHostRef(t time.Time) (ref, stan string) {
	l := t.In(banksim.Turkey)
	n := s.next() % 1000000
	return fmt.Sprintf("%d%03d%02d%06d", l.Year()%10, l.YearDay(), l.Hour(), n), fmt.Sprint(n)
}

func newAuthCode() string { return fmt.Sprintf("S%05d", banksim.RandInt(100000)) }

// txnDate is "dd.MM.yyyy HH:mm:ss" (TransactionDate, InsertDatetime).
func txnDate(t time.Time) string { return t.In(banksim.Turkey).Format("02.01.2006 15:04:05") }

// isoDate is "yyyy-MM-ddTHH:mm:ss" (TxnHistory InsertDatetime).
func isoDate(t time.Time) string { return t.In(banksim.Turkey).Format("2006-01-02T15:04:05") }

// ymd is "yyyyMMdd" (ReqDate, SysDate, VoidDate), "" for the zero time.
func ymd(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(banksim.Turkey).Format("20060102")
}

// hms is "HHmmss" (VoidTime), "0" for the zero time.
func hms(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return t.In(banksim.Turkey).Format("150405")
}

func (s *Sim) batch(t time.Time) string { return fmt.Sprint(banksim.BatchNumber(t)) }

// terminalID derives a "VS010481"-like terminal id from the merchant id.
func (s *Sim) terminalID() string {
	id := s.cfg.MerchantID
	if len(id) > 6 {
		id = id[len(id)-6:]
	}
	return "VS" + id
}

// cardType is PayFor's one-letter scheme (CardType, DsBrand).
func cardType(pan string) string {
	switch banksim.Brand(pan) {
	case "MASTERCARD":
		return "M"
	case "TROY":
		return "T"
	case "AMEX":
		return "A"
	}
	return "V"
}

// maskPAN is "415565******6111" (CardMask).
func maskPAN(pan string) string {
	if len(pan) < 12 {
		return strings.Repeat("*", len(pan))
	}
	return pan[:6] + strings.Repeat("*", len(pan)-10) + pan[len(pan)-4:]
}

// alphaCode is the callback's AlphaCode: "TL" for TRY, else the ISO letters.
func alphaCode(numeric string) string {
	a := banksim.CurrencyAlpha(numeric)
	if a == "TRY" {
		return "TL"
	}
	return a
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
