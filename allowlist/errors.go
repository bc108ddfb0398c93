package allowlist

import (
	"errors"
	"fmt"
)

// ErrDenied is wrapped by every refusal of this package: a host that is not
// on the list, a URL that fails CheckURL, an address class the dialer does
// not connect to. Test for it with errors.Is; errors.As with *DeniedError
// gives the details.
var ErrDenied = errors.New("allowlist: denied")

// DeniedError is a refusal. Its text names what was refused and why and
// says how to allow it; it never contains a full URL (bank URLs can carry
// payment tokens), only the host and port.
type DeniedError struct {
	// Target is what was refused: host:port, or an address.
	Target string
	// Reason says why, e.g. "not on the allowlist" or
	// "127.0.0.1 is loopback (127.0.0.0/8)".
	Reason string
	// Fix says how to allow it, e.g. "add 127.0.0.0/8 to egress.allow_ranges".
	Fix string
}

func (e *DeniedError) Error() string {
	msg := fmt.Sprintf("allowlist: refused %s: %s", e.Target, e.Reason)
	if e.Fix != "" {
		msg += "; " + e.Fix
	}
	return msg
}

// Unwrap makes errors.Is(err, ErrDenied) true.
func (e *DeniedError) Unwrap() error { return ErrDenied }

// allowRangesKey is the configuration key that lists the address ranges the
// dialer may reach although they are normally refused.
const allowRangesKey = "egress.allow_ranges"
