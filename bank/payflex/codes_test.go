package payflex

import (
	"strings"
	"testing"

	"github.com/posrelay/posrelay/bank"
)

// b2Rows reads the whole table of Appendix B.2 (testdata/b2_codes.md, a
// verbatim copy): code and meaning of every row.
func b2Rows(t *testing.T) [][2]string {
	t.Helper()
	var rows [][2]string
	for _, line := range strings.Split(string(readTestdata(t, "b2_codes.md")), "\n") {
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| Code") {
			continue
		}
		cols := strings.Split(strings.Trim(line, "| "), "|")
		if len(cols) != 2 {
			t.Fatalf("row %q", line)
		}
		rows = append(rows, [2]string{strings.TrimSpace(cols[0]), strings.TrimSpace(cols[1])})
	}
	return rows
}

// TestCodeTableCoversAppendixB2: every row of the bank's table maps to a
// normalised code with its Wix reason code and customer messages, and the
// mapping holds nothing the document does not list.
func TestCodeTableCoversAppendixB2(t *testing.T) {
	rows := b2Rows(t)
	if len(rows) < 280 {
		t.Fatalf("read %d rows from the table; the whole table has 290", len(rows))
	}
	listed := map[string]bool{}
	for _, r := range rows {
		code, meaning := r[0], r[1]
		listed[code] = true
		row, ok := codeTable[code]
		if !ok {
			t.Errorf("%s (%s) has no mapping in codes.tsv", code, meaning)
			continue
		}
		if row.meaning != meaning {
			t.Errorf("%s: codes.tsv says %q, the table %q", code, row.meaning, meaning)
		}
		res := Result(code, "")
		if res.Code != row.code || res.BankCode != code || res.BankMessage != meaning {
			t.Errorf("Result(%s) = %+v", code, res)
		}
		if res.Message.TR == "" || res.Message.EN == "" || (res.ReasonCode == 0) != (code == "0000") {
			t.Errorf("%s → %s has reason %d, messages %+v", code, res.Code, res.ReasonCode, res.Message)
		}
	}
	// The four codes B.2 names as seen elsewhere.
	for _, c := range []string{"2005", "2053", "5007", "5029"} {
		if _, ok := codeTable[c]; !ok {
			t.Errorf("%s is missing", c)
		}
		listed[c] = true
	}
	for c := range codeTable {
		if !listed[c] {
			t.Errorf("codes.tsv maps %s, which the document does not list", c)
		}
	}
}

func TestResult(t *testing.T) {
	tests := []struct {
		name, code, msg string
		want            string
		wantMsg         string
	}{
		{"approved", "0000", "İŞLEM BAŞARILI", bank.CodeApproved, "İŞLEM BAŞARILI"},
		{"insufficient funds", "0051", "", bank.CodeInsufficientFunds, "Bakiyesi-Kredi Limiti Yetersiz"},
		{"the MPI's Default text is looked up", "2005", "Default", bank.CodeMerchantConfig, "Merchant cannot be found for this bank"},
		{"bank text wins", "1105", "Üye isyeri IP si sistemde tanimli degil", bank.CodeMerchantConfig, "Üye isyeri IP si sistemde tanimli degil"},
		{"unlisted 00xx read as ISO", "0076", "", bank.CodeDeclined, ""},
		{"unlisted ISO 94", "0094", "x", bank.CodeDuplicateOrder, "x"},
		{"unlisted 00 approval is not an approval", "0011", "", bank.CodeTryAgain, "Tekrar Deneyiniz"},
		{"unknown code", "8888", "?", bank.CodeDeclined, "?"},
		{"cancel after end of day", "2202", "", bank.CodeRefundInstead, "Islem İptal Edilemez. ( Batch Kapali )"},
		{"refund before end of day", "1074", "", bank.CodeVoidInstead, "Islem Henüz Sonlanmamis Yada Referans İslem Henüz Tamamlanmamis."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Result(tc.code, tc.msg)
			if r.Code != tc.want || r.BankMessage != tc.wantMsg || r.BankCode != tc.code {
				t.Fatalf("Result(%q, %q) = %+v; want %s %q", tc.code, tc.msg, r, tc.want, tc.wantMsg)
			}
		})
	}
}

func TestParseCodesRefusesBadRows(t *testing.T) {
	for _, tsv := range []string{"0000\tapproved", "0000\tnot_a_code\tx", "00000\tapproved\tx", "0000\tapproved\ta\n0000\tapproved\tb"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("parseCodes(%q) accepted it", tsv)
				}
			}()
			parseCodes(tsv)
		}()
	}
}
