package est

import (
	"net/http"
	"strings"
	"time"

	"github.com/posrelay/posrelay/banksim"
	"github.com/posrelay/posrelay/signer"
)

type stage int

const (
	stageCard      stage = iota // hosted card page shown
	stageChallenge              // ACS challenge shown
	stageDone                   // callback sent
)

// attempt is one 3-D attempt: a gate post and what followed.
type attempt struct {
	id        string
	created   time.Time
	form      banksim.Form // the merchant's post, as received
	storeType string
	oid       string
	amount    int64
	currency  string
	tranType  string // "Auth" or "PreAuth"
	taksit    string
	lang      string
	okURL     string
	failURL   string
	clientIP  string
	stage     stage

	// The card, in memory only until the 3-D step ends.
	pan, expMonth, expYear string
	outcome                banksim.Outcome
	masked                 string // "4355 08** **** 4358", kept after the card is dropped

	// The 3-D result.
	mdStatus, txStatus, eci, cavv, xid, md, mdErrorMsg string
	mdUsed                                             bool // provisioned (or paid, for 3d_pay*)
}

func (a *attempt) hosted() bool {
	return a.storeType == StoreType3DPayHosting || a.storeType == StoreType3DHost
}

// at reports whether the attempt shows the page of stage st: the
// challenge, or the card page of a hosted model.
func (a *attempt) at(st stage) bool { return a.stage == st && (st != stageCard || a.hosted()) }

// pays reports whether the gateway authorises the payment itself.
func (a *attempt) pays() bool {
	return a.storeType == StoreType3DPay || a.storeType == StoreType3DPayHosting
}

func (a *attempt) wipeCard() { a.pan = "" }

// gateErrKind says how a refused gate post is answered.
type gateErrKind int

const (
	// errPage: no usable okUrl/failUrl; an HTML page with status 400.
	errPage gateErrKind = iota + 1
	// errCallback: a gateway error posted to failUrl without mdStatus (EST-F4).
	errCallback
	// errStoreType: storetype not allowed for the merchant: mdStatus 7 and
	// ErrCode 3D-1007 (§1.3).
	errStoreType
)

type gateError struct {
	kind   gateErrKind
	def    errDef
	detail string // appended to the message
}

// requiredGateFields are the fields every gate post needs (§1.4); the
// transaction type may come as TranType (ver3) or islemtipi (legacy).
var requiredGateFields = []string{"clientid", "storetype", "amount", "oid", "okUrl", "failUrl", "rnd", "currency", "hashAlgorithm", "hash", "lang"}

// cardFields are posted by the merchant in the 3d and 3d_pay models.
var cardFields = []string{"pan", "Ecom_Payment_Card_ExpDate_Month", "Ecom_Payment_Card_ExpDate_Year", "cv2"}

