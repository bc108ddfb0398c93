package est

import (
	"fmt"
	"maps"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/posrelay/posrelay/banksim"
)

// Config describes the simulated merchant account.
type Config struct {
	// ClientID, StoreKey, APIUser and APIPassword are the merchant's
	// credentials. Empty ones default to the shared Asseco sandbox account
	// of the protocol document §1.1 (700655000200 / TRPS0200 / ISBANKAPI /
	// ISBANK07).
	ClientID, StoreKey, APIUser, APIPassword string
	// StoreTypes the merchant is registered for; empty = all of 3d, 3d_pay,
	// 3d_pay_hosting, 3d_host. Another known storetype is refused as §1.3
	// describes (mdStatus 7, ErrCode 3D-1007).
	StoreTypes []string
	// Now is the simulator's clock (default time.Now). Settlement (end of
	// day, Türkiye time, UTC+3) and every date the bank prints follow it.
	Now func() time.Time
	// HangFor is how long the "timeout" card's API answer hangs at most
	// (default 30 s). The handler also returns when the client goes away or
	// the simulator is closed; it then drops the connection without an
	// answer.
	HangFor time.Duration
	// Logf, if set, receives one line per notable event (never card data).
	Logf func(format string, args ...any)
	// MerchantName is shown on the bank's pages and sent in callbacks
	// (default "Posrelay Test Mağazası", non-ASCII on purpose: callbacks are
	// ISO-8859-9).
	MerchantName string
	// MalformedXML makes the "malformed" card's API answer a truncated
	// CC5Response; by default it is a WAF rejection page in HTML.
	MalformedXML bool
}

// The shared sandbox account (protocol document §1.1).
const (
	SandboxClientID    = "700655000200"
	SandboxStoreKey    = "TRPS0200"
	SandboxAPIUser     = "ISBANKAPI"
	SandboxAPIPassword = "ISBANK07"
)

// Store types (§1.3).
const (
	StoreType3D           = "3d"
	StoreType3DPay        = "3d_pay"
	StoreType3DPayHosting = "3d_pay_hosting"
	StoreType3DHost       = "3d_host"
)

var allStoreTypes = []string{StoreType3D, StoreType3DPay, StoreType3DPayHosting, StoreType3DHost}

// Paths the simulator serves. The gate answers on both spellings (§1.1).
const (
	GatePath    = "/fim/est3Dgate"
	GatePathAlt = "/fim/est3dgate"
	APIPath     = "/fim/api"
	// CardPagePrefix + attempt id: the hosted card page (GET shows it, POST
	// submits it) of 3d_pay_hosting and 3d_host.
	CardPagePrefix = "/fim/hpp/"
	// ChallengePagePrefix + attempt id: the simulated ACS challenge (GET
	// shows it, POST submits the code).
	ChallengePagePrefix = "/fim/acs/"
)

// Order is a snapshot of one order in the simulator's ledger.
type Order = banksim.Order

// Calls counts what the simulator was asked to do.
type Calls struct {
	GatePosts int // POSTs to the 3-D gate
	Callbacks int // callback pages sent to the shopper's browser (okUrl/failUrl)
	// API counts /fim/api calls by kind: "Auth", "PreAuth", "PostAuth",
	// "Void", "Credit", "ORDERSTATUS", "ORDERHISTORY"; a call whose kind
	// cannot be told counts as "" (unreadable XML, missing or unknown Type).
	API map[string]int
	// APIByOrder counts /fim/api calls by OrderId (every kind).
	APIByOrder map[string]int
	// APIByOrderKind counts /fim/api calls by OrderId, then kind.
	APIByOrderKind map[string]map[string]int
}

// Count returns the /fim/api calls of kind (e.g. "Auth") for an order.
func (c Calls) Count(orderID, kind string) int { return c.APIByOrderKind[orderID][kind] }

// Provisions returns the Auth and PreAuth calls for an order: a relay must
// make at most one per order.
func (c Calls) Provisions(orderID string) int {
	return c.Count(orderID, "Auth") + c.Count(orderID, "PreAuth")
}

// Sim is a simulated Payten EST v3 gateway (Halkbank) for one merchant.
type Sim struct {
	cfg        Config
	storeTypes map[string]bool
	ledger     *banksim.Ledger
	hold       banksim.Hold
	seq        atomic.Uint64

	mu       sync.Mutex
	attempts map[string]*attempt // by attempt id
	byMD     map[string]*attempt
	byTrans  map[string]string // TransId → OrderId
	created  int               // attempts created since the last prune
	calls    Calls
}

// New returns a simulator for cfg.
func New(cfg Config) *Sim {
	banksim.SetDefault(&cfg.ClientID, SandboxClientID)
	banksim.SetDefault(&cfg.StoreKey, SandboxStoreKey)
	banksim.SetDefault(&cfg.APIUser, SandboxAPIUser)
	banksim.SetDefault(&cfg.APIPassword, SandboxAPIPassword)
	banksim.SetDefault(&cfg.MerchantName, "Posrelay Test Mağazası")
	banksim.DefaultTiming(&cfg.Now, &cfg.HangFor)
	st := map[string]bool{}
	if len(cfg.StoreTypes) == 0 {
		cfg.StoreTypes = allStoreTypes
	}
	for _, t := range cfg.StoreTypes {
		st[t] = true
	}
	s := &Sim{
		cfg:        cfg,
		storeTypes: st,
		ledger:     banksim.NewLedger(),
		attempts:   map[string]*attempt{},
		byMD:       map[string]*attempt{},
		byTrans:    map[string]string{},
		calls: Calls{
			API:            map[string]int{},
			APIByOrder:     map[string]int{},
			APIByOrderKind: map[string]map[string]int{},
		},
	}
	s.seq.Store(uint64(100000 + banksim.RandInt(800000)))
	return s
}

