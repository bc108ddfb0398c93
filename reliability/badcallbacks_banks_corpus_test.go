package reliability

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestBankCallbackCorpusIsGenerated checks testdata/badcallbacks is what
// bankCallbackCorpus writes (-update rewrites it).
func TestBankCallbackCorpusIsGenerated(t *testing.T) {
	dir := filepath.Join("testdata", "badcallbacks")
	for _, m := range bankCallbackModels {
		checkGenerated(t, filepath.Join(dir, m.file+".json"), bankCallbackCorpus(m.file), "badcallbacks_banks_corpus_test.go", "TestBankCallbackCorpusIsGenerated")
	}
}

// The answers (codes as on the relay's log line, proxy/callback.go).
var (
	cbHash      = bankCallbackWant{Status: 400, Code: "callback_hash_mismatch"}
	cbMismatch  = bankCallbackWant{Status: 400, Code: "callback_mismatch"}
	cbMalformed = bankCallbackWant{Status: 400, Code: "callback_malformed"}
	cbNotFound  = bankCallbackWant{Status: 404, Code: "payment_not_found"}
	cbEarly     = bankCallbackWant{Status: 400, Code: "callback_before_bank_step"}
	cbReplayed  = bankCallbackWant{Status: 303, Code: "callback_replayed", Landing: "done"}
	// A callback for a payment that already failed takes the late path:
	// only a verified, bound approval is recorded (late_approval); anything
	// else changes nothing.
	cbLate     = bankCallbackWant{Status: 303, Code: "callback_replayed", Landing: "closed"}
	cbTooLarge = bankCallbackWant{Status: 413, Code: "body_too_large"}
)

// ends is a callback the relay acts on: the payment ends in status, the
// shopper is sent to landing, with these bank calls.
func ends(status, landing string, provisions, queries int) bankCallbackWant {
	return bankCallbackWant{Status: 303, Landing: landing, Payment: status, Provisions: provisions, Queries: queries}
}

type corpusBuilder struct{ out []bankCallbackCase }

func (b *corpusBuilder) add(cat, name string, c callbackChange, w bankCallbackWant) {
	b.out = append(b.out, bankCallbackCase{Name: cat + ": " + name, Category: cat, Callback: c, Want: w})
}

func (b *corpusBuilder) fresh(cat, name, card string, c callbackChange, w bankCallbackWant) {
	b.out = append(b.out, bankCallbackCase{Name: cat + ": " + name, Category: cat, Fresh: card, Callback: c, Want: w})
}

