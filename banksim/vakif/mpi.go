package vakif

import (
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/posrelay/posrelay/banksim"
)

type stage int

const (
	stageACS       stage = iota // enrolled; waiting for the browser at the ACS
	stageChallenge              // challenge shown
	stageTerm                   // ACS done; waiting for the browser at TermUrl
	stageDone                   // callback sent
)

// enrollment is one MPI transaction (VerifyEnrollmentRequest and what
// followed).
type enrollment struct {
	id, md, paReq, paRes      string
	created                   time.Time
	amount                    int64
	currency, installments    string // installments "" = single payment
	successURL, failureURL    string
	sessionInfo, termURL      string
	pan                       string // in memory until the 3-D step ends
	masked, expiry, brandName string // expiry YYMM
	outcome                   banksim.Outcome
	stage                     stage
	status, eci, cavv, xid    string // the 3-D result
	used                      bool   // provisioned
}

var (
	twoDecimals = regexp.MustCompile(`^[0-9]{1,13}\.[0-9]{2}$`)
	yymm        = regexp.MustCompile(`^[0-9]{2}(0[1-9]|1[0-2])$`)
)

// brandNames are the MPI's BrandName values (§3A.4).
var brandNames = map[string]string{"VISA": "100", "MASTERCARD": "200", "TROY": "300", "AMEX": "400"}

// veRes writes an IPaySecure answer without an ACS step: VERes N, or E
// with the error (the shape of the library's enrollment failure fixture).
func veRes(w http.ResponseWriter, status, id string, d errDef) {
	writeXML(w, group("IPaySecure",
		group("Message", group("VERes", el("Version", "1.0.2"), el("Status", status))),
		el("VerifyEnrollmentRequestId", id),
		el("MessageErrorCode", d.Code),
		el("ErrorMessage", d.Msg),
	))
}

