// Package est simulates Halkbank's virtual POS, the Payten (Asseco) EST
// gateway with hash ver3, as the protocol document (§1, Appendix A F.1)
// describes it. It is the stand-in bank for the relay's end-to-end tests,
// the demo and the benchmark harness.
//
// The simulator serves, for one merchant account ([Config]):
//
//   - the 3-D gate, POST /fim/est3Dgate and /fim/est3dgate: it checks the
//     merchant's form the way the gateway does (required fields, clientid,
//     hashAlgorithm=ver3, the ver3 hash over every posted field, storetype,
//     amount, currency, installments, order id) and answers refusals with a
//     signed callback to failUrl, as EST-F4 shows (or an HTML page with
//     status 400 when okUrl/failUrl are unusable);
//   - for 3d_pay_hosting and 3d_host the bank's card page
//     ([CardPagePrefix]+id), for every model the simulated ACS challenge
//     ([ChallengePagePrefix]+id), which accepts [banksim.ChallengeCode];
//   - the callback: a self-posting ISO-8859-9 form (with a button for
//     browsers without JavaScript) to okUrl (approved) or failUrl, carrying
//     the merchant's fields (minus hash, pan, cv2), the MPI's fields, and
//     for 3d_pay / 3d_pay_hosting the payment result with dotted EXTRA.*
//     names; HASH is ver3 over all of them but HASH, encoding and
//     NATIONALIDNO;
//   - the XML API, POST /fim/api: CC5Request (ISO-8859-9 or UTF-8, raw or as
//     a DATA= form field) for Auth/PreAuth (after 3-D or non-secure),
//     PostAuth, Void, Credit, ORDERSTATUS and ORDERHISTORY, answered with a
//     CC5Response in ISO-8859-9 shaped like the fixtures EST-F1…F22.
//
// Outcomes follow the test card ([banksim.CardOutcome]). Sales settle at the
// first midnight, Türkiye time (UTC+3), after their capture, by the clock in
// [Config.Now]: voids are possible only before, refunds only after.
// The "timeout" card: a CC5Request authorisation is recorded but its
// answer never comes (the request hangs and the connection drops), so only
// ORDERSTATUS tells the truth; on the 3d_pay* gateway, which waits for the
// acquirer itself, nothing is recorded and the callback says so
// (ProcReturnCode 99, CORE-2700). The "malformed" card's authorisation is
// recorded but answered with something unreadable; ORDERSTATUS tells.
//
// Where the document is silent the simulator makes its own choices; codes.go
// marks each error code with its origin.
package est
