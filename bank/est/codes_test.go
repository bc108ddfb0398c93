package est

import (
	"fmt"
	"testing"

	"github.com/posrelay/posrelay/bank"
)

// checkResult: a known normalised code, a Wix reason code unless approved,
// and approved only when allowed.
func checkResult(t *testing.T, what string, r bank.Result, approvedOK bool) {
	t.Helper()
	if !bank.KnownCode(r.Code) {
		t.Errorf("%s: unknown code %q", what, r.Code)
	}
	if r.Code == bank.CodeApproved {
		if !approvedOK {
			t.Errorf("%s: approved", what)
		}
		if r.ReasonCode != 0 {
			t.Errorf("%s: approved with reason %d", what, r.ReasonCode)
		}
		return
	}
	if r.ReasonCode == 0 {
		t.Errorf("%s: %s without a reason code", what, r.Code)
	}
	if r.Message.TR == "" || r.Message.EN == "" {
		t.Errorf("%s: %s without customer messages", what, r.Code)
	}
}

// allProcCodes are every two-character ProcReturnCode the adapter could
// meet: all ISO 8583 numeric codes, N7, 99, the empty code and junk.
func allProcCodes() []string {
	out := []string{"", "N7", "XX", "0", "000", "-1"}
	for i := range 100 {
		out = append(out, fmt.Sprintf("%02d", i))
	}
	return out
}

func TestProcResult(t *testing.T) {
	for _, prc := range allProcCodes() {
		for _, detail := range []string{"", "CORE-9999", "ISO8583-" + prc} {
			r := procResult(prc, "msg", detail)
			checkResult(t, fmt.Sprintf("procResult(%q, %q)", prc, detail), r, prc == "00")
			if prc == "00" && r.Code != bank.CodeApproved {
				t.Errorf("00 is %s", r.Code)
			}
			if r.BankMessage != "msg" {
				t.Errorf("BankMessage %q", r.BankMessage)
			}
			if r.BankCode == "" && (prc != "" || detail != "") {
				t.Errorf("procResult(%q, %q): no BankCode", prc, detail)
			}
		}
	}
	for code := range payten {
		checkResult(t, "procResult(99, "+code+")", procResult("99", "", code), false)
		checkResult(t, "procResult(\"\", "+code+")", procResult("", "", code), false)
	}
	cases := []struct{ prc, detail, code, bankCode string }{
		{"00", "", bank.CodeApproved, "00"},
		{"01", "", bank.CodeCallBank, "01"},
		{"05", "", bank.CodeDeclined, "05"},
		{"08", "", bank.CodeDeclined, "08"}, // ISO "honour with identification": EST succeeds only on 00
		{"11", "", bank.CodeDeclined, "11"},
		{"09", "", bank.CodeTryAgain, "09"},
		{"12", "", bank.CodeInvalidTransaction, "12"},
		{"28", "", bank.CodeDeclined, "28"},
		{"51", "", bank.CodeInsufficientFunds, "51"},
		{"54", "", bank.CodeExpiredCard, "54"},
		{"57", "", bank.CodeNotPermitted, "57"},
		{"62", "", bank.CodeRestrictedCard, "62"},
		{"77", "", bank.CodeDeclined, "77"},
		{"82", "ISO8583-82", bank.CodeInvalidCVV, "82/ISO8583-82"},
		{"99", "", bank.CodeBankError, "99"},
		{"99", "CORE-2012", bank.CodeInvalidCard, "99/CORE-2012"},
		{"99", "CORE-2603", bank.CodeInstallments, "99/CORE-2603"},
		{"99", "CORE-2008", bank.CodeRefundInstead, "99/CORE-2008"},
		{"99", "CORE-2508", bank.CodeVoidInstead, "99/CORE-2508"},
		{"99", "CORE-2001", bank.CodeMerchantConfig, "99/CORE-2001"},
		{"99", "CORE-4242", bank.CodeBankError, "99/CORE-4242"},
		{"05", "ISO8583-00", bank.CodeDeclined, "05/ISO8583-00"},
		{"", "215021", bank.CodeInvalidAmount, "215021"},
		{"", "215001", bank.CodeInvalidAmount, "215001"},
		{"", "", bank.CodeBankError, ""},
		{"Q1", "", bank.CodeDeclined, "Q1"},
	}
	for _, tc := range cases {
		t.Run("ProcReturnCode "+tc.prc+" detail "+tc.detail, func(t *testing.T) {
			r := procResult(tc.prc, "", tc.detail)
			if r.Code != tc.code || r.BankCode != tc.bankCode {
				t.Errorf("procResult(%q, %q) = %s %q, want %s %q", tc.prc, tc.detail, r.Code, r.BankCode, tc.code, tc.bankCode)
			}
		})
	}
}

