// Package payfor simulates QNB Finansbank's virtual POS, the PayFor
// platform, as the protocol document (§2, Appendix A F.2, Appendix B.1)
// describes it. It is the stand-in bank for the relay's end-to-end tests,
// the demo and the benchmark harness.
//
// The simulator serves, for one merchant account ([Config]), with paths
// matched case-insensitively as IIS does:
//
//   - the 3-D gate, POST /Gateway/Default.aspx (3DModel, 3DPay): only from
//     [Config.RelayIPs] — any other address gets M047 "Bu kullanıcı için IP
//     kısıtlaması vardır.", as QNB answers a form posted by the shopper's
//     browser since 2026. It checks the form as the bank does (§2.4):
//     MbrId, MerchantID, UserCode, SecureType, TxnType, OrderId, the SHA-1
//     Hash of §2.5 (M030), MOTO and Lang, amount, currency, installments,
//     the card, and a used OrderId (101310). An accepted post is answered
//     with a redirect to the ACS challenge page, whose links are absolute:
//     the relay serves that page to the shopper from its own origin;
//   - the hosted page, POST /Gateway/3DHost.aspx (3DHost), posted by the
//     shopper's browser and so not restricted: the same checks without the
//     card, then a redirect to the bank's card page ([CardPagePrefix]+id);
//   - the ACS challenge ([ChallengePagePrefix]+id), which accepts
//     [banksim.ChallengeCode];
//   - the callback: a self-posting UTF-8 form to OkUrl or FailUrl with the
//     whole PaymentRequest record in the order of PF-F4 (~120 fields),
//     signed with ResponseHash (SHA-1, HashType Sha1; or SHA-256 without
//     HashType like the 2024 callback PF-F7 when
//     [Config.ResponseHashSHA256] is set). Refusals of the form go the same
//     way to FailUrl (3DStatus -1, the code in ProcReturnCode, PF-F7); a
//     form without a usable FailUrl gets a plain error page naming the code;
//   - XMLGate, POST /Gateway/XMLGate.aspx, restricted like the gate:
//     PayforRequest for 3DModelPayment, NonSecure Auth and PreAuth,
//     PostAuth, Void, Refund, OrderInquiry and TxnHistory, answered with a
//     PayforResponse (PF-F1…F15 shapes, CRLF line ends and CRLF plus
//     indentation inside empty elements, as the bank writes them) or a
//     TxnHistoryReport;
//   - for tests and the demo, GET /_sim/calls (the counters of [Sim.Calls]
//     as JSON) and GET /_sim/orders/{OrderId} (the ledger entry of
//     [Sim.Order] as JSON).
//
// Strictness where QNB tightened its checks in 2026 (issue #298): the 3-D
// form must carry MOTO=0 (missing: M025; another value: M048) and Lang in
// upper case, TR or EN (anything else, "tr" included: M048). XMLGate takes
// Lang in either case, as the library's requests (PF-F11) show it did.
// InstallmentCount is "0" for a single payment or 2–12; a PreAuth takes no
// installments (V024).
//
// Outcomes follow the test card ([banksim.CardOutcome]):
//
//   - approve: 00; 51, 54, 14: declined with that ISO code;
//   - 3-D failure: 3DStatus -1 with V034 (3DModel, PF-F6) or MR15 (3DPay,
//     3DHost, PF-F9); not enrolled: the same without a challenge (PayFor's
//     callback has no separate "not enrolled" status);
//   - half secure: an attempt (ECI 06/01) the MPI accepts: 3DStatus 1, no
//     challenge. PayFor signs only 3DStatus, so there is no half-secure
//     signal a merchant could act on; the bank decides;
//   - timeout: the sale is recorded approved, but the 3DModelPayment or
//     NonSecure answer hangs ([Config.HangFor], or until the client goes
//     away) and the connection drops; in 3DPay and 3DHost the callback says
//     V000 ("İşlem tamamlanamadı / Devam ediyor");
//   - malformed: the sale is recorded approved, but the XMLGate answer is an
//     HTML WAF page (or truncated XML with [Config.MalformedXML]); in 3DPay
//     and 3DHost the callback carries no ProcReturnCode.
//
// Only OrderInquiry tells the truth about the last two. Sales settle at the
// first midnight, Türkiye time (UTC+3), after their capture, by the clock in
// [Config.Now]: voids are possible only before (after: V018), refunds only
// after (before: V014, PF-F15) and never above the captured amount (V015).
//
// Where the document is silent the simulator makes its own choices; codes.go
// marks each code with its origin.
package payfor
