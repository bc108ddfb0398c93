package payfor

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/posrelay/posrelay/banksim"
	"github.com/posrelay/posrelay/signer"
)

type stage int

const (
	stageCard      stage = iota // 3DHost card page shown
	stageChallenge              // ACS challenge shown
	stagePayable                // 3DModel authenticated: waiting for 3DModelPayment
	stageDone                   // callback sent (and, for 3DModel, paid or refused)
)

// attempt is one 3-D attempt: a form post and what followed.
type attempt struct {
	id        string
	created   time.Time
	form      banksim.Form // the merchant's post, as received (card fields dropped)
	model     string       // SecureType: 3DModel, 3DPay or 3DHost
	oid       string
	amount    int64
	currency  string
	txnType   string // "Auth" or "PreAuth"
	inst      string // InstallmentCount as posted
	lang      string // "TR" or "EN"
	okURL     string
	failURL   string
	clientIP  string
	stage     stage
	holder    string
	outcome   banksim.Outcome
	masked    string // "415565******6111", kept after the card is dropped
	cardType  string // V, M, T, A
	guid      string // RequestGuid
	paid      bool   // 3DModelPayment claimed this attempt
	notEnroll bool   // the MPI could not authenticate the card

	// The card, in memory only until the 3-D step ends.
	pan string

	// The 3-D result.
	status3D, eci, cavv, xid string
}

func (a *attempt) hosted() bool { return a.model == model3DHost }

// at reports whether the attempt shows the page of stage st: the
// challenge, or the card page of 3DHost.
func (a *attempt) at(st stage) bool { return a.stage == st && (st != stageCard || a.hosted()) }

// pays reports whether the bank authorises at the end of the 3-D step.
func (a *attempt) pays() bool { return a.model != model3DModel }

// pageLang is the pages' language: "en" for EN, else "tr".
func (a *attempt) pageLang() string {
	if a.lang == "EN" {
		return "en"
	}
	return "tr"
}

const (
	model3DModel = "3DModel"
	model3DPay   = "3DPay"
	model3DHost  = "3DHost"
)

// refusal is a form the bank does not take.
type refusal struct {
	def    errDef
	detail string // appended to the message
	page   bool   // no usable FailUrl: a plain error page instead of a callback
}

func refuse(d errDef, detail string) *refusal { return &refusal{def: d, detail: detail} }

// lengthError is M025 for a missing or too long field.
func lengthError(field, got, want string) *refusal {
	msg := strings.NewReplacer("{0}", field, "{1}", got, "{2}", want).Replace(codeFieldLength.Msg)
	return &refusal{def: errDef{codeFieldLength.Code, msg}}
}

