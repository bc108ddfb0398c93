package bank

import (
	"strings"
	"unicode/utf8"
)

// Result is a bank's answer in one shape for every bank: a normalised code,
// the bank's own code and text, the customer message in Turkish and
// English, and the Wix payment-provider reason code that fits.
type Result struct {
	// Code is the normalised result, one of the Code* constants.
	Code string `json:"code"`
	// BankCode is the bank's own code (ProcReturnCode, ResultCode, mdStatus…).
	BankCode string `json:"bankCode,omitempty"`
	// BankMessage is the bank's own text, as received.
	BankMessage string `json:"bankMessage,omitempty"`
	// ReasonCode is the Wix reason code; 0 when approved.
	ReasonCode int `json:"reasonCode,omitempty"`
	// Message is what to tell the shopper.
	Message Message `json:"message"`
}

// Message is a customer-facing text in Turkish and English.
type Message struct {
	TR string `json:"tr"`
	EN string `json:"en"`
}

// In returns the message in lang ("en" or anything else for Turkish).
func (m Message) In(lang string) string {
	if lang == "en" {
		return m.EN
	}
	return m.TR
}

// Normalised result codes.
const (
	CodeApproved           = "approved"
	CodeDeclined           = "declined"
	CodeCallBank           = "call_bank"
	CodeInsufficientFunds  = "insufficient_funds"
	CodeExpiredCard        = "expired_card"
	CodeInvalidCard        = "invalid_card"
	CodeInvalidCVV         = "invalid_cvv"
	CodeInvalidExpiry      = "invalid_expiry"
	CodeInvalidAmount      = "invalid_amount"
	CodeLostStolen         = "lost_or_stolen_card"
	CodePickUp             = "pick_up_card"
	CodeRestrictedCard     = "restricted_card"
	CodeNotPermitted       = "not_permitted"
	CodeLimitExceeded      = "limit_exceeded"
	CodeTryAgain           = "try_again"
	CodeFraud              = "suspected_fraud"
	CodeInstallments       = "installments_not_allowed"
	CodeCardNotSupported   = "card_not_supported"
	Code3DSFailed          = "3ds_failed"
	Code3DSNotEnrolled     = "3ds_not_enrolled"
	Code3DSHalfSecure      = "3ds_half_secure"
	CodeDuplicateOrder     = "duplicate_order"
	CodeInvalidTransaction = "invalid_transaction"
	CodeMerchantConfig     = "merchant_config"
	CodeBankError          = "bank_error"
	CodeMalformed          = "malformed_response"
	CodeTimeout            = "bank_timeout"
	CodeCanceled           = "canceled"
	CodeExpired            = "expired"
	CodeRefundNotAllowed   = "refund_not_allowed"
	CodeVoidInstead        = "refund_before_settlement"
	CodeRefundInstead      = "void_after_settlement"
	CodeAlreadyRefunded    = "already_refunded"
	CodeAlreadyVoided      = "already_voided"
	CodeRefundExceeds      = "refund_exceeds_captured"
	CodeNotFound           = "transaction_not_found"
	CodeUnknown            = "outcome_unknown"
	// The relay's own refusals of a second attempt for one order.
	CodeOrderPaid       = "order_already_paid"
	CodeOrderInProgress = "order_in_progress"
)

type codeInfo struct {
	reason int
	msg    Message
}

