package payfor

import (
	"strings"

	"github.com/posrelay/posrelay/bank"
)

// codes maps PayFor's own ProcReturnCode values (Appendix B.1: M…, P…, V…;
// the MPI's MR…; 101310) to the closest normalised code. ISO 8583 issuer
// codes go through bank.ISOCode and isoExtra.
var codes = map[string]string{
	"M001":   bank.CodeInvalidAmount,      // bonus above the order amount
	"M002":   bank.CodeInvalidTransaction, // currency code invalid
	"M003":   bank.CodeInvalidTransaction, // currency code missing
	"M004":   bank.CodeInvalidAmount,      // zero, empty or wrong amount
	"M005":   bank.CodeInvalidCVV,         // CVV2 empty
	"M006":   bank.CodeInvalidExpiry,      // expiry missing or not 4 characters
	"M007":   bank.CodeMerchantConfig,     // FailUrl missing
	"M008":   bank.CodeInvalidCard,        // Pan missing or not 13–19 digits
	"M009":   bank.CodeMerchantConfig,     // password match failed
	"M010":   bank.CodeMerchantConfig,     // OkUrl wrong
	"M011":   bank.CodeBankError,          // PAReq could not be prepared
	"M012":   bank.CodeInvalidAmount,      // purchase amount missing or wrong length
	"M013":   bank.CodeMerchantConfig,     // member (MbrId) code missing
	"M014":   bank.CodeMerchantConfig,     // unknown SecureType
	"M015":   bank.CodeInvalidTransaction, // unknown TxnType
	"M016":   bank.CodeMerchantConfig,     // UserCode missing
	"M017":   bank.CodeMerchantConfig,     // UserPass missing
	"M018":   bank.CodeInvalidCVV,         // wrong CVV2
	"M019":   bank.CodeInvalidAmount,      // amount outside 0.01–200,000
	"M020":   bank.CodeInstallments,       // no installments with full points
	"M021":   bank.CodeMerchantConfig,     // SecureType not valid for the TxnType
	"M022":   bank.CodeInvalidTransaction, // order id required for this TxnType
	"M023":   bank.CodeInvalidTransaction, // order id not allowed for this TxnType
	"M024":   bank.CodeMerchantConfig,     // merchant number missing
	"M025":   bank.CodeInvalidTransaction, // a field has the wrong length (e.g. MOTO missing)
	"M026":   bank.CodeMerchantConfig,     // wrong SecureType for this TxnType
	"M027":   bank.CodeNotFound,           // record not found
	"M028":   bank.CodeInvalidTransaction, // order id required
	"M030":   bank.CodeMerchantConfig,     // hash mismatch: merchant password or form values
	"M038":   bank.CodeMerchantConfig,     // OkUrl longer than 200 characters
	"M041":   bank.CodeInvalidCard,        // invalid card number
	"M042":   bank.CodeBankError,          // plugin not found
	"M043":   bank.CodeInvalidTransaction, // empty request
	"M044":   bank.CodeBankError,          // error posting to the MPI
	"M045":   bank.CodeInvalidAmount,      // above the maximum amount
	"M046":   bank.CodeBankError,          // report request failed
	"M047":   bank.CodeMerchantConfig,     // IP restriction: the relay's address is not registered
	"M048":   bank.CodeInvalidTransaction, // wrong value (e.g. Lang, MOTO)
	"M049":   bank.CodeMerchantConfig,     // authentication failed (credentials)
	"M050":   bank.CodeInvalidTransaction, // currency exponent mismatch
	"M051":   bank.CodeBankError,          // MD lacks the merchant
	"P001":   bank.CodeDuplicateOrder,     // record already defined
	"P002":   bank.CodeNotFound,           // record not found
	"V000":   bank.CodeUnknown,            // not completed / in progress: only the status query can tell
	"V001":   bank.CodeMerchantConfig,     // merchant lookup failed
	"V002":   bank.CodeBankError,          // cannot reach the directory server
	"V003":   bank.CodeBankError,          // system closed
	"V004":   bank.CodeMerchantConfig,     // user not authenticated
	"V005":   bank.CodeCardNotSupported,   // unknown card type
	"V006":   bank.CodeMerchantConfig,     // user not allowed this TxnType
	"V007":   bank.CodeMerchantConfig,     // terminal not active
	"V008":   bank.CodeMerchantConfig,     // merchant not found
	"V009":   bank.CodeMerchantConfig,     // merchant not active
	"V010":   bank.CodeMerchantConfig,     // terminal not authorised for this TxnType
	"V011":   bank.CodeMerchantConfig,     // TxnType not allowed for this terminal
	"V012":   bank.CodeBankError,          // PAReq error
	"V013":   bank.CodeNotFound,           // the transaction was not found
	"V014":   bank.CodeVoidInstead,        // refund before end of day: void the sale instead
	"V015":   bank.CodeRefundExceeds,      // refund above the original amount
	"V016":   bank.CodeInvalidTransaction, // not a pre-authorisation
	"V017":   bank.CodeAlreadyVoided,      // already cancelled
	"V018":   bank.CodeRefundInstead,      // cannot be cancelled (settled): refund instead
	"V019":   bank.CodeInvalidTransaction, // partial cancel not allowed
	"V020":   bank.CodeInvalidTransaction, // transaction not completed yet
	"V021":   bank.CodeInvalidTransaction, // original transaction missing
	"V022":   bank.CodeInvalidTransaction, // original provision number not allowed here
	"V023":   bank.CodeInstallments,       // installment count required
	"V024":   bank.CodeInstallments,       // no installments for this TxnType
	"V025":   bank.CodeInvalidTransaction, // provision already closed (captured)
	"V026":   bank.CodeExpired,            // provision expired
	"V027":   bank.CodeInvalidAmount,      // capture outside ±15 % of the original
	"V028":   bank.CodeInvalidTransaction, // unknown transaction kind
	"V029":   bank.CodeDuplicateOrder,     // OrderId must be unique
	"V030":   bank.CodeInvalidTransaction, // currency not found
	"V031":   bank.CodeInvalidAmount,      // refund amount missing
	"V032":   bank.CodeBankError,          // batch not found
	"V033":   bank.CodeMerchantConfig,     // 3-D authenticated, nothing paid: final only when the bank's model is 3DModel and ours is not
	"V034":   bank.Code3DSFailed,          // 3-D authentication failed
	"V035":   bank.CodeMerchantConfig,     // user not authorised
	"V036":   bank.CodeBankError,          // system error (also: server IP not defined, OrderId mismatch)
	"V037":   bank.CodeAlreadyRefunded,    // already refunded
	"V038":   bank.CodeMerchantConfig,     // not authorised for this TxnType
	"V040":   bank.CodeInvalidTransaction, // recurring: repeat count
	"V041":   bank.CodeInvalidTransaction, // recurring: interval type
	"V042":   bank.CodeInvalidTransaction, // recurring: interval
	"V043":   bank.CodeInvalidTransaction, // recurring: customer code
	"V044":   bank.CodeDeclined,           // payment failed
	"V045":   bank.CodeMerchantConfig,     // sub-merchant parameters missing
	"V046":   bank.CodeInvalidTransaction, // commercial card parameters unreadable
	"V047":   bank.CodeInvalidTransaction, // commercial card: points used cannot be 0
	"V048":   bank.CodeInstallments,       // commercial card installment rules (V048–V060)
	"V049":   bank.CodeInstallments,
	"V050":   bank.CodeInstallments,
	"V051":   bank.CodeInstallments,
	"V052":   bank.CodeInstallments,
	"V053":   bank.CodeInstallments,
	"V054":   bank.CodeInstallments,
	"V055":   bank.CodeInstallments,
	"V056":   bank.CodeInstallments,
	"V057":   bank.CodeInstallments,
	"V058":   bank.CodeInstallments,
	"V059":   bank.CodeInstallments,
	"V060":   bank.CodeInstallments,
	"V9196":  bank.CodeBankError,      // connection error
	"V9199":  bank.CodeBankError,      // error in the connection to the bank
	"101310": bank.CodeDuplicateOrder, // the order id was used before (PF-F7)
}

