package vakif

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/posrelay/posrelay/banksim"
	"github.com/posrelay/posrelay/signer"
)

// session is one registered Common Payment transaction (a PaymentToken).
type session struct {
	token, orderID, txnType   string
	created                   time.Time
	amount                    int64
	currency, installments    string
	successURL, failURL, lang string
	allowNotEnrolled          bool
	stage                     stage // stageACS: card page; stageChallenge; stageDone: result known
	pan                       string
	masked, expMonth, expYear string // ExpireYear as the bank prints it, "2024"
	holder                    string // masked, "Jo* Do*"
	outcome                   banksim.Outcome
	// The result.
	rc       errDef
	txn      *banksim.Txn
	queries  int
	hostDate time.Time
}

// cpCardFields are the 3D Pay card fields; this account is 3D Host only.
var cpCardFields = []string{"PAN", "CVV", "ExpireMonth", "ExpireYear", "BrandNumber", "CardHoldersName"}

// registerAnswer is RegisterTransaction's answer (register fixtures of
// Appendix A).
func registerAnswer(w http.ResponseWriter, pageURL, token string, d errDef) {
	writeXML(w, group("VposRegisterResponse",
		el("CommonPaymentUrl", pageURL), el("PaymentToken", token), el("ErrorCode", d.Code), el("ResponseMessage", d.Msg)))
}

// handleRegister serves RegisterTransaction (§3B).
func (s *Sim) handleRegister(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls.Registers++
	s.mu.Unlock()
	if !s.fromRelay(r, "register") {
		registerAnswer(w, "", "", errIP)
		return
	}
	f, err := banksim.ReadForm(w, r)
	if err != nil {
		registerAnswer(w, "", "", cpInvalid)
		return
	}
	oid := f.Value("OrderID")
	s.mu.Lock()
	s.countOrder(oid)
	s.mu.Unlock()
	refuse := func(d errDef) {
		s.logf("register order=%q refused: %s %s", oid, d.Code, d.Msg)
		registerAnswer(w, "", "", d)
	}
	amountText := f.Value("Amount")
	switch {
	case f.Duplicate() != "":
		refuse(cpInvalid)
		return
	case f.Value("HostMerchantId") != s.cfg.MerchantID:
		refuse(cpMerchant)
		return
	case f.Value("MerchantPassword") != s.cfg.Password:
		refuse(cpSecurity)
		return
	case f.Value("HostTerminalId") != s.cfg.TerminalNo:
		refuse(cpTerminal)
		return
	case f.Has("HashedData") && f.Value("HashedData") != signer.VakifCPHash(s.cfg.MerchantID, f.Value("AmountCode"), amountText, s.cfg.Password):
		refuse(cpInvalid)
		return
	}
	for _, name := range cpCardFields {
		if f.Has(name) {
			refuse(cpInvalid)
			return
		}
	}
	typ := f.Value("TransactionType")
	amount, aerr := banksim.ParseAmount(amountText)
	switch {
	case typ != "Sale" && typ != "Auth":
		refuse(cpType)
		return
	case !twoDecimals.MatchString(amountText) || aerr != nil || amount == 0:
		refuse(cpAmount)
		return
	case banksim.CurrencyAlpha(f.Value("AmountCode")) == "":
		refuse(cpCurrency)
		return
	case oid == "" || len(oid) > 64:
		refuse(cpOrderID)
		return
	case f.Value("IsSecure") != "true", !banksim.UsableURL(f.Value("SuccessUrl")), !banksim.UsableURL(f.Value("FailUrl")):
		refuse(cpInvalid)
		return
	case !banksim.ValidInstallments(f.Value("InstallmentCount")):
		refuse(cpInstallments)
		return
	case s.paid(oid):
		refuse(cpDuplicate)
		return
	}
	now := s.now()
	c := &session{
		token: banksim.RandHex(16), orderID: oid, txnType: typ, created: now, amount: amount,
		currency: f.Value("AmountCode"), installments: f.Value("InstallmentCount"),
		successURL: f.Value("SuccessUrl"), failURL: f.Value("FailUrl"), lang: "tr",
		allowNotEnrolled: strings.EqualFold(f.Value("AllowNotEnrolledCard"), "true"),
	}
	if f.Value("RequestLanguage") == "en-US" {
		c.lang = "en"
	}
	s.mu.Lock()
	s.sessions[c.token] = c
	s.prune(now)
	s.mu.Unlock()
	s.logf("register order=%q amount=%d: token issued", oid, amount)
	registerAnswer(w, banksim.BaseURL(r)+CPPagePath, c.token, errDef{})
}

func (s *Sim) session(token string, want stage) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.sessions[token]
	if c == nil || c.stage != want {
		return nil
	}
	return c
}

// handleCPPage shows the bank's card page for a registered token.
func (s *Sim) handleCPPage(w http.ResponseWriter, r *http.Request) {
	c := s.session(r.URL.Query().Get("Ptkn"), stageACS)
	if c == nil {
		writeGone(w)
		return
	}
	s.writeCardPage(w, c, "")
}