// Handler serves the gate, the hosted card page, the 3-D challenge and the
// XML API.
func (s *Sim) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+GatePath, s.handleGate)
	mux.HandleFunc("POST "+GatePathAlt, s.handleGate)
	mux.HandleFunc("GET "+CardPagePrefix+"{id}", s.handleCardPage)
	mux.HandleFunc("POST "+CardPagePrefix+"{id}", s.handleCardSubmit)
	mux.HandleFunc("GET "+ChallengePagePrefix+"{id}", s.handleChallengePage)
	mux.HandleFunc("POST "+ChallengePagePrefix+"{id}", s.handleChallengeSubmit)
	mux.HandleFunc("POST "+APIPath, s.handleAPI)
	return mux
}

// Calls returns a copy of the counters.
func (s *Sim) Calls() Calls {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls
	c.API = maps.Clone(s.calls.API)
	c.APIByOrder = maps.Clone(s.calls.APIByOrder)
	c.APIByOrderKind = banksim.CloneCounts(s.calls.APIByOrderKind)
	return c
}

// Order returns a snapshot of the simulator's ledger entry for an order:
// only orders that reached authorisation (approved or declined) have one.
func (s *Sim) Order(oid string) (Order, bool) { return s.ledger.Order(oid, s.now()) }

// Close releases API calls that are hanging on purpose (the "timeout"
// card); they drop their connections. The simulator keeps serving.
func (s *Sim) Close() { s.hold.Release() }

func (s *Sim) now() time.Time { return s.cfg.Now() }

func (s *Sim) logf(format string, args ...any) {
	if s.cfg.Logf != nil {
		s.cfg.Logf("banksim/est: "+format, args...)
	}
}

func (s *Sim) countAPI(kind, oid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls.API[kind]++
	if oid == "" {
		return
	}
	s.calls.APIByOrder[oid]++
	banksim.CountIn(s.calls.APIByOrderKind, oid, kind)
}

func (s *Sim) indexTxn(transID, oid string) {
	s.mu.Lock()
	s.byTrans[transID] = oid
	s.mu.Unlock()
}

// Identifiers and dates in the gateway's formats.

// trxDate is "yyyyMMdd HH:mm:ss" (TRXDATE, EXTRA.TRXDATE).
func trxDate(t time.Time) string { return t.In(banksim.Turkey).Format("20060102 15:04:05") }

// hostDate is "MMdd-HHmmss" (HOSTDATE).
func hostDate(t time.Time) string { return t.In(banksim.Turkey).Format("0102-150405") }

// dttm is "yyyy-MM-dd HH:mm:ss.SSS" (ORDERSTATUS / ORDERHISTORY), "" for zero.
func dttm(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(banksim.Turkey).Format("2006-01-02 15:04:05.000")
}

func (s *Sim) next() uint64 { return s.seq.Add(1) }

// newTransID looks like "22303LWsA14386": year, day of year, an hour
// letter, three random letters and a sequence.
func (s *Sim) newTransID(t time.Time) string {
	l := t.In(banksim.Turkey)
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	var r [3]byte
	for i := range r {
		r[i] = letters[banksim.RandInt(len(letters))]
	}
	return fmt.Sprintf("%02d%03d%c%s%05d", l.Year()%100, l.YearDay(), 'A'+byte(l.Hour()), r[:], s.next()%100000)
}

// newHostRef returns a 12-digit RRN ("230300671764") and its 6-digit stan.
func (s *Sim) newHostRef(t time.Time) (ref, stan string) {
	l := t.In(banksim.Turkey)
	stan = fmt.Sprintf("%06d", s.next()%1000000)
	return fmt.Sprintf("%d%03d00%s", l.Year()%10, l.YearDay(), stan), stan
}

func newAuthCode() string { return fmt.Sprintf("P%05d", banksim.RandInt(100000)) }

// merchantNo and terminalNo derive the acquirer's merchant and terminal
// numbers from the client id ("700655000200" → "655000200", "00655000").
func (s *Sim) merchantNo() string {
	id := s.cfg.ClientID
	if len(id) > 9 {
		id = id[len(id)-9:]
	}
	return id
}

func (s *Sim) terminalNo() string {
	m := s.merchantNo()
	return "00" + m[:min(6, len(m))]
}

func (s *Sim) batch(t time.Time) string { return fmt.Sprint(banksim.BatchNumber(t)) }

// cardIssuer is the issuing bank the simulator reports for every card.
const cardIssuer = "T. HALK BANKASI A.Ş."

// clientIP is the shopper's address as the gate sees it.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