// handleEnrollment serves the VerifyEnrollmentRequest (§3A.4).
func (s *Sim) handleEnrollment(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls.Enrollments++
	s.mu.Unlock()
	if !s.fromRelay(r, "enrollment") {
		veRes(w, "E", "", errIP)
		return
	}
	f, err := banksim.ReadForm(w, r)
	if err != nil {
		veRes(w, "E", "", errDef{mpiField.Code, mpiField.Msg + "form"})
		return
	}
	id := f.Value("VerifyEnrollmentRequestId")
	refuse := func(d errDef, detail string) {
		s.logf("enrollment %q refused: %s %s%s", id, d.Code, d.Msg, detail)
		veRes(w, "E", id, errDef{d.Code, d.Msg + detail})
	}
	if dup := f.Duplicate(); dup != "" {
		refuse(mpiField, dup)
		return
	}
	if f.Value("MerchantId") != s.cfg.MerchantID || f.Value("MerchantPassword") != s.cfg.Password {
		refuse(mpiMerchant, "")
		return
	}
	for _, name := range []string{"VerifyEnrollmentRequestId", "PurchaseAmount", "Currency", "SuccessUrl", "FailureUrl", "Pan", "ExpiryDate", "BrandName", "MerchantType"} {
		if f.Value(name) == "" {
			refuse(mpiField, name)
			return
		}
	}
	mt := f.Value("MerchantType")
	switch {
	case mt != "0" && mt != "1" && mt != "2":
		refuse(mpiField, "MerchantType")
		return
	case mt == "2" && f.Value("SubMerchantId") == "":
		refuse(mpiField, "SubMerchantId")
		return
	case len(id) > 64:
		refuse(mpiField, "VerifyEnrollmentRequestId")
		return
	case !twoDecimals.MatchString(f.Value("PurchaseAmount")):
		refuse(mpiAmount, "")
		return
	case banksim.CurrencyAlpha(f.Value("Currency")) == "":
		refuse(mpiCurrency, "")
		return
	case !banksim.UsableURL(f.Value("SuccessUrl")) || !banksim.UsableURL(f.Value("FailureUrl")):
		refuse(mpiField, "SuccessUrl/FailureUrl")
		return
	case !banksim.ValidInstallments(f.Value("InstallmentCount")): // 0 and 1 refused (sefacan/3DPayment PR #6)
		refuse(mpiInstallments, "")
		return
	case f.Value("IsRecurring") != "" && f.Value("IsRecurring") != "false":
		refuse(mpiRecurring, "")
		return
	}
	pan := f.Value("Pan")
	if !banksim.ValidPAN(pan) {
		refuse(mpiPAN, "")
		return
	}
	exp := f.Value("ExpiryDate")
	if !yymm.MatchString(exp) {
		refuse(mpiExpiry, "")
		return
	}
	brand := banksim.Brand(pan)
	if f.Value("BrandName") != brandNames[brand] {
		refuse(mpiBrand, "")
		return
	}
	amount, _ := banksim.ParseAmount(f.Value("PurchaseAmount"))
	if amount == 0 {
		refuse(mpiAmount, "")
		return
	}
	now := s.now()
	m, y, _ := banksim.ParseExpiry(exp[2:], exp[:2])
	e := &enrollment{
		id: id, md: banksim.RandHex(16), paReq: banksim.RandB64(48), created: now,
		amount: amount, currency: f.Value("Currency"), installments: f.Value("InstallmentCount"),
		successURL: f.Value("SuccessUrl"), failureURL: f.Value("FailureUrl"), sessionInfo: f.Value("SessionInfo"),
		termURL: banksim.BaseURL(r) + TermPath, pan: pan, masked: banksim.MaskShort(pan), expiry: exp,
		brandName: brandNames[brand], outcome: banksim.CardOutcome(pan),
	}
	if banksim.Expired(m, y, now) && e.outcome == banksim.Approve {
		e.outcome = banksim.ExpiredCard
	}
	s.mu.Lock()
	if _, dup := s.enrollments[id]; dup {
		s.mu.Unlock()
		refuse(mpiDuplicateID, "")
		return
	}
	enrolled := e.outcome != banksim.NotEnrolled
	if enrolled {
		s.enrollments[id] = e
		s.byMD[e.md] = e
		s.prune(now)
	}
	s.mu.Unlock()
	if !enrolled {
		s.logf("enrollment %q: card not enrolled (VERes N)", id)
		veRes(w, "N", id, errDef{})
		return
	}
	s.logf("enrollment %q: amount=%d currency=%s: VERes Y", id, amount, e.currency)
	vr := []node{el("Version", "1.0.2"), el("Status", "Y"), el("PaReq", e.paReq), el("ACSUrl", banksim.BaseURL(r)+ACSPath),
		el("TermUrl", e.termURL), el("MD", e.md), el("ACTUALBRAND", e.brandName)}
	writeXML(w, group("IPaySecure",
		group("Message", group("VERes", vr...)),
		el("VerifyEnrollmentRequestId", id), el("MessageErrorCode", ""), el("ErrorMessage", ""),
	))
}

// claimMD moves the enrollment of md from stage want to next and returns
// it; nil if there is none at that stage (a replayed or forged post).
func (s *Sim) claimMD(md string, want, next stage) *enrollment {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byMD[md]
	if e == nil || e.stage != want {
		return nil
	}
	e.stage = next
	return e
}

// handleACS is the issuer's ACS receiving the browser's PaReq: attempts
// (the half-secure card) come back at once with Status A; everyone else
// sees the challenge.
func (s *Sim) handleACS(w http.ResponseWriter, r *http.Request) {
	f, err := banksim.ReadForm(w, r)
	if err != nil {
		writeGone(w)
		return
	}
	s.mu.Lock()
	e := s.byMD[f.Value("MD")]
	ok := e != nil && e.stage == stageACS && f.Value("PaReq") == e.paReq && f.Value("TermUrl") == e.termURL
	if ok {
		e.stage = stageChallenge
	}
	s.mu.Unlock()
	if !ok {
		writeGone(w)
		return
	}
	if e.outcome == banksim.HalfSecure {
		s.endACS(w, e, "A")
		return
	}
	s.writeChallenge(w, "", e.amount, e.currency, e.masked, ChallengePrefix+e.md, nil)
}

