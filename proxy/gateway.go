package proxy

import (
	"context"

	"github.com/posrelay/posrelay/bank"
)

// gateway is what the relay needs from a bank platform adapter for one
// merchant account. Adapters live in bank/est, bank/payfor, bank/payflex
// and bank/vakifcp; gateways.go builds them from the configuration.
type gateway interface {
	// Start begins the bank step when the shopper opens /pay/<token>. It
	// returns CardForm when the relay's own page must collect the card.
	Start(ctx context.Context, p *bank.Payment) (*bank.Step, error)
	// SubmitCard continues with card data from the relay's page. The card
	// is wiped by the caller as soon as SubmitCard returns.
	SubmitCard(ctx context.Context, p *bank.Payment, c *bank.Card) (*bank.Step, error)
	// Verify checks a callback without I/O: the bank's hash where the bank
	// signs, and that it belongs to this payment's attempt.
	Verify(p *bank.Payment, cb *bank.Callback) (*bank.Verified, error)
	// Finish completes a verified callback that has no final outcome yet
	// (provisioning after 3-D, or a result query).
	Finish(ctx context.Context, p *bank.Payment, v *bank.Verified) (*bank.Outcome, error)
	// Status asks the bank's status API about the payment.
	Status(ctx context.Context, p *bank.Payment) (*bank.StatusResult, error)
	// Operate sends a refund, void or capture.
	Operate(ctx context.Context, p *bank.Payment, op *bank.Operation) (*bank.OpResult, error)
	// FormOrigins lists the origins the shopper's browser may post bank
	// forms to, for the page's Content-Security-Policy.
	FormOrigins() []string
}