// isoExtra are the ISO 8583 codes of Appendix B.1 that bank.ISOCode does
// not know (08 and 11, approvals elsewhere, are not at PayFor: §2.7).
var isoExtra = map[string]string{
	"08": bank.CodeCallBank,       // "Kimlik Sorgula": check identity
	"11": bank.CodeCallBank,       // approved (VIP) elsewhere; not 00, so not approved here
	"16": bank.CodeDeclined,       // minimum payment not made regularly
	"22": bank.CodeRestrictedCard, // PIN tries exceeded
	"38": bank.CodeRestrictedCard, // PIN tries exceeded
	"55": bank.CodeDeclined,       // wrong PIN
	"75": bank.CodeRestrictedCard, // PIN tries exceeded
	"79": bank.CodeDeclined,       // ARQC error
	"81": bank.CodeBankError,      // device version mismatch
	"95": bank.CodeTryAgain,       // POS end-of-day error
}

// openCodes leave a payment or operation open: the bank may have acted,
// only the status query can tell.
var openCodes = map[string]bool{"V000": true, "V9196": true, "V9199": true}

// lookup maps a ProcReturnCode to a normalised code; ok is false for codes
// it does not know.
func lookup(code string) (string, bool) {
	if c, ok := codes[code]; ok {
		return c, true
	}
	if c, ok := isoExtra[code]; ok {
		return c, true
	}
	if n, ok := strings.CutPrefix(code, "MR"); ok && n != "" && strings.Trim(n, "0123456789") == "" {
		return bank.Code3DSFailed, true // the MPI's own codes (MR15: "3D Secure Authorize Error")
	}
	return bank.ISOCode(code)
}

// procResult maps a ProcReturnCode that is not a success. threeDFailed says
// the 3-D step failed: then a missing or unspecific code reads as a 3-D
// failure. irc is the IrcCode detail (MR15, 99961), kept in BankCode.
func procResult(prc, msg, irc string, threeDFailed bool) bank.Result {
	bankCode := prc
	if irc != "" && irc != prc {
		bankCode = prc + "/" + irc
	}
	code, ok := lookup(prc)
	switch {
	case prc == "00":
		code = bank.CodeApproved
	case threeDFailed && (!ok || code == bank.CodeDeclined):
		code = bank.Code3DSFailed
	case !ok:
		code = bank.CodeDeclined
	}
	return bank.NewResult(code, bankCode, msg)
}

// closing is the status and result of a final answer that is not "00":
// Failed with the mapped result, or Unknown for the codes that leave the
// outcome open.
func closing(prc, msg, irc string, threeDFailed bool) (bank.Status, bank.Result) {
	res := procResult(prc, msg, irc, threeDFailed)
	if openCodes[prc] {
		return bank.Unknown, bank.NewResult(bank.CodeUnknown, res.BankCode, msg)
	}
	return bank.Failed, res
}