// codes gives every normalised code its Wix reason code (research
// wix-velo.md §2.8; 6000 where no closer code exists) and its messages.
var codes = map[string]codeInfo{
	CodeApproved:           {0, Message{"Ödemeniz onaylandı.", "Your payment was approved."}},
	CodeDeclined:           {3000, Message{"Ödemeniz bankanız tarafından onaylanmadı. Başka bir kart deneyebilirsiniz.", "Your bank declined the payment. You can try another card."}},
	CodeCallBank:           {3000, Message{"Bankanız işlemi onaylamadı; lütfen bankanızı arayın.", "Your bank declined the payment; please call your bank."}},
	CodeInsufficientFunds:  {3012, Message{"Kartınızın bakiyesi veya limiti yetersiz.", "Your card has insufficient funds or limit."}},
	CodeExpiredCard:        {3013, Message{"Kartınızın son kullanma tarihi geçmiş.", "Your card has expired."}},
	CodeInvalidCard:        {3015, Message{"Kart numarası geçersiz. Lütfen kontrol edip tekrar deneyin.", "The card number is invalid. Please check it and try again."}},
	CodeInvalidCVV:         {3016, Message{"Güvenlik kodu (CVV) hatalı.", "The security code (CVV) is incorrect."}},
	CodeInvalidExpiry:      {3014, Message{"Son kullanma tarihi hatalı.", "The expiry date is incorrect."}},
	CodeInvalidAmount:      {3001, Message{"Tutar geçersiz.", "The amount is invalid."}},
	CodeLostStolen:         {5000, Message{"Bu kartla işlem yapılamıyor; lütfen bankanızı arayın.", "This card cannot be used; please call your bank."}},
	CodePickUp:             {5007, Message{"Bu kartla işlem yapılamıyor; lütfen bankanızı arayın.", "This card cannot be used; please call your bank."}},
	CodeRestrictedCard:     {5002, Message{"Kartınız bu işleme kapalı; lütfen bankanızı arayın.", "Your card is restricted for this payment; please call your bank."}},
	CodeNotPermitted:       {5002, Message{"Kartınız bu tür işleme izin vermiyor.", "Your card does not allow this kind of payment."}},
	CodeLimitExceeded:      {3019, Message{"Kart limitiniz bu işlem için yetersiz.", "The payment exceeds your card's limit."}},
	CodeTryAgain:           {3009, Message{"İşlem şu anda yapılamadı; lütfen biraz sonra tekrar deneyin.", "The payment could not be made right now; please try again shortly."}},
	CodeFraud:              {5001, Message{"İşlem güvenlik nedeniyle onaylanmadı.", "The payment was declined for security reasons."}},
	CodeInstallments:       {3034, Message{"Bu kart için seçilen taksit sayısı kullanılamıyor.", "The chosen number of installments is not available for this card."}},
	CodeCardNotSupported:   {3017, Message{"Bu kart türü kabul edilmiyor.", "This card type is not accepted."}},
	Code3DSFailed:          {3004, Message{"3D Secure doğrulaması başarısız oldu.", "3-D Secure authentication failed."}},
	Code3DSNotEnrolled:     {3005, Message{"Kartınız 3D Secure'a kayıtlı değil; lütfen bankanızla görüşün.", "Your card is not enrolled in 3-D Secure; please contact your bank."}},
	Code3DSHalfSecure:      {3004, Message{"3D Secure doğrulaması tamamlanamadı.", "3-D Secure authentication could not be completed."}},
	CodeDuplicateOrder:     {3027, Message{"Bu sipariş daha önce işlenmiş.", "This order has already been processed."}},
	CodeInvalidTransaction: {6000, Message{"İşlem geçersiz.", "The transaction is invalid."}},
	CodeMerchantConfig:     {1002, Message{"Ödeme sistemi şu anda kullanılamıyor; lütfen mağazayla iletişime geçin.", "Payments are not available right now; please contact the shop."}},
	CodeBankError:          {1003, Message{"Bankada teknik bir sorun oluştu; lütfen tekrar deneyin.", "The bank had a technical problem; please try again."}},
	CodeMalformed:          {1005, Message{"Bankadan anlaşılır bir yanıt alınamadı.", "The bank's answer could not be read."}},
	CodeTimeout:            {1003, Message{"Banka zamanında yanıt vermedi.", "The bank did not answer in time."}},
	CodeCanceled:           {3030, Message{"Ödeme iptal edildi.", "The payment was canceled."}},
	CodeExpired:            {3035, Message{"Ödeme süresi doldu.", "The payment expired."}},
	CodeRefundNotAllowed:   {3022, Message{"İade yapılamıyor.", "The refund is not allowed."}},
	CodeVoidInstead:        {3022, Message{"Satış henüz gün sonuna girmediği için iade yapılamaz; bugün için iptal (void) kullanın.", "The sale is not settled yet, so it cannot be refunded; void it instead today."}},
	CodeRefundInstead:      {3022, Message{"Satış gün sonuna girdiği için iptal edilemez; iade kullanın.", "The sale is already settled, so it cannot be voided; refund it instead."}},
	CodeAlreadyRefunded:    {3023, Message{"Bu ödeme zaten iade edilmiş.", "This payment has already been refunded."}},
	CodeAlreadyVoided:      {3022, Message{"Bu ödeme zaten iptal edilmiş.", "This payment has already been voided."}},
	CodeRefundExceeds:      {3025, Message{"İade tutarı, iade edilebilir tutarı aşıyor.", "The refund exceeds the amount left to refund."}},
	CodeNotFound:           {6000, Message{"İşlem bankada bulunamadı.", "The bank has no record of this transaction."}},
	CodeUnknown:            {5009, Message{"İşlemin sonucu bankadan teyit ediliyor.", "The result is being confirmed with the bank."}},
	CodeOrderPaid: {3027, Message{"Bu sipariş başka bir ödemeyle zaten ödendi; kartınızdan yeniden çekim yapılmadı.",
		"This order was already paid by another payment; your card was not charged again."}},
	CodeOrderInProgress: {6000, Message{"Bu sipariş için başka bir ödeme şu anda onaylanıyor; kartınızdan çekim yapılmadı. Birkaç dakika sonra siparişinizi kontrol edin.",
		"Another payment for this order is being confirmed right now; your card was not charged. Check your order in a few minutes."}},
}