// parseGate checks a 3-D form the way the gate does (§2.4, §2.5) and returns
// the attempt it starts. gate is true for Default.aspx (3DModel, 3DPay;
// restricted to the registered addresses), false for 3DHost.aspx. On a
// refusal the returned form is what was parsed, for the refusal callback.
func (s *Sim) parseGate(body []byte, gate, allowed bool) (banksim.Form, *attempt, *refusal) {
	form, err := banksim.ParseForm(body)
	if err != nil || len(form) == 0 {
		return form, nil, &refusal{def: codeEmpty, page: true}
	}
	if fail := form.Value("FailUrl"); !banksim.UsableURL(fail) {
		return form, nil, &refusal{def: codeNoFailURL, page: true}
	}
	if !banksim.UsableURL(form.Value("OkUrl")) {
		return form, nil, refuse(codeBadOkURL, "")
	}
	if gate && !allowed {
		return form, nil, refuse(codeIPRestrict, "")
	}
	if dup := form.Duplicate(); dup != "" {
		return form, nil, refuse(codeBadValue, ": "+dup)
	}
	v := form.Value
	switch {
	case v("MbrId") == "":
		return form, nil, refuse(codeNoMbrID, "")
	case v("MerchantID") == "":
		return form, nil, refuse(codeNoMerchant, "")
	case v("UserCode") == "":
		return form, nil, refuse(codeNoUser, "")
	case v("MbrId") != s.cfg.MbrID || v("MerchantID") != s.cfg.MerchantID:
		return form, nil, refuse(codeMerchant, "")
	case v("UserCode") != s.cfg.UserCode:
		return form, nil, refuse(codeUser, "")
	}
	model := v("SecureType")
	switch model {
	case model3DModel, model3DPay, model3DHost:
	default:
		return form, nil, refuse(codeSecureType, "")
	}
	if gate == (model == model3DHost) {
		return form, nil, refuse(codeWrongSecure, "")
	}
	txn := v("TxnType")
	if txn != "Auth" && txn != "PreAuth" {
		return form, nil, refuse(codeTxnType, "")
	}
	oid := v("OrderId")
	switch {
	case oid == "":
		return form, nil, refuse(codeNoOrder, "")
	case len(oid) > 64:
		return form, nil, lengthError("OrderId", strconv.Itoa(len(oid)), "64")
	case v("Rnd") == "":
		return form, nil, lengthError("Rnd", "0", "1-128")
	}
	want := signer.PayForRequestHash(v("MbrId"), oid, v("PurchAmount"), v("OkUrl"), v("FailUrl"), txn, v("InstallmentCount"), v("Rnd"), s.cfg.MerchantPass)
	if v("Hash") != want {
		return form, nil, refuse(codeHash, "")
	}
	moto, hasMOTO := form.Get("MOTO")
	switch {
	case !hasMOTO || moto == "":
		return form, nil, lengthError("MOTO", "0", "1")
	case moto != "0":
		return form, nil, refuse(codeBadValue, ": MOTO")
	case v("Lang") != "TR" && v("Lang") != "EN":
		return form, nil, refuse(codeBadValue, ": Lang")
	}
	amount, err := banksim.ParseAmount(v("PurchAmount"))
	switch {
	case err != nil:
		return form, nil, refuse(codeAmount, "")
	case amount == 0:
		return form, nil, refuse(codeZeroAmount, "")
	case amount > 200_000_00:
		return form, nil, refuse(codeAmountRange, "")
	}
	cur := v("Currency")
	switch {
	case cur == "":
		return form, nil, refuse(codeNoCurrency, "")
	case banksim.CurrencyAlpha(cur) == "":
		return form, nil, refuse(codeCurrency, "")
	}
	if r := checkInstallments(form, txn); r != nil {
		return form, nil, r
	}
	a := &attempt{
		model: model, oid: oid, amount: amount, currency: cur, txnType: txn, inst: v("InstallmentCount"),
		lang: v("Lang"), okURL: v("OkUrl"), failURL: v("FailUrl"), holder: v("CardHolderName"),
	}
	if gate {
		pan, expiry, cvv := v("Pan"), v("Expiry"), v("Cvv2")
		if r := checkCard(pan, expiry, cvv); r != nil {
			return form, nil, r
		}
		a.setCard(pan, expiry, s.now())
	}
	if _, used := s.ledger.Order(oid, s.now()); used {
		return form, nil, refuse(codeDuplicate, "")
	}
	// Keep the merchant's fields for the callback, never the card.
	for _, f := range []string{"Pan", "Expiry", "Cvv2"} {
		form.Del(f)
	}
	a.form = form
	return form, a, nil
}

// checkInstallments: "0" for a single payment or 2–12; none for PreAuth.
func checkInstallments(form banksim.Form, txn string) *refusal {
	inst, ok := form.Get("InstallmentCount")
	if !ok || inst == "" {
		return refuse(codeInstMissing, "")
	}
	n, err := strconv.Atoi(inst)
	switch {
	case err != nil || strconv.Itoa(n) != inst || n == 1 || n < 0 || n > 12:
		return refuse(codeBadValue, ": InstallmentCount")
	case txn == "PreAuth" && n != 0:
		return refuse(codeInstPreAuth, "")
	}
	return nil
}

// checkCard checks the card fields of a form or card page: Pan 13–19
// digits passing Luhn, Expiry MMYY, Cvv2 three or four digits.
func checkCard(pan, expiry, cvv string) *refusal {
	switch {
	case len(pan) < 13 || len(pan) > 19:
		return refuse(codePANLength, "")
	case !banksim.ValidPAN(pan):
		return refuse(codeBadPAN, "")
	case !validExpiry(expiry):
		return refuse(codeExpiry, "")
	case cvv == "":
		return refuse(codeNoCVV, "")
	case !banksim.ValidCVV(cvv):
		return refuse(codeBadCVV, "")
	}
	return nil
}

// validExpiry: four digits MMYY with a month 01–12.
func validExpiry(e string) bool {
	if len(e) != 4 {
		return false
	}
	_, _, err := banksim.ParseExpiry(e[:2], e[2:])
	return err == nil
}

// setCard keeps the card in memory for the 3-D step and decides its outcome.
func (a *attempt) setCard(pan, expiry string, now time.Time) {
	a.pan, a.masked, a.cardType = pan, maskPAN(pan), cardType(pan)
	a.outcome = banksim.CardOutcome(pan)
	m, y, _ := banksim.ParseExpiry(expiry[:2], expiry[2:])
	if banksim.Expired(m, y, now) {
		a.outcome = banksim.ExpiredCard
	}
}

