// Package vakif simulates VakıfBank's two e-commerce products as the
// protocol document describes them (§3A, §3B, Appendix A F.3/F.4): GET 7/24
// (the MPI, a stand-in issuer ACS and the VPOS 7/24 XML service, with
// Search) and Common Payment (register, the bank's payment page, the
// result query). One simulator serves both for one merchant account
// ([Config]), over one ledger: a Common Payment sale is a VPOS transaction
// that Search, Cancel and Refund reach by its TransactionId.
//
// Server-to-server calls — enrollment, Vposreq, Search, RegisterTransaction,
// VposTransaction — are accepted only from [Config.RelayIPs]; from anywhere
// else the bank's answer is 1105 "Üye isyeri IP si sistemde tanimli degil"
// (§6). The pages the shopper's browser visits are open to everyone.
//
// GET 7/24:
//
//   - POST [MPIPath]: the form-urlencoded VerifyEnrollmentRequest (§3A.4),
//     answered with IPaySecure XML. A card that is not enrolled gets VERes N;
//     an unknown merchant or a bad password gets E with MessageErrorCode 2005
//     (issue #115).
//   - The stand-in ACS: the browser posts PaReq, TermUrl and MD to
//     [ACSPath]; the challenge ([ChallengePrefix]+MD) accepts
//     [banksim.ChallengeCode]; the ACS posts PaRes and MD to the MPI's
//     TermUrl ([TermPath]), and the MPI posts the callback (§3A.6) through the
//     browser to SuccessUrl (Status Y or A) or FailureUrl. PurchAmount is in
//     minor units and Expiry YYMM, as VB-F2 shows; the card number is sent
//     masked, never in full.
//   - POST [VPOSPath]: VposRequest XML in the form field prmstr (§3A.7; the
//     bank's own message when it is missing). A 3-D provision binds to its
//     MPI transaction: card data or an amount in it is refused with 1127, an
//     unknown, reused or failed MPI transaction with 1115, 1128 or 1126,
//     other ECI or CAVV with 1116 or 1117. Capture, Cancel and Refund name
//     the sale by ReferenceTransactionId.
//   - POST [SearchPath]: SearchRequest XML, answered like VB-F12/VB-F13
//     with Amount (not CurrencyAmount) as real answers carry (issue #229).
//
// Common Payment:
//
//   - POST [CPRegisterPath]: RegisterTransaction, answered with
//     CommonPaymentUrl and PaymentToken, or ErrorCode and ResponseMessage
//     (5007, 5029…). The account is a 3D Host one: card fields are refused.
//     HashedData may be left out; if sent it must be right (CP-1).
//   - GET [CPPagePath]?Ptkn=…: the bank's card page; its challenge; then the
//     shopper's browser is sent back with a GET to SuccessUrl or FailUrl
//     carrying Rc, Message, TransactionId, PaymentToken and MaskedPan.
//   - POST [CPQueryPath]: VposTransaction, answered like CP-F1…F3 with the
//     Amount in a decimal comma ("1,01").
//
// Outcomes follow the test card ([banksim.CardOutcome]): 51, 54 and 14 are
// declined with 0051, 0054 and 0014; the 3-D failure card fails the
// challenge; the not-enrolled card gets VERes N (Common Payment: Rc 2053
// "VeRes status is N"); the half-secure card authenticates with Status A.
// The "timeout" card's sale is recorded approved but its answer hangs (the
// VPOS provision; for Common Payment the first VposTransaction); the
// "malformed" card's is recorded approved but answered with a WAF page.
// Only Search tells the truth about both.
//
// Settlement: sales settle at the first midnight, Türkiye time (UTC+3),
// after their capture, by the clock in [Config.Now]. Cancel works only
// before (2202 after), Refund only after (1074 before) and never above what
// is left of the captured amount (1046).
//
// Where the document is silent the simulator makes its own choices; codes.go
// marks each code with its origin.
package vakif