// parseGate checks a gate post the way the gateway does and returns the
// attempt it starts. On a refusal the returned form is what was parsed (for
// echoing into the error callback).
func (s *Sim) parseGate(body []byte) (banksim.Form, *attempt, *gateError) {
	form, err := banksim.ParseForm(body)
	if err != nil {
		return nil, nil, &gateError{kind: errPage, def: errDef{"", "Istek okunamadi: " + err.Error()}}
	}
	for _, u := range []string{"okUrl", "failUrl"} {
		vals := 0
		for _, f := range form {
			if f.Name == u {
				vals++
			}
		}
		if vals != 1 || !banksim.UsableURL(form.Value(u)) {
			return form, nil, &gateError{kind: errPage, def: errDef{"", "okUrl ve failUrl tek ve gecerli birer http(s) adresi olmalidir."}}
		}
	}
	fail := func(d errDef, detail string) (banksim.Form, *attempt, *gateError) {
		return form, nil, &gateError{kind: errCallback, def: d, detail: detail}
	}
	if dup := form.Duplicate(); dup != "" {
		return fail(gwMissingField, dup)
	}
	for _, name := range requiredGateFields {
		if form.Value(name) == "" {
			return fail(gwMissingField, name)
		}
	}
	tranType, hasTT := form.Get("TranType")
	if !hasTT {
		tranType = form.Value("islemtipi")
	}
	if tranType == "" {
		return fail(gwMissingField, "TranType")
	}
	if form.Value("clientid") != s.cfg.ClientID {
		return fail(gwUnknownStore, "")
	}
	if form.Value("hashAlgorithm") != "ver3" {
		return fail(gwHashAlgo, "")
	}
	if signer.VerifyESTv3(form.Map(), s.cfg.StoreKey) != nil {
		return fail(gwBadHash, "")
	}
	st := form.Value("storetype")
	known := false
	for _, t := range allStoreTypes {
		known = known || t == st
	}
	if !known {
		return fail(gwBadStoreType, "")
	}
	if !s.storeTypes[st] {
		return form, nil, &gateError{kind: errStoreType, def: gwStoreType}
	}
	if tranType != "Auth" && tranType != "PreAuth" {
		return fail(gwTranType, "")
	}
	amount, err := banksim.ParseAmount(form.Value("amount"))
	if err != nil {
		return fail(gwAmount, "")
	}
	if amount == 0 {
		return fail(gwZeroAmount, "")
	}
	cur := form.Value("currency")
	if banksim.CurrencyAlpha(cur) == "" {
		return fail(gwCurrency, "")
	}
	taksit := form.Value("taksit")
	if !banksim.ValidInstallments(taksit) { // "" or 2–12 (§0.1)
		return fail(gwInstallment, "")
	}
	oid := form.Value("oid")
	if len(oid) > 64 {
		return fail(gwOrderID, "")
	}
	if o, ok := s.ledger.Order(oid, s.now()); ok && o.State != banksim.StateDeclined {
		return fail(gwDuplicate, "")
	}
	lang := form.Value("lang")
	if lang != "en" {
		lang = "tr"
	}
	a := &attempt{
		form: form, storeType: st, oid: oid, amount: amount, currency: cur,
		tranType: tranType, taksit: taksit, lang: lang,
		okURL: form.Value("okUrl"), failURL: form.Value("failUrl"),
	}
	if !a.hosted() {
		for _, name := range cardFields {
			if form.Value(name) == "" {
				return fail(gwMissingField, name)
			}
		}
		pan := strings.ReplaceAll(form.Value("pan"), " ", "")
		if !banksim.ValidPAN(pan) {
			return fail(gwCardFormat, "")
		}
		m, y, err := banksim.ParseExpiry(form.Value("Ecom_Payment_Card_ExpDate_Month"), form.Value("Ecom_Payment_Card_ExpDate_Year"))
		if err != nil {
			return fail(gwExpiry, "")
		}
		if !banksim.ValidCVV(form.Value("cv2")) {
			return fail(gwCVV, "")
		}
		a.pan = pan
		a.expMonth, a.expYear = form.Value("Ecom_Payment_Card_ExpDate_Month"), form.Value("Ecom_Payment_Card_ExpDate_Year")
		a.outcome = banksim.CardOutcome(pan)
		if banksim.Expired(m, y, s.now()) {
			a.outcome = banksim.ExpiredCard
		}
	}
	return form, a, nil
}

func (s *Sim) handleGate(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls.GatePosts++
	s.mu.Unlock()
	if !banksim.IsFormPost(r) {
		banksim.WriteError(w, http.StatusBadRequest, "Desteklenmeyen icerik tipi: "+r.Header.Get("Content-Type"))
		return
	}
	body, err := banksim.ReadBody(w, r, banksim.MaxFormBytes)
	if err != nil {
		banksim.WriteError(w, http.StatusBadRequest, "Istek okunamadi.")
		return
	}
	form, a, gerr := s.parseGate(body)
	if gerr != nil {
		s.logf("gate: refused oid=%q: %s %s%s", form.Value("oid"), gerr.def.Code, gerr.def.Msg, gerr.detail)
		switch gerr.kind {
		case errPage:
			banksim.WriteError(w, http.StatusBadRequest, gerr.def.Msg)
		case errStoreType:
			s.sendStoreTypeError(w, form)
		default:
			s.sendGatewayError(w, form, gerr.def, gerr.detail)
		}
		return
	}
	a.clientIP = clientIP(r)
	s.register(a)
	s.logf("gate: oid=%q storetype=%s amount=%d currency=%s", a.oid, a.storeType, a.amount, a.currency)
	if a.hosted() {
		s.writeCardPage(w, r, a, "")
		return
	}
	s.begin3DS(w, r, a)
}