// handleGate serves Default.aspx (gate true) and 3DHost.aspx.
func (s *Sim) handleGate(w http.ResponseWriter, r *http.Request, gate bool) {
	if !banksim.IsFormPost(r) {
		s.countForm("")
		banksim.WriteError(w, http.StatusOK, codeEmpty.Code+" "+codeEmpty.Msg)
		return
	}
	body, err := banksim.ReadBody(w, r, banksim.MaxFormBytes)
	if err != nil {
		s.countForm("")
		banksim.WriteError(w, http.StatusBadRequest, codeEmpty.Code+" "+codeEmpty.Msg)
		return
	}
	ip := clientIP(r)
	form, a, ref := s.parseGate(body, gate, s.allowed(r))
	s.countForm(form.Value("SecureType"))
	if ref != nil {
		s.countRefusal(ref.def.Code)
		s.logf("form refused from %s: OrderId=%q %s %s%s", ip, form.Value("OrderId"), ref.def.Code, ref.def.Msg, ref.detail)
		if ref.page {
			banksim.WriteError(w, http.StatusOK, ref.def.Code+" "+ref.def.Msg+ref.detail)
			return
		}
		s.sendRefusal(w, r, form, ref, ip)
		return
	}
	a.clientIP = ip
	s.register(a)
	s.logf("form: OrderId=%q SecureType=%s amount=%d currency=%s from %s", a.oid, a.model, a.amount, a.currency, ip)
	if a.hosted() {
		http.Redirect(w, r, banksim.BaseURL(r)+CardPagePrefix+a.id, http.StatusSeeOther)
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
				delete(s.byGUID, x.guid)
			}
		}
	}
}

func (s *Sim) lookup(id string) *attempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts[id]
}

// sendRefusal answers a refused form with a callback to FailUrl, as PF-F7
// shows for 101310: RequestGuid 0, 3DStatus -1, the code in ProcReturnCode.
func (s *Sim) sendRefusal(w http.ResponseWriter, r *http.Request, form banksim.Form, ref *refusal, ip string) {
	now := s.now()
	v := s.merchantValues(form, ip, banksim.BaseURL(r))
	v["RequestGuid"] = "0"
	v["RequestStat"] = "1,5"
	v["3DStatus"] = "-1"
	v["TxnStatus"] = "N"
	v["TxnResult"] = "Failed"
	v["ProcReturnCode"] = ref.def.Code
	v["ErrMsg"] = ref.def.Msg + ref.detail
	v["ReturnUrl"] = form.Value("FailUrl")
	for _, k := range []string{"BatchNo", "ReqId", "ReqDate", "SysDate", "F11"} {
		v[k] = "0"
	}
	v["TransactionDate"] = txnDate(now)
	lang := "tr"
	if form.Value("Lang") == "EN" {
		lang = "en"
	}
	s.sendCallback(w, form.Value("FailUrl"), v, lang)
}

// merchantValues are the callback values the merchant's form gives (as
// posted) and the bank's constants, before the 3-D and payment results.
func (s *Sim) merchantValues(form banksim.Form, ip, base string) map[string]string {
	v := map[string]string{}
	for _, k := range []string{"MbrId", "MerchantID", "OrderId", "SecureType", "PurchAmount", "Currency", "OkUrl", "FailUrl",
		"Hash", "TxnType", "Lang", "InstallmentCount", "Rnd", "CardHolderName", "Description"} {
		v[k] = form.Value(k)
	}
	v["RequestIp"], v["RequestClientIp"] = ip, ip
	v["Exponent"] = "2"
	v["TerminalID"] = s.terminalID()
	v["AlphaCode"] = alphaCode(form.Value("Currency"))
	v["Ecommerce"] = "1"
	v["MrcCountryCode"] = "792"
	v["MrcName"] = s.cfg.MerchantName
	v["MerchantHomeUrl"] = base + "/"
	v["UsedPoint"], v["SrcType"], v["RefundedAmount"], v["RefundedPoint"] = "0", "VPO", "0", "0"
	for _, k := range []string{"VposElapsedTime", "BankingElapsedTime", "SocketElapsedTime", "HsmElapsedTime", "MpiElapsedTime",
		"TemplateType", "F11_ORG", "F12_ORG", "F22_ORG", "F25_ORG", "MTI_ORG", "IntervalType", "IntervalDuration",
		"RepeatCount", "VoidTime", "PaymentLinkId"} {
		v[k] = "0"
	}
	v["hasOrderId"], v["HasAddressCount"], v["IsPaymentFacilitator"] = "False", "False", "False"
	return v
}