// handleCPCard takes the card from the bank's page and runs 3-D Secure.
func (s *Sim) handleCPCard(w http.ResponseWriter, r *http.Request) {
	f, err := banksim.ReadForm(w, r)
	if err != nil {
		writeGone(w)
		return
	}
	c := s.session(f.Value("Ptkn"), stageACS)
	if c == nil {
		writeGone(w)
		return
	}
	t := textsFor(c.lang)
	pan := strings.ReplaceAll(f.Value("CardNumber"), " ", "")
	month, year := f.Value("ExpireMonth"), f.Value("ExpireYear")
	m, y, eerr := banksim.ParseExpiry(month, year)
	switch {
	case !banksim.ValidPAN(pan):
		s.writeCardPage(w, c, t.BadPAN)
		return
	case eerr != nil:
		s.writeCardPage(w, c, t.BadExpiry)
		return
	case !banksim.ValidCVV(f.Value("Cvv")):
		s.writeCardPage(w, c, t.BadCVV)
		return
	}
	now := s.now()
	s.mu.Lock()
	if c.stage != stageACS {
		s.mu.Unlock()
		writeGone(w)
		return
	}
	c.pan, c.masked = pan, banksim.MaskShort(pan)
	c.expMonth, c.expYear = twoDigits(m), itoa(y)
	c.holder = maskName(f.Value("CardHoldersName"))
	c.outcome = banksim.CardOutcome(pan)
	if banksim.Expired(m, y, now) && c.outcome == banksim.Approve {
		c.outcome = banksim.ExpiredCard
	}
	outcome, allow := c.outcome, c.allowNotEnrolled
	if outcome != banksim.NotEnrolled && outcome != banksim.HalfSecure {
		c.stage = stageChallenge
	}
	s.mu.Unlock()
	switch {
	case outcome == banksim.NotEnrolled && allow, outcome == banksim.HalfSecure && allow:
		s.cpAuthorise(w, c, "A")
	case outcome == banksim.NotEnrolled:
		s.cpReturn(w, c, cpNotEnrolled)
	case outcome == banksim.HalfSecure:
		s.cpReturn(w, c, err3DSFailed)
	default:
		s.writeChallenge(w, c.lang, c.amount, c.currency, c.masked, CPChallengePath, banksim.Form{{Name: "Ptkn", Value: c.token}})
	}
}

// handleCPChallenge takes the one-time code of the bank's page.
func (s *Sim) handleCPChallenge(w http.ResponseWriter, r *http.Request) {
	f, err := banksim.ReadForm(w, r)
	if err != nil {
		writeGone(w)
		return
	}
	s.mu.Lock()
	c := s.sessions[f.Value("Ptkn")]
	ok := c != nil && c.stage == stageChallenge
	if ok {
		c.stage = stageTerm // claimed
	}
	s.mu.Unlock()
	if !ok {
		writeGone(w)
		return
	}
	if f.Value("action") != "cancel" && f.Value("code") == banksim.ChallengeCode && c.outcome != banksim.ThreeDSFail {
		s.cpAuthorise(w, c, "Y")
		return
	}
	s.cpReturn(w, c, err3DSFailed)
}

// cpAuthorise makes the sale after 3-D (status Y, or A for a card the
// merchant lets through half-secure) and sends the shopper back.
func (s *Sim) cpAuthorise(w http.ResponseWriter, c *session, status string) {
	now := s.now()
	brand := brandNames[banksim.Brand(c.pan)]
	t := saleTxn(c.txnType == "Auth", c.amount, c.currency, c.installments, c.masked, c.outcome, now)
	t.ECI, t.CAVV, t.MDStatus = banksim.ECI(brand == "200", status == "Y"), randCAVV(), status
	res := approved
	switch {
	case !s.record(c.orderID, t):
		res = cpDuplicate
		t.TransID = ""
	case t.Status == banksim.TxnDeclined:
		res, _ = issuerDecline(c.outcome)
	}
	s.mu.Lock()
	c.txn, c.hostDate = &t, now
	s.mu.Unlock()
	s.logf("common payment order=%q: 3-D %s, Rc %s", c.orderID, status, res.Code)
	s.cpReturn(w, c, res)
}

// cpReturn records the result and sends the browser back with a GET to
// SuccessUrl (Rc 0000) or FailUrl, carrying Rc, Message, TransactionId,
// PaymentToken and MaskedPan in the query (§3B).
func (s *Sim) cpReturn(w http.ResponseWriter, c *session, res errDef) {
	s.mu.Lock()
	c.rc, c.stage, c.pan = res, stageDone, ""
	s.calls.Callbacks++
	transID := ""
	if c.txn != nil {
		transID = c.txn.TransID
	}
	s.mu.Unlock()
	to := c.failURL
	if res.Code == approved.Code {
		to = c.successURL
	}
	q := url.Values{}
	q.Set("Rc", res.Code)
	q.Set("Message", res.Msg)
	q.Set("TransactionId", transID)
	q.Set("PaymentToken", c.token)
	q.Set("MaskedPan", c.masked)
	sep := "?"
	if strings.Contains(to, "?") {
		sep = "&"
	}
	h := w.Header()
	h.Set("Location", to+sep+q.Encode())
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusSeeOther)
}