// NewResult builds a Result for a normalised code with the bank's own code
// and text. An unknown code is treated as CodeDeclined. The bank's text is
// scrubbed (ScrubText): it is stored, logged and shown to the operator.
func NewResult(code, bankCode, bankMessage string) Result {
	info, ok := codes[code]
	if !ok {
		code, info = CodeDeclined, codes[CodeDeclined]
	}
	return Result{Code: code, BankCode: clip(ScrubText(bankCode), 64), BankMessage: ScrubText(bankMessage), ReasonCode: info.reason, Message: info.msg}
}

// ScrubText makes a bank's free text safe to keep: some banks echo what
// they were sent (QNB's "{0} alani hatali uzunlukta Gelen : {1}" repeats
// the offending value, which may be a card number or CVV), so anything
// after "Gelen" ("received") is dropped, every run of 12 or more digits is
// masked, control characters are removed, and the text is cut at 300
// characters.
func ScrubText(s string) string {
	if i := indexFold(s, "gelen"); i >= 0 {
		s = s[:i] + "Gelen: [removed]"
	}
	var b strings.Builder
	run := 0
	flush := func(digits string) {
		if len(digits) >= 12 {
			b.WriteString("[number]")
		} else {
			b.WriteString(digits)
		}
	}
	start := 0
	for i, r := range s {
		if r >= '0' && r <= '9' {
			if run == 0 {
				start = i
			}
			run++
			continue
		}
		if run > 0 {
			flush(s[start:i])
			run = 0
		}
		if r < 0x20 || r == 0x7f {
			b.WriteByte(' ')
			continue
		}
		b.WriteRune(r)
	}
	if run > 0 {
		flush(s[start:])
	}
	return clip(strings.TrimSpace(b.String()), 300)
}

func indexFold(s, sub string) int {
	return strings.Index(strings.ToLower(s), sub)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// KnownCode reports whether code is a normalised result code.
func KnownCode(code string) bool { _, ok := codes[code]; return ok }

// ISOCode maps an ISO 8583 response code, as the banks pass on from the
// card issuer, to a normalised code. ok is false for codes it does not know.
// Only 00 is an approval: ISO's 08 and 11 ("approved with identification",
// "approved, VIP") are not at any of the banks (§1.8, §2.7), so they are
// left to each bank's own table or its default.
func ISOCode(c string) (code string, ok bool) {
	switch c {
	case "00":
		return CodeApproved, true
	case "01", "02":
		return CodeCallBank, true
	case "03", "30", "92", "96", "98":
		return CodeBankError, true
	case "04", "07":
		return CodePickUp, true
	case "05", "06", "21", "28", "29", "76", "77":
		return CodeDeclined, true
	case "09", "19", "90", "91":
		return CodeTryAgain, true
	case "12", "25", "39", "52", "53", "58", "88":
		return CodeInvalidTransaction, true
	case "13":
		return CodeInvalidAmount, true
	case "14", "15", "56":
		return CodeInvalidCard, true
	case "33", "54":
		return CodeExpiredCard, true
	case "34", "59", "63", "66":
		return CodeFraud, true
	case "36", "62", "78":
		return CodeRestrictedCard, true
	case "41", "43", "37":
		return CodeLostStolen, true
	case "51":
		return CodeInsufficientFunds, true
	case "57":
		return CodeNotPermitted, true
	case "61", "65":
		return CodeLimitExceeded, true
	case "82", "N7":
		return CodeInvalidCVV, true
	case "93":
		return CodeNotPermitted, true
	case "94":
		return CodeDuplicateOrder, true
	}
	return "", false
}
