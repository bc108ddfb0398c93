// Package banksim simulates the three banks the relay talks to — Halkbank
// (Payten EST v3), QNB Finansbank (PayFor) and VakıfBank (GET 7/24 MPI +
// VPOS, Common Payment) — as the protocol document describes them. The
// simulators check the relay's hashes and fields the way the banks do, sign
// their callbacks the way the banks do, and decide outcomes by test card.
// They are for tests and the demo only.
package banksim

import "strings"

// Outcome is what a test card makes the simulated bank do.
type Outcome string

const (
	Approve           Outcome = "approve"
	InsufficientFunds Outcome = "insufficient_funds" // ISO 51
	ExpiredCard       Outcome = "expired_card"       // ISO 54
	InvalidCard       Outcome = "invalid_card"       // ISO 14
	ThreeDSFail       Outcome = "3ds_fail"           // 3-D authentication fails (mdStatus 0, 3DStatus -1, Status N)
	NotEnrolled       Outcome = "not_enrolled"       // card not enrolled in 3-D Secure
	HalfSecure        Outcome = "half_secure"        // attempt / half-secure authentication
	Timeout           Outcome = "timeout"            // the bank's authorisation never answers in time
	Malformed         Outcome = "malformed"          // the bank answers with something unreadable
)

// TestCard is a card number the simulators know.
type TestCard struct {
	PAN     string
	Brand   string
	Outcome Outcome
	Note    string
}

// TestCards lists the simulator cards. Any future expiry and any three-digit
// CVV are accepted; the 3-D Secure challenge code is 123456 (any other code
// fails authentication).
var TestCards = []TestCard{
	{"4355084355084358", "visa", Approve, "approved"},
	{"5400000000000005", "mastercard", Approve, "approved"},
	{"9792000000000003", "troy", Approve, "approved"},
	{"4000000000000515", "visa", InsufficientFunds, "declined: insufficient funds (51)"},
	{"4000000000000549", "visa", ExpiredCard, "declined: expired card (54)"},
	{"4000000000000143", "visa", InvalidCard, "declined: invalid card (14)"},
	{"4000000000003006", "visa", ThreeDSFail, "3-D Secure authentication fails"},
	{"4000000000003105", "visa", NotEnrolled, "not enrolled in 3-D Secure"},
	{"4000000000003204", "visa", HalfSecure, "half-secure (attempt) authentication"},
	{"4000000000009904", "visa", Timeout, "bank does not answer in time"},
	{"4000000000009805", "visa", Malformed, "bank answers with a malformed message"},
}

// ChallengeCode is the one-time code the simulated ACS accepts.
const ChallengeCode = "123456"

// CardOutcome returns what the simulators do for a card number. Unknown
// Luhn-valid cards are approved; anything else is an invalid card.
func CardOutcome(pan string) Outcome {
	pan = strings.ReplaceAll(pan, " ", "")
	for _, c := range TestCards {
		if c.PAN == pan {
			return c.Outcome
		}
	}
	if luhn(pan) {
		return Approve
	}
	return InvalidCard
}

func luhn(digits string) bool {
	if len(digits) < 12 || len(digits) > 19 {
		return false
	}
	sum, double := 0, false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if d < 0 || d > 9 {
			return false
		}
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// DeclineCode is the ISO 8583 answer to a declined card: 51 insufficient
// funds, 54 expired card, else 14 invalid card.
func DeclineCode(o Outcome) string {
	switch o {
	case InsufficientFunds:
		return "51"
	case ExpiredCard:
		return "54"
	}
	return "14"
}
