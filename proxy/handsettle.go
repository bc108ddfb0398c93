package proxy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/posrelay/posrelay/bank"
	"github.com/posrelay/posrelay/store"
)

// maxSettleNote bounds an operator's note on a settlement.
const maxSettleNote = 300

// OpenOperations lists the refunds, voids and captures the bank has not
// answered for, pending or unknown, oldest first: the operations an
// operator may settle by hand once the bank has told them the outcome
// (SettleOperationByHand refuses a pending one whose call may still run).
func (r *Relay) OpenOperations(ctx context.Context) ([]*store.Operation, error) {
	return r.journal.UnresolvedOperations(ctx, time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC))
}

// handCutoff is the creation time before which a pending operation's
// bank call has surely ended: the call's own limit (bank timeout + 2 s,
// counted from after the operation is written) with a minute to spare
// for a slow journal write. A bank answer later than that, or one that
// disagrees with the hand settlement, is recorded (noteDisagreement).
func (r *Relay) handCutoff() time.Time {
	return r.now().Add(-(r.cfg.Egress.BankTimeout + 2*time.Second + time.Minute))
}

// SettleOperationByHand records what an operator found out from the bank
// (its merchant panel, or a call) about an operation the relay could not
// settle: the bank did it (succeeded) or did not (failed). It has the
// effects the bank's own answer would have had — a refund counted or its
// amount released, a voided payment, the site's webhook — and an event
// naming the operator's note. Only open operations are settled: a final
// one is left as it is, and a pending one whose bank call may still be
// running is refused, so an answer on its way is not overruled.
//
// The note is kept in the journal's event only, never in the webhook; it
// must not hold a card number.
func (r *Relay) SettleOperationByHand(ctx context.Context, opID string, succeeded bool, note string) (*store.Operation, error) {
	note = strings.TrimSpace(note)
	if err := CheckSettleNote(note); err != nil {
		return nil, err
	}
	res := &bank.OpResult{Status: bank.Failed, Result: bank.NewResult(bank.CodeNotFound, "", "the operator found the bank did not carry it out")}
	if succeeded {
		res = &bank.OpResult{Status: bank.Succeeded, Result: bank.NewResult(bank.CodeApproved, "", "the operator confirmed it with the bank")}
	}
	cutoff := r.handCutoff()
	op, err := r.settleOperationIf(ctx, opID, res, "operator: "+note, func(o *store.Operation) error {
		switch {
		case o.Status == store.OpSucceeded || o.Status == store.OpFailed:
			return fmt.Errorf("operation %s is already %s; only pending or unknown operations can be settled", o.ID, o.Status)
		case o.Status == store.OpPending && !o.CreatedAt.Before(cutoff):
			return fmt.Errorf("operation %s is pending and its bank call may still be running (started %s); wait %s and check it again",
				o.ID, o.CreatedAt.UTC().Format(time.RFC3339), o.CreatedAt.Sub(cutoff).Round(time.Second))
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("operation %s: not found; list open operations with: posrelay operations list", opID)
		}
		return nil, err
	}
	r.log.Warn("operation settled by the operator", zap.String("operation", op.ID), zap.String("kind", string(op.Kind)),
		zap.String(logPayment, op.PaymentID), zap.String("status", string(op.Status)))
	return op, nil
}

// CheckSettleNote requires a short, printable note without a card number:
// it is kept in the journal and shown by payments show.
func CheckSettleNote(note string) error {
	note = strings.TrimSpace(note)
	switch {
	case note == "":
		return errors.New("--note is required: say how you know (e.g. \"refund seen in the bank's merchant panel, RRN 123456789012\")")
	case !utf8.ValidString(note) || utf8.RuneCountInString(note) > maxSettleNote:
		return fmt.Errorf("--note must be UTF-8 text of at most %d characters", maxSettleNote)
	}
	for _, c := range note {
		if unicode.IsControl(c) {
			return fmt.Errorf("--note must not hold control characters (%U); write it on one line", c)
		}
	}
	if bank.FreeTextHasCardNumber(note) {
		return errors.New("--note may hold a card number, and card numbers are never stored; name the bank's reference " +
			"(RRN, auth code) or the order instead, with a word between two numbers (\"RRN … auth …\")")
	}
	return nil
}
