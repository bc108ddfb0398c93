package payflex

import (
	_ "embed"
	"fmt"
	"strings"

	"github.com/posrelay/posrelay/bank"
)

// codesTSV maps every VakıfBank ResultCode / ErrorCode / Rc of the
// protocol document's Appendix B.2 to a normalised code, with the bank's
// meaning. The same codes come from the MPI (MessageErrorCode, the
// callback's ErrorCode), the VPOS (ResultCode), Search and Common Payment
// (Rc, ErrorCode).
//
//go:embed codes.tsv
var codesTSV string

type codeRow struct{ code, meaning string }

// codeTable is codesTSV by bank code.
var codeTable = parseCodes(codesTSV)

func parseCodes(tsv string) map[string]codeRow {
	m := map[string]codeRow{}
	for i, line := range strings.Split(tsv, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 3 || len(cols[0]) != 4 || !bank.KnownCode(cols[1]) {
			panic(fmt.Sprintf("payflex: codes.tsv line %d: want code, normalised code, meaning: %q", i+1, line))
		}
		if _, dup := m[cols[0]]; dup {
			panic(fmt.Sprintf("payflex: codes.tsv line %d: code %s listed twice", i+1, cols[0]))
		}
		m[cols[0]] = codeRow{code: cols[1], meaning: cols[2]}
	}
	return m
}

// Result maps a VakıfBank code with the bank's text to the relay's result:
// "0000" is approved; a code of Appendix B.2 gets its normalised code; an
// unlisted "00xx" is read as the ISO 8583 code xx; anything else is a
// decline. An empty text, or the MPI's "Default" ("look up the code"), is
// replaced by the table's meaning.
func Result(code, msg string) bank.Result {
	row, ok := codeTable[code]
	if msg == "" || msg == "Default" {
		msg = row.meaning
	}
	switch {
	case ok:
		return bank.NewResult(row.code, code, msg)
	case len(code) == 4 && strings.HasPrefix(code, "00"):
		if c, ok := bank.ISOCode(code[2:]); ok && c != bank.CodeApproved {
			return bank.NewResult(c, code, msg)
		}
	}
	return bank.NewResult(bank.CodeDeclined, code, msg)
}