// queryError is a VposTransaction refusal: ErrorCode without Rc.
func queryError(w http.ResponseWriter, d errDef) {
	writeXML(w, group("VposTransactionResponseContract", el("ErrorCode", d.Code), el("ResponseMessage", d.Msg)))
}

// handleQuery serves VposTransaction (§3B), like CP-F1…F3. The "timeout"
// card's first answer hangs and the "malformed" card's is a WAF page; the
// ones after tell the truth.
func (s *Sim) handleQuery(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls.Queries++
	s.mu.Unlock()
	if !s.fromRelay(r, "query") {
		queryError(w, errIP)
		return
	}
	f, err := banksim.ReadForm(w, r)
	if err != nil {
		queryError(w, cpInvalid)
		return
	}
	switch {
	case f.Value("HostMerchantId") != s.cfg.MerchantID:
		queryError(w, cpMerchant)
		return
	case f.Value("Password") != s.cfg.Password:
		queryError(w, cpSecurity)
		return
	}
	s.mu.Lock()
	c := s.sessions[f.Value("PaymentToken")]
	var first bool
	ok := c != nil && c.stage == stageDone
	if ok && c.txn != nil && f.Value("TransactionId") != "" && f.Value("TransactionId") != c.txn.TransID {
		ok = false
	}
	if ok {
		s.countOrder(c.orderID)
		c.queries++
		first = c.queries == 1
	}
	s.mu.Unlock()
	if !ok {
		queryError(w, cpNoTxn)
		return
	}
	switch {
	case first && c.outcome == banksim.Timeout && c.rc.Code == approved.Code:
		s.logf("query order=%q: answer withheld (timeout card)", c.orderID)
		s.hold.Hang(r.Context(), s.cfg.HangFor)
		panic(http.ErrAbortHandler)
	case first && c.outcome == banksim.Malformed && c.rc.Code == approved.Code:
		s.logf("query order=%q: answered with a WAF page (malformed card)", c.orderID)
		writeWAF(w)
		return
	}
	writeXML(w, s.queryAnswer(c))
}

// queryAnswer is CP-F3's shape (CP-F1/F2 for failures): note the decimal
// comma in Amount and the expiry the bank sends back.
func (s *Sim) queryAnswer(c *session) node {
	s.mu.Lock()
	defer s.mu.Unlock()
	kids := []node{el("Rc", c.rc.Code)}
	var authCode, rrn, transID string
	if c.txn != nil {
		authCode, rrn, transID = c.txn.AuthCode, c.txn.HostRef, c.txn.TransID
	}
	if c.rc.Code != approved.Code && authCode != "" {
		kids = append(kids, el("ErrorCode", c.rc.Code))
	}
	kids = append(kids,
		el("AuthCode", authCode), el("Rrn", rrn), el("Message", c.rc.Msg), el("TransactionId", transID),
		el("PaymentToken", c.token), el("MaskedPan", c.masked), el("HostMerchantId", s.cfg.MerchantID),
		el("HostTerminalId", s.cfg.TerminalNo), el("AmountCode", c.currency), el("Amount", decimalComma(c.amount)),
		el("TransactionType", c.txnType), el("OrderID", c.orderID), el("InstallmentCount", c.installments),
		el("IsSecure", "True"), el("AllowNotEnrolledCard", boolText(c.allowNotEnrolled)),
		el("SuccessUrl", c.successURL), el("FailUrl", c.failURL), el("RequestLanguage", langTag(c.lang)),
		el("Extract", ""), el("CardHoldersName", c.holder), el("ExpireMonth", c.expMonth), el("ExpireYear", c.expYear),
		el("BrandNumber", brandNames[banksim.Brand(c.masked)]), el("HostDate", hostDateOrEmpty(c.hostDate)),
		el("HostRc", ""), el("ResponseMessage", ""),
	)
	return group("VposTransactionResponseContract", kids...)
}

func boolText(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

func langTag(lang string) string {
	if lang == "en" {
		return "en-US"
	}
	return "tr-TR"
}

func hostDateOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return hostDate(t)
}

func twoDigits(n int) string {
	if n < 10 {
		return "0" + itoa(n)
	}
	return itoa(n)
}

// maskName masks a card holder's name like CP-F3: "John Doe" → "Jo* Do*".
func maskName(name string) string {
	parts := strings.Fields(name)
	for i, p := range parts {
		r := []rune(p)
		if len(r) > 2 {
			r = append(r[:2], '*')
		}
		parts[i] = string(r)
	}
	return strings.Join(parts, " ")
}