// callbackFieldOrder is the PaymentRequest record of a callback, in the
// order of PF-F4 (the complete list).
var callbackFieldOrder = []string{
	"RequestGuid", "TransactionDate", "MbrId", "MerchantID", "OrderId", "RequestIp", "RequestStat",
	"SecureType", "PurchAmount", "Exponent", "Currency", "Description", "OkUrl", "FailUrl", "PayerTxnId",
	"PayerAuthenticationCode", "Eci", "MD", "Hash", "TerminalID", "TxnType", "OrgOrderId", "SubMerchantCode",
	"recur_frequency", "recur_expiry", "CardType", "Lang", "BonusAmount", "InstallmentCount", "Rnd",
	"AlphaCode", "Ecommerce", "MrcCountryCode", "MrcName", "MerchantHomeUrl", "CardHolderName", "IrcDet",
	"IrcCode", "Version", "TxnStatus", "CavvAlg", "ParesVerified", "ParesSyntaxOk", "ErrMsg", "VendorDet",
	"D3Stat", "3DStatus", "TxnResult", "AuthCode", "HostRefNum", "ProcReturnCode", "ReturnUrl", "ErrorData",
	"BatchNo", "VoidDate", "CardMask", "ReqId", "UsedPoint", "SrcType", "RefundedAmount", "RefundedPoint",
	"ReqDate", "SysDate", "F11", "F37", "RRN", "IsRepeatTxn", "CavvResult", "VposElapsedTime",
	"BankingElapsedTime", "SocketElapsedTime", "HsmElapsedTime", "MpiElapsedTime", "hasOrderId", "TemplateType",
	"HasAddressCount", "IsPaymentFacilitator", "MerchantCountryCode", "OrgTxnType", "F11_ORG", "F12_ORG",
	"F13_ORG", "F22_ORG", "F25_ORG", "MTI_ORG", "DsBrand", "IntervalType", "IntervalDuration", "RepeatCount",
	"CustomerCode", "RequestMerchantDomain", "RequestClientIp", "ResponseRnd", "ResponseHash",
	"BankInternalResponseCode", "BankInternalResponseMessage", "BankInternalResponseSubcode",
	"BankInternalResponseSubmessage", "BayiKodu", "VoidTime", "VoidUserCode", "PaymentLinkId", "ClientId",
	"IsQRValid", "IsFastValid", "IsQR", "IsFast", "QRRefNo", "FASTGonderenKatilimciKodu",
	"FASTAlanKatilimciKodu", "FASTReferansNo", "FastGonderenIBAN", "FASTGonderenAdi", "MobileECI", "HubConnId",
	"WalletData", "Tds2dsTransId", "Is3DHost", "HashType",
}

// signedFields lays the values out in callback order and signs them:
// ResponseRnd, ResponseHash (§2.6) and HashType (absent in SHA-256 mode).
func (s *Sim) signedFields(v map[string]string) banksim.Form {
	v["ResponseRnd"] = newResponseRnd()
	alg := signer.PayForSHA1
	if s.cfg.ResponseHashSHA256 {
		alg = signer.PayForSHA256
	} else {
		v["HashType"] = "Sha1"
	}
	plain := signer.PayForResponsePlaintext(s.cfg.MerchantID, s.cfg.MerchantPass, v["OrderId"], v["AuthCode"],
		v["ProcReturnCode"], v["3DStatus"], v["ResponseRnd"], s.cfg.UserCode)
	v["ResponseHash"] = signer.PayForResponseHash(alg, plain)
	f := make(banksim.Form, 0, len(callbackFieldOrder))
	for _, k := range callbackFieldOrder {
		if k == "HashType" && s.cfg.ResponseHashSHA256 {
			continue
		}
		f = append(f, banksim.Field{Name: k, Value: v[k]})
	}
	return f
}

// sendCallback sends the shopper's browser to OkUrl or FailUrl with the
// signed record.
func (s *Sim) sendCallback(w http.ResponseWriter, to string, v map[string]string, lang string) {
	f := s.signedFields(v)
	s.mu.Lock()
	s.calls.Callbacks++
	s.mu.Unlock()
	banksim.WriteAutoPost(w, banksim.AutoPost{Action: to, Fields: f, Lang: lang})
}