func set(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func bankCallbackCorpus(model string) []bankCallbackCase {
	b := &corpusBuilder{}
	switch model {
	case "qnb_3dhost":
		qnbCorpus(b, "3DHost")
	case "qnb_3dmodel":
		qnbCorpus(b, "3DModel")
	case "vakifbank_mpi":
		vakifMPICorpus(b)
	case "vakifbank_common_payment":
		vakifCPCorpus(b)
	}
	commonCorpus(b, model)
	// An approval claimed on the failed payment's callback, after it failed.
	claim := map[string]map[string]string{
		"qnb_3dhost":               set("ProcReturnCode", "00", "3DStatus", "1", "AuthCode", "S99999", "TxnResult", "Success"),
		"qnb_3dmodel":              set("ProcReturnCode", "00", "3DStatus", "1", "AuthCode", "S99999", "TxnResult", "Success"),
		"vakifbank_mpi":            set("Status", "Y", "Eci", "{other:Eci}", "Cavv", "{other:Cavv}", "ErrorCode", "", "ErrorMessage", ""),
		"vakifbank_common_payment": set("Rc", "0000", "Message", "İŞLEM BAŞARILI", "TransactionId", "{other:TransactionId}"),
	}[model]
	const late = "after the payment failed"
	b.add(late, "the failed payment's callback replayed", callbackChange{Of: "closed", To: "{closedCbToken}"}, cbLate)
	b.add(late, "an approval claimed on the failed payment's callback", callbackChange{Of: "closed", To: "{closedCbToken}", Set: claim}, cbLate)
	b.add(late, "another payment's genuine approval to the failed payment", callbackChange{Of: "other", To: "{closedCbToken}"}, cbLate)
	b.add(late, "forged junk to the failed payment", callbackChange{Of: "closed", To: "{closedCbToken}", RawBody: str("x=1")}, cbLate)
	return b.out
}

// commonCorpus: what every bank's callback endpoint must refuse alike.
func commonCorpus(b *corpusBuilder, model string) {
	bindField := map[string]string{"qnb_3dhost": "OrderId", "qnb_3dmodel": "OrderId",
		"vakifbank_mpi": "VerifyEnrollmentRequestId", "vakifbank_common_payment": "PaymentToken"}[model]
	// Cross-payment, unknown, early and replayed.
	const cat = "cross-payment, unknown, replay"
	b.add(cat, "another pending payment's genuine callback", callbackChange{Of: "other"}, cbMismatch)
	b.add(cat, "this payment's genuine callback to another pending payment", callbackChange{To: "{otherCbToken}"}, cbMismatch)
	b.add(cat, "this payment's genuine callback to the payment whose 3-D step failed", callbackChange{To: "{failedCbToken}"}, cbMismatch)
	b.add(cat, "the settled payment's callback to a pending one", callbackChange{Of: "done"}, cbMismatch)
	b.add(cat, "a genuine callback to an unknown token", callbackChange{To: "{unknownToken}"}, cbNotFound)
	b.add(cat, "a genuine callback to the token upper-cased", callbackChange{To: "{cbTokenUpper}"}, cbNotFound)
	b.add(cat, "a genuine callback to the token with a suffix", callbackChange{To: "{cbToken}x"}, cbNotFound)
	b.add(cat, "a genuine callback to the token cut short", callbackChange{To: "{cbTokenShort}"}, cbNotFound)
	b.add(cat, "a genuine callback to a payment that never went to the bank", callbackChange{To: "{createdCbToken}"}, cbEarly)
	b.add(cat, "a pending payment's callback to the settled one", callbackChange{To: "{doneCbToken}"}, cbReplayed)
	b.add(cat, "the settled payment's callback replayed", callbackChange{Of: "done", To: "{doneCbToken}"}, cbReplayed)
	b.add(cat, "forged junk to the settled payment", callbackChange{Of: "done", To: "{doneCbToken}", Set: set(bindField, "x")}, cbReplayed)
	// Another bank's (or model's) genuine callback: the payment's record
	// chooses the gateway, never the callback's shape.
	for _, peer := range bankCallbackModels {
		if peer.file == model {
			continue
		}
		w := cbMalformed // no VerifyEnrollmentRequestId, no PaymentToken
		switch {
		case strings.HasPrefix(model, "qnb") && strings.HasPrefix(peer.file, "qnb"):
			w = cbMismatch // same merchant, so the hash verifies: the model and the order do not match
		case strings.HasPrefix(model, "qnb"):
			w = cbHash // no ResponseHash
		}
		b.add(cat, "the genuine callback of a "+peer.file+" payment", callbackChange{Of: "bank:" + peer.file}, w)
	}
	// Duplicated fields: a reader that takes the first and one that takes
	// the last would see different callbacks.
	const dup = "duplicated fields"
	b.add(dup, bindField+" twice, same value", callbackChange{Add: [][2]string{{bindField, "{same}"}}}, cbMalformed)
	b.add(dup, bindField+" twice, the other payment's second", callbackChange{Add: [][2]string{{bindField, "{other:" + bindField + "}"}}}, cbMalformed)
	// Not the bank's shape.
	const shape = "shape"
	b.add(shape, "as JSON", callbackChange{As: "json"}, cbMalformed)
	b.add(shape, "as multipart", callbackChange{As: "multipart"}, cbMalformed)
	b.add(shape, "form fields as text/plain", callbackChange{As: "form", ContentType: str("text/plain")}, cbMalformed)
	b.add(shape, "form fields without a content type", callbackChange{As: "form", ContentType: str("")}, cbMalformed)
	for _, m := range []string{"PUT", "DELETE", "PATCH"} {
		b.add(shape, "method "+m, callbackChange{Method: m, As: "form"}, cbMalformed)
	}
	// Size.
	const size = "size and encoding"
	b.add(size, "401 extra fields", callbackChange{Junk: 401}, cbMalformed)
	b.add(size, "5000 extra fields", callbackChange{Junk: 5000, As: "form"}, cbMalformed)
	b.add(size, "body above max_body_bytes", callbackChange{Pad: 70000, As: "form"}, cbTooLarge)
}

func qnbCorpus(b *corpusBuilder, model string) {
	// What the relay does with a genuine approval of this model.
	okProv := 0
	if model == "3DModel" {
		okProv = 1
	}
	otherModel := map[string]string{"3DHost": "3DPay", "3DModel": "3DHost"}[model]

	const sig = "signature"
	b.add(sig, "forged ResponseHash", callbackChange{Set: set("ResponseHash", strings.Repeat("A", 27)+"=")}, cbHash)
	b.add(sig, "ResponseHash removed", callbackChange{Del: []string{"ResponseHash"}}, cbHash)
	b.add(sig, "ResponseHash empty", callbackChange{Set: set("ResponseHash", "")}, cbHash)
	b.add(sig, "ResponseHash of another payment's callback", callbackChange{Set: set("ResponseHash", "{other:ResponseHash}")}, cbHash)
	b.add(sig, "ResponseHash in hex", callbackChange{Set: set("ResponseHash", strings.Repeat("ab", 20))}, cbHash)
	b.add(sig, "ResponseHash with a trailing space", callbackChange{Set: set("ResponseHash", "{same} ")}, cbHash)
	// HashType is a label, not signed: the digest is told by the hash's
	// length when they disagree (signer.PayForResponseAlg), so the genuine
	// hash still verifies and the genuine outcome stands.
	b.fresh(sig, "HashType relabelled Sha256 over the SHA-1 hash", cardApproved, callbackChange{Set: set("HashType", "Sha256")},
		ends("succeeded", "ok", okProv, 0))
	b.add(sig, "re-hashed with the sandbox's public key", callbackChange{Set: set("ProcReturnCode", "00", "3DStatus", "1"), Resign: "payfor:12345678"}, cbHash)
	b.add(sig, "re-hashed SHA-256 with a guessed key", callbackChange{Set: set("ProcReturnCode", "00", "3DStatus", "1"), Resign: "payfor256:guessed"}, cbHash)
	b.add(sig, "GET with a forged hash in the query", callbackChange{As: "query", Set: set("ResponseHash", "x")}, cbHash)

	const signed = "signed field changed"
	for _, f := range []struct{ name, value string }{
		{"OrderId", "{other:OrderId}"}, {"OrderId", "{same}X"}, {"OrderId", ""}, {"AuthCode", "S99999"},
		{"ProcReturnCode", "51"}, {"3DStatus", "0"}, {"3DStatus", "-1"}, {"ResponseRnd", "{other:ResponseRnd}"},
	} {
		b.add(signed, f.name+" "+strconv.Quote(f.value), callbackChange{Set: set(f.name, f.value)}, cbHash)
	}

	const forged = "3-D failed, approval claimed"
	b.add(forged, "ProcReturnCode 00 and 3DStatus 1 on the failed callback", callbackChange{Of: "failed", To: "{failedCbToken}",
		Set: set("ProcReturnCode", "00", "3DStatus", "1", "AuthCode", "S99999", "TxnResult", "Success")}, cbHash)
	b.add(forged, "3DStatus 1 on the failed callback", callbackChange{Of: "failed", To: "{failedCbToken}", Set: set("3DStatus", "1")}, cbHash)
	b.add(forged, "the approved payment's signed fields on the failed callback", callbackChange{Of: "failed", To: "{failedCbToken}",
		Set: set("ProcReturnCode", "00", "3DStatus", "1", "AuthCode", "{other:AuthCode}", "ResponseRnd", "{other:ResponseRnd}", "ResponseHash", "{other:ResponseHash}")}, cbHash)
	// Unsigned fields that read like an approval change nothing: the signed
	// 3DStatus and ProcReturnCode decide, and say failed.
	b.fresh(forged, "unsigned approval fields on the failed callback", card3DSFails, callbackChange{
		Set: set("TxnResult", "Success", "TxnStatus", "Y", "D3Stat", "Y", "ErrMsg", "Onaylandı", "Eci", "05", "MdStatus", "1", "CavvResult", "2")},
		ends("failed", "fail", 0, 0))
	b.fresh(forged, "the approved payment's RequestGuid on the failed callback", card3DSFails, callbackChange{
		Set: set("RequestGuid", "{other:RequestGuid}", "TxnResult", "Success")}, ends("failed", "fail", 0, 0))

	// Unsigned fields bound to the record: amount, currency, installments,
	// account, model, the form's Rnd. Each on a payment of its own.
	// A callback's InstallmentCount travels in bank.Echo and bind()
	// (proxy/callback.go) refuses one that disagrees with the payment; these
	// cases failed until it did.
	const bound = "unsigned field changed"
	for _, f := range []struct {
		name, value string
		w           bankCallbackWant
	}{
		{"PurchAmount", "0.01", cbMismatch}, {"PurchAmount", "1499.00", cbMismatch}, {"PurchAmount", "149.91", cbMismatch},
		{"PurchAmount", "14990", cbMismatch}, {"PurchAmount", "-149.90", cbMalformed},
		{"PurchAmount", "1e2", cbMalformed},
		{"Currency", "840", cbMismatch}, {"Currency", "978", cbMismatch}, {"Currency", "USD", cbMismatch}, {"Currency", "0949", cbMismatch},
		{"InstallmentCount", "3", cbMismatch}, {"InstallmentCount", "12", cbMismatch},
		{"MerchantID", "085300000009704", cbMismatch}, {"SecureType", otherModel, cbMismatch}, {"Rnd", "{other:Rnd}", cbMismatch},
	} {
		b.fresh(bound, f.name+" "+strconv.Quote(f.value), cardApproved, callbackChange{Set: set(f.name, f.value)}, f.w)
	}
	b.fresh(bound, "PurchAmount with a decimal comma, same amount", cardApproved, callbackChange{Set: set("PurchAmount", "149,90")},
		ends("succeeded", "ok", okProv, 0))
	b.fresh(bound, "PurchAmount removed: the amount is the record's", cardApproved, callbackChange{Del: []string{"PurchAmount"}},
		ends("succeeded", "ok", okProv, 0))
	// Someone holding the merchant's key: the binding to the record refuses.
	const resigned = "re-signed with the merchant's key"
	for _, f := range []struct{ name, value string }{
		{"OrderId", "{other:OrderId}"}, {"OrderId", "{same}\r\nX-Injected: 1"}, {"OrderId", "</OrderId><ProcReturnCode>00</ProcReturnCode><OrderId>"},
		{"PurchAmount", "0.01"}, {"Currency", "840"},
	} {
		b.fresh(resigned, f.name+" "+strconv.Quote(f.value), cardApproved, callbackChange{Set: set(f.name, f.value), Resign: "payfor"}, cbMismatch)
	}
	b.fresh(resigned, "OrderId removed", cardApproved, callbackChange{Del: []string{"OrderId"}, Resign: "payfor"}, cbMalformed)
	if model == "3DModel" {
		// RequestGuid is unsigned and the relay cannot know it before the
		// callback: another payment's authentication must not pay this one.
		b.fresh(bound, "another payment's RequestGuid", cardApproved, callbackChange{Set: set("RequestGuid", "{other:RequestGuid}")},
			ends("failed", "fail", 1, 0))
		b.fresh(bound, "RequestGuid removed", cardApproved, callbackChange{Del: []string{"RequestGuid"}}, cbMalformed)
	}

	// Unsigned data the relay keeps: card mask, references, the bank's text.
	// The ResponseHash does not cover CardMask or HostRefNum; they reach the
	// relay through the shopper's browser, so they must not be stored as
	// sent: the relay records references through bank.CleanRef. Until it
	// did, a full card number in CardMask reached the journal and the site's
	// webhook.
	const stored = "unsigned data stored"
	b.fresh(stored, "CardMask a full card number", cardApproved, callbackChange{Set: set("CardMask", cardApproved)}, ends("succeeded", "ok", okProv, 0))
	b.fresh(stored, "CardMask with markup", cardApproved, callbackChange{Set: set("CardMask", "<script>alert(1)</script>")}, ends("succeeded", "ok", okProv, 0))
	b.fresh(stored, "HostRefNum overlong with CRLF", cardApproved, callbackChange{Set: set("HostRefNum", "{same}\r\nX-Injected: 1"+strings.Repeat("r", 3000))},
		ends("succeeded", "ok", okProv, 0))
	b.fresh(stored, "ErrMsg with a card number on the failed callback", card3DSFails, callbackChange{Set: set("ErrMsg", "kart "+cardApproved2+" reddedildi")},
		ends("failed", "fail", 0, 0))

	const dup = "duplicated fields"
	for _, f := range []string{"ResponseHash", "PurchAmount", "ProcReturnCode", "3DStatus"} {
		b.add(dup, f+" twice, same value", callbackChange{Add: [][2]string{{f, "{same}"}}}, cbMalformed)
		b.add(dup, f+" twice, other value", callbackChange{Add: [][2]string{{f, "1"}}}, cbMalformed)
	}

	const enc = "size and encoding"
	b.add(enc, "overlong OrderId", callbackChange{Set: set("OrderId", strings.Repeat("o", 5000))}, cbHash)
	b.add(enc, "overlong ResponseHash", callbackChange{Set: set("ResponseHash", strings.Repeat("H", 20000))}, cbHash)
	b.add(enc, "NUL byte in OrderId", callbackChange{Set: set("OrderId", "{same}\x00")}, cbHash)
	b.add(enc, "CRLF injection in OrderId", callbackChange{Set: set("OrderId", "{same}\r\nX-Injected: 1")}, cbHash)
	b.add(enc, "XML injection in OrderId", callbackChange{Set: set("OrderId", "{same}</OrderId><ProcReturnCode>00</ProcReturnCode><OrderId>")}, cbHash)
	b.add(enc, "Turkish letters in OrderId", callbackChange{Set: set("OrderId", "sipariş")}, cbHash)
	b.add(enc, "OrderId re-encoded to ISO-8859-9", callbackChange{Set: set("OrderId", "{same}ğ"), Encode: "latin5"}, cbHash)
	for _, body := range []string{"", "=", "&&&", "%zz=1", "OrderId=%", "ResponseHash=%C3%28", "OrderId", strings.Repeat("&", 1000)} {
		rb := body
		w := cbHash
		if strings.Trim(body, "&=") == "" {
			w = cbMalformed
		}
		b.add(enc, "raw body "+strconv.Quote(short(body)), callbackChange{RawBody: &rb}, w)
	}
}

func vakifMPICorpus(b *corpusBuilder) {
	const bind = "binding"
	b.add(bind, "VerifyEnrollmentRequestId removed", callbackChange{Del: []string{"VerifyEnrollmentRequestId"}}, cbMalformed)
	b.add(bind, "VerifyEnrollmentRequestId empty", callbackChange{Set: set("VerifyEnrollmentRequestId", "")}, cbMalformed)
	for _, v := range []struct{ name, value string }{
		{"another pending payment's", "{other:VerifyEnrollmentRequestId}"}, {"the settled payment's", "{done:VerifyEnrollmentRequestId}"},
		{"the failed payment's", "{failed:VerifyEnrollmentRequestId}"}, {"made up", strings.Repeat("0f", 16)},
		{"with a character added", "{same}0"}, {"with a trailing space", "{same} "}, {"with a leading space", " {same}"},
		{"overlong", "{same}" + strings.Repeat("a", 5000)}, {"with a NUL byte", "{same}\x00"}, {"with CRLF injection", "{same}\r\nX-Injected: 1"},
		{"with XML injection", "{same}</VerifyEnrollmentRequestId><Status>Y</Status>"},
	} {
		b.add(bind, "VerifyEnrollmentRequestId "+v.name, callbackChange{Set: set("VerifyEnrollmentRequestId", v.value)}, cbMismatch)
	}
	b.add(bind, "GET with another payment's VerifyEnrollmentRequestId in the query", callbackChange{As: "query",
		Set: set("VerifyEnrollmentRequestId", "{other:VerifyEnrollmentRequestId}")}, cbMismatch)

	// The callback is unsigned: what it echoes must be the record's. The
	// InstallmentCount cases FAIL at the time of writing:
	// bank/payflex/callback.go Verify (lines 29–56) checks PurchAmount,
	// PurchCurrency, MerchantId and SessionInfo but not InstallmentCount.
	const bound = "echo changed"
	for _, f := range []struct{ name, value string }{
		{"PurchAmount", "1"}, {"PurchAmount", "14991"}, {"PurchAmount", "149.90"}, {"PurchAmount", "-14990"}, {"PurchAmount", "1499000"},
		{"PurchAmount", "14990 "}, {"PurchAmount", "0x3A8E"},
		{"PurchCurrency", "840"}, {"PurchCurrency", "978"}, {"PurchCurrency", "TRY"},
		{"InstallmentCount", "3"}, {"InstallmentCount", "12"},
		{"MerchantId", "000000000111111"}, {"SessionInfo", "{otherId}"}, {"SessionInfo", "{same}\r\nX-Injected: 1"},
		{"SessionInfo", "{same}</SessionInfo><Status>Y</Status>"},
	} {
		b.fresh(bound, f.name+" "+strconv.Quote(f.value), cardApproved, callbackChange{Set: set(f.name, f.value)}, cbMismatch)
	}
	b.fresh(bound, "PurchAmount and PurchCurrency removed: the terms are the record's", cardApproved,
		callbackChange{Del: []string{"PurchAmount", "PurchCurrency"}}, ends("succeeded", "ok", 1, 0))

	// The 3-D result. Only Status Y (A when the site allows half-secure)
	// goes on to the VPOS, which checks ECI and CAVV against its MPI's
	// record: the callback is never the word that a payment is paid.
	const st = "3-D status"
	b.fresh(st, "Status N on an authenticated callback", cardApproved, callbackChange{Set: set("Status", "N")}, ends("failed", "fail", 0, 0))
	b.fresh(st, "Status A (half-secure, not allowed)", cardApproved, callbackChange{Set: set("Status", "A")}, ends("failed", "fail", 0, 0))
	b.fresh(st, "Status y in lower case", cardApproved, callbackChange{Set: set("Status", "y")}, ends("failed", "fail", 0, 0))
	b.fresh(st, "Status empty", cardApproved, callbackChange{Set: set("Status", "")}, cbMalformed)
	b.fresh(st, "Status removed", cardApproved, callbackChange{Del: []string{"Status"}}, cbMalformed)
	b.fresh(st, "Status Y without Eci", cardApproved, callbackChange{Del: []string{"Eci"}}, cbMalformed)
	b.fresh(st, "Status Y without Cavv", cardApproved, callbackChange{Del: []string{"Cavv"}}, cbMalformed)
	b.fresh(st, "Eci changed", cardApproved, callbackChange{Set: set("Eci", "02")}, ends("failed", "fail", 1, 0))
	b.fresh(st, "Cavv changed", cardApproved, callbackChange{Set: set("Cavv", "AAABBBCCCDDDEEEFFF000111222=")}, ends("failed", "fail", 1, 0))
	b.fresh(st, "another payment's Eci and Cavv", cardApproved, callbackChange{Set: set("Eci", "{other:Eci}", "Cavv", "{other:Cavv}")},
		ends("failed", "fail", 1, 0))

	// The callback's Pan is unsigned: bank.CleanMaskedPAN masks a number
	// and drops anything that is not a masked one ("5400000000000005*",
	// markup), which until then reached the journal and the webhook.
	const stored = "unsigned data stored"
	b.fresh(stored, "Pan a full card number on a failed callback", card3DSFails, callbackChange{Set: set("Pan", cardApproved2)}, ends("failed", "fail", 0, 0))
	b.fresh(stored, "Pan a full card number and a star on a failed callback", card3DSFails, callbackChange{Set: set("Pan", cardApproved2+"*")},
		ends("failed", "fail", 0, 0))
	b.fresh(stored, "Pan with markup and a star on a failed callback", card3DSFails, callbackChange{Set: set("Pan", "<script>alert(1)</script>*")},
		ends("failed", "fail", 0, 0))
	b.fresh(stored, "ErrorMessage with a card number on a failed callback", card3DSFails,
		callbackChange{Set: set("ErrorMessage", "kart "+cardApproved2+" reddedildi")}, ends("failed", "fail", 0, 0))
	b.fresh(stored, "Pan a full card number and a star on an approved callback", cardApproved, callbackChange{Set: set("Pan", cardApproved2+"*")},
		ends("succeeded", "ok", 1, 0))

	const forged = "3-D failed, approval claimed"
	b.fresh(forged, "Status Y with a made-up Eci and Cavv", card3DSFails, callbackChange{
		Set: set("Status", "Y", "Eci", "05", "Cavv", "AAABBBCCCDDDEEEFFF000111222=", "ErrorCode", "", "ErrorMessage", "")}, ends("failed", "fail", 1, 0))
	b.fresh(forged, "Status Y with the approved payment's Eci and Cavv", card3DSFails, callbackChange{
		Set: set("Status", "Y", "Eci", "{other:Eci}", "Cavv", "{other:Cavv}", "ErrorCode", "", "ErrorMessage", "")}, ends("failed", "fail", 1, 0))
	b.fresh(forged, "Status A with Eci and Cavv", card3DSFails, callbackChange{
		Set: set("Status", "A", "Eci", "06", "Cavv", "{other:Cavv}", "ErrorCode", "", "ErrorMessage", "")}, ends("failed", "fail", 0, 0))
	b.fresh(forged, "ErrorCode 0000 on a failed callback", card3DSFails, callbackChange{Set: set("ErrorCode", "0000", "ErrorMessage", "Onaylandı")},
		ends("failed", "fail", 0, 0))

	const dup = "duplicated fields"
	for _, f := range []string{"Status", "PurchAmount", "Eci", "Cavv", "SessionInfo"} {
		b.add(dup, f+" twice, same value", callbackChange{Add: [][2]string{{f, "{same}"}}}, cbMalformed)
		b.add(dup, f+" twice, other value", callbackChange{Add: [][2]string{{f, "1"}}}, cbMalformed)
	}

	const enc = "size and encoding"
	for _, body := range []string{"", "=", "&&&", "%zz=1", "VerifyEnrollmentRequestId=%", "VerifyEnrollmentRequestId=%C3%28", "Status=Y", strings.Repeat("&", 1000)} {
		rb := body
		w := cbMalformed
		if strings.HasPrefix(body, "VerifyEnrollmentRequestId=%") {
			w = cbMismatch
		}
		b.add(enc, "raw body "+strconv.Quote(short(body)), callbackChange{RawBody: &rb}, w)
	}
	b.add(enc, "VerifyEnrollmentRequestId re-encoded to ISO-8859-9", callbackChange{Set: set("VerifyEnrollmentRequestId", "{same}ğ"), Encode: "latin5"}, cbMismatch)
}

func vakifCPCorpus(b *corpusBuilder) {
	const bind = "binding"
	b.add(bind, "PaymentToken removed", callbackChange{Del: []string{"PaymentToken"}}, cbMalformed)
	b.add(bind, "PaymentToken empty", callbackChange{Set: set("PaymentToken", "")}, cbMalformed)
	for _, v := range []struct{ name, value string }{
		{"another pending payment's", "{other:PaymentToken}"}, {"the settled payment's", "{done:PaymentToken}"},
		{"the failed payment's", "{failed:PaymentToken}"}, {"made up", strings.Repeat("0f", 16)},
		{"with a character added", "{same}0"}, {"with a trailing space", "{same} "}, {"with a leading space", " {same}"},
		{"overlong", "{same}" + strings.Repeat("a", 3000)}, {"with a NUL byte", "{same}\x00"}, {"with CRLF injection", "{same}\r\nX-Injected: 1"},
		{"with XML injection", "{same}</PaymentToken><Rc>0000</Rc>"}, {"with invalid UTF-8", "{same}\xc3\x28"},
	} {
		b.add(bind, "PaymentToken "+v.name, callbackChange{Set: set("PaymentToken", v.value)}, cbMismatch)
	}
	b.add(bind, "POST form with another payment's PaymentToken", callbackChange{As: "form", Set: set("PaymentToken", "{other:PaymentToken}")}, cbMismatch)
	b.add(bind, "PaymentToken re-encoded to ISO-8859-9", callbackChange{Set: set("PaymentToken", "{same}ğ"), Encode: "latin5"}, cbMismatch)

	// The return is unsigned and proves nothing: with the right
	// PaymentToken it only makes the relay ask VposTransaction, whose answer
	// (bound to order, amount and currency) decides. What the return claims
	// is never the result.
	const claims = "claims in the return"
	ok := ends("succeeded", "ok", 0, 1)
	for _, f := range []struct{ name, value string }{
		{"Rc", "0400"}, {"Rc", "9999"}, {"Amount", "1,00"}, {"AmountCode", "840"}, {"OrderID", "{same}X\r\nX-Injected: 1"},
		{"OrderID", "</OrderID><Rc>0000</Rc>"}, {"InstallmentCount", "12"}, {"Message", "<Rc>0400</Rc>\r\nX: y"},
		{"HostMerchantId", "000000000111111"},
	} {
		b.fresh(claims, f.name+" "+strconv.Quote(f.value)+" on an approved return", cardApproved, callbackChange{Set: set(f.name, f.value)}, ok)
	}
	b.fresh(claims, "MaskedPan a full card number on an approved return", cardApproved, callbackChange{Set: set("MaskedPan", cardApproved2)}, ok)
	b.fresh(claims, "Rc removed on an approved return", cardApproved, callbackChange{Del: []string{"Rc"}}, ok)
	b.fresh(claims, "TransactionId removed on an approved return", cardApproved, callbackChange{Del: []string{"TransactionId"}}, ok)
	// Another sale's TransactionId: the bank does not answer for it under
	// this PaymentToken; the relay cannot tell what happened and must not
	// guess "failed": unknown, until the status query finds the sale.
	b.fresh(claims, "another payment's TransactionId", cardApproved, callbackChange{Set: set("TransactionId", "{other:TransactionId}")},
		bankCallbackWant{Status: 200, Payment: "unknown", Queries: 1, Settled: "succeeded"})
	b.fresh(claims, "a made-up TransactionId", cardApproved, callbackChange{Set: set("TransactionId", strings.Repeat("1", 32))},
		bankCallbackWant{Status: 200, Payment: "unknown", Queries: 1, Settled: "succeeded"})

	const forged = "3-D failed, approval claimed"
	failed := ends("failed", "fail", 0, 1)
	b.fresh(forged, "Rc 0000 on a failed return", card3DSFails, callbackChange{Set: set("Rc", "0000", "Message", "İŞLEM BAŞARILI")}, failed)
	b.fresh(forged, "Rc 0000 with the approved payment's TransactionId", card3DSFails,
		callbackChange{Set: set("Rc", "0000", "TransactionId", "{other:TransactionId}", "MaskedPan", "{other:MaskedPan}")}, failed)
	b.fresh(forged, "Rc 0000, Amount and AuthCode on a failed return", card3DSFails,
		callbackChange{Set: set("Rc", "0000", "Amount", "149,90", "AuthCode", "123456", "AmountCode", "949")}, failed)

	const dup = "duplicated fields"
	for _, f := range []string{"Rc", "TransactionId"} {
		b.add(dup, f+" twice, same value", callbackChange{Add: [][2]string{{f, "{same}"}}}, cbMalformed)
		b.add(dup, f+" twice, other value", callbackChange{Add: [][2]string{{f, "1"}}}, cbMalformed)
	}

	const enc = "size and encoding"
	for _, q := range []string{"", "&&&", "=", "PaymentToken=%C3%28", "Rc=0000", "PaymentToken"} {
		rq := q
		w := cbMalformed
		if strings.HasPrefix(q, "PaymentToken=%") {
			w = cbMismatch
		}
		b.add(enc, "raw query "+strconv.Quote(q), callbackChange{RawBody: &rq}, w)
	}
	b.add(enc, "raw form body with invalid escapes", callbackChange{As: "form", RawBody: str("PaymentToken=%zz&Rc=%")}, cbMismatch)
}
