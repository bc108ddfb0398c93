package vakif

import (
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/posrelay/posrelay/banksim"
)

// Config describes the simulated merchant account.
type Config struct {
	// MerchantID, TerminalNo and Password are the merchant's credentials;
	// empty ones default to the library's sandbox account (§3A.1:
	// 000000000111111 / VP000095 / 3XTgER89as).
	MerchantID, TerminalNo, Password string
	// RelayIPs are the merchant's registered server addresses: server calls
	// from anywhere else are refused with 1105. Empty = every address.
	RelayIPs []netip.Prefix
	// Now is the simulator's clock (default time.Now): settlement (end of
	// day, Türkiye time) and every date the bank prints follow it.
	Now func() time.Time
	// HangFor is how long the "timeout" card's answer hangs at most
	// (default 30 s). The handler also gives up when the client goes away or
	// the simulator is closed, and drops the connection without an answer.
	HangFor time.Duration
	// Logf, if set, receives one line per notable event (never card data).
	Logf func(format string, args ...any)
}

// The library's sandbox account (§3A.1).
const (
	SandboxMerchantID = "000000000111111"
	SandboxTerminalNo = "VP000095"
	SandboxPassword   = "3XTgER89as"
)

// Paths the simulator serves.
const (
	MPIPath         = "/MPIAPI/MPI_Enrollment.aspx"
	ACSPath         = "/ACS/PaReq.aspx"       // the stand-in issuer ACS (browser POST of PaReq, TermUrl, MD)
	ChallengePrefix = "/ACS/Challenge/"       // + MD: the ACS challenge (browser POST of the code)
	TermPath        = "/MPIAPI/MPI_Term.aspx" // the MPI's TermUrl (browser POST of PaRes, MD)
	VPOSPath        = "/VposService/v3/Vposreq.aspx"
	SearchPath      = "/UIService/Search.aspx"
	CPRegisterPath  = "/CommonPayment/api/RegisterTransaction"
	CPPagePath      = "/CommonPayment/SecurePayment"
	CPChallengePath = "/CommonPayment/SecurePayment/Challenge"
	CPQueryPath     = "/CommonPayment/api/VposTransaction"
)

// Order is a snapshot of one order in the simulator's ledger.
type Order = banksim.Order

// Calls counts what the simulator was asked to do.
type Calls struct {
	Enrollments int // MPI enrollment requests (refused ones too)
	Callbacks   int // answers sent back through the shopper's browser (MPI callbacks, Common Payment returns)
	// VPOS counts Vposreq calls by TransactionType ("" when it cannot be
	// told: no prmstr, unreadable XML).
	VPOS map[string]int
	// VPOSByOrder counts Vposreq calls by OrderId, then TransactionType.
	// Capture, Cancel and Refund count under the order of their reference.
	VPOSByOrder map[string]map[string]int
	Searches    int
	Registers   int // Common Payment RegisterTransaction
	Queries     int // Common Payment VposTransaction
	// ByOrder counts every server call that names an order, whatever the
	// endpoint.
	ByOrder map[string]int
	// Refused counts server calls refused for their source address (1105).
	Refused int
}

// Count returns the Vposreq calls of a TransactionType for an order.
func (c Calls) Count(orderID, txnType string) int { return c.VPOSByOrder[orderID][txnType] }

// Provisions returns the Sale and Auth calls for an order: a relay must
// make at most one per order.
func (c Calls) Provisions(orderID string) int {
	return c.Count(orderID, "Sale") + c.Count(orderID, "Auth")
}

// Sim is a simulated VakıfBank for one merchant account.
type Sim struct {
	cfg    Config
	ledger *banksim.Ledger
	hold   banksim.Hold

	mu          sync.Mutex
	enrollments map[string]*enrollment // by VerifyEnrollmentRequestId
	byMD        map[string]*enrollment
	sessions    map[string]*session // Common Payment, by PaymentToken
	txns        map[string]txnRef   // by TransactionId
	created     int                 // enrollments and sessions since the last prune
	calls       Calls
	lastProv    []banksim.Field
}

// txnRef finds a VPOS transaction in the ledger.
type txnRef struct {
	orderID string
	index   int // into the order's History.Txns; -1 for a capture (it changes the sale)
}

// New returns a simulator for cfg.
func New(cfg Config) *Sim {
	banksim.SetDefault(&cfg.MerchantID, SandboxMerchantID)
	banksim.SetDefault(&cfg.TerminalNo, SandboxTerminalNo)
	banksim.SetDefault(&cfg.Password, SandboxPassword)
	banksim.DefaultTiming(&cfg.Now, &cfg.HangFor)
	return &Sim{
		cfg:         cfg,
		ledger:      banksim.NewLedger(),
		enrollments: map[string]*enrollment{},
		byMD:        map[string]*enrollment{},
		sessions:    map[string]*session{},
		txns:        map[string]txnRef{},
		calls:       Calls{VPOS: map[string]int{}, VPOSByOrder: map[string]map[string]int{}, ByOrder: map[string]int{}},
	}
}

// Handler serves every endpoint of both products.
func (s *Sim) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+MPIPath, s.handleEnrollment)
	mux.HandleFunc("POST "+ACSPath, s.handleACS)
	mux.HandleFunc("POST "+ChallengePrefix+"{md}", s.handleChallenge)
	mux.HandleFunc("POST "+TermPath, s.handleTerm)
	mux.HandleFunc("POST "+VPOSPath, s.handleVPOS)
	mux.HandleFunc("POST "+SearchPath, s.handleSearch)
	mux.HandleFunc("POST "+CPRegisterPath, s.handleRegister)
	mux.HandleFunc("GET "+CPPagePath, s.handleCPPage)
	mux.HandleFunc("POST "+CPPagePath, s.handleCPCard)
	mux.HandleFunc("POST "+CPChallengePath, s.handleCPChallenge)
	mux.HandleFunc("POST "+CPQueryPath, s.handleQuery)
	return mux
}

