package cli

import "github.com/posrelay/posrelay/store"

// hidden stands in for a value operator output must not show.
const hidden = "[hidden]"

// redactPayment returns a copy of p fit for operator output (payments list
// and show, text or JSON). The pay and callback tokens open the shopper's
// pages, and the BankState values are the bank step's own credentials (a
// bank payment-page token, a request id, the nonce a callback hash is
// checked against), so they are replaced by "[hidden]"; BankState keeps its
// keys to show what the adapter kept. p itself is not changed.
func redactPayment(p *store.Payment) *store.Payment {
	c := *p
	c.PayToken, c.CallbackToken = hidden, hidden
	c.BankState = redactState(p.BankState)
	return &c
}

// redactPayments is redactPayment for a listing.
func redactPayments(ps []*store.Payment) []*store.Payment {
	out := make([]*store.Payment, len(ps))
	for i, p := range ps {
		out[i] = redactPayment(p)
	}
	return out
}

// redactOperations returns copies of ops with their BankState values
// hidden, as redactPayment does for a payment.
func redactOperations(ops []*store.Operation) []*store.Operation {
	out := make([]*store.Operation, len(ops))
	for i, op := range ops {
		c := *op
		c.BankState = redactState(op.BankState)
		out[i] = &c
	}
	return out
}

// redactState returns a copy of a BankState map with every value hidden.
func redactState(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k := range m {
		out[k] = hidden
	}
	return out
}