// handleChallenge takes the shopper's one-time code.
func (s *Sim) handleChallenge(w http.ResponseWriter, r *http.Request) {
	f, err := banksim.ReadForm(w, r)
	if err != nil {
		writeGone(w)
		return
	}
	e := s.claimMD(r.PathValue("md"), stageChallenge, stageTerm)
	if e == nil {
		writeGone(w)
		return
	}
	status := "N"
	if f.Value("action") != "cancel" && f.Value("code") == banksim.ChallengeCode && e.outcome != banksim.ThreeDSFail {
		status = "Y"
	}
	s.endACS(w, e, status)
}

func randCAVV() string { return banksim.RandCAVV(0x00, 0x12) }

// endACS records the 3-D result and sends the browser to the MPI's TermUrl
// with the PaRes.
func (s *Sim) endACS(w http.ResponseWriter, e *enrollment, status string) {
	s.mu.Lock()
	e.status, e.stage = status, stageTerm
	e.xid = banksim.RandHex(10)
	if status == "Y" || status == "A" {
		e.eci, e.cavv = banksim.ECI(e.brandName == "200", status == "Y"), randCAVV()
	}
	e.paRes = banksim.RandB64(64)
	s.mu.Unlock()
	banksim.WriteAutoPost(w, banksim.AutoPost{Action: e.termURL, Fields: banksim.Form{{Name: "PaRes", Value: e.paRes}, {Name: "MD", Value: e.md}}})
}

// handleTerm is the MPI receiving the PaRes: it posts the callback (§3A.6)
// through the browser to SuccessUrl or FailureUrl.
func (s *Sim) handleTerm(w http.ResponseWriter, r *http.Request) {
	f, err := banksim.ReadForm(w, r)
	if err != nil {
		writeGone(w)
		return
	}
	s.mu.Lock()
	e := s.byMD[f.Value("MD")]
	ok := e != nil && e.stage == stageTerm && f.Value("PaRes") == e.paRes
	if ok {
		e.stage = stageDone
		e.pan = "" // the card is not needed any more
		s.calls.Callbacks++
	}
	s.mu.Unlock()
	if !ok {
		writeGone(w)
		return
	}
	cb := banksim.Form{
		{Name: "MerchantId", Value: s.cfg.MerchantID},
		{Name: "SubMerchantNo", Value: "0"},
		{Name: "SubMerchantName", Value: ""},
		{Name: "SubMerchantNumber", Value: ""},
		{Name: "PurchAmount", Value: strconv.FormatInt(e.amount, 10)},
		{Name: "PurchCurrency", Value: e.currency},
		{Name: "VerifyEnrollmentRequestId", Value: e.id},
		{Name: "SessionInfo", Value: e.sessionInfo},
		{Name: "InstallmentCount", Value: e.installments},
		{Name: "Pan", Value: e.masked},
		{Name: "Expiry", Value: e.expiry},
		{Name: "Xid", Value: e.xid},
		{Name: "Status", Value: e.status},
		{Name: "Cavv", Value: e.cavv},
		{Name: "Eci", Value: e.eci},
		{Name: "ExpSign", Value: ""},
		{Name: "ErrorCode", Value: ""},
		{Name: "ErrorMessage", Value: ""},
	}
	to := e.failureURL
	if e.status == "Y" || e.status == "A" {
		to = e.successURL
	} else {
		cb.Set("ErrorCode", err3DSFailed.Code)
		cb.Set("ErrorMessage", err3DSFailed.Msg)
	}
	s.logf("MPI callback %q: Status %s", e.id, e.status)
	banksim.WriteAutoPost(w, banksim.AutoPost{Action: to, Fields: cb})
}