func TestMDStatusResult(t *testing.T) {
	for _, md := range []string{"", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "x"} {
		for _, errCode := range []string{"", "3D-1007", "HPP-1001", "ISO8583-00", "ISO8583-51", "nope"} {
			r := mdStatusResult(md, map[string]string{"ErrCode": errCode, "mdErrorMsg": "m"})
			checkResult(t, fmt.Sprintf("mdStatusResult(%q, %q)", md, errCode), r, false)
			if r.BankMessage != "m" {
				t.Errorf("BankMessage %q", r.BankMessage)
			}
		}
	}
	cases := []struct{ md, errCode, code, bankCode string }{
		{"0", "", bank.Code3DSFailed, "mdStatus 0"},
		{"2", "", bank.Code3DSNotEnrolled, "mdStatus 2"},
		{"3", "", bank.Code3DSNotEnrolled, "mdStatus 3"},
		{"4", "", bank.Code3DSHalfSecure, "mdStatus 4"},
		{"5", "", bank.Code3DSFailed, "mdStatus 5"},
		{"6", "", bank.Code3DSFailed, "mdStatus 6"},
		{"7", "", bank.CodeBankError, "mdStatus 7"},
		{"8", "", bank.Code3DSFailed, "mdStatus 8"},
		{"7", "3D-1007", bank.CodeMerchantConfig, "mdStatus 7/3D-1007"},
		{"0", "ISO8583-00", bank.Code3DSFailed, "mdStatus 0"},
	}
	for _, tc := range cases {
		t.Run("mdStatus "+tc.md+" ErrCode "+tc.errCode, func(t *testing.T) {
			r := mdStatusResult(tc.md, map[string]string{"ErrCode": tc.errCode})
			if r.Code != tc.code || r.BankCode != tc.bankCode {
				t.Errorf("mdStatusResult(%q, %q) = %s %q, want %s %q", tc.md, tc.errCode, r.Code, r.BankCode, tc.code, tc.bankCode)
			}
		})
	}
	if r := mdStatusResult("0", map[string]string{"ErrMsg": "e"}); r.BankMessage != "e" {
		t.Errorf("ErrMsg fallback: %q", r.BankMessage)
	}
}

func TestGatewayErrorResult(t *testing.T) {
	codes := []string{"", "HPP-1001", "HPP-9999", "3D-1007", "CORE-2001", "ISO8583-00", "ISO8583-08", "ISO8583-51", "ISO8583-XX", "00"}
	for code := range payten {
		codes = append(codes, code)
	}
	for _, code := range codes {
		r := gatewayErrorResult(code, "m")
		checkResult(t, "gatewayErrorResult("+code+")", r, false)
		if r.BankCode != code || r.BankMessage != "m" {
			t.Errorf("gatewayErrorResult(%q): %q %q", code, r.BankCode, r.BankMessage)
		}
	}
	for code, want := range map[string]string{"HPP-1001": bank.CodeInvalidCard, "HPP-9999": bank.CodeMerchantConfig, "ISO8583-51": bank.CodeInsufficientFunds} {
		if r := gatewayErrorResult(code, ""); r.Code != want {
			t.Errorf("gatewayErrorResult(%q) = %s, want %s", code, r.Code, want)
		}
	}
}

// Every Payten code the adapter knows maps to a normalised code that is
// not approved.
func TestPaytenCodes(t *testing.T) {
	for code := range payten {
		c, ok := errorCodeResult(code)
		if !ok || !bank.KnownCode(c) || c == bank.CodeApproved {
			t.Errorf("%s → %q %v", code, c, ok)
		}
	}
	for _, code := range []string{"ISO8583-00", "ISO8583-08", "ISO8583-11"} {
		if c, ok := errorCodeResult(code); ok {
			t.Errorf("%s is an error code mapping to %s", code, c)
		}
	}
	if c, ok := errorCodeResult("ISO8583-82"); !ok || c != bank.CodeInvalidCVV {
		t.Errorf("ISO8583-82 → %q %v", c, ok)
	}
}