// Calls returns a copy of the counters.
func (s *Sim) Calls() Calls {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls
	c.VPOS = maps.Clone(s.calls.VPOS)
	c.ByOrder = maps.Clone(s.calls.ByOrder)
	c.VPOSByOrder = banksim.CloneCounts(s.calls.VPOSByOrder)
	return c
}

// Order returns a snapshot of the ledger entry for an order: only orders
// that reached authorisation (approved or declined) have one.
func (s *Sim) Order(orderID string) (Order, bool) { return s.ledger.Order(orderID, s.now()) }

// LastProvision returns the fields of the last Sale or Auth VposRequest, as
// received and in order, so tests can see what a relay sent (e.g. that no
// card data was in it).
func (s *Sim) LastProvision() []banksim.Field {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.lastProv)
}

// Close releases answers that hang on purpose (the "timeout" card); they
// drop their connections. The simulator keeps serving.
func (s *Sim) Close() { s.hold.Release() }

func (s *Sim) now() time.Time { return s.cfg.Now() }

func (s *Sim) logf(format string, args ...any) {
	if s.cfg.Logf != nil {
		s.cfg.Logf("banksim/vakif: "+format, args...)
	}
}

// fromRelay reports whether a server call comes from a registered address
// and counts the refusals.
func (s *Sim) fromRelay(r *http.Request, what string) bool {
	a := banksim.ClientAddr(r)
	if banksim.AddrAllowed(a, s.cfg.RelayIPs) {
		return true
	}
	s.mu.Lock()
	s.calls.Refused++
	s.mu.Unlock()
	s.logf("%s: refused: %s is not a registered address (1105)", what, a)
	return false
}

func (s *Sim) countOrder(orderID string) {
	if orderID != "" {
		s.calls.ByOrder[orderID]++
	}
}

// countVPOS counts a Vposreq call; call with s.mu held.
func (s *Sim) countVPOS(txnType, orderID string) {
	s.calls.VPOS[txnType]++
	if orderID == "" {
		return
	}
	s.countOrder(orderID)
	banksim.CountIn(s.calls.VPOSByOrder, orderID, txnType)
}

// prune forgets enrollments and sessions older than two hours, now and
// then; call with s.mu held.
func (s *Sim) prune(now time.Time) {
	if !banksim.Sweep(&s.created) {
		return
	}
	for id, e := range s.enrollments {
		if banksim.Stale(e.created, now) {
			delete(s.enrollments, id)
			delete(s.byMD, e.md)
		}
	}
	for tok, c := range s.sessions {
		if banksim.Stale(c.created, now) {
			delete(s.sessions, tok)
		}
	}
}

// Identifiers and dates in the bank's formats.

func newTransID() string          { return banksim.RandHex(16) }    // "9972767117b3400eb2acafc0018643df" (VB-F5)
func newAuthCode() string         { return banksim.RandDigits(6) }  // "961451"
func newRRN() string              { return banksim.RandDigits(12) } // "306823971358"
func hostDate(t time.Time) string { return t.In(banksim.Turkey).Format("20060102150405") }

func (s *Sim) batchNo(t time.Time) string { return itoa(banksim.BatchNumber(t)) }

// saleTxn is the ledger record of an authorisation: approved, or declined
// by the test card's issuer answer.
func saleTxn(preAuth bool, amount int64, currency, installments, masked string, outcome banksim.Outcome, now time.Time) banksim.Txn {
	t := banksim.Txn{
		Kind: banksim.KindSale, Status: banksim.TxnApproved, Amount: amount, Currency: currency,
		Installments: installments, At: now, TransID: newTransID(), HostRef: newRRN(), MaskedPAN: masked,
		Outcome: outcome, ProcCode: approved.Code,
	}
	if preAuth {
		t.Kind = banksim.KindPreAuth
	}
	if d, declined := issuerDecline(outcome); declined {
		t.Status, t.ProcCode, t.AuthCode = banksim.TxnDeclined, d.Code, "000000"
		return t
	}
	t.AuthCode = newAuthCode()
	if !preAuth {
		t.Captured, t.CapturedAt = amount, now
	}
	return t
}

func issuerDecline(o banksim.Outcome) (errDef, bool) {
	switch o {
	case banksim.InsufficientFunds:
		return declinedFunds, true
	case banksim.ExpiredCard:
		return declinedExp, true
	case banksim.InvalidCard:
		return declinedCard, true
	}
	return errDef{}, false
}

// record appends an authorisation to the order unless it already has an
// approved sale, and indexes it. It reports false for a duplicate.
func (s *Sim) record(orderID string, t banksim.Txn) bool {
	dup := false
	idx := 0
	_ = s.ledger.Do(orderID, func(h *banksim.History) error {
		if t.Status == banksim.TxnApproved && h.Sale() != nil {
			dup = true
			return nil
		}
		idx = len(h.Txns)
		h.Append(t)
		return nil
	})
	if dup {
		return false
	}
	s.index(t.TransID, orderID, idx)
	return true
}

func (s *Sim) paid(orderID string) bool {
	o, ok := s.ledger.Order(orderID, s.now())
	return ok && o.State != banksim.StateDeclined
}