// register stores a new attempt, pruning old ones now and then.
func (s *Sim) register(a *attempt) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	a.id = banksim.RandHex(16)
	a.created = now
	s.attempts[a.id] = a
	if banksim.Sweep(&s.created) {
		for id, x := range s.attempts {
			if banksim.Stale(x.created, now) {
				delete(s.attempts, id)
				delete(s.byMD, x.md)
			}
		}
	}
}

func (s *Sim) lookup(id string) *attempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts[id]
}

// echo copies the merchant's fields into a callback: everything but the
// request hash and the card number and CVV.
func echo(form banksim.Form) banksim.Form {
	out := make(banksim.Form, 0, len(form)+48)
	for _, f := range form {
		if strings.EqualFold(f.Name, "hash") || f.Name == "pan" || f.Name == "cv2" {
			continue
		}
		out = append(out, f)
	}
	return out
}

// sign adds HASH: ver3 over every callback field but HASH, encoding and
// NATIONALIDNO, with the store key.
func (s *Sim) sign(f *banksim.Form) {
	f.Del("HASH")
	f.Set("HASH", signer.ESTv3Hash(f.Map(), s.cfg.StoreKey))
}

func (s *Sim) sendCallback(w http.ResponseWriter, to string, f banksim.Form, lang string) {
	s.sign(&f)
	s.mu.Lock()
	s.calls.Callbacks++
	s.mu.Unlock()
	banksim.WriteAutoPost(w, banksim.AutoPost{Action: to, Fields: f, Charset: "ISO-8859-9", Lang: lang})
}

// maskPosted masks a posted card number for an error callback: a readable
// number is masked as usual, anything else as in EST-F4.
func maskPosted(f *banksim.Form, pan string) {
	pan = strings.ReplaceAll(pan, " ", "")
	if banksim.ValidPAN(pan) {
		f.Set("maskedCreditCard", banksim.MaskGrouped(pan))
		f.Set("MaskedPan", banksim.MaskShort(pan))
		return
	}
	f.Set("maskedCreditCard", "***")
	f.Set("MaskedPan", "**")
}

// sendGatewayError answers a refused post with a callback to failUrl
// without mdStatus: Response=Error, ErrMsg, ErrorCode (EST-F4).
func (s *Sim) sendGatewayError(w http.ResponseWriter, form banksim.Form, d errDef, detail string) {
	f := echo(form)
	if pan, ok := form.Get("pan"); ok {
		maskPosted(&f, pan)
	}
	f.Set("Response", "Error")
	f.Set("ErrMsg", latin5(d.Msg+detail))
	f.Set("ErrorCode", d.Code)
	f.Set("traceId", banksim.RandHex(16))
	f.Set("rnd", banksim.RandB64(15))
	s.sendCallback(w, form.Value("failUrl"), f, form.Value("lang"))
}

// sendStoreTypeError answers a storetype the merchant is not registered
// for (§1.3): mdStatus 7, ProcReturnCode 99, ErrCode 3D-1007.
func (s *Sim) sendStoreTypeError(w http.ResponseWriter, form banksim.Form) {
	f := echo(form)
	if pan, ok := form.Get("pan"); ok {
		maskPosted(&f, pan)
	}
	msg := latin5(gwStoreType.Msg)
	f.Set("mdStatus", "7")
	f.Set("mdErrorMsg", msg)
	f.Set("ProcReturnCode", "99")
	f.Set("Response", "Error")
	f.Set("ErrMsg", msg)
	f.Set("ErrCode", gwStoreType.Code)
	f.Set("rnd", banksim.RandB64(15))
	f.Set("encoding", "ISO-8859-9")
	s.sendCallback(w, form.Value("failUrl"), f, form.Value("lang"))
}
