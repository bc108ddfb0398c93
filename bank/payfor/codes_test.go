package payfor

import (
	"strings"
	"testing"

	"github.com/posrelay/posrelay/bank"
)

// TestCodeTable loads Appendix B.1 from testdata: every code maps to a
// known normalised code with Turkish and English messages and, unless it
// is 00, a Wix reason code.
func TestCodeTable(t *testing.T) {
	rows := 0
	for line := range strings.SplitSeq(string(readTestdata(t, "codes_b1.md")), "\n") {
		cols := strings.Split(line, "|")
		if len(cols) < 4 || strings.TrimSpace(cols[1]) == "Code" || strings.HasPrefix(strings.TrimSpace(cols[1]), "---") {
			continue
		}
		code, text := strings.TrimSpace(cols[1]), strings.TrimSpace(cols[2])
		rows++
		t.Run(code, func(t *testing.T) {
			norm, ok := lookup(code)
			if !ok || !bank.KnownCode(norm) {
				t.Fatalf("code %s (%s) maps to %q (known %v)", code, text, norm, ok)
			}
			res := procResult(code, text, "", false)
			// The bank's text is kept scrubbed (bank.ScrubText: M025 echoes
			// the value it refused).
			if res.Code != norm || res.BankCode != code || res.BankMessage != bank.ScrubText(text) || res.Message.TR == "" || res.Message.EN == "" {
				t.Errorf("result %+v", res)
			}
			if (code == "00") != (res.ReasonCode == 0) {
				t.Errorf("%s: reason code %d", code, res.ReasonCode)
			}
		})
	}
	if rows < 150 {
		t.Fatalf("read %d rows of Appendix B.1; the table has more", rows)
	}
}

// TestCodeMapping pins the mappings the relay's decisions depend on.
func TestCodeMapping(t *testing.T) {
	tests := []struct{ code, want string }{
		{"00", bank.CodeApproved},
		{"08", bank.CodeCallBank}, // only 00 is approved at PayFor
		{"51", bank.CodeInsufficientFunds},
		{"54", bank.CodeExpiredCard},
		{"14", bank.CodeInvalidCard},
		{"05", bank.CodeDeclined},
		{"34", bank.CodeFraud},
		{"95", bank.CodeTryAgain},
		{"M041", bank.CodeInvalidCard},
		{"M047", bank.CodeMerchantConfig},
		{"M030", bank.CodeMerchantConfig},
		{"M049", bank.CodeMerchantConfig},
		{"V004", bank.CodeMerchantConfig},
		{"V013", bank.CodeNotFound},
		{"V014", bank.CodeVoidInstead},
		{"V015", bank.CodeRefundExceeds},
		{"V017", bank.CodeAlreadyVoided},
		{"V018", bank.CodeRefundInstead},
		{"V037", bank.CodeAlreadyRefunded},
		{"V034", bank.Code3DSFailed},
		{"MR15", bank.Code3DSFailed},
		{"MR01", bank.Code3DSFailed},
		{"101310", bank.CodeDuplicateOrder},
		{"V000", bank.CodeUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.code, func(t *testing.T) {
			if got, ok := lookup(tc.code); !ok || got != tc.want {
				t.Errorf("lookup(%s) = %s, %v; want %s", tc.code, got, ok, tc.want)
			}
		})
	}
	for _, c := range []string{"", "MR", "MRx1", "M999", "X", "999"} {
		if got, ok := lookup(c); ok {
			t.Errorf("lookup(%q) = %s; want unknown", c, got)
		}
	}
	if st, res := closing("V9199", "Banka bağlantısında hata oluştu.", "", false); st != bank.Unknown || res.Code != bank.CodeUnknown || res.BankCode != "V9199" {
		t.Errorf("V9199 closes as %s %+v; want unknown", st, res)
	}
	if res := procResult("V034", "", "MR15", true); res.BankCode != "V034/MR15" {
		t.Errorf("bank code %q", res.BankCode)
	}
}
