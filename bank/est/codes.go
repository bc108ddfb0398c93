package est

import (
	"strings"

	"github.com/posrelay/posrelay/bank"
)

// payten maps Payten's own error codes (Extra/ERRORCODE, callback
// ErrorCode) to normalised codes (§1.8).
var payten = map[string]string{
	"CORE-2012": bank.CodeInvalidCard,    // card number format
	"CORE-2603": bank.CodeInstallments,   // installment table
	"CORE-2008": bank.CodeRefundInstead,  // no sale eligible for cancel: settled (or already cancelled)
	"CORE-2508": bank.CodeVoidInstead,    // refund before end of day
	"HPP-1001":  bank.CodeInvalidCard,    // hosted page: card number format
	"3D-1007":   bank.CodeMerchantConfig, // store type not allowed for the merchant
	"215001":    bank.CodeInvalidAmount,  // "Net Tutar 0."
	"215021":    bank.CodeInvalidAmount,  //
	"CORE-2001": bank.CodeMerchantConfig, // API user / password
}

// errorCodeResult maps a Payten error code; ok is false if unknown.
// ISO8583-00 (approval) explains no error.
func errorCodeResult(code string) (string, bool) {
	if c, ok := payten[code]; ok {
		return c, true
	}
	if iso, ok := strings.CutPrefix(code, "ISO8583-"); ok {
		if c, ok := bank.ISOCode(iso); ok && c != bank.CodeApproved {
			return c, true
		}
	}
	return "", false
}

// procResult maps a ProcReturnCode (with the ERRORCODE detail for 99).
// Only 00 is an approval (§1.8): ISO 8583's 08 and 11 are declines here.
func procResult(prc, msg, errCode string) bank.Result {
	if prc == "00" {
		return bank.NewResult(bank.CodeApproved, prc, msg)
	}
	bankCode := prc
	switch {
	case prc == "":
		bankCode = errCode // EST-F21: no ProcReturnCode, only ERRORCODE
	case errCode != "":
		bankCode = prc + "/" + errCode
	}
	if c, ok := errorCodeResult(errCode); ok {
		return bank.NewResult(c, bankCode, msg)
	}
	if prc == "99" || prc == "" {
		return bank.NewResult(bank.CodeBankError, bankCode, msg)
	}
	if c, ok := bank.ISOCode(prc); ok { // prc is not 00 here
		return bank.NewResult(c, bankCode, msg)
	}
	return bank.NewResult(bank.CodeDeclined, bankCode, msg)
}

// mdStatusResult explains a failed or partial 3-D authentication (§1.6).
func mdStatusResult(md string, f map[string]string) bank.Result {
	msg := f["mdErrorMsg"]
	if msg == "" {
		msg = f["ErrMsg"]
	}
	if c, ok := errorCodeResult(f["ErrCode"]); ok {
		return bank.NewResult(c, "mdStatus "+md+"/"+f["ErrCode"], msg)
	}
	code := bank.Code3DSFailed
	switch md {
	case "2", "3":
		code = bank.Code3DSNotEnrolled
	case "4":
		code = bank.Code3DSHalfSecure
	case "7":
		code = bank.CodeBankError
	}
	return bank.NewResult(code, "mdStatus "+md, msg)
}

// gatewayErrorResult maps an error the gate answered before 3-D (EST-F4).
func gatewayErrorResult(code, msg string) bank.Result {
	if c, ok := errorCodeResult(code); ok {
		return bank.NewResult(c, code, msg)
	}
	return bank.NewResult(bank.CodeMerchantConfig, code, msg)
}
